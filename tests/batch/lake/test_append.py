"""Our own Parquet files + one fast append: same rows, partitions and statistics as pyiceberg's append."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyiceberg.table import Table

from batch.compact.decode import Lines, decode_lines
from batch.lake.append import FastAppend
from batch.lake.filters import both, eq, ge, lt
from batch.lake.maintain import delete_orphans
from batch.lake.tables import ensure_table
from tests.batch.lakes import DAY_MS, HOUR_MS, T0, new_catalog, update

SITES = ("cafe-1", "shop-2", "cinema-3")


def _rows(events: list[dict[str, Any]]) -> pa.Table:
    decoded = decode_lines(Lines.of("test", [json.dumps(e).encode() for e in events]))
    assert not decoded.rejected
    return pa.concat_tables(decoded.tables["face_expression"])


def _events(count: int, days: int = 2) -> list[dict[str, Any]]:
    """Across days and sites, some with a zone (nullable column), not in partition order."""
    return [update(T0 + (i * 7 % days) * DAY_MS + (i * 13 % 24) * HOUR_MS + i, site=SITES[i % 3],
                   zone=("door" if i % 4 == 0 else None), valence=round((i % 11) / 10 - 0.5, 2))
            for i in range(count)]


def _files(table: Table) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per partition: record count, null counts, lower/upper bounds (decoded), as the manifests say."""
    out = {}
    files = table.inspect.files().to_pylist()
    for row in files:
        key = (str(row["partition"]["event_day"]), row["partition"]["site_id"])
        assert key not in out, "one file per partition"
        # column sizes differ by encoding (ours plain, pyiceberg's dictionaries): everything else must not
        out[key] = {"rows": row["record_count"], "nulls": row["null_value_counts"],
                    "values": dict(row["value_counts"]),
                    "readable": {column: {k: v for k, v in metrics.items() if k != "column_size"}
                                 for column, metrics in row["readable_metrics"].items()}}
    return out


def _by_id(table: pa.Table) -> list[dict[str, Any]]:
    return table.sort_by("event_id").to_pylist()


def test_rows_partitions_and_statistics_are_those_pyiceberg_writes(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "lake")
    rows = _rows(_events(60))
    ours = ensure_table(catalog, "face_expression")
    appender = FastAppend(ours)
    appender.write(rows)
    appender.commit({"moodlens.rows": "60"})
    ours.refresh()
    theirs = catalog.create_table("moodlens.reference", schema=ours.schema(), partition_spec=ours.spec(),
                                  properties=ours.properties)
    theirs.append(rows)
    snapshot = ours.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None and snapshot.summary["moodlens.rows"] == "60"
    assert _by_id(ours.scan().to_arrow()) == _by_id(theirs.scan().to_arrow()) == _by_id(rows)
    ours_files, their_files = _files(ours), _files(theirs)
    assert ours_files.keys() == their_files.keys() and len(ours_files) == 6  # 2 days x 3 sites
    for key, ours_file in ours_files.items():
        theirs_file = their_files[key]
        assert ours_file["rows"] == theirs_file["rows"]
        assert ours_file["nulls"] == theirs_file["nulls"]
        assert ours_file["readable"] == theirs_file["readable"], key


def test_file_statistics_are_the_partitions_own_and_prune_scans(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "lake")
    rows = _rows(_events(90, days=3))
    table = ensure_table(catalog, "face_expression")
    appender = FastAppend(table)
    appender.write(rows)
    appender.commit({})
    table.refresh()
    for (day, site), stats in _files(table).items():
        start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
        expected = rows.filter(pc.and_(pc.equal(rows.column("site_id"), site), pc.and_(
            pc.greater_equal(rows.column("event_time"), start),
            pc.less(rows.column("event_time"), start + dt.timedelta(days=1)))))
        metrics = stats["readable"]
        assert stats["rows"] == expected.num_rows > 0
        assert metrics["event_time"]["lower_bound"] == pc.min(expected.column("event_time")).as_py()
        assert metrics["event_time"]["upper_bound"] == pc.max(expected.column("event_time")).as_py()
        assert metrics["site_id"]["lower_bound"] == metrics["site_id"]["upper_bound"] == site
        assert metrics["zone"]["null_value_count"] == expected.column("zone").null_count
        assert metrics["valence"]["lower_bound"] == pc.min(expected.column("valence")).as_py()
        happy = table.schema().find_field("probabilities.happy").field_id  # nested fields: by their ids
        assert stats["values"][happy] == expected.num_rows
    day = dt.datetime.fromtimestamp((T0 + DAY_MS) / 1000, tz=dt.UTC)
    one = both(eq("site_id", "shop-2"), both(ge("event_time", day.isoformat()),
                                             lt("event_time", (day + dt.timedelta(days=1)).isoformat())))
    [task] = list(table.scan(row_filter=one).plan_files())
    assert "site_id=shop-2" in task.file.file_path and task.file.partition[1] == "shop-2"
    early = lt("event_time", dt.datetime.fromtimestamp((T0 + HOUR_MS) / 1000, tz=dt.UTC).isoformat())
    planned = list(table.scan(row_filter=early).plan_files())  # bounds prune within the first day too
    assert 0 < len(planned) <= 3 and all("event_day=2026-09-22" in t.file.file_path for t in planned)
    assert table.scan(row_filter=one).to_arrow().num_rows == sum(
        1 for r in rows.to_pylist() if r["site_id"] == "shop-2" and day <= r["event_time"] < day + dt.timedelta(1))


def test_files_land_in_the_tables_data_folder_and_an_uncommitted_run_leaves_only_orphans(tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "lake")
    table = ensure_table(catalog, "face_expression")
    appender = FastAppend(table)
    appender.write(_rows(_events(12)))
    paths = [urlparse(f.file_path).path for f in appender.files]
    data = urlparse(table.location()).path + "/data/"
    assert len(paths) == len(set(paths)) == 6 and all(p.startswith(data) and Path(p).exists() for p in paths)
    assert all(f.file_size_in_bytes == Path(p).stat().st_size for f, p in zip(appender.files, paths, strict=True))
    assert pq.read_schema(paths[0]).field("event_id").type == pa.string()  # no Arrow schema stored: plain types
    # the run dies here, before commit: no snapshot names the files, maintenance deletes them
    table.refresh()
    assert table.current_snapshot() is None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert sorted(delete_orphans(table, later)) == sorted(paths)


def test_a_partition_beyond_the_target_file_size_is_split_and_chunks_commit_in_one_snapshot(
        tmp_path: Path) -> None:
    catalog = new_catalog(tmp_path / "lake")
    table = ensure_table(catalog, "face_expression")
    with table.transaction() as tx:
        tx.set_properties({"write.target-file-size-bytes": "4000"})
    rows = _rows([update(T0 + i) for i in range(40)])
    appender = FastAppend(table.refresh())
    appender.write(rows.slice(0, 30))
    first = len(appender.files)
    appender.write(rows.slice(30))
    appender.commit({})
    assert first > 1 and len(appender.files) > first
    table.refresh()
    assert len(table.snapshots()) == 1 and len(table.inspect.files()) == len(appender.files)
    assert _by_id(table.scan().to_arrow()) == _by_id(rows)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(SITES), st.integers(0, DAY_MS - 1)),
                      min_size=1, max_size=30))
def test_every_row_lands_once_in_the_file_of_its_day_and_site(tmp_path_factory: Any,
                                                              picks: list[tuple[int, str, int]]) -> None:
    catalog = new_catalog(tmp_path_factory.mktemp("lake"))
    table = ensure_table(catalog, "face_expression")
    rows = _rows([update(T0 + day * DAY_MS + offset - 3 * DAY_MS, site=site) for day, site, offset in picks])
    appender = FastAppend(table)
    appender.write(rows)
    appender.commit({})
    table.refresh()
    seen = []
    for data_file in appender.files:
        stored = pq.read_table(urlparse(data_file.file_path).path)
        days = {t.date() for t in stored.column("event_time").to_pylist()}
        sites = set(stored.column("site_id").to_pylist())
        assert len(days) == 1 and sites == {data_file.partition[1]}
        assert (dt.date(1970, 1, 1) + dt.timedelta(days=data_file.partition[0])) in days
        seen.extend(stored.column("event_id").to_pylist())
    assert sorted(seen) == sorted(rows.column("event_id").to_pylist())
    assert _by_id(table.scan().to_arrow()) == _by_id(rows)


def test_rows_the_table_cannot_hold_are_refused_as_pyiceberg_refuses_them_and_dictionaries_pass_quietly(
        tmp_path: Path, caplog: Any) -> None:
    catalog = new_catalog(tmp_path / "lake")
    table = ensure_table(catalog, "face_expression")
    rows = _rows(_events(6))
    assert pa.types.is_dictionary(rows.schema.field("site_id").type)  # as compaction decodes them
    with caplog.at_level("WARNING"):
        FastAppend(table).write(rows)
    assert not [r for r in caplog.records if "dictionary" in r.getMessage()]  # an encoding, not a type
    extra = rows.append_column("mood", pa.array(["x"] * rows.num_rows))
    with pytest.raises(ValueError, match="more columns: mood"):
        FastAppend(table).write(extra)
    with pytest.raises(ValueError, match="valence"):
        FastAppend(table).write(rows.drop_columns(["valence"]))  # required
    as_text = rows.set_column(rows.schema.get_field_index("valence"), "valence",
                              pc.cast(rows.column("valence"), pa.string()))
    with pytest.raises(ValueError, match="valence"):
        FastAppend(table).write(as_text)
