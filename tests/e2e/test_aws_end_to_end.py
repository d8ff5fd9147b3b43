"""The AWS pipeline end to end on a moto server, against the embedded mode on the same input.

edge (two sample clips, two cameras) -> Kinesis -> the consumer (`stream run --source kinesis://`,
stopped after the first clip and started again as a new process: its state comes back from S3) ->
windows and alarms through Firehose into S3 raw/ -> compaction into the lake's Iceberg tables
(Glue catalog + S3) -> the views through DuckDB -> the weekly report uploaded to S3.
The same records, in the same order, then go through the embedded mode (local log, `stream run
--log`, a local lake): windows, alarms and every lake table must be equal.

What moto does not do, and this test does in its place:
- IoT rules do not route: the edges publish straight into Kinesis (`--publisher kinesis`, a
  supported mode), not over MQTT through the topic rule.
- A Kinesis-sourced Firehose delivers nothing: the test copies the stream into raw/events/ as the
  stack's EventArchive does (gzip JSON Lines, one record a line).
- ECS runs nothing and EventBridge Scheduler never fires: the test runs the consumer, the
  compaction and the report with the commands and arguments the stack gives them.
- Athena runs no SQL: the views run on DuckDB over what pyiceberg plans from S3 (`moodlens sql`).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from locallog import LocalLog
from moodlens.cli import main
from tests.support.moto_server import drop_glue_lake

REPO = Path(__file__).resolve().parents[2]
CLIPS = {"door": REPO / "data" / "video" / "single_face.mp4", "terrace": REPO / "data" / "video" / "noface_face.mov"}
SITE = "e2e-cafe"
REGION = "eu-west-1"
# a recorded clip's times; two customers make a window; the site's alarms learn Berlin hours on both paths
COMMON = ["--no-time-check", "--min-tracks", "1", "--sites", json.dumps({SITE: {"timezone": "Europe/Berlin"}})]


@pytest.fixture(scope="module")
def aws(aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    unique = uuid.uuid4().hex[:8]
    names = {"stream": f"e2e-events-{unique}", "state": f"e2e-state-{unique}", "data": f"e2e-data-{unique}",
             "firehose": f"e2e-outputs-{unique}"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ENDPOINT_URL": aws_endpoint,
                            "MOODLENS_KINESIS_STREAM": names["stream"],
                            "MOODLENS_KINESIS_ENDPOINT_URL": aws_endpoint}.items():
            patch.setenv(name, value)
        s3 = boto3.client("s3")
        for bucket in (names["state"], names["data"]):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=names["state"], VersioningConfiguration={"Status": "Enabled"})  # as the stack's
        kinesis = boto3.client("kinesis")
        kinesis.create_stream(StreamName=names["stream"], ShardCount=2)
        boto3.client("firehose").create_delivery_stream(
            DeliveryStreamName=names["firehose"], DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/firehose",
                                                "BucketARN": f"arn:aws:s3:::{names['data']}", "Prefix": "raw/"})
        drop_glue_lake(aws_endpoint)  # the lake's Glue database is this test's alone (see drop_glue_lake)
        yield {**names, "s3": s3, "kinesis": kinesis, "endpoint": aws_endpoint,
               "tmp": tmp_path_factory.mktemp("e2e")}
        drop_glue_lake(aws_endpoint)


def run(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0, argv
    return out.getvalue()


def edge(aws: dict[str, Any], camera: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOODLENS_STATE_DIR", str(aws["tmp"] / "edge" / camera))  # its spool
        run("edge", "run", "--source", str(CLIPS[camera]), "--site", SITE, "--camera", camera,
            "--publisher", "kinesis", "--quiet")


def consumer(aws: dict[str, Any], *extra: str) -> None:
    run("stream", "run", "--source", f"kinesis://{aws['stream']}", "--state", f"s3://{aws['state']}/consumer",
        "--out", str(aws["tmp"] / "consumer-out"), "--firehose", aws["firehose"], "--endpoint-url", aws["endpoint"],
        "--region", REGION, "--once", *COMMON, *extra)


def stream_records(aws: dict[str, Any]) -> list[bytes]:
    """Every record in the stream, shard by shard, in order (one site: one shard holds them all)."""
    kinesis, records = aws["kinesis"], []
    for shard in kinesis.list_shards(StreamName=aws["stream"])["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=aws["stream"], ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            records += [r["Data"] for r in page["Records"]]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return records


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def json_rows(out: str) -> list[dict[str, Any]]:
    """`moodlens sql --format json` prints one JSON object a row."""
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def lake_rows(lake: str) -> dict[str, list[str]]:
    out = run("sql", "--raw", "--lake", lake, "--format", "json",
              "SELECT 'face_expression' AS t, event_id FROM face_expression "
              "UNION ALL SELECT 'camera_heartbeat', event_id FROM camera_heartbeat "
              "UNION ALL SELECT 'sentiment_window', event_id FROM sentiment_window "
              "UNION ALL SELECT 'sentiment_alarm', event_id FROM sentiment_alarm")
    rows: dict[str, list[str]] = {}
    for row in json_rows(out):
        rows.setdefault(row["t"], []).append(row["event_id"])
    return {table: sorted(ids) for table, ids in rows.items()}


@pytest.fixture(scope="module")
def pipeline(aws: dict[str, Any]) -> dict[str, Any]:
    edge(aws, "door")
    consumer(aws)  # the first clip's events; then the consumer stops (a forced restart)
    edge(aws, "terrace")
    consumer(aws, "--flush")  # a new process: state and positions from S3, then the end of the input
    records = stream_records(aws)
    # the stack's EventArchive (a Kinesis-sourced Firehose) does this on AWS; moto does not
    aws["s3"].put_object(Bucket=aws["data"], Key="raw/events/date=2026-11-30/part-0.jsonl.gz",
                         Body=gzip.compress(b"".join(r.rstrip(b"\n") + b"\n" for r in records)))
    lake = f"s3://{aws['data']}/lake"
    run("batch", "compact", "--raw", f"s3://{aws['data']}/raw/", "--lake", lake)
    # the embedded mode on the same records, in the same order
    local = aws["tmp"] / "embedded"
    log = LocalLog(local / "log")
    log.append(records)
    log.close()
    run("stream", "run", "--log", str(local / "log"), "--state", str(local / "stream"), "--flush", "--once",
        *COMMON)
    run("batch", "compact", "--log", str(local / "log"), "--state", str(local / "stream"), "--lake",
        str(local / "lake"))
    return {"records": records, "lake": lake, "local": local}


def raw_outputs(aws: dict[str, Any]) -> list[dict[str, Any]]:
    lines = []
    for item in aws["s3"].list_objects_v2(Bucket=aws["data"], Prefix="raw/")["Contents"]:
        if item["Key"].startswith("raw/events/"):
            continue
        lines += aws["s3"].get_object(Bucket=aws["data"], Key=item["Key"])["Body"].read().decode().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_both_cameras_published_through_kinesis_and_the_consumer_kept_its_state_in_s3(aws, pipeline) -> None:
    events = [json.loads(r) for r in pipeline["records"]]
    assert {e["camera_id"] for e in events} == set(CLIPS) and {e["site_id"] for e in events} == {SITE}
    assert sum(e.get("kind") == "track_end" for e in events) == 2
    keys = {o["Key"] for o in aws["s3"].list_objects_v2(Bucket=aws["state"])["Contents"]}
    assert keys == {"consumer/state.json"}


def test_windows_and_alarms_on_aws_equal_the_embedded_modes(aws, pipeline) -> None:
    delivered = raw_outputs(aws)
    windows = {w["event_id"]: w for w in delivered if w["schema"] == "sentiment_window"}
    alarms = {a["event_id"]: a for a in delivered if a["schema"] == "sentiment_alarm"}
    local_windows = {w["event_id"]: w for w in jsonl(pipeline["local"] / "stream" / "windows.jsonl")}
    local_alarms = {a["event_id"]: a for a in jsonl(pipeline["local"] / "stream" / "alarms.jsonl")}
    assert local_windows and any(not w["insufficient_data"] for w in local_windows.values())
    assert windows == local_windows  # same ids (derived from key, end, length), same numbers
    assert alarms == local_alarms


def test_the_lake_on_glue_and_s3_holds_what_the_embedded_lake_holds(aws, pipeline) -> None:
    remote, local = lake_rows(pipeline["lake"]), lake_rows(str(pipeline["local"] / "lake"))
    assert remote == local
    assert len(remote["face_expression"]) == sum(b'"face_expression"' in r for r in pipeline["records"])


def test_the_views_run_on_the_aws_lake_and_the_report_lands_in_s3(aws, pipeline) -> None:
    query = "SELECT camera_id, CAST(sum(tracks) AS INTEGER) AS tracks FROM sentiment_by_camera GROUP BY 1"
    by_camera = json_rows(run("sql", "--lake", pipeline["lake"], "--format", "json", query))
    assert {row["camera_id"]: row["tracks"] for row in by_camera} == {"door": 1, "terrace": 1}
    run("report", "--lake", pipeline["lake"], "--since", "7d", "--no-forecast",
        "--out", f"s3://{aws['data']}/reports/")
    page = aws["s3"].get_object(Bucket=aws["data"], Key="reports/report.html")["Body"].read().decode()
    assert SITE in page and "too few customers" in page  # two customers: below the report's minimum of 5
