"""Model drift as the AWS schedule runs it: the stack's compaction command with its --sites writes the
Glue lake's sites table, the stack's drift command judges each site's last local day in that site's zone
and stamps its CloudWatch datapoints at that day's local start (moto server: the test runs the task's
command itself, with the arguments the stack gives it)."""

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


def test_the_scheduled_drift_stamps_each_sites_last_local_day_at_its_local_midnight(aws_lake: str, capsys) -> None:
    argv = [part.replace("${DataBucket}", BUCKET) for part in drift_command()]
    assert "--cloudwatch" in argv and "--config" not in argv  # the task has no site file: zones from Glue
    assert main(argv) == 0
    out = capsys.readouterr().out
    for site, zone in ZONES.items():
        assert f"site {site}: 2026-10-07 (1 local day, {zone})" in out.splitlines()
    cloudwatch = boto3.client("cloudwatch", endpoint_url=aws_lake)
    queries = [{"Id": site.replace("-", "_"), "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": "Moodlens", "MetricName": "ModelDrift",
                   "Dimensions": [{"Name": "Site", "Value": site}, {"Name": "Camera", "Value": "door"}]},
        "Period": 60, "Stat": "Maximum"}} for site in ZONES]
    result = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
                                        EndTime=dt.datetime(2026, 10, 10, tzinfo=dt.UTC))
    stamps = {r["Id"]: r["Timestamps"] for r in result["MetricDataResults"]}
    assert stamps == {"tokyo_aws": [dt.datetime(2026, 10, 6, 15, tzinfo=dt.UTC)],  # 2026-10-07 00:00 in Tokyo
                      "la_aws": [dt.datetime(2026, 10, 7, 7, tzinfo=dt.UTC)]}  # 2026-10-07 00:00 in Los Angeles
