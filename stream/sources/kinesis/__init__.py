"""Kinesis as a host source: the shard reader (``reader``) and the host's ``Source`` over it (``source``)."""
