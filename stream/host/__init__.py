"""The one stream host: a checkpointed loop over ports (see ``loop``), with event time per site
(``sites``); built from source, state and output locations by ``wiring``; run per shard by the KCL
record processor (``kcl``)."""
