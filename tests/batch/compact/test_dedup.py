"""Dedup within a run: fingerprints find candidates fast, the strings decide (no collision drops an event)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.compact import dedup
from batch.compact.dedup import SeenKeys, fingerprints, first_per_key

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Mostly one width (ULIDs are 26), sometimes another: both the fingerprint and the string paths.
KEY = st.one_of(st.text(ALPHABET, min_size=26, max_size=26), st.text(ALPHABET, min_size=0, max_size=12))


def _first_rows(keys: list[str]) -> list[int]:
    firsts: dict[str, int] = {}
    for index, key in enumerate(keys):
        firsts.setdefault(key, index)
    return sorted(firsts.values())


def _check(batches: list[list[str]], large: bool) -> None:
    seen, written = SeenKeys(), set()
    for keys in batches:
        table = pa.table({"event_id": pa.array(keys, pa.large_string() if large else pa.string()),
                          "row": list(range(len(keys)))})
        unique = first_per_key(table, "event_id")
        assert unique.column("row").to_pylist() == _first_rows(keys)
        if unique.num_rows:
            found = seen.contains(unique.column("event_id")).to_pylist()
            assert found == [k in written for k in unique.column("event_id").to_pylist()]
            seen.add(unique.column("event_id"))
            written.update(unique.column("event_id").to_pylist())


@settings(max_examples=80, deadline=None)
@given(pool=st.lists(KEY, min_size=1, max_size=12), picks=st.lists(st.lists(st.integers(0, 11), max_size=15),
                                                                    min_size=1, max_size=4), large=st.booleans())
def test_first_copy_wins_and_later_chunks_know_what_earlier_ones_wrote(
        pool: list[str], picks: list[list[int]], large: bool) -> None:
    _check([[pool[i % len(pool)] for i in batch] for batch in picks], large)


@settings(max_examples=40, deadline=None)
@given(pool=st.lists(st.text(ALPHABET, min_size=26, max_size=26), min_size=1, max_size=8, unique=True),
       picks=st.lists(st.lists(st.integers(0, 7), max_size=10), min_size=1, max_size=4))
def test_colliding_fingerprints_never_merge_different_keys(pool: list[str], picks: list[list[int]]) -> None:
    def every_key_collides(keys: Any) -> np.ndarray | None:
        real = fingerprints(keys)
        return None if real is None else np.zeros_like(real)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dedup, "fingerprints", every_key_collides)
        _check([[pool[i % len(pool)] for i in batch] for batch in picks], large=True)


def test_fingerprints_read_sliced_arrays_in_place_and_refuse_mixed_widths() -> None:
    keys = pa.array([f"{i:026d}" for i in range(10)], pa.large_string())
    whole, part = fingerprints(keys), fingerprints(keys.slice(3, 4))
    assert whole is not None and part is not None
    assert np.array_equal(part, whole[3:7]) and len(set(whole.tolist())) == 10
    assert fingerprints(pa.array(["a" * 26, "b" * 27])) is None
    assert fingerprints(pa.array(["a" * 26, None])) is None


@settings(max_examples=60, deadline=None)
@given(pool=st.lists(KEY, min_size=1, max_size=10), held=st.lists(st.integers(0, 9), max_size=12),
       asked=st.lists(st.integers(0, 9), min_size=1, max_size=12), collide=st.booleans())
def test_keys_the_table_holds_are_found_by_their_strings(pool: list[str], held: list[int], asked: list[int],
                                                         collide: bool) -> None:
    held_keys = pa.array([pool[i % len(pool)] for i in held], pa.string())
    keys = [pool[i % len(pool)] for i in asked]
    with pytest.MonkeyPatch.context() as patch:
        if collide:  # every fingerprint equal: only the strings can tell keys apart
            patch.setattr(dedup, "fingerprints", lambda k: None if (real := fingerprints(k)) is None
                          else np.zeros_like(real))
        found = dedup.known_keys(pa.chunked_array([pa.array(keys, pa.large_string())]), held_keys)
    assert found.tolist() == [k in set(held_keys.to_pylist()) for k in keys]
