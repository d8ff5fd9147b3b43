"""The one stream host: a checkpointed loop over ports (see ``loop``), with event time per site
(``sites``); run per shard by the KCL record processor (``kcl``). ``stream.wiring`` builds it from
source, state and output locations."""
