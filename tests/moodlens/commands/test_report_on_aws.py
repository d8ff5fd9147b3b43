"""The weekly report as the AWS schedule runs it: the lake on Glue + S3 in, an S3 prefix out (moto server).

moto emulates Glue's table API and S3; EventBridge Scheduler never fires and ECS runs nothing there, so
the test runs the task's command itself, with the arguments the stack gives it."""

import gzip
import json
from datetime import UTC, datetime

import boto3
import pytest

from deploy.container import compaction_command, report_command
from moodlens.cli import main
from tests.support.history import FOUR_WEEKS, history

ZONE = "Europe/Berlin"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "eu-west-1"}


@pytest.fixture(scope="module")
def aws_lake(aws_endpoint):
    """One Glue lake for the module: moto's Glue catalog is shared by every test of the session."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1",
                            "AWS_ENDPOINT_URL": aws_endpoint}.items():  # boto3, pyiceberg's Glue, pyarrow's S3
            patch.setenv(name, value)
        s3 = boto3.client("s3", endpoint_url=aws_endpoint, **KEYS)
        s3.create_bucket(Bucket="report-data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        events = [e for e in history(FOUR_WEEKS).events if e["site_id"] == "cafe-central"][-3000:]
        s3.put_object(Bucket="report-data", Key="raw/2026/10/01/00/part-1.gz",
                      Body=gzip.compress("\n".join(json.dumps(e) for e in events).encode()))
        # the stack's compaction command, with its --sites: the Glue sites table gets the site's zone
        compaction = compaction_command(json.dumps({"cafe-central": {"name": "Café Central", "timezone": ZONE}}))
        assert main([part.replace("${DataBucket}", "report-data") for part in compaction]) == 0
        yield s3


def test_the_scheduled_report_reads_the_glue_lake_and_writes_to_s3(aws_lake, capsys):
    argv = [part.replace("${DataBucket}", "report-data") for part in report_command()]
    assert "--lake" in argv and argv[argv.index("--out") + 1] == "s3://report-data/reports/"
    before = f"{datetime.now(UTC):%Y-%m-%d}"
    assert main([*argv, "--no-forecast"]) == 0
    # each run into its own day's folder: next week's report is put beside this one, not over it (the data
    # bucket keeps a replaced version only 7 days)
    keys = {o["Key"] for o in aws_lake.list_objects_v2(Bucket="report-data", Prefix="reports/")["Contents"]}
    (day,) = {key.split("/")[1] for key in keys}
    assert day in (before, f"{datetime.now(UTC):%Y-%m-%d}")  # (a run may cross midnight)
    assert {f"reports/{day}/report.html", f"reports/{day}/hourly.csv", f"reports/{day}/model_drift.csv"} <= keys
    page = aws_lake.get_object(Bucket="report-data", Key=f"reports/{day}/report.html")
    body = page["Body"].read().decode()
    assert page["ContentType"] == "text/html" and "cafe-central" in body
    assert f"local time ({ZONE})" in body  # the report task has no site file: the zone came from the Glue table
    assert "uploaded" in capsys.readouterr().out


def test_a_bad_s3_location_fails_before_any_work(aws_lake, capsys):
    assert main(["report", "--lake", "s3://report-data/lake", "--since", "7d", "--out", "s3://B_ad/x"]) == 2
    assert "s3://BUCKET/prefix/" in capsys.readouterr().err


def test_dated_needs_an_s3_folder(aws_lake, tmp_path, capsys):
    assert main(["report", "--lake", "s3://report-data/lake", "--out", str(tmp_path), "--dated"]) == 2
    assert "--dated names an S3 folder" in capsys.readouterr().err
