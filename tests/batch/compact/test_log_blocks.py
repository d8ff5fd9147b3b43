"""The embedded log read in blocks (lines in place) yields what reading it record by record yields.

The same records with the same offsets as line numbers, in batches no longer than asked, and the
same position to go on from, across segments, torn tails, block sizes and starting offsets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch.compact import sources
from batch.compact.line_buffer import LineBuffer
from batch.compact.sources import LogPosition, from_log
from locallog.log import LocalLog


class RecordsOnly:
    """The log as a reader without `read_block_lines`: the list form."""

    def __init__(self, log: LocalLog) -> None:
        self.log = log

    def read(self, offset: int, max_records: int) -> list[tuple[int, bytes]]:
        return self.log.read(offset, max_records)


def _records(batches: list[sources.Lines]) -> list[tuple[int, bytes]]:
    return [(number, line) for batch in batches for number, line in zip(batch.numbers, batch.lines, strict=True)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 40), max_size=30), segment_bytes=st.sampled_from([1, 60, 500, 10**6]),
       block_bytes=st.integers(1, 400), batch_lines=st.integers(1, 4), start=st.integers(0, 35), torn=st.booleans())
def test_blocks_in_place_yield_what_records_yield(tmp_path_factory: pytest.TempPathFactory,
                                                  monkeypatch: pytest.MonkeyPatch, sizes: list[int],
                                                  segment_bytes: int, block_bytes: int, batch_lines: int, start: int,
                                                  torn: bool) -> None:
    folder: Path = tmp_path_factory.mktemp("log")
    log = LocalLog(folder, segment_bytes=segment_bytes)
    for n, size in enumerate(sizes):
        log.append([json.dumps({"n": n, "pad": " " * (size % 3) + "x" * size}).encode()])
    if torn and sizes:
        with open(sorted(folder.glob("*.jsonl"))[-1], "ab") as handle:
            handle.write(b'{"n": "torn')  # a writer mid-line: not a record yet
    monkeypatch.setattr(sources, "BLOCK_BYTES", block_bytes)
    in_place, listed = LogPosition(start=start), LogPosition(start=start)
    blocks = list(from_log(LocalLog(folder), "log", batch_lines, in_place))
    records = list(from_log(RecordsOnly(LocalLog(folder)), "log", batch_lines, listed))
    assert all(isinstance(batch.lines, LineBuffer) and len(batch.lines) <= batch_lines for batch in blocks)
    assert _records(blocks) == _records(records)
    assert in_place.next == listed.next
