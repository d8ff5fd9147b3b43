"""The host on a Kinesis stream (moto) with a local state folder: the engine's windows and alarms,
and exactly the same output files after a crash at any point and a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stream.embedded import ALARMS, DEAD_LETTERS, OUTPUTS, WINDOWS, RunnerConfig
from stream.host.loop import Host, HostConfig
from stream.host.sites import Applied, Emitted, Sites
from stream.sinks.files import FileOutputs
from stream.sources.kinesis.source import KinesisSource
from stream.state.local import LocalStateStore
from tests.stream.helpers import T0, beat, face

CONFIG = RunnerConfig(check_time=False, site_zones={"s2": "Asia/Tokyo"})  # s1 undeclared: UTC


def events() -> list[dict[str, Any]]:
    out = []
    for i in range(240):  # 40 minutes, two sites, a 35-minute sad spell at site s2 (two disjoint 15-minute
        # windows of evidence raise the default alarm: stream.alarms)
        t = T0 + i * 10_000
        out.append(face(t, track=f"a{i // 6}", site="s1", top="happy", n=i))
        out.append(face(t + 1, track=f"b{i // 6}", site="s2", top="sad" if i > 30 else "happy", n=i))
        if i % 6 == 0:
            out.append(beat(t + 2, site="s1", n=i))
    return out


@pytest.fixture
def stream(aws_client: Callable[[str], Any], unique: str) -> tuple[Any, str]:
    client = aws_client("kinesis")
    name = f"host-{unique}"
    client.create_stream(StreamName=name, ShardCount=1)
    payloads = [json.dumps(e).encode() for e in events()] + [b"{broken", b'{"schema": "nope"}']
    for start in range(0, len(payloads), 100):
        client.put_records(StreamName=name, Records=[{"Data": p, "PartitionKey": "all"}
                                                     for p in payloads[start:start + 100]])
    return client, name


def reference() -> tuple[list[Any], list[Any]]:
    """The events in order through per-site engines in one go (event time per site)."""
    sites = Sites(CONFIG.engine, CONFIG.alarms, zones=CONFIG.site_zones)
    out = Emitted()
    out.extend(sites.apply([Applied(e, "p", i) for i, e in enumerate(events())]))
    out.extend(sites.flush())
    return out.windows, out.alarms


def kinesis_consumer(client: Any, name: str, folder: Path, config: HostConfig, *, limit: int,
                     fault: Callable[[str], None] = lambda point: None) -> Host:
    """The host on a Kinesis stream with its state and outputs in one local folder."""
    return Host(KinesisSource(client, name, limit=limit), LocalStateStore(folder, fault=fault),
                FileOutputs(folder, fault=fault), config, fault=fault)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_host_writes_the_engine_windows_alarms_and_dead_letters(stream: tuple[Any, str], tmp_path: Path) -> None:
    client, name = stream
    host = kinesis_consumer(client, name, tmp_path, CONFIG, limit=25)
    host.drain(flush=True)
    host.close()
    windows, alarms = reference()
    assert host.counters["records"] == len(events()) + 2
    assert lines(tmp_path / WINDOWS) == json.loads(json.dumps(windows))
    assert lines(tmp_path / ALARMS) == json.loads(json.dumps(alarms))
    assert any(a["rule"] == "low_sentiment" and a["site_id"] == "s2" for a in alarms)  # the scenario fires
    assert len(lines(tmp_path / DEAD_LETTERS)) == 2


class Crash(Exception):  # noqa: N818
    pass


@pytest.mark.parametrize(("point", "after"), [("torn-write", 2), ("before-checkpoint", 3), ("torn-write", 7)])
def test_crash_and_restart_give_the_same_files(stream: tuple[Any, str], tmp_path: Path, point: str,
                                               after: int) -> None:
    client, name = stream
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    host = kinesis_consumer(client, name, clean, CONFIG, limit=25)
    host.drain(flush=True)
    host.close()

    seen = {"n": 0}

    def fault(at: str) -> None:
        if at == point:
            seen["n"] += 1
            if seen["n"] == after:
                raise Crash(at)

    host = kinesis_consumer(client, name, crashed, CONFIG, limit=25, fault=fault)
    with pytest.raises(Crash):
        host.drain(flush=True)
    host.close()
    host = kinesis_consumer(client, name, crashed, CONFIG, limit=25)
    host.drain(flush=True)
    host.close()
    for output in OUTPUTS:
        assert (crashed / output).read_bytes() == (clean / output).read_bytes(), output
