"""Derived events' ids: ULIDs of the event time and a hash of what identifies them, the same every time."""

from __future__ import annotations

import hashlib

from schemas.ids import ULID_PATTERN, event_id_time_ms
from stream.ids import stable_event_id
from tests.schemas.test_ids import ulid_by_the_spec


def test_stable_ids_are_ulids_of_the_time_and_the_hashed_parts() -> None:
    digest = hashlib.blake2b(b"cafe-1\x1fcam-a\x1f5", digest_size=10).digest()
    made = stable_event_id(1_790_000_000_000, "cafe-1", "cam-a", 5)
    assert made == ulid_by_the_spec(1_790_000_000_000, digest)
    assert ULID_PATTERN.fullmatch(made) and event_id_time_ms(made) == 1_790_000_000_000


def test_any_part_different_gives_another_id() -> None:
    ids = {stable_event_id(1_790_000_000_000, *parts) for parts in
           [("cafe-1", "cam-a", 5), ("cafe-1", "cam-a", 6), ("cafe-1", "cam-b", 5), ("cafe-1", "cam-a", "5", "x")]}
    assert len(ids) == 4
