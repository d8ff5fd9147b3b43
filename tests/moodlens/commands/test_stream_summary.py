"""`stream run` ends with a sentence a person reads, and names a bad option's value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from moodlens.cli import main


def test_stream_run_prints_a_readable_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "00000000000000000000.jsonl").write_text('{"not": "an event"}\n')
    assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "s"), "--once"]) == 0
    err = capsys.readouterr().err
    assert "stream run: read 1 records (log offset now 1), 0 valid events" in err
    assert "1 rejected (deadletter.jsonl)" in err and "{" not in err


def test_a_bad_window_list_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "log").mkdir()
    assert main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "s"),
                 "--window-minutes", "5,x"]) == 2
    assert "--window-minutes '5,x': give whole minutes" in capsys.readouterr().err


def test_a_run_that_continues_a_state_says_what_it_read_itself(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The counters are the state's, earlier runs included: the second run read one record, not two."""
    log = tmp_path / "log"
    log.mkdir()
    segment = log / "00000000000000000000.jsonl"
    segment.write_text('{"not": "an event"}\n')
    argv = ["stream", "run", "--log", str(log), "--state", str(tmp_path / "s"), "--once"]
    assert main(argv) == 0
    capsys.readouterr()
    with segment.open("a") as handle:
        handle.write('{"still": "not an event"}\n')
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "stream run: read 1 records this run (log offset now 2); since its state began: 2 records" in err
    assert "2 rejected (deadletter.jsonl)" in err


def test_the_consumer_on_aws_says_where_it_reads_and_writes_at_start_and_at_the_end(
        aws_client: Any, unique: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As the ECS task runs it: state in S3, windows to Firehose, dead letters to SQS, alarms to SNS. The first
    line names them (a task's log says what it does before its first record); the summary names where the
    outputs went, not the state's folder (which holds none)."""
    s3, kinesis, firehose, sqs, sns = (aws_client(name) for name in ("s3", "kinesis", "firehose", "sqs", "sns"))
    s3.create_bucket(Bucket=f"state-{unique}", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket=f"state-{unique}", VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=f"data-{unique}", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    kinesis.create_stream(StreamName=f"events-{unique}", ShardCount=1)
    kinesis.put_record(StreamName=f"events-{unique}", Data=b'{"not": "an event"}', PartitionKey="cafe-1")
    firehose.create_delivery_stream(
        DeliveryStreamName=f"out-{unique}", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/firehose",
                                            "BucketARN": f"arn:aws:s3:::data-{unique}", "Prefix": "raw/"})
    queue = sqs.create_queue(QueueName=f"dlq-{unique}")["QueueUrl"]
    topic = sns.create_topic(Name=f"alarms-{unique}")["TopicArn"]
    endpoint = aws_client("s3").meta.endpoint_url
    argv = ["stream", "run", "--source", f"kinesis://events-{unique}", "--state", f"s3://state-{unique}/c",
            "--firehose", f"out-{unique}", "--dead-letter-queue", queue, "--sns-topic", topic,
            "--site-names", '{"cafe-1": "Café Central"}', "--endpoint-url", endpoint, "--region", "eu-west-1",
            "--once"]
    assert main(argv) == 0
    first, *_, summary = capsys.readouterr().err.strip().splitlines()
    assert first == (f"stream run: reading kinesis://events-{unique}; windows and alarms to Firehose out-{unique}; "
                     f"alarms also to SNS {topic} (naming 1 site); state s3://state-{unique}/c "
                     "(no checkpoint yet: from the start)")
    assert f"to Firehose out-{unique};" in summary and f"1 rejected (SQS {queue})" in summary
    assert "s3://" not in summary
    assert main(argv) == 0
    assert "(resuming after 1 records)" in capsys.readouterr().err.splitlines()[0]


def test_a_long_running_consumer_says_what_it_did_every_interval_and_nothing_when_quiet() -> None:
    from moodlens.commands.stream import Progress

    counters = {"records": 0, "windows": 0, "alarms": 0, "late": 0, "dead_letters": 0}
    now, said = [0.0], []
    progress = Progress(lambda: dict(counters), 600.0, lambda: now[0], said.append)
    counters.update(records=120, windows=6, alarms=1)
    now[0] = 599.0
    assert progress() is False and said == []  # not yet
    now[0] = 600.0
    progress()
    assert said == ["stream run: in the last 10 minutes read 120 records, wrote 6 windows and 1 alarm changes; "
                    "0 late, 0 rejected"]
    now[0] = 1200.0
    progress()  # nothing new: nothing said
    assert len(said) == 1
    counters.update(records=150, dead_letters=2)
    now[0] = 1800.0
    progress()
    assert said[-1] == "stream run: in the last 10 minutes read 30 records, wrote 0 windows and 0 alarm changes; " \
                       "0 late, 2 rejected"
