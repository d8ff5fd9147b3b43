"""The box's ground floor for data on disk, below every pipeline and above the contract only.

* ``log``: the embedded default's event log, the one-box stand-in for Kinesis: the edge's publisher
  appends to it, the stream host reads it (``LocalLog``);
* ``producers``: one claim per producer name (one camera's edge), so a second copy cannot append;
* ``files``: durable writes (whole writes, atomic replace, folder fsync), shared by the log, the
  stream hosts' checkpoints and the Kinesis reader.
"""

from locallog.log import LocalLog, LogLockedError, next_offset
from locallog.producers import ProducerClaim, claim

__all__ = ["LocalLog", "LogLockedError", "ProducerClaim", "claim", "next_offset"]
