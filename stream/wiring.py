"""The host built from where its records come from, where its state lives and where its outputs go.

Source: a local log folder, or ``kinesis://STREAM``. State: a folder, or ``s3://BUCKET/prefix``.
Outputs: local files (``Outlets.out``, by default the state folder when it is local) and, on AWS,
Firehose, SNS, EventBridge, CloudWatch and SQS. AWS clients come from ``client(service)``, which
the caller makes (the CLI, with boto3): nothing in the stream package imports the SDK. Messages
name the `stream run` flags, the only way operators give these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stream.host.kcl import SiteRecordProcessor
from stream.host.loop import Host, HostConfig
from stream.host.ports import Outputs, Source, StateStore

Clients = Callable[[str], Any]  # AWS service name -> client


@dataclass(frozen=True)
class Outlets:
    """Where outputs go besides the state: a folder of files and the AWS destinations (None: none)."""

    out: Path | None = None
    firehose: str | None = None  # delivery stream for windows, alarms, late events
    sns_topic: str | None = None  # topic ARN for alarms
    event_bus: str | None = None  # EventBridge bus for alarms
    metrics_namespace: str | None = None  # CloudWatch namespace for the windows' metrics
    dead_letter_queue: str | None = None  # SQS queue URL for dead letters
    site_names: Mapping[str, str] = field(default_factory=dict)  # site -> its name in the SNS texts

    @property
    def remote(self) -> bool:
        return any((self.firehose, self.sns_topic, self.event_bus, self.metrics_namespace, self.dead_letter_queue))


def is_s3(state: str) -> bool:
    if state.startswith("s3:") and not state.startswith("s3://"):
        raise ValueError(f"--state {state}: an S3 location is s3://BUCKET/prefix")
    return state.startswith("s3://")


def aws_outputs(outlets: Outlets, client: Clients, config: HostConfig) -> Outputs:
    from stream.sinks.aws import AwsOutputs, EventBridgeAlarmSink, FirehoseSink, SnsAlarmSink
    from stream.sinks.cloudwatch import CloudWatchPublisher
    from stream.sinks.sqs import SqsDeadLetterSink

    o = outlets
    return AwsOutputs(
        firehose=FirehoseSink(client("firehose"), o.firehose) if o.firehose else None,
        sns=SnsAlarmSink(client("sns"), o.sns_topic, zones=config.site_zones, site_names=o.site_names)
        if o.sns_topic else None,
        eventbridge=EventBridgeAlarmSink(client("events"), o.event_bus) if o.event_bus else None,
        metrics=CloudWatchPublisher(client("cloudwatch"), o.metrics_namespace) if o.metrics_namespace else None,
        dead_letters=SqsDeadLetterSink(client("sqs"), o.dead_letter_queue) if o.dead_letter_queue else None,
        metric_window_minutes=config.alarms.window_minutes)  # the metrics watch the alarms' window


def output_folder(state: str, outlets: Outlets) -> Path | None:
    """Where the output files go (None: nowhere); refuses outlets that would keep no outputs at all."""
    folder = outlets.out or (None if is_s3(state) else Path(state))
    if folder is None and not outlets.remote:
        raise ValueError("--state s3://... keeps no output files: give --out DIR and/or "
                         "--firehose/--sns-topic/--event-bus/--metrics-namespace/--dead-letter-queue")
    return folder


def outputs(state: str, outlets: Outlets, client: Clients, config: HostConfig) -> Outputs:
    from stream.sinks.aws import Fanout
    from stream.sinks.files import FileOutputs

    folder = output_folder(state, outlets)
    parts = ([FileOutputs(folder)] if folder is not None else []) + (
        [aws_outputs(outlets, client, config)] if outlets.remote else [])
    return parts[0] if len(parts) == 1 else Fanout(*parts)


def state_store(state: str, client: Clients) -> StateStore:
    if is_s3(state):
        from stream.state.s3 import S3StateStore

        return S3StateStore(client("s3"), state)
    from stream.state.local import LocalStateStore

    return LocalStateStore(Path(state))


def source(log: Path | None, url: str | None, client: Clients) -> Source:
    if (log is None) == (url is None):
        raise ValueError("give exactly one of --log DIR (local log) or --source kinesis://STREAM")
    if log is not None:
        from locallog import LocalLog
        from stream.sources.locallog import LocalLogSource

        if not log.is_dir():
            raise FileNotFoundError(f"no event log at {log}")
        return LocalLogSource(LocalLog(log), f"locallog:{log}")
    from stream.sources.kinesis.source import KinesisSource, parse_kinesis_url

    name = parse_kinesis_url(str(url))
    kinesis = client("kinesis")
    try:
        kinesis.describe_stream_summary(StreamName=name)
    except kinesis.exceptions.ResourceNotFoundException as error:
        raise FileNotFoundError(f"--source {url}: no such Kinesis stream ({error})") from error
    return KinesisSource(kinesis, name)


def build_host(*, log: Path | None, url: str | None, state: str, outlets: Outlets, config: HostConfig,
               client: Clients) -> Host:
    """The `stream run` host: every input checked before a folder is made or the state taken (a local
    one is locked)."""
    output_folder(state, outlets)
    records = source(log, url, client)
    sinks = outputs(state, outlets, client, config)
    return Host(records, state_store(state, client), sinks, config)


def kcl_processor(state: str, outlets: Outlets, config: HostConfig, client: Clients) -> SiteRecordProcessor:
    """One record processor for the MultiLangDaemon: site states under ``s3://...``, AWS outputs."""

    from stream.sources.kinesis.daemon import DaemonRecords
    from stream.state.s3 import S3Objects, S3SiteStates, parse_s3_url

    bucket, prefix = parse_s3_url(state)
    return SiteRecordProcessor(S3SiteStates(S3Objects(client("s3"), bucket), prefix),
                               aws_outputs(outlets, client, config), config, records=DaemonRecords())
