"""The Kinesis consumer: the one host (``stream.host.loop``) wired to a Kinesis stream.

``kinesis_host`` takes any state store and outputs: on ECS, ``S3StateStore`` (fenced conditional
writes) and ``AwsOutputs`` (Firehose, SNS, EventBridge, CloudWatch, SQS dead letters); for
development and tests, ``KinesisEngineHost`` keeps state and outputs in a local folder (exactly-once
by checkpoint, like the embedded runner). All shards of the stream are read by this one process,
parents before children; event time is per site, so a shard read late makes no other site's events
late. To spread shards over several processes, use the KCL record processor (``kcl_processor``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stream.host.loop import Host, HostConfig
from stream.host.ports import Outputs, StateStore
from stream.sinks.files import FileOutputs
from stream.sources.kinesis.source import KinesisSource
from stream.state.local import LocalStateStore

CHECKPOINT = "kinesis-checkpoint.json"


def _no_fault(point: str) -> None:
    return None


def kinesis_host(client: Any, stream_name: str, state: StateStore, outputs: Outputs, config: HostConfig | None = None,
                 *, limit: int = 1000, clock: Callable[[], float] = time.time,
                 fault: Callable[[str], None] = _no_fault) -> Host:
    return Host(KinesisSource(client, stream_name, limit=limit), state, outputs, config, clock=clock, fault=fault)


class KinesisEngineHost(Host):
    """State and outputs in ``state_dir`` (``kinesis-checkpoint.json`` and the embedded runner's files)."""

    def __init__(self, client: Any, stream_name: str, state_dir: Path | str, config: HostConfig | None = None,
                 *, limit: int = 1000, clock: Callable[[], float] = time.time,
                 fault: Callable[[str], None] = _no_fault) -> None:
        super().__init__(KinesisSource(client, stream_name, limit=limit),
                         LocalStateStore(state_dir, CHECKPOINT, fault=fault), FileOutputs(state_dir, fault=fault),
                         config, clock=clock, fault=fault)
