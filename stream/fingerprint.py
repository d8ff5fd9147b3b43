"""What the window engine remembers of each event id: an 8-bit fingerprint of what it reads.

A copy of an event (same ``event_id``) is a retry when its fingerprint equals the first copy's, and
a conflicting duplicate (a bug upstream) when it differs. 8 bits keep the dedup tables as small as
the sets of ids they replaced; about 1 in 256 conflicting copies passes for a plain duplicate.
Deterministic across processes (crc32, no salted str hash): fingerprints go into snapshots.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from stream.aggregate import CLASS_INDEX

UNKNOWN = -1  # fingerprint of an id restored from a version 1 snapshot
STRING_CRC: dict[str, int] = {}  # ids repeat (sites, cameras, tracks): crc32 of each string once


def crc_of(text: str) -> int:
    value = STRING_CRC.get(text)
    if value is None:
        if len(STRING_CRC) > 100_000:
            STRING_CRC.clear()
        value = STRING_CRC[text] = zlib.crc32(text.encode("utf-8", "surrogatepass"))
    return value


def fingerprint(event: Mapping[str, Any]) -> int:
    """8 bits that differ, with probability 255/256, between two events that differ in what the
    engine reads. Deterministic across processes (no salted str hash): it goes into snapshots.
    0..255 are CPython's cached small ints, so a fingerprint costs no object per event."""
    crc = STRING_CRC.get  # strings repeat: one dict lookup each, the CRC only the first time
    site, camera = event["site_id"], event["camera_id"]
    a, b = crc(site), crc(camera)
    if a is None:
        a = crc_of(site)
    if b is None:
        b = crc_of(camera)
    t = event["event_time_ms"]
    if event["schema"] != "face_expression":
        return hash((t, a, b)) & 0xFF
    track = event["track_id"]
    c = crc(track)
    if c is None:
        c = crc_of(track)
    return hash((t, a, b, c, event["kind"] == "track_end", CLASS_INDEX.get(event["top_class"], -2),
                 event["valence"], event["quality"].get("usable", True) is True)) & 0xFF


def id_tables(ids: list[Any], fingerprints: list[Any] | None) -> dict[int, dict[str, int]]:
    """A snapshot's id lists back into {minute: {event_id: fingerprint}}."""
    if fingerprints is None:  # a version 1 snapshot
        return {minute: dict.fromkeys(values, UNKNOWN) for minute, values in ids}
    prints = {minute: values for minute, values in fingerprints}
    return {minute: dict(zip(values, prints[minute], strict=True)) for minute, values in ids}
