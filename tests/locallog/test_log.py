"""The embedded default's durable log: offsets, segments, torn tails, one writer and concurrent readers."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locallog import LocalLog, LogLockedError, next_offset
from locallog.producers import PRODUCERS, claim


def payload(number: int) -> bytes:
    return json.dumps({"n": number}, separators=(",", ":")).encode()


def read_all(log: LocalLog, offset: int = 0, batch: int = 7) -> list[tuple[int, bytes]]:
    records: list[tuple[int, bytes]] = []
    while got := log.read(offset, batch):
        records.extend(got)
        offset = next_offset(got, offset)
    return records


def append_one_by_one(log: LocalLog, count: int) -> None:
    for n in range(count):  # a segment rolls between appends, so this makes several
        log.append([payload(n)])


@pytest.mark.parametrize("segment_bytes", [1, 25, 1000, 64 * 1024 * 1024])
@pytest.mark.parametrize("batch", [1, 3, 50])
def test_records_come_back_in_order_with_dense_offsets(tmp_path, segment_bytes, batch):
    log = LocalLog(tmp_path, segment_bytes=segment_bytes)
    for start in range(0, 50, batch):
        log.append([payload(n) for n in range(start, min(start + batch, 50))])

    assert read_all(log) == [(n, payload(n)) for n in range(50)]
    assert log.end_offset() == 50


@pytest.mark.parametrize("offset", [0, 1, 9, 10, 11, 29, 30])
def test_reading_from_any_offset_spans_segments(tmp_path, offset):
    log = LocalLog(tmp_path, segment_bytes=10)  # ~6 records a segment
    append_one_by_one(log, 30)
    assert len(list(tmp_path.glob("*.jsonl"))) > 1

    fresh_reader = LocalLog(tmp_path)  # no cached position: must seek by counting
    assert read_all(fresh_reader, offset) == [(n, payload(n)) for n in range(offset, 30)]


@pytest.mark.parametrize("offset", [30, 31, 1000])
def test_reading_past_the_end_is_empty_not_an_error(tmp_path, offset):
    log = LocalLog(tmp_path, segment_bytes=10)
    append_one_by_one(log, 30)
    assert LocalLog(tmp_path).read(offset, 10) == []


def test_an_empty_log_reads_empty(tmp_path):
    log = LocalLog(tmp_path / "new")
    assert log.read(0, 10) == []
    assert log.end_offset() == 0


def test_a_reader_sees_records_appended_after_it_caught_up(tmp_path):
    writer, reader = LocalLog(tmp_path, segment_bytes=40), LocalLog(tmp_path)
    writer.append([payload(0)])
    first = reader.read(0, 10)
    writer.append([payload(1), payload(2)])

    assert first == [(0, payload(0))]
    assert reader.read(next_offset(first, 0), 10) == [(1, payload(1)), (2, payload(2))]


@pytest.mark.parametrize("torn_tail", [b'{"n":', b"\x00\x00\x00\x00", b"{"])
def test_a_torn_last_line_is_invisible_and_truncated_by_the_next_writer(tmp_path, torn_tail):
    log = LocalLog(tmp_path)
    log.append([payload(0), payload(1)])
    log.close()
    segment = next(tmp_path.glob("*.jsonl"))
    with segment.open("ab") as handle:  # what a crash mid-write leaves behind
        handle.write(torn_tail)

    assert LocalLog(tmp_path).read(0, 10) == [(0, payload(0)), (1, payload(1))]
    assert LocalLog(tmp_path).end_offset() == 2

    restarted = LocalLog(tmp_path)
    restarted.append([payload(2)])
    assert read_all(LocalLog(tmp_path)) == [(0, payload(0)), (1, payload(1)), (2, payload(2))]


@pytest.mark.parametrize(("record", "error"), [
    (b'{"a":\n1}', ValueError),
    (b'{"a":1}\r', ValueError),
    (b"", ValueError),
    (b"   ", ValueError),
    ('{"a":1}', TypeError),
])
def test_records_that_would_break_the_line_framing_are_refused_whole_batch(tmp_path, record, error):
    log = LocalLog(tmp_path)
    with pytest.raises(error, match="record 1"):
        log.append([payload(0), record])
    assert log.read(0, 10) == []


@pytest.mark.parametrize(("offset", "max_records"), [(-1, 1), (0, 0)])
def test_bad_read_arguments_are_refused(tmp_path, offset, max_records):
    with pytest.raises(ValueError):
        LocalLog(tmp_path).read(offset, max_records)


def test_a_second_writer_is_refused_while_the_first_holds_the_log(tmp_path):
    first = LocalLog(tmp_path)
    first.append([payload(0)])
    with pytest.raises(LogLockedError, match="already has a writer"):
        LocalLog(tmp_path).append([payload(1)])
    first.close()
    LocalLog(tmp_path).append([payload(1)])
    assert [o for o, _ in read_all(LocalLog(tmp_path))] == [0, 1]


def test_delete_before_drops_whole_old_segments_and_reads_resume_at_the_oldest_kept(tmp_path):
    log = LocalLog(tmp_path, segment_bytes=10)
    append_one_by_one(log, 30)
    deleted = log.delete_before(15)

    assert deleted > 0
    start = log.start_offset()
    assert 0 < start <= 15
    assert read_all(LocalLog(tmp_path), 0) == [(n, payload(n)) for n in range(start, 30)]
    log.append([payload(30)])
    assert log.end_offset() == 31


WRITER = textwrap.dedent("""
    import json, sys
    from locallog import LocalLog
    log = LocalLog(sys.argv[1], segment_bytes=500)
    for start in range(0, int(sys.argv[2]), 10):
        log.append([json.dumps({"n": n}).encode() for n in range(start, start + 10)])
""")


def test_a_reader_process_follows_a_writer_process_without_gaps_or_duplicates(tmp_path):
    total = 2000
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(total)])
    reader, offset, seen = LocalLog(tmp_path), 0, []
    deadline = time.monotonic() + 60  # a safety net against a hang, not a timing assertion
    while len(seen) < total and time.monotonic() < deadline:
        got = reader.read(offset, 97)
        seen.extend(got)
        offset = next_offset(got, offset)
    assert writer.wait(timeout=60) == 0

    assert [o for o, _ in seen] == list(range(total))
    assert [json.loads(p)["n"] for _, p in seen] == list(range(total))


def test_segment_files_are_plain_json_lines(tmp_path):
    LocalLog(tmp_path).append([payload(0), payload(1)])
    (segment,) = tmp_path.glob("*.jsonl")
    assert segment.name == f"{0:020d}.jsonl"
    assert [json.loads(line) for line in segment.read_text().splitlines()] == [{"n": 0}, {"n": 1}]


def test_paths_accept_str(tmp_path):
    log = LocalLog(str(tmp_path / "nested" / "log"))
    log.append([payload(0)])
    assert Path(tmp_path / "nested" / "log").is_dir()


def test_a_failed_append_is_cut_back_and_the_counters_stay_right(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.disk_full import disk_full

    log = LocalLog(tmp_path, segment_bytes=10)
    log.append([payload(0), payload(1)])
    size = (tmp_path / f"{0:020d}.jsonl").stat().st_size
    with disk_full(monkeypatch, fail_at=3) as disk, pytest.raises(OSError, match="No space left"):
        log.append([payload(2), payload(3), payload(4)])  # rolls: create, fsync dir, then a short write
    assert disk.failures == 2  # a short write, then ENOSPC
    # the torn half-line is gone, nothing was counted, and the next segment is named by the true count
    assert [p for _, p in read_all(LocalLog(tmp_path))] == [payload(0), payload(1)]
    assert (tmp_path / f"{0:020d}.jsonl").stat().st_size == size
    log.append([payload(2), payload(3)])
    log.append([payload(4)])
    log.close()
    assert [o for o, _ in read_all(LocalLog(tmp_path))] == [0, 1, 2, 3, 4]
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == [f"{0:020d}.jsonl", f"{2:020d}.jsonl",
                                                                 f"{4:020d}.jsonl"]


def test_a_reader_skips_a_torn_tail_in_an_older_segment_instead_of_stopping(tmp_path: Path) -> None:
    # what an older writer left after a failed append: a torn line, then the next segment named by its
    # stale count (3, while the first segment holds 2 whole lines)
    (tmp_path / f"{0:020d}.jsonl").write_bytes(payload(0) + b"\n" + payload(1) + b'\n{"n": 2, "tor')
    (tmp_path / f"{3:020d}.jsonl").write_bytes(payload(3) + b"\n" + payload(4) + b"\n")
    records = read_all(LocalLog(tmp_path), batch=2)
    assert records == [(0, payload(0)), (1, payload(1)), (3, payload(3)), (4, payload(4))]


def read_all_blocks(log: LocalLog, offset: int = 0, max_bytes: int = 7) -> list[tuple[int, bytes]]:
    """`read_block`'s records, one (offset, payload) per line, to compare with `read`'s."""
    records: list[tuple[int, bytes]] = []
    while True:
        first, block = log.read_block(offset, max_bytes)
        if not block:
            return records
        assert block.endswith(b"\n")
        lines = block[:-1].split(b"\n")
        records.extend(zip(range(first, first + len(lines)), lines, strict=True))
        offset = first + len(lines)


def read_all_block_lines(log: LocalLog, offset: int = 0, max_bytes: int = 7) -> list[tuple[int, bytes]]:
    """`read_block_lines`' records, cut where its ends say and continued past the last of them, each
    block scanned once (by a scan of our own, counted)."""
    records: list[tuple[int, bytes]] = []
    scans: list[int] = []
    blocks = 0

    def newlines(block: bytes) -> np.ndarray:
        scans.append(len(block))
        return np.array([i for i, byte in enumerate(block) if byte == 0x0A], dtype=np.int64)

    while True:
        first, block, ends = log.read_block_lines(offset, max_bytes, newlines)
        if not block:
            assert len(ends) == 0 and len(scans) == blocks  # one scan per block, none for an empty one
            return records
        blocks += 1
        assert scans[-1] == len(block) and ends.tolist() == [i for i, byte in enumerate(block) if byte == 0x0A]
        assert ends[-1] == len(block) - 1  # whole lines
        starts = [0, *(int(end) + 1 for end in ends[:-1])]
        lines = [block[start:int(end)] for start, end in zip(starts, ends, strict=True)]
        records.extend(zip(range(first, first + len(lines)), lines, strict=True))
        offset = first + len(ends)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 40), min_size=0, max_size=40), segment_bytes=st.sampled_from([1, 30, 200, 10**6]),
       max_bytes=st.integers(1, 300), start=st.integers(0, 45), torn=st.booleans())
def test_blocks_hold_exactly_the_records_read_gives(tmp_path_factory, sizes, segment_bytes, max_bytes, start, torn):
    folder = tmp_path_factory.mktemp("log")
    log = LocalLog(folder, segment_bytes=segment_bytes)
    for n, size in enumerate(sizes):
        log.append([json.dumps({"n": n, "pad": "x" * size}).encode()])
    if torn:
        with open(sorted(folder.glob("*.jsonl"))[-1] if sizes else folder / f"{0:020d}.jsonl", "ab") as handle:
            handle.write(b'{"n": "torn')  # a writer mid-line: invisible to both
    expected = read_all(LocalLog(folder), start)
    assert read_all_blocks(LocalLog(folder), start, max_bytes) == expected
    assert read_all_blocks(log, start, max_bytes) == expected  # the writer's own handle, cursor reused
    assert read_all_block_lines(LocalLog(folder), start, max_bytes) == expected
    assert read_all_block_lines(log, start, max_bytes) == expected


def test_blocks_skip_a_torn_tail_in_an_older_segment_as_read_does(tmp_path: Path) -> None:
    (tmp_path / f"{0:020d}.jsonl").write_bytes(payload(0) + b"\n" + payload(1) + b'\n{"n": 2, "tor')
    (tmp_path / f"{3:020d}.jsonl").write_bytes(payload(3) + b"\n" + payload(4) + b"\n")
    assert read_all_blocks(LocalLog(tmp_path), max_bytes=1000) == [
        (0, payload(0)), (1, payload(1)), (3, payload(3)), (4, payload(4))]
    assert read_all_block_lines(LocalLog(tmp_path), max_bytes=1000) == read_all_blocks(LocalLog(tmp_path), 0, 1000)


def test_bad_block_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="offset must be >= 0"):
        LocalLog(tmp_path).read_block(-1, 10)
    with pytest.raises(ValueError, match="max_bytes must be >= 1"):
        LocalLog(tmp_path).read_block(0, 0)


@pytest.mark.parametrize("max_bytes", [10, 70_000, 200_000, 1 << 25])
def test_blocks_with_lines_longer_than_the_stretch_searched_for_the_cut(tmp_path: Path, max_bytes: int) -> None:
    log = LocalLog(tmp_path)
    log.append([payload(0), json.dumps({"n": 1, "pad": "x" * 150_000}).encode(), payload(2)])
    log.append([json.dumps({"n": 3, "pad": "y" * 70_000}).encode()])
    with open(sorted(tmp_path.glob("*.jsonl"))[-1], "ab") as handle:
        handle.write(b'{"n": 4, "torn": "' + b"z" * 100_000)  # a long line still being written
    assert read_all_blocks(LocalLog(tmp_path), max_bytes=max_bytes) == read_all(LocalLog(tmp_path))
    assert [n for n, _ in read_all(LocalLog(tmp_path))] == [0, 1, 2, 3]


def test_the_log_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """Face events are the box owner's: the log's folder, segments, writer lock and producer claims are
    created for the owner alone, whatever the process's umask lets through."""
    old = os.umask(0o022)
    try:
        log = LocalLog(tmp_path / "box" / "log", segment_bytes=64)
        for n in range(10):
            log.append([payload(n)])  # several segments
        claim(tmp_path / "box" / "log", "site.cam").release()
        log.close()
    finally:
        os.umask(old)
    folder = tmp_path / "box" / "log"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    made = [path for path in folder.rglob("*") if path.is_file()]
    assert len([p for p in made if p.suffix == ".jsonl"]) > 1 and any(p.suffix == ".lock" for p in made)
    assert {str(p.relative_to(folder)): oct(stat.S_IMODE(p.stat().st_mode)) for p in made} == {
        str(p.relative_to(folder)): oct(0o600) for p in made}
    assert stat.S_IMODE((folder / PRODUCERS).stat().st_mode) == 0o700
