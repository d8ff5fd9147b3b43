"""Fuzz: hostile records through the validator and through both stream hosts (embedded runner on a
log, Kinesis host on moto). For every record: accepted, a duplicate, late, or dead-lettered with a
reason and a code; never a crash, never silence. Each test drives at least ``MIN_RECORDS`` records
(figures: ``benchmarks/fuzz_stream.py`` runs many more). The Kinesis host's fuzz is in
``tests/stream/host/test_fuzz_kinesis_consumer.py`` (it needs the moto server's fixtures)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from schemas.validation import Code, ValidationError, parse_event, validate_event
from stream.alarms import AlarmConfig
from stream.embedded import DEAD_LETTERS, LATE, EmbeddedRunner, RunnerConfig
from stream.engine import EngineConfig
from stream.ingest import check
from stream.jsonl import dumps
from tests.support.fuzz_records import PLAN_BYTES, Plan, build, plans_from_bytes

MIN_RECORDS = 10_000
PER_EXAMPLE = 500  # x 12 bytes: within hypothesis's 8 KiB of choices per example
EXAMPLES = MIN_RECORDS // PER_EXAMPLE
# No shrinking: a failure names its record in the assertion, and shrinking 500 records takes minutes.
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                phases=(Phase.explicit, Phase.reuse, Phase.generate),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.large_base_example])
PLANS = st.binary(min_size=PER_EXAMPLE * PLAN_BYTES, max_size=PER_EXAMPLE * PLAN_BYTES).map(plans_from_bytes)
# fsync is not what these tests are about: state on tmpfs where there is one
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None
CONFIG = RunnerConfig(
    engine=EngineConfig(window_minutes=(1, 5), allowed_lateness_ms=60_000, min_tracks=1),
    alarms=AlarmConfig(window_minutes=5, min_tracks=1, raise_m=1, raise_n=2, clear_m=1, silent_minutes=2),
    batch_size=37, check_time=False)


class ListLog:
    """The runner's LogReader over records in memory."""

    def __init__(self, records: list[bytes]) -> None:
        self.records = records

    def read(self, offset: int, max_records: int) -> list[tuple[int, bytes]]:
        return list(enumerate(self.records))[offset:offset + max_records]


def letters_in(path: Path) -> list[dict[str, Any]]:
    letters = [json.loads(line) for line in path.read_bytes().splitlines()]
    for letter in letters:  # never silence: a reason, a code, where it came from, how big it was
        assert letter["reasons"] and all(r["path"] and r["reason"] for r in letter["reasons"])
        assert letter["code"] and letter["source"] and letter["payload_bytes"] >= 0
        assert len(dumps(letter)) < 80 * 1024  # bounded whatever the record
    return letters


def test_validator_never_crashes_and_explains_every_refusal() -> None:
    seen = {"records": 0, "accepted": 0, "refused": 0}

    @FUZZ
    @given(PLANS)
    def run(plans: list[Plan]) -> None:
        for raw in build(plans):
            seen["records"] += 1
            event, problems = check(raw, None)  # never raises
            if event is None:
                seen["refused"] += 1
                assert problems and all(p.path and p.reason and p.code for p in problems)
                try:  # the contract raises only ValidationError; what it passes, the stream refused itself
                    contract_ok = parse_event(raw)
                except ValidationError:
                    contract_ok = None
                stream_rule = problems[0].path in ("schema", "event_time_ms") or problems[0].code == Code.TOO_LARGE
                assert contract_ok is None or stream_rule, (raw[:300], problems)
            else:
                seen["accepted"] += 1
                assert problems == [] and validate_event(event) == []
                dumps(event)  # anything accepted can be written by every output downstream

    run()
    assert seen["records"] >= MIN_RECORDS and seen["accepted"] and seen["refused"]


def test_embedded_runner_accounts_for_every_record() -> None:
    seen = {"records": 0}

    @FUZZ
    @given(PLANS)
    def run(plans: list[Plan]) -> None:
        records = build(plans)
        with tempfile.TemporaryDirectory(dir=SCRATCH) as state:
            runner = EmbeddedRunner(ListLog(records), state, CONFIG, source="fuzz")
            runner.drain(flush=True)
            runner.close()
            letters = letters_in(Path(state) / DEAD_LETTERS)
            late = (Path(state) / LATE).read_bytes().count(b"\n")
        dead = {int(letter["source"].rsplit("@", 1)[1]) for letter in letters}
        assert len(dead) == len(letters)  # one letter per record, never two
        counters, stats = runner.counters, runner.sites.engine_stats()
        assert counters["records"] == len(records) and runner.offset == len(records)
        assert counters["events"] + len(letters) == len(records)
        assert stats.events == counters["events"]
        assert stats.accepted + stats.duplicates + stats.conflicting_duplicates + stats.late == stats.events
        assert late == stats.late
        for offset, raw in enumerate(records):  # the split is the validator's, record by record
            assert (offset in dead) == (check(raw, None)[0] is None), raw[:300]
        seen["records"] += len(records)

    run()
    assert seen["records"] >= MIN_RECORDS
