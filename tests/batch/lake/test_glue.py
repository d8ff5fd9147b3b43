"""AWS mode: the same code on the Glue catalog and an S3 warehouse (moto in server mode).

moto servers in one process share their state, hence a bucket name no other test uses, and each
test drops the Glue tables it made (one Glue database holds one lake: another test's `--lake`
would otherwise find them, and is refused, see below).

moto emulates Glue's table API and S3; it runs no Athena SQL, so the queries here run on DuckDB
over what pyiceberg reads from S3 through pyarrow (as `moodlens sql --lake s3://...` does).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from pyiceberg.catalog import Catalog

from batch.compact.run import compact
from batch.compact.sources import Source, SourceError, from_s3
from batch.lake.tables import LakeLocationError, ensure_tables, existing_tables, glue_lake, identifier, open_catalog
from batch.sql.runner import run_query
from tests.batch.lakes import HOUR_MS, T0, update
from tests.support.moto_server import drop_glue_lake, moto_server

KEYS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "eu-west-1"}


CREDENTIALS = {"access-key-id": "test", "secret-access-key": "test"}


@pytest.fixture
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        drop_glue_lake(url)
        yield url
        drop_glue_lake(url)


def _lake(endpoint: str, warehouse: str) -> Catalog:
    settings = {**CREDENTIALS, "endpoint": endpoint}
    extra = {f"{service}.{k}": v for service in ("glue", "s3") for k, v in settings.items()}
    return open_catalog(glue_lake(warehouse, region="eu-west-1", **extra))


def test_a_second_lake_on_the_same_glue_database_is_refused_naming_the_table_and_both_places(endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, **KEYS)
    for bucket in ("glue-lake-first", "glue-lake-second"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    ensure_tables(_lake(endpoint, "s3://glue-lake-first/lake"))
    second = _lake(endpoint, "s3://glue-lake-second/lake")
    for open_tables in (ensure_tables, existing_tables):
        with pytest.raises(LakeLocationError) as refused:
            open_tables(second)
        message = str(refused.value)
        assert "moodlens." in message and "s3://glue-lake-first/lake/moodlens.db/" in message
        assert "not under the lake s3://glue-lake-second/lake" in message
        assert "--lake s3://glue-lake-first/lake " in message
    assert ensure_tables(_lake(endpoint, "s3://glue-lake-first/lake/"))  # the same lake, a trailing slash


def test_compaction_and_sql_on_glue_and_s3(endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, **KEYS)
    s3.create_bucket(Bucket="glue-lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    events = [update(T0 + i * HOUR_MS, site=f"site-{i % 2}") for i in range(6)]
    s3.put_object(Bucket="glue-lake", Key="raw/2026/09/22/00/part-1.gz",
                  Body=gzip.compress("\n".join(json.dumps(e) for e in events).encode()))
    catalog = _lake(endpoint, "s3://glue-lake/warehouse")
    errors: list[SourceError] = []
    first = compact(catalog, [Source("s3", from_s3("s3://glue-lake/raw/", errors, s3), errors)])
    second = compact(catalog, [Source("s3", from_s3("s3://glue-lake/raw/", errors, s3), errors)])
    assert first.written == {"face_expression": 6} and second.written == {"face_expression": 0}
    glue = boto3.client("glue", endpoint_url=endpoint, **KEYS)
    stored = glue.get_table(DatabaseName="moodlens", Name="face_expression")["Table"]
    assert stored["Parameters"]["table_type"].upper() == "ICEBERG"
    table = catalog.load_table(identifier("face_expression"))
    files = table.inspect.files().select(["file_path", "file_size_in_bytes"]).to_pylist()
    assert all(f["file_path"].startswith("s3://glue-lake/warehouse/moodlens.db/face_expression/data/") for f in files)
    for f in files:  # the sizes compaction recorded are the objects' own (written by batch.lake.append)
        head = s3.head_object(Bucket="glue-lake", Key=f["file_path"].removeprefix("s3://glue-lake/"))
        assert head["ContentLength"] == f["file_size_in_bytes"]
    result = run_query(ensure_tables(catalog), "SELECT count(*) AS n FROM face_expression WHERE site_id = 'site-1'")
    assert result.table.to_pylist() == [{"n": 3}]
    assert result.scans["face_expression"].files == 1 and result.scans["face_expression"].total_files == 2


def test_a_run_committing_between_another_runs_dedup_and_its_commit_doubles_nothing_on_glue(endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, **KEYS)
    s3.create_bucket(Bucket="glue-race", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    events = [update(T0 + i * HOUR_MS, site=f"site-{i % 2}") for i in range(8)]
    for name, part in (("a", events[:6]), ("b", events[3:])):
        s3.put_object(Bucket="glue-race", Key=f"raw-{name}/part.gz",
                      Body=gzip.compress("\n".join(json.dumps(e) for e in part).encode()))
    catalog = _lake(endpoint, "s3://glue-race/warehouse")
    errors: list[SourceError] = []

    def b_runs_now(at: str) -> None:  # B compacts and commits after A deduplicated, before A commits
        if at == "before_commit:face_expression":
            compact(_lake(endpoint, "s3://glue-race/warehouse"),
                    [Source("b", from_s3("s3://glue-race/raw-b/", errors, s3), errors)])

    a = compact(catalog, [Source("a", from_s3("s3://glue-race/raw-a/", errors, s3), errors)], fault=b_runs_now)
    ids = catalog.load_table(identifier("face_expression")).scan().to_arrow().column("event_id").to_pylist()
    assert sorted(ids) == sorted(e["event_id"] for e in events) and a.written == {"face_expression": 3}
    assert not errors


def test_maintain_deletes_a_killed_runs_objects_on_s3_and_nothing_else(endpoint: str) -> None:
    import datetime as dt

    from batch.lake.maintain import count_rows, delete_orphans
    s3 = boto3.client("s3", endpoint_url=endpoint, **KEYS)
    s3.create_bucket(Bucket="glue-orphans", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="glue-orphans", Key="raw/part.gz",
                  Body=gzip.compress("\n".join(json.dumps(update(T0 + i)) for i in range(4)).encode()))
    catalog = _lake(endpoint, "s3://glue-orphans/warehouse")
    errors: list[SourceError] = []
    compact(catalog, [Source("s3", from_s3("s3://glue-orphans/raw/", errors, s3), errors)])
    table = catalog.load_table(identifier("face_expression"))
    [committed] = table.inspect.files().column("file_path").to_pylist()
    key = committed.removeprefix("s3://glue-orphans/")
    orphan = key.rsplit("/", 1)[0] + "/00000-0-killed-run.parquet"
    s3.copy_object(Bucket="glue-orphans", Key=orphan, CopySource={"Bucket": "glue-orphans", "Key": key})
    now = dt.datetime.now(dt.UTC)
    assert delete_orphans(table, now, grace=dt.timedelta(hours=1)) == []  # too young for that grace
    assert delete_orphans(table, now + dt.timedelta(seconds=1), grace=dt.timedelta(0)) == \
        [f"s3://glue-orphans/{orphan}"]
    listed = s3.list_objects_v2(Bucket="glue-orphans", Prefix=key.rsplit("/", 1)[0])["Contents"]
    left = [o["Key"] for o in listed if not o["Key"].endswith("/")]  # (pyarrow's folder markers)
    assert left == [key] and count_rows(table) == 4


def test_the_aws_compaction_migrates_a_glue_lake_written_before_the_time_columns_were_renamed(
        endpoint: str, tmp_path: Path) -> None:
    from batch.lake.migrate import LakeLayoutError, pending
    from tests.batch.lake.old_lake import box_events, census, write_old_lake

    s3 = boto3.client("s3", endpoint_url=endpoint, **KEYS)
    s3.create_bucket(Bucket="glue-migrate", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    warehouse = "s3://glue-migrate/warehouse"
    settings = {**CREDENTIALS, "endpoint": endpoint}
    properties = {"type": "glue", "warehouse": warehouse, "glue.region": "eu-west-1", "s3.region": "eu-west-1",
                  **{f"{service}.{k}": v for service in ("glue", "s3") for k, v in settings.items()}}
    write_old_lake(tmp_path, box_events(), properties)
    catalog = _lake(endpoint, warehouse)
    before = census(catalog)
    with pytest.raises(LakeLayoutError) as refused:
        run_query(existing_tables(catalog), "SELECT count(*) FROM face_expression")
    assert f"the lake {warehouse} (Glue database moodlens)" in str(refused.value)
    assert f"--lake {warehouse}`" in str(refused.value)

    newer = [update(T0 + 5 * 24 * HOUR_MS + i, site="site-9") for i in range(3)]
    s3.put_object(Bucket="glue-migrate", Key="raw/new.gz",
                  Body=gzip.compress("\n".join(json.dumps(e) for e in newer).encode()))
    errors: list[SourceError] = []
    result = compact(catalog, [Source("s3", from_s3("s3://glue-migrate/raw/", errors, s3), errors)])
    assert result.written == {"face_expression": 3} and not errors

    catalog = _lake(endpoint, warehouse)
    after = census(catalog)
    before["face_expression"]["rows"] += 3
    before["face_expression"]["event_time"] += sum(e["event_time_ms"] * 1000 for e in newer)
    assert after == before
    assert not [c for n, t in existing_tables(catalog).items() for c in pending(t, n)]
    glue = boto3.client("glue", endpoint_url=endpoint, **KEYS)

    def current_columns(name: str) -> dict[str, str]:  # Glue keeps old schemas' columns, marked not current
        described = glue.get_table(DatabaseName="moodlens", Name=name)["Table"]["StorageDescriptor"]["Columns"]
        return {c["Name"]: c["Type"] for c in described
                if c.get("Parameters", {}).get("iceberg.field.current", "true") == "true"}

    for name in ("face_expression", "sentiment_window"):  # what Athena sees
        columns = current_columns(name)
        assert columns["event_time"] == "timestamp" and "event_time_ms" not in columns
    windows = current_columns("sentiment_window")
    assert windows["window_start"] == windows["window_end"] == "timestamp" and "window_start_ms" not in windows
