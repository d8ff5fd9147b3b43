"""Where compaction's time goes, stage by stage, and what other JSON parsers would cost instead.

    taskset -c 1 .venv/bin/python benchmarks/lake_parsers.py [--events 200000]

Same events as ``benchmarks/lake.py compact`` (edge-shaped, ~565 bytes, 99.5% face_expression),
one gzip block in memory. Each stage is timed in CPU seconds on its own, after a warm-up batch
(building the decoder and first calls cost ~0.2 s once per process), and printed as events per
CPU second, so the ceiling each puts on compaction is plain: a stage at R events/s alone caps the
whole pipeline below R, and 1e6 / R is its microseconds per event.

Stages of today's path: gunzip (isal; zlib for comparison); finding the lines in place
(``LineBuffer.split``: one newline scan, int64 offsets, no object per line: what compaction does
with a file) beside splitting them into one ``bytes`` each (what it did, and what the embedded
log's lists still are); the native column decoder (``decode_native``: C reads each line once and
writes Arrow column buffers per event type, every contract check included; lines per CPU second),
on the bytes objects and in place (``Decoder.columns_in``); the whole fast path (``decode_lines``:
the native decoder plus the bookkeeping; the decoder's first batch is shown apart: it also pays for
faulting its fresh memory in), on the bytes and in place, and split + fast path together both
ways; dedup within the batch; writing the decoded rows as Iceberg data files
(``batch.lake.append``: partition split, Parquet zstd, statistics) and the commit (one fast append
per table, a fixed cost per run); pyiceberg's own ``Transaction.append`` of the same rows for
comparison. Beside it, the msgspec path that runs where the extension is not built
(``decode_fast``) and its stages: msgspec decoding each line into contract structs (types, enums,
ranges inside msgspec); transposing the structs into Arrow columns; the column checks.
Reading files and dedup against the table are in ``lake.py compact``'s total only.

Alternatives, parsing only (none of them runs the contract's checks, so each is a lower bound of
its cost as a fast path): ``pyarrow.json.read_json`` with an explicit schema (C++, straight to
Arrow; best case: face_expression lines only, no splitting by kind, no checks) and DuckDB's
``read_json`` with typed columns from the gzip file (includes gunzip; note DuckDB casts values
leniently, so it would also need a strict type layer on top).
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json

from batch.compact.decode import Lines, decode_lines
from batch.compact.dedup import first_per_key
from batch.compact.fast_decode import _decode_structs, _suspect_rows, _to_table, decode_fast
from batch.compact.gunzip import gunzip as _gunzip
from batch.compact.line_buffer import LineBuffer
from batch.compact.native_decode import DECODE_PATH, decode_native
from batch.lake.append import FastAppend
from batch.lake.tables import LakeConfig, ensure_tables, lake_schema, open_catalog

if __package__ in (None, ""):  # run as a script (as the README does): make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.lake import T0_MS, edge_events
from schemas.contract import CONTRACTS, Field

_JSON_TYPES = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
_DUCKDB_TYPES = {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}


def _json_fields(fields: tuple[Field, ...]) -> list[pa.Field]:
    return [pa.field(f.name, pa.struct(_json_fields(f.fields)) if f.kind == "object" else _JSON_TYPES[f.kind])
            for f in fields]


def _duckdb_type(spec: Field) -> str:
    if spec.kind == "object":
        return "STRUCT(" + ", ".join(f"{f.name} {_duckdb_type(f)}" for f in spec.fields) + ")"
    return _DUCKDB_TYPES[spec.kind]


def _timed(label: str, events: int, work: Callable[[], Any]) -> Any:
    started = time.process_time()
    result = work()
    used = time.process_time() - started
    print(f"  {label:<66} {used:6.2f} CPU s  {events / used:>11,.0f} events per CPU s", flush=True)
    return result


def _write_files(lake: dict[str, Any], rows: dict[str, pa.Table]) -> list[FastAppend]:
    """What compaction does per chunk: `FastAppend.write` (own partition split and Parquet files)."""
    appends = [FastAppend(lake[name]) for name in rows]
    for append, table in zip(appends, rows.values(), strict=True):
        append.write(table)
    return appends


def _commit(appends: list[FastAppend]) -> None:
    """... and once per run: one fast append per table (manifest, manifest list, catalog commit)."""
    for append in appends:
        append.commit({})


def _pyiceberg_append(lake: dict[str, Any], rows: dict[str, pa.Table]) -> None:
    """The path compaction took before: pyiceberg's `Transaction.append`."""
    for name, table in rows.items():
        tx = lake[name].transaction()
        tx.append(table)
        tx.commit_transaction()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    lines = edge_events(args.events, start_ms=T0_MS)
    data = b"\n".join(lines) + b"\n"
    packed = gzip.compress(data, compresslevel=1)
    n = len(lines)
    print(f"{n:,} events, {len(data) / 1e6:.0f} MB of JSON ({len(data) / n:.0f} bytes each), one core; "
          f"compaction's fast path: {DECODE_PATH}")

    warm = Lines.of("warm-up", lines[:2000])  # one-time costs (building the decoder, first calls): ~0.2 s
    decode_lines(warm)
    decode_fast(warm.lines)
    _timed("gunzip (isal, as `batch.compact.sources` does)", n, lambda: _gunzip(packed))
    _timed("  for comparison: gunzip with zlib", n, lambda: zlib.decompressobj(wbits=31).decompress(packed))
    records = _timed("split into lines (one `Lines` batch of bytes: before)", n,
                     lambda: Lines.of("bench", data.split(b"\n")[:-1]))
    in_place = _timed("lines in place (one `LineBuffer`: newline scan, offsets)", n,
                      lambda: Lines.of("bench", LineBuffer.split(data)))
    if DECODE_PATH == "native":
        # The first batch of a process faults its ~60 MB of column memory in from the kernel; later
        # batches (compaction reads 100 k lines at a time) mostly reuse freed memory: both shown.
        first = _timed("native column decoder, first batch (fresh memory from the kernel)", n,
                       lambda: decode_native(lines))
        assert not first.refused, "the benchmark's events are all valid"
        del first
        _timed("native column decoder (C): lines to lake tables, every check", n, lambda: decode_native(lines))
        _timed("native column decoder in place (`columns_in` on the `LineBuffer`)", n,
               lambda: decode_native(in_place.lines))
    structs = _timed("msgspec: decode each line into contract structs", n, lambda: _decode_structs(lines))
    assert structs is not None
    by_kind: dict[str, list[Any]] = {}
    for struct in structs:
        by_kind.setdefault(type(struct).__name__[len("Fast_"):], []).append(struct)
    tables = _timed("structs into Arrow columns (lake schema)", n,
                    lambda: {name: _to_table(CONTRACTS[name], members) for name, members in by_kind.items()})
    _timed("column checks (patterns, major, sums, sizes)", n, lambda: [
        _suspect_rows(CONTRACTS[name], table, np.zeros(table.num_rows, dtype=np.int64))
        for name, table in tables.items()])
    _timed("msgspec path in all (`decode_fast`: the three above + bookkeeping)", n, lambda: decode_fast(lines))
    decoded = _timed(f"fast path in all (`decode_lines`: {DECODE_PATH} decoder + bookkeeping)", n,
                     lambda: decode_lines(records))
    assert decoded.fast == n and not decoded.rejected, "the benchmark's events are all valid"
    _timed("fast path in all, in place (`decode_lines` on the `LineBuffer`)", n,
           lambda: decode_lines(in_place))
    _timed("split into bytes + fast path (`decode_lines`): before", n,
           lambda: decode_lines(Lines.of("bench", data.split(b"\n")[:-1])))
    _timed("lines in place + fast path (`decode_lines`): compaction now", n,
           lambda: decode_lines(Lines.of("bench", LineBuffer.split(data))))
    rows = {name: pa.concat_tables(parts) for name, parts in decoded.tables.items()}
    _timed("dedup within the batch (sorted fingerprints: no duplicates)", n,
           lambda: [first_per_key(table, "event_id") for table in rows.values()])
    with tempfile.TemporaryDirectory() as folder:
        lake = ensure_tables(open_catalog(LakeConfig(root=Path(folder))))
        warm_rows = decode_lines(Lines.of("warm-up", edge_events(2000, first=10**6, start_ms=T0_MS + 10**8)))
        _commit(_write_files(lake, {name: pa.concat_tables(parts) for name, parts in warm_rows.tables.items()}))
        appends = _timed("partition split + Parquet files, zstd, stats (`FastAppend.write`)", n,
                         lambda: _write_files(lake, rows))
        _timed("commit: one fast append per table (fixed cost per run)", n, lambda: _commit(appends))
        plain = {name: table.cast(lake_schema(CONTRACTS[name])) for name, table in rows.items()}  # no dictionaries
        _timed("  for comparison: pyiceberg `Transaction.append` + commit", n, lambda: _pyiceberg_append(lake, plain))

    face = CONTRACTS["face_expression"]
    face_lines = b"\n".join(line for line in lines if line.startswith(b'{"schema":"face_expression"'))
    faces = face_lines.count(b"\n") + 1
    options = pa_json.ParseOptions(explicit_schema=pa.schema(_json_fields(face.fields)),
                                   unexpected_field_behavior="error")
    table = _timed("pyarrow.json.read_json, face_expression only, no checks", faces, lambda: pa_json.read_json(
        io.BytesIO(face_lines), read_options=pa_json.ReadOptions(use_threads=False), parse_options=options))
    assert table.num_rows == faces

    import duckdb  # only here: the lake's SQL engine, measured as a parser for comparison
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl.gz"
        path.write_bytes(packed)
        union: dict[str, str] = {}
        for contract in CONTRACTS.values():
            union.update({f.name: _duckdb_type(f) for f in contract.fields})
        columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in union.items()) + "}"
        connection = duckdb.connect()
        connection.execute("SET threads = 1")
        query = f"SELECT * FROM read_json('{path}', format = 'newline_delimited', columns = {columns})"
        rows = _timed("DuckDB read_json from gzip, typed columns (lenient), no checks",
                      n, lambda: connection.sql(query).to_arrow_table())
        assert rows.num_rows == n


if __name__ == "__main__":
    main()
