"""Deterministic event ids for derived events (windows, alarms).

A derived event gets the same id every time it is computed, so a replay after a crash, a second
shard or a re-run of the batch path produce the same id and consumers can deduplicate by it. The id
is a valid ULID: 48-bit millisecond time, then 80 bits of a BLAKE2b hash of the identifying parts.
"""

from __future__ import annotations

import hashlib

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def stable_event_id(time_ms: int, *parts: object) -> str:
    """ULID for (time_ms, parts): same inputs, same id; any part different, a different id."""
    if not 0 <= time_ms < 1 << 48:
        raise ValueError(f"time_ms {time_ms} does not fit a ULID's 48-bit timestamp")
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=10).digest()
    value = (time_ms << 80) | int.from_bytes(digest, "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
