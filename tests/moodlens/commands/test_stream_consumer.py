"""`moodlens stream run --source kinesis://STREAM --state s3://BUCKET/prefix` against moto server."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from moodlens.cli import main
from stream.host.sites import Applied, Emitted, Sites
from stream.sinks.files import WINDOWS
from tests.stream.host.test_kinesis_consumer import CONFIG, events
from tests.stream.state.test_s3 import make_bucket


def test_the_aws_consumer_reads_kinesis_keeps_state_in_s3_and_resumes(
        aws_client: Callable[[str], Any], aws_env: str, unique: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    kinesis, s3 = aws_client("kinesis"), aws_client("s3")
    stream, bucket = f"cli-{unique}", f"cli-state-{unique}"
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    make_bucket(s3, bucket)
    evts = events()
    half = len(evts) // 2

    def put(batch: list[dict[str, Any]]) -> None:
        kinesis.put_records(StreamName=stream, Records=[{"Data": json.dumps(e).encode(), "PartitionKey": e["site_id"]}
                                                        for e in batch])

    def run(*extra: str) -> dict[str, int]:
        assert main(["stream", "run", "--source", f"kinesis://{stream}", "--state", f"s3://{bucket}/consumer",
                     "--out", str(tmp_path / "out"), "--endpoint-url", aws_env, "--region", "eu-west-1",
                     "--no-time-check", "--once", *extra]) == 0
        summary = capsys.readouterr().err.strip().splitlines()[-1]  # the sentence `stream run` ends with
        read = re.search(r"read (\d+) records", summary)
        total = re.search(r"since its state began: (\d+) records", summary)  # a run that resumed a state
        assert read, summary
        return {"records": int(read.group(1)), "total": int((total or read).group(1))}

    put(evts[:half])
    first = run()
    put(evts[half:])
    second = run("--flush")  # a new process: state from S3, Kinesis from the stored positions
    assert first["records"] == half and second["records"] == len(evts) - half and second["total"] == len(evts)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"consumer/state.json"}
    sites = Sites(CONFIG.engine, CONFIG.alarms)
    expected = Emitted()
    expected.extend(sites.apply([Applied(e, "p", i) for i, e in enumerate(evts)]))
    expected.extend(sites.flush())
    got = [json.loads(line) for line in (tmp_path / "out" / WINDOWS).read_text().splitlines()]
    assert sorted(w["event_id"] for w in got) == sorted(w["event_id"] for w in expected.windows)


@pytest.mark.parametrize(("argv", "message"), [
    (["--log", "x", "--source", "kinesis://s", "--state", "d"], "exactly one of --log DIR"),
    (["--source", "kafka://s", "--state", "d"], "'kafka://s' is not a Kinesis source"),
    (["--source", "kinesis://s", "--state", "s3://b/p"], "--state s3://... keeps no output files"),
    (["--source", "kinesis://s", "--state", "s3:/b"], "an S3 location is s3://BUCKET/prefix"),
    (["--source", "kinesis://nope", "--state", "d"], "--source kinesis://nope: no such Kinesis stream"),
])
def test_bad_arguments_are_refused_with_a_clear_message(argv: list[str], message: str, aws_env: str,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a if a != "d" else str(tmp_path / "d") for a in argv]
    code = main(["stream", "run", *argv, "--endpoint-url", aws_env, "--region", "eu-west-1", "--once"])
    assert code == 2
    assert message in capsys.readouterr().err


def test_on_ecs_the_outputs_come_from_the_tasks_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from moodlens.cli import build_parser

    monkeypatch.setenv("MOODLENS_FIREHOSE_STREAM", "raw-delivery")
    monkeypatch.setenv("MOODLENS_ALARM_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:alarms")
    monkeypatch.setenv("MOODLENS_EVENT_BUS", "default")
    monkeypatch.setenv("MOODLENS_METRIC_NAMESPACE", "Moodlens")
    monkeypatch.setenv("MOODLENS_DEAD_LETTER_QUEUE_URL", "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq")
    args = build_parser().parse_args(["stream", "run", "--source", "kinesis://s", "--state", "s3://b/state"])
    assert (args.firehose, args.sns_topic, args.event_bus, args.metrics_namespace, args.dead_letter_queue) == (
        "raw-delivery", "arn:aws:sns:eu-west-1:123456789012:alarms", "default", "Moodlens",
        "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq")
    explicit = build_parser().parse_args(["stream", "run", "--source", "kinesis://s", "--state", "s3://b/state",
                                          "--firehose", "other"])
    assert explicit.firehose == "other"


def test_a_second_consumer_starting_meanwhile_stops_this_one_with_exit_3_having_written_nothing(
        aws_client: Callable[[str], Any], aws_env: str, unique: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from stream.state.s3 import S3StateStore

    kinesis, s3 = aws_client("kinesis"), aws_client("s3")
    stream, bucket = f"fence-{unique}", f"fence-state-{unique}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    make_bucket(s3, bucket)
    kinesis.put_records(StreamName=stream, Records=[{"Data": json.dumps(e).encode(), "PartitionKey": e["site_id"]}
                                                    for e in events()[:50]])
    original = S3StateStore.commit
    other = S3StateStore(s3, f"s3://{bucket}/consumer", owner="the-other-task")

    def commit_after_another_consumer_started(self: S3StateStore, *args: Any) -> None:
        if self is not other:
            other.load()
            assert other.claim()  # real, conditional: the other task is the live consumer now
        original(self, *args)

    monkeypatch.setattr(S3StateStore, "commit", commit_after_another_consumer_started)
    code = main(["stream", "run", "--source", f"kinesis://{stream}", "--state", f"s3://{bucket}/consumer",
                 "--out", str(tmp_path / "out"), "--endpoint-url", aws_env, "--region", "eu-west-1",
                 "--no-time-check", "--once"])
    assert code == 3
    assert f"s3://{bucket}/consumer/state.json: another consumer (the-other-task, epoch 2)" in capsys.readouterr().err
    state = json.loads(s3.get_object(Bucket=bucket, Key="consumer/state.json")["Body"].read())
    assert (state["owner"], state["epoch"], state["checkpoint"], state["sites"]) == ("the-other-task", 2, None, {})


KILLED_MID_LINE = """
import os, signal, sys
import stream.sinks.files as files
from moodlens.cli import main
kill_at, argv = int(sys.argv[1]), sys.argv[2:]
seen = []
original = files.FileOutputs.__init__

def killing(self, folder, fault=None):
    def fault(point):
        seen.append(point)
        if point == "torn-write" and seen.count(point) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # half a windows line is on disk
    original(self, folder, fault)

files.FileOutputs.__init__ = killing
sys.exit(main(argv))
"""


@pytest.mark.parametrize("commit_every", ["0", "30"])
def test_a_consumer_on_s3_state_killed_mid_line_then_restarted_leaves_byte_identical_files(
        aws_client: Callable[[str], Any], aws_env: str, unique: str, tmp_path: Path, commit_every: str) -> None:
    import os
    import signal
    import subprocess
    import sys

    kinesis, s3 = aws_client("kinesis"), aws_client("s3")
    stream, bucket = f"kill-{unique}", f"kill-state-{unique}"
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    make_bucket(s3, bucket)
    evts = events()
    for start in range(0, len(evts), 200):
        kinesis.put_records(StreamName=stream, Records=[{"Data": json.dumps(e).encode(), "PartitionKey": e["site_id"]}
                                                        for e in evts[start:start + 200]])

    def argv(name: str) -> list[str]:
        return ["stream", "run", "--source", f"kinesis://{stream}", "--state", f"s3://{bucket}/{name}",
                "--out", str(tmp_path / name), "--endpoint-url", aws_env, "--region", "eu-west-1", "--no-time-check",
                "--once", "--flush", "--batch-size", "40", "--commit-every-s", commit_every]

    assert main(argv("clean")) == 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    for kill_at in (1, 2):  # killed twice, each time in the middle of a windows line (a batch; the flush)
        done = subprocess.run([sys.executable, "-c", KILLED_MID_LINE, str(kill_at), *argv("killed")], env=env,
                              check=False, capture_output=True)
        assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert subprocess.run([sys.executable, "-m", "moodlens.cli", *argv("killed")], env=env, check=False,
                          capture_output=True).returncode == 0
    for name in ("windows.jsonl", "alarms.jsonl", "late.jsonl", "deadletter.jsonl"):
        assert (tmp_path / "killed" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name
    assert (tmp_path / "clean" / WINDOWS).stat().st_size > 0


@pytest.mark.parametrize("names", ['["Café Central"]', "{not json", '{"cafe-7": 7}', '{"cafe-7": " "}'])
def test_site_names_that_are_not_an_object_of_names_are_refused_naming_the_variable(
        names: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MOODLENS_SITE_NAMES", names)
    assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "state"), "--once"]) == 2
    assert "--site-names ($MOODLENS_SITE_NAMES): " in capsys.readouterr().err
    assert not (tmp_path / "state").exists()  # refused before anything was made
