"""Event ids: ULIDs (48-bit millisecond time + 80 bits, Crockford base32), the one encoder for both kinds.

Lexicographic order is time order, so ids sort like the events. The 80 bits are random for events
from the edge (``new_event_id``: two cameras picking the same id within one millisecond is a
non-event) and a hash of what identifies a derived event for the stream's windows and alarms
(``stream.ids.stable_event_id``: the same inputs give the same id).
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_PATTERN = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
# Every pair of digits (10 bits): 13 table look-ups write a ULID, a quarter of the time of 26 divisions.
_TWO_DIGITS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
_40_BITS = (1 << 40) - 1


def encode_ulid(time_ms: int, entropy: bytes) -> str:
    """The ULID of a millisecond time and 10 bytes (80 bits): 26 characters, time first.

    The time is 10 digits (50 bits, the top 2 always zero), the 80 bits two halves of 8 digits;
    each half fits a machine word, so the shifts stay cheap.
    """
    if not 0 <= time_ms < 1 << 48:
        raise ValueError(f"time_ms {time_ms} does not fit a ULID's 48-bit timestamp")
    if len(entropy) != 10:
        raise ValueError(f"a ULID carries 10 bytes after the time, got {len(entropy)}")
    rest = int.from_bytes(entropy, "big")
    high, low, d = rest >> 40, rest & _40_BITS, _TWO_DIGITS
    return "".join((
        d[time_ms >> 40], d[time_ms >> 30 & 1023], d[time_ms >> 20 & 1023], d[time_ms >> 10 & 1023], d[time_ms & 1023],
        d[high >> 30], d[high >> 20 & 1023], d[high >> 10 & 1023], d[high & 1023],
        d[low >> 30], d[low >> 20 & 1023], d[low >> 10 & 1023], d[low & 1023]))


def new_event_id(time_ms: int | None = None) -> str:
    stamp = int(time.time() * 1000) if time_ms is None else time_ms
    return encode_ulid(stamp, os.urandom(10))


def event_id_time_ms(event_id: str) -> int:
    """The millisecond timestamp inside a ULID."""
    value = 0
    for char in event_id[:10]:
        value = (value << 5) | _ALPHABET.index(char)
    return value
