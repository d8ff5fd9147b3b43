"""Deterministic event ids for derived events (windows, alarms).

A derived event gets the same id every time it is computed, so a replay after a crash, a second
shard or a re-run of the batch path produce the same id and consumers can deduplicate by it. The id
is a valid ULID (``schemas.ids.encode_ulid``): 48-bit millisecond time, then 80 bits of a BLAKE2b
hash of the identifying parts.
"""

from __future__ import annotations

from hashlib import blake2b

from schemas.ids import encode_ulid


def stable_event_id(time_ms: int, *parts: object) -> str:
    """ULID for (time_ms, parts): same inputs, same id; any part different, a different id."""
    digest = blake2b("\x1f".join(map(str, parts)).encode(), digest_size=10).digest()
    return encode_ulid(time_ms, digest)
