"""`local_time(instant, zone)` in DuckDB: an instant's local timestamp in an IANA zone, from the pinned
tzdata (`schemas.time_zones.utc_offsets`), not DuckDB's own (ICU) zone data.

Every DuckDB connection that runs the project's SQL registers it (`register_local_time`); the views'
Trino `at_timezone(instant, zone)` is transpiled to it (`batch.sql.views`). It is vectorized: DuckDB hands
it Arrow batches, each zone's offsets are looked up for all its rows at once (numpy's searchsorted over
the zone's cached transition table).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.time_zones import CYCLE_S, time_zone_problem, utc_offsets

NAME = "local_time"
_US = 1_000_000
_INFINITE = (np.iinfo(np.int64).max, -np.iinfo(np.int64).max)  # DuckDB's 'infinity' / '-infinity'
_LOCAL = pa.timestamp("us")
_INSTANT = pa.timestamp("us", tz="UTC")


@cache
def _table(zone: str) -> tuple[np.ndarray, np.ndarray, int, int]:
    offsets = utc_offsets(zone)
    starts = np.array(offsets.starts, dtype=np.int64) * _US
    values = np.array((offsets.before, *offsets.offsets), dtype=np.int64) * _US
    return starts, values, offsets.cycle_from * _US, CYCLE_S * _US


def local_micros(instants: np.ndarray, zone: str) -> np.ndarray:
    """Local wall-clock microseconds (as if UTC) of UTC epoch microseconds in `zone`; DuckDB's infinite
    timestamps stay infinite."""
    starts, values, cycle_from, cycle = _table(zone)
    folded = instants
    late = instants >= cycle_from + cycle
    if late.any():
        folded = np.where(late, cycle_from + (instants - cycle_from) % cycle, instants)
    with np.errstate(over="ignore"):  # only an infinite instant (put back below) or a null's slot overflows
        shifted = instants + values[np.searchsorted(starts, folded, side="right")]
    infinite = (instants == _INFINITE[0]) | (instants == _INFINITE[1])
    if infinite.any():
        shifted[infinite] = instants[infinite]
    return shifted


def _local_time(instants: pa.Array | pa.ChunkedArray, zones: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(instants, pa.ChunkedArray):
        instants = instants.combine_chunks()
    if isinstance(zones, pa.ChunkedArray):
        zones = zones.combine_chunks()
    if instants.type != _INSTANT:
        instants = instants.cast(_INSTANT)
    # the values buffer as it is (a null's slot holds any number: its result is masked below)
    micros = np.frombuffer(instants.buffers()[1], dtype=np.int64, count=len(instants), offset=instants.offset * 8)
    encoded = zones if pa.types.is_dictionary(zones.type) else pc.dictionary_encode(zones)
    names = encoded.dictionary.to_pylist()
    for name in names:
        if (problem := time_zone_problem(name)) is not None:
            raise ValueError(f"{NAME}(instant, zone): zone {problem}")
    if len(names) == 1:  # the usual batch: one site's rows, or a constant zone
        out = local_micros(micros, names[0])
    else:
        out = np.zeros(len(micros), dtype=np.int64)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        for code, name in enumerate(names):
            rows = codes == code
            out[rows] = local_micros(micros[rows], name)
    missing = None
    if instants.null_count or zones.null_count:
        missing = pc.or_(instants.is_null(), zones.is_null()).to_numpy(zero_copy_only=False)
    return pa.array(out, type=pa.int64(), mask=missing).view(_LOCAL)


def register_local_time(connection: Any) -> None:
    """Adds `local_time(TIMESTAMPTZ, VARCHAR) -> TIMESTAMP` to a DuckDB connection, once (a second call,
    e.g. model drift's on a connection the lake's `connect` made, leaves it as it is)."""
    import duckdb  # the adapter's only DuckDB: the views' transpile step imports NAME without it

    known = connection.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [NAME]).fetchall()
    if known[0][0]:
        return
    connection.create_function(NAME, _local_time, [duckdb.sqltype("TIMESTAMPTZ"), duckdb.sqltype("VARCHAR")],
                               duckdb.sqltype("TIMESTAMP"), type="arrow", null_handling="special")
