"""Fuzz figures: hostile records through the validator and the embedded stream host, many more than the
test suite's (``tests/stream/test_fuzz.py``), and what became of each.

    .venv/bin/python benchmarks/fuzz_stream.py [--records 200000] [--batch 2000] [--seed 1]

Prints records fuzzed, crashes (an exception escaping the validator or the host) and records
unaccounted for (neither passed on to the engine nor dead-lettered with a reason), then the dead
letters by reason code. Targets: 0 crashes, 0 unaccounted. Records come from the same mutations as
the tests (``tests/support/fuzz_records.py``), drawn with ``random.Random(seed)``.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.support

from stream.alarms import AlarmConfig
from stream.embedded import DEAD_LETTERS, EmbeddedRunner, RunnerConfig
from stream.engine import EngineConfig
from stream.ingest import check
from tests.support.fuzz_records import PLAN_BYTES, build, plans_from_bytes

CONFIG = RunnerConfig(
    engine=EngineConfig(window_minutes=(1, 5), allowed_lateness_ms=60_000, min_tracks=1),
    alarms=AlarmConfig(window_minutes=5, min_tracks=1, raise_m=1, raise_n=2, clear_m=1, silent_minutes=2),
    batch_size=500, check_time=False)


class ListLog:
    def __init__(self, records: list[bytes]) -> None:
        self.records = records

    def read(self, offset: int, max_records: int) -> list[tuple[int, bytes]]:
        return list(enumerate(self.records[offset:offset + max_records], start=offset))


def fuzz_batch(records: list[bytes], codes: collections.Counter[str]) -> tuple[int, int]:
    """(crashes, unaccounted) for one batch through the validator and a fresh embedded runner."""
    crashes = unaccounted = 0
    verdicts: list[bool | None] = []
    for raw in records:
        try:
            event, problems = check(raw, None)
        except Exception:  # the very thing that must never happen
            traceback.print_exc()
            crashes += 1
            verdicts.append(None)
            continue
        if event is None and not problems:
            unaccounted += 1  # refused without a reason: silence
        verdicts.append(event is not None)
    scratch = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(dir=scratch) as state:
        try:
            runner = EmbeddedRunner(ListLog(records), state, CONFIG, source="fuzz")
            runner.drain(flush=True)
            runner.close()
        except Exception:
            traceback.print_exc()
            return crashes + 1, unaccounted + len(records)
        letters = [json.loads(line) for line in (Path(state) / DEAD_LETTERS).read_bytes().splitlines()]
    dead = {}
    for letter in letters:
        codes[letter["code"]] += 1
        if letter["reasons"]:
            dead[int(letter["source"].rsplit("@", 1)[1])] = letter
    stats = runner.sites.engine_stats()
    engine_outcomes = stats.accepted + stats.duplicates + stats.conflicting_duplicates + stats.late
    for offset, valid in enumerate(verdicts):
        if valid is False and offset not in dead:
            unaccounted += 1
    unaccounted += abs(engine_outcomes - (len(records) - len(dead)))
    return crashes, unaccounted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    codes: collections.Counter[str] = collections.Counter()
    fuzzed = crashes = unaccounted = 0
    started = time.perf_counter()
    while fuzzed < args.records:
        size = min(args.batch, args.records - fuzzed)
        records = build(plans_from_bytes(rng.randbytes(size * PLAN_BYTES)), start=fuzzed)
        batch_crashes, batch_unaccounted = fuzz_batch(records, codes)
        fuzzed += len(records)
        crashes += batch_crashes
        unaccounted += batch_unaccounted
    print(json.dumps({"records_fuzzed": fuzzed, "crashes": crashes, "unaccounted": unaccounted,
                      "dead_letters_by_code": dict(codes.most_common()),
                      "seconds": round(time.perf_counter() - started, 1)}, indent=1))


if __name__ == "__main__":
    main()
