"""The box's ground floor for data on disk, below every pipeline and above the contract only.

* ``log``: the embedded default's event log, the one-box stand-in for Kinesis: the edge's publisher
  appends to it, the stream host reads it (``LocalLog``);
* ``files``: durable writes (whole writes, atomic replace, folder fsync), shared by the log, the
  stream hosts' checkpoints and the Kinesis reader.
"""

from locallog.log import LocalLog, LogLockedError, next_offset

__all__ = ["LocalLog", "LogLockedError", "next_offset"]
