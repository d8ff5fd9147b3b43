"""Model drift as the AWS schedule runs it: the stack's compaction command with its --sites writes the
Glue lake's sites table, the stack's hourly drift command judges each site's local days as they end in
that site's zone, each once (its record of judged days in the data bucket), and stamps its CloudWatch
datapoints at each day's local start (moto server: the test runs the task's command itself, with the
arguments the stack gives it)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from zoneinfo import ZoneInfo

import boto3
import numpy as np
import pytest

from deploy.container import compaction_command, drift_command
from moodlens.cli import main
from moodlens.commands import model_drift
from schemas.expressions import EXPRESSIONS
from tests.batch.drift_events import BASELINE
from tests.schemas.events import face_expression
from tests.support.moto_server import drop_glue_lake

ZONES = {"tokyo-aws": "Asia/Tokyo", "la-aws": "America/Los_Angeles"}
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "eu-west-1"}
BUCKET = "drift-data"


def _faces(site: str, local: str, n: int, rng: np.random.Generator) -> list[dict]:
    start = int(dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(ZONES[site])).timestamp() * 1000)
    tops = rng.choice(len(EXPRESSIONS), size=n, p=np.asarray(BASELINE.shares) / sum(BASELINE.shares))
    return [face_expression(site_id=site, camera_id="door", track_id=f"{site}-{start}-{i}",
                            event_time_ms=start + i * 1000, top_class=EXPRESSIONS[t]) for i, t in enumerate(tops)]


@pytest.fixture
def aws_lake(aws_endpoint: str):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1",
                            "AWS_ENDPOINT_URL": aws_endpoint}.items():  # boto3, pyiceberg's Glue, pyarrow's S3
            patch.setenv(name, value)
        drop_glue_lake(aws_endpoint)  # one Glue database holds one lake; moto's is shared by the session
        rng = np.random.default_rng(3)
        # Each site's faces end at its own 2026-10-07 23:30: 14:30 UTC in Tokyo, 06:30 UTC the next day in LA.
        events = [e for site in ZONES for day in ("05", "06", "07")
                  for e in _faces(site, f"2026-10-{day}T12:00", 150, rng)]
        events += [e for site in ZONES for e in _faces(site, "2026-10-07T23:30", 30, rng)]
        s3 = boto3.client("s3", endpoint_url=aws_endpoint, **KEYS)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(Bucket=BUCKET, Key="raw/2026/10/08/00/part-1.gz",
                      Body=gzip.compress("\n".join(json.dumps(e) for e in events).encode()))
        sites = json.dumps({site: {"name": site, "timezone": zone} for site, zone in ZONES.items()})
        assert main([part.replace("${DataBucket}", BUCKET) for part in compaction_command(sites)]) == 0
        yield aws_endpoint
        drop_glue_lake(aws_endpoint)


def test_the_hourly_scheduled_drift_stamps_each_sites_days_once_at_their_local_midnights(
        aws_lake: str, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack's command at 40 past each hour (its first run at 16:40 UTC on the 6th; those of 07:40 and
    08:40 UTC on the 7th missed): Tokyo's 6th and 7th judged at 16:40 UTC on the 6th and 15:40 UTC on the
    7th, Los Angeles' 5th, 6th (made up at 09:40) and 7th (07:40 on the 8th), each once."""
    argv = [part.replace("${DataBucket}", BUCKET) for part in drift_command()]
    assert "--cloudwatch" in argv and "--config" not in argv  # the task has no site file: zones from Glue
    first = dt.datetime(2026, 10, 6, 16, 40, tzinfo=dt.UTC)
    missed = {dt.datetime(2026, 10, 7, 7, 40, tzinfo=dt.UTC), dt.datetime(2026, 10, 7, 8, 40, tzinfo=dt.UTC)}
    runs = [first + dt.timedelta(hours=h) for h in range(40) if first + dt.timedelta(hours=h) not in missed]
    judged: dict[tuple[str, str], list[dt.datetime]] = {}
    for run in runs:
        monkeypatch.setattr(model_drift, "now", lambda run=run: int(run.timestamp() * 1000))
        assert main(argv) == 0
        for line in capsys.readouterr().out.splitlines():
            if line.startswith("site ") and "local day" in line:
                site, _, span = line.removeprefix("site ").partition(": ")
                judged.setdefault((site, span.split(" ")[0]), []).append(run)
    at = {key: [r.strftime("%d %H:%M") for r in when] for key, when in judged.items()}
    assert at == {("tokyo-aws", "2026-10-06"): ["06 16:40"], ("tokyo-aws", "2026-10-07"): ["07 15:40"],
                  ("la-aws", "2026-10-05"): ["06 16:40"], ("la-aws", "2026-10-06"): ["07 09:40"],
                  ("la-aws", "2026-10-07"): ["08 07:40"]}
    cloudwatch = boto3.client("cloudwatch", endpoint_url=aws_lake)
    queries = [{"Id": site.replace("-", "_"), "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": "Moodlens", "MetricName": "ModelDrift",
                   "Dimensions": [{"Name": "Site", "Value": site}, {"Name": "Camera", "Value": "door"}]},
        "Period": 60, "Stat": "SampleCount"}} for site in ZONES]
    result = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
                                        EndTime=dt.datetime(2026, 10, 10, tzinfo=dt.UTC))
    put = {r["Id"]: dict(zip(r["Timestamps"], r["Values"], strict=True)) for r in result["MetricDataResults"]}
    utc = dt.UTC
    assert put == {"tokyo_aws": {dt.datetime(2026, 10, 5, 15, tzinfo=utc): 1.0,  # the 6th's 00:00 in Tokyo
                                 dt.datetime(2026, 10, 6, 15, tzinfo=utc): 1.0},
                   "la_aws": {dt.datetime(2026, 10, 5, 7, tzinfo=utc): 1.0,  # the 5th's 00:00 in Los Angeles
                              dt.datetime(2026, 10, 6, 7, tzinfo=utc): 1.0,
                              dt.datetime(2026, 10, 7, 7, tzinfo=utc): 1.0}}
    record = boto3.client("s3", endpoint_url=aws_lake).get_object(Bucket=BUCKET, Key="drift/judged-days.json")
    assert json.loads(record["Body"].read()) == {"la-aws": "2026-10-07", "tokyo-aws": "2026-10-07"}
