"""The one stream host: a checkpointed loop over ports (see ``loop``), with event time per site
(``sites``)."""
