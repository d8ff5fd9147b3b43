"""The host built from its source, state and outlets (``stream.wiring``): local parts ask for no
AWS client, bad combinations are refused naming the flag, the CloudWatch metrics watch the alarms'
window (moto server)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from locallog import LocalLog
from stream import wiring
from stream.host.loop import HostConfig
from stream.jsonl import dumps
from stream.sinks.files import WINDOWS
from stream.wiring import Outlets
from tests.stream.helpers import T0, face
from tests.stream.host.test_sites import ALARMS, ENGINE
from tests.stream.sinks.test_aws import emitted

CONFIG = HostConfig(engine=ENGINE, alarms=ALARMS, check_time=False)


def no_aws(service: str) -> Any:
    raise AssertionError(f"a local host asked for an AWS {service} client")


def test_a_local_log_and_folder_make_a_host_without_any_aws_client(tmp_path: Path) -> None:
    LocalLog(tmp_path / "log").append([dumps(face(T0 + i * 10_000, track=f"t{i // 3}", n=i)) for i in range(120)])
    host = wiring.build_host(log=tmp_path / "log", url=None, state=str(tmp_path / "state"), outlets=Outlets(),
                             config=CONFIG, client=no_aws)
    try:
        assert host.drain(flush=True) == 120
    finally:
        host.close()
    assert host.counters["events"] == 120 and host.counters["windows"] > 0
    assert (tmp_path / "state" / WINDOWS).stat().st_size > 0  # outputs default to the local state folder


@pytest.mark.parametrize(("log", "url", "state", "outlets", "message"), [
    ("log", "kinesis://s", "state", Outlets(), "give exactly one of --log DIR"),
    (None, None, "state", Outlets(), "give exactly one of --log DIR"),
    ("missing", None, "state", Outlets(), "no event log at"),
    ("log", None, "s3:/bucket", Outlets(), "--state s3:/bucket: an S3 location is s3://BUCKET/prefix"),
    ("log", None, "s3://bucket/p", Outlets(), "--state s3://... keeps no output files"),
    (None, "kafka://s", "state", Outlets(), "'kafka://s' is not a Kinesis source"),
])
def test_bad_combinations_are_refused_naming_the_flag_before_anything_is_written(
        tmp_path: Path, log: str | None, url: str | None, state: str, outlets: Outlets, message: str) -> None:
    (tmp_path / "log").mkdir()
    where = state if state.startswith("s3:") else str(tmp_path / state)
    with pytest.raises((ValueError, FileNotFoundError), match=message.replace("(", r"\(").replace(".", r"\.")):
        wiring.build_host(log=tmp_path / log if log else None, url=url, state=where, outlets=outlets,
                          config=CONFIG, client=no_aws)
    assert not (tmp_path / "state").exists()  # no state folder taken, no lock left


def test_the_metrics_watch_the_alarms_window_when_no_flag_names_one(aws_client: Callable[[str], Any],
                                                                     unique: str, tmp_path: Path) -> None:
    namespace = f"Moodlens/{unique}"
    outputs = wiring.outputs(str(tmp_path / "state"), Outlets(metrics_namespace=namespace), aws_client, CONFIG)
    out = emitted()
    outputs.write(out, [])
    outputs.flush()
    watched = [w for w in out.windows if w["window_minutes"] == CONFIG.alarms.window_minutes and w["camera_id"] is None]
    assert watched
    stats = aws_client("cloudwatch").get_metric_statistics(
        Namespace=namespace, MetricName="Tracks", Dimensions=[{"Name": "Site", "Value": "cafe-1"}], Period=60,
        Statistics=["Maximum"], StartTime=datetime.fromtimestamp(T0 / 1000 - 3600, UTC),
        EndTime=datetime.fromtimestamp(T0 / 1000 + 86_400, UTC))["Datapoints"]
    assert {int(p["Timestamp"].timestamp() * 1000): p["Maximum"] for p in stats} == {
        w["window_end_ms"]: w["tracks"] for w in watched}
