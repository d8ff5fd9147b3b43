"""A fuzz corpus through every entry point of the C decoder, for `make native-check`.

    python -m tests.support.native_fuzz [--records 30000] [--seed 1]

`make native-check` builds `schemas._record` with AddressSanitizer and UndefinedBehaviorSanitizer and
runs this beside the native test files: a memory or undefined-behaviour error aborts the process, so
any report fails the build. What is checked here is only that the C code survives the corpus and
agrees with itself (one record at a time against a batch, bytes against lines read in place); the
property tests hold it to the reference validator.

The corpus: the fuzz tests' mutated records (`tests/support/fuzz_records.py`, drawn with
`random.Random(seed)`), each also cut at random points and with random bytes flipped, plus raw
random bytes, lines of only structure characters and lines just over the record-size limit.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

from batch.compact.line_buffer import LineBuffer
from batch.compact.native_decode import DECODE_PATH, IN_PLACE, decode_native
from schemas.contract import MAX_RECORD_BYTES
from schemas.fast_decode import FastDecoder, ValidationError
from schemas.struct_mapping import to_document
from tests.support.fuzz_records import PLAN_BYTES, build, plans_from_bytes

STRUCTURE = b'{}[]":,\\0123456789.eE+-tfnul '


def damaged(record: bytes, rng: random.Random) -> list[bytes]:
    """The record cut at a random point, with random bytes flipped, and with a random run doubled."""
    if not record:
        return []
    cut = rng.randrange(len(record))
    flipped = bytearray(record)
    for _ in range(1 + len(record) // 64):
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
    start = rng.randrange(len(record))
    end = min(len(record), start + rng.randrange(1, 40))
    return [record[:cut], bytes(flipped), record[:end] + record[start:]]


def noise(rng: random.Random) -> list[bytes]:
    size = rng.randrange(1, 300)
    return [rng.randbytes(size), bytes(rng.choice(STRUCTURE) for _ in range(size)),
            b'{"schema":"' + b"x" * (MAX_RECORD_BYTES - 10) + b'"}']


def corpus(records: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    base = build(plans_from_bytes(rng.randbytes(records * PLAN_BYTES)))
    out: list[bytes] = []
    for record in base:
        out.append(record)
        out.extend(damaged(record, rng))
        if rng.random() < 0.05:
            out.extend(noise(rng))
    # A line is a record without its newline; a newline inside one would make two lines.
    return [record.replace(b"\n", b" ") for record in out]


def run(lines: list[bytes], batch: int = 2_000) -> dict[str, float]:
    decoder = FastDecoder()
    accepted = refused = 0
    for raw in lines:
        event = decoder.fast(raw)
        if event is not None:
            to_document(event)  # every value read: the C validator makes them from the record on first read
            accepted += 1
        try:
            decoder.parse(raw, MAX_RECORD_BYTES)
        except ValidationError:
            refused += 1
    rows_from_bytes = rows_in_place = 0
    for start in range(0, len(lines), batch):
        chunk = lines[start:start + batch]
        rows_from_bytes += sum(t.num_rows for t, _ in decode_native(chunk, then=None).tables.values())
        if IN_PLACE:
            buffer = LineBuffer.split(b"\n".join(chunk) + b"\n")
            rows_in_place += sum(t.num_rows for t, _ in decode_native(buffer, then=None).tables.values())
    if IN_PLACE and rows_in_place != rows_from_bytes:
        raise SystemExit(f"lines read in place gave {rows_in_place} rows, the same lines as bytes {rows_from_bytes}")
    return {"lines": len(lines), "fast_path_accepted": accepted, "refused": refused,
            "rows_from_batches": rows_from_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=30_000, help="valid records to mutate (the corpus is ~4x)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if DECODE_PATH != "native":
        sys.exit("native fuzz: the C extension schemas._record is not built; nothing would be checked")
    started = time.perf_counter()
    figures = run(corpus(args.records, args.seed))
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print("native fuzz:", json.dumps(figures))


if __name__ == "__main__":
    main()
