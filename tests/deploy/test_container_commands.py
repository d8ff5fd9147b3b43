"""Every command the stack's tasks run (deploy/container.py) is a command of our CLI: the consumer
(`stream run --source kinesis://`), KCL mode's daemon and the worker it starts per shard, the compaction, the report.
Parsing is what is checked: the report reads only a local log so far (see deploy/container.py)."""

from __future__ import annotations

import re
import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy import container
from deploy.kcl import properties
from moodlens.cli import build_parser
from stream.alarms import AlarmConfig
from stream.engine import EngineConfig


def concrete(words: list[str]) -> list[str]:
    values = {"EventStream": "moodlens-events", "StateBucket": "state-bucket", "DataBucket": "data-bucket",
              "AWS::StackName": "moodlens"}
    return [re.sub(r"\$\{([\w:]+)\}", lambda m: values[m.group(1)], word) for word in words]


def kcl_worker_of(worker_args: str = "") -> list[str]:
    """The worker command line the daemon's properties give, for the daemon's `--worker-args`."""
    lines = properties("s", "a", "s3://b/kcl", "r", shlex.split(worker_args)).splitlines()
    # as the MultiLangDaemon does: split at runs of spaces, no quote removal
    return re.split(" +", dict(line.split(" = ", 1) for line in lines)["executableName"])[1:]


def kcl_worker() -> list[str]:
    return kcl_worker_of()


@pytest.mark.parametrize("command", [container.consumer_command(), container.kcl_command(), kcl_worker(),
                                     container.compaction_command(), container.report_command(),
                                     container.drift_command()],
                         ids=["consumer", "kcl-daemon", "kcl-worker", "compaction", "report", "drift"])
def test_every_command_the_stack_runs_parses_with_the_cli(command: list[str]) -> None:
    args = build_parser().parse_args(concrete(command))
    assert callable(args.handler)


# ------------------------------------------------------------------------------------------------ host settings


def parsed_host(words: list[str]):
    from moodlens.commands.stream_host import host_config

    return host_config(build_parser().parse_args(concrete(words)))


@st.composite
def host_settings(draw) -> tuple[EngineConfig, AlarmConfig]:
    windows = tuple(sorted(draw(st.sets(st.integers(1, 1440), min_size=1, max_size=4))))
    min_tracks = draw(st.integers(1, 50))
    engine = EngineConfig(window_minutes=windows, allowed_lateness_ms=draw(st.integers(0, 3_600)) * 1000,
                          min_tracks=min_tracks)
    low_raise = draw(st.floats(-1, 0.99, allow_nan=False))
    alarms = AlarmConfig(window_minutes=draw(st.sampled_from(windows)), min_tracks=min_tracks, low_raise=low_raise,
                         low_clear=draw(st.floats(low_raise, 0.99, allow_nan=False)),
                         z_raise=draw(st.floats(0, 10, allow_nan=False)), hold_minutes=draw(st.integers(0, 1440)),
                         quiet_minutes=draw(st.integers(0, 1440)), silent_minutes=draw(st.integers(1, 1440)))
    return engine, alarms


@settings(max_examples=60, deadline=None)
@given(host_settings())
def test_the_consumer_and_every_kcl_worker_run_with_exactly_the_settings_the_stack_was_built_with(settings_):
    """The stack's net-score alarms are built from (engine, alarms); the tasks get them as flags. Parsed back
    by the CLI, the flags must give the very same objects, on both consumer modes."""
    engine, alarms = settings_
    flags = container.host_arguments(engine, alarms)
    single = parsed_host(container.consumer_command(flags))
    assert (single.engine, single.alarms) == (engine, alarms)
    daemon = build_parser().parse_args(concrete(container.kcl_command(flags)))
    worker = parsed_host(kcl_worker_of(daemon.worker_args))
    assert (worker.engine, worker.alarms) == (engine, alarms)


@pytest.mark.parametrize(("worker_args", "message"), [
    ("--min-tracks zero", "--worker-args: argument --min-tracks: invalid int value: 'zero'"),
    ("--lateness-s -5", "lateness_s: must be a finite number at least 0, got -5.0"),
    ("--no-such-flag 1", "not flags of `stream kcl-worker`"),
    ("--endpoint-url 'http://moto 5000'", "the daemon splits its command at spaces"),
])
def test_the_kcl_daemon_refuses_bad_worker_flags_before_starting_anything(worker_args, message, capsys) -> None:
    from moodlens.cli import main

    code = main(["infra", "kcl-daemon", "--stream", "s", "--application", "a", "--state", "s3://b/kcl",
                 "--region", "eu-west-1", f"--worker-args={worker_args}"])
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("value", ['{"cafe-1": ', '["Café Central"]', '{"cafe-1": ""}'])
def test_the_kcl_daemon_refuses_bad_site_names_in_its_environment_before_starting_the_daemon(
        value, monkeypatch, tmp_path, capsys) -> None:
    """Every worker the daemon starts reads MOODLENS_SITE_NAMES from the task's environment and stops at a bad
    value: the daemon refuses it once, naming the variable, and never starts."""
    from moodlens.cli import main
    from stream.sinks.aws import ENV_SITE_NAMES

    started: list[object] = []
    monkeypatch.setattr("deploy.kcl.run_daemon", lambda *args, **kwargs: started.append(args))
    monkeypatch.setenv(ENV_SITE_NAMES, value)
    code = main(["infra", "kcl-daemon", "--stream", "s", "--application", "a", "--state", "s3://b/kcl",
                 "--region", "eu-west-1", "--folder", str(tmp_path)])
    assert code == 2
    assert f"${ENV_SITE_NAMES}" in capsys.readouterr().err
    assert started == []


def test_the_kcl_daemon_starts_with_good_site_names(monkeypatch, tmp_path) -> None:
    from moodlens.cli import main
    from stream.sinks.aws import ENV_SITE_NAMES

    started: list[object] = []
    monkeypatch.setattr("deploy.kcl.run_daemon", lambda *args, **kwargs: started.append(args))
    monkeypatch.setenv(ENV_SITE_NAMES, '{"cafe-1": "Café Central"}')
    assert main(["infra", "kcl-daemon", "--stream", "s", "--application", "a", "--state", "s3://b/kcl",
                 "--region", "eu-west-1", "--folder", str(tmp_path)]) == 0
    assert len(started) == 1
