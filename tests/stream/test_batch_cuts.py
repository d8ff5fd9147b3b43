"""Output never depends on how the input is cut into batches: the same records, disordered within the
allowed lateness, with duplicates, conflicting copies, late stragglers and bad records, cut into
random batches, give byte-identical windows, alarms, late events and dead letters."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream.alarms import AlarmConfig, AlarmEngine
from stream.embedded import OUTPUTS, EmbeddedRunner, RunnerConfig
from stream.engine import MINUTE_MS, EngineConfig, EngineOutput, WindowEngine
from tests.stream.helpers import T0, beat, event_streams, face

EXAMPLES = 200  # the figure for the closing note: how many inputs, each cut two ways
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None
CONFIG = RunnerConfig(
    engine=EngineConfig(window_minutes=(1, 3, 5), allowed_lateness_ms=60_000, min_tracks=1,
                        dedup_horizon_ms=120_000),
    alarms=AlarmConfig(window_minutes=3, min_tracks=1, raise_m=1, raise_n=2, clear_m=1, silent_minutes=2,
                       baseline_min_days=1),
    batch_size=10_000, check_time=False)


class CutLog:
    """A LogReader handing out the records in batches of the given sizes (cycling), whatever is asked."""

    def __init__(self, records: list[bytes], sizes: list[int]) -> None:
        self.records, self.sizes, self.calls = records, sizes or [len(records) or 1], 0

    def read(self, offset: int, max_records: int) -> list[tuple[int, bytes]]:
        size = self.sizes[self.calls % len(self.sizes)]
        self.calls += 1
        return [(i, self.records[i]) for i in range(offset, min(offset + size, max_records + offset,
                                                                  len(self.records)))]


def outputs(records: list[bytes], sizes: list[int]) -> tuple[dict[str, bytes], dict[str, Any]]:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as state:
        runner = EmbeddedRunner(CutLog(records, sizes), state, CONFIG, source="log")
        runner.drain(flush=True)
        runner.close()
        return {name: (Path(state) / name).read_bytes() for name in OUTPUTS}, vars(runner.sites.engine_stats())


@st.composite
def disordered_records(draw: st.DrawFn) -> list[bytes]:
    events = draw(event_streams(max_minutes=10, max_events=50))
    lateness = CONFIG.engine.allowed_lateness_ms
    delays = [draw(st.integers(0, lateness - 1)) for _ in events]
    arrival = [e for _, _, e in sorted((e["event_time_ms"] + d, i, e) for i, (e, d) in enumerate(zip(
        events, delays, strict=True)))]
    records = [json.dumps(e).encode() for e in arrival]
    for _ in range(draw(st.integers(0, 4))):  # a retry, a conflicting copy, a straggler, a bad record
        at = draw(st.integers(0, len(records)))
        source = arrival[draw(st.integers(0, len(arrival) - 1))]
        kind = draw(st.sampled_from(["copy", "conflict", "straggler", "bad"]))
        if kind == "copy":
            extra = json.dumps(source).encode()
        elif kind == "conflict":
            extra = json.dumps({**source, "event_time_ms": source["event_time_ms"] + 1}).encode()
        elif kind == "straggler":
            extra = json.dumps(face(source["event_time_ms"] - 4 * MINUTE_MS, track="late", n=at)).encode()
        else:
            extra = b'{"schema": "face_expression", "sharpness": 1' + b"0" * 400 + b"}"
        records.insert(at, extra)
    return records


def test_random_batch_cuts_give_byte_identical_outputs() -> None:
    examples = {"run": 0, "with_windows": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(disordered_records(), st.lists(st.integers(1, 12), min_size=1, max_size=6))
    def run(records: list[bytes], sizes: list[int]) -> None:
        whole, whole_stats = outputs(records, [])
        cut, cut_stats = outputs(records, sizes)
        assert cut == whole
        assert cut_stats == whole_stats
        examples["run"] += 1
        examples["with_windows"] += bool(whole["windows.jsonl"])

    run()
    assert examples["run"] == EXAMPLES and examples["with_windows"] > EXAMPLES // 2


def engine_windows(events: list[dict[str, Any]], batch_size: int) -> list[tuple[int, str | None, int, int]]:
    engine = WindowEngine(EngineConfig(window_minutes=(5,), min_tracks=1))
    out = EngineOutput()
    for start in range(0, len(events), batch_size):
        out.extend(engine.process(events[start:start + batch_size]))
    out.extend(engine.flush())
    assert not engine.snapshot()["panes"]  # nothing left behind in the checkpoint
    return [(w["window_end_ms"], w["camera_id"], w["tracks"], round((w["net_score"] or 0) * 100))
            for w in out.windows]


def test_the_issue_reproduction_earlier_minute_in_a_later_batch() -> None:
    # 16:01:01 happy, then 16:00:59 sad (within the allowed lateness): a batch of one each
    events = [face(T0 + 61_000, track="a", top="happy"), face(T0 + 59_000, track="b", top="sad")]
    one, two = engine_windows(events, 1), engine_windows(events, 2)
    assert one == two
    first = next(w for w in one if w[1] is not None)
    assert first == (T0 + MINUTE_MS, "cam-a", 1, -100)  # the 16:01 window: the sad face alone


def test_flush_raises_no_alarm_that_only_the_flush_caused() -> None:
    # a camera heartbeating every 30 s, the input ends: without the rule the flush makes it "silent"
    events = [beat(T0 + i * 30_000, n=i) for i in range(20)] + [face(T0 + 590_000)]
    engine, alarms = WindowEngine(CONFIG.engine), AlarmEngine(CONFIG.alarms)
    raised = alarms.process(engine.process(events).ticks)
    flushed = engine.flush()
    assert any(t.flush for t in flushed.ticks) and flushed.windows  # windows still close
    assert raised + alarms.process(flushed.ticks) == []
    # the same silence in real event time (a later event from another camera) is an outage
    engine, alarms = WindowEngine(CONFIG.engine), AlarmEngine(CONFIG.alarms)
    out = engine.process([*events, beat(T0 + 30 * MINUTE_MS, camera="cam-b")])
    assert [a["camera_id"] for a in alarms.process(out.ticks) if a["rule"] == "camera_silent"] == ["cam-a"]
