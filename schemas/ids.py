"""Event ids: ULIDs (48-bit millisecond time + 80 random bits, Crockford base32).

Lexicographic order is time order, so ids sort like the events, and 80 random bits make two
cameras picking the same id within one millisecond a non-event.
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_PATTERN = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def new_event_id(time_ms: int | None = None) -> str:
    stamp = int(time.time() * 1000) if time_ms is None else time_ms
    if not 0 <= stamp < 1 << 48:
        raise ValueError(f"time_ms {stamp} does not fit a ULID's 48-bit timestamp")
    value = (stamp << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def event_id_time_ms(event_id: str) -> int:
    """The millisecond timestamp inside a ULID."""
    value = 0
    for char in event_id[:10]:
        value = (value << 5) | _ALPHABET.index(char)
    return value
