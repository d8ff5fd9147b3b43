"""KCL mode's daemon launcher. The daemon itself (Java, amazon_kclpy's jars) only runs in the
container image; here the properties it gets and the command that replaces the process are checked,
with the exec and the jar lookup handed in."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from deploy.kcl import DAEMON_CLASS, run_daemon


def test_the_daemon_gets_the_stream_the_application_and_the_worker_command(tmp_path: Path) -> None:
    calls: list[tuple[str, list[str]]] = []
    run_daemon("moodlens-events", "moodlens-kcl", "s3://state/kcl", "eu-west-1", tmp_path,
               exec_=lambda file, argv: calls.append((file, list(argv))), classpath=lambda: "/jars/a.jar:/jars/b.jar")
    ((program, argv),) = calls
    assert program == "java"
    assert argv == ["java", "-cp", "/jars/a.jar:/jars/b.jar", DAEMON_CLASS, "--properties-file",
                    str(tmp_path / "kcl.properties")]
    props = dict(line.split(" = ", 1) for line in (tmp_path / "kcl.properties").read_text().splitlines())
    assert (props["streamName"], props["applicationName"], props["regionName"]) == (
        "moodlens-events", "moodlens-kcl", "eu-west-1")
    assert props["retrievalMode"] == "POLLING"
    # (tests/deploy/test_container_commands.py parses it with the CLI)
    assert shlex.split(props["executableName"]) == ["moodlens", "stream", "kcl-worker", "--state", "s3://state/kcl"]


def test_kcl_mode_refuses_a_local_state(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--state /var/state: KCL mode keeps each site's state in S3"):
        run_daemon("s", "a", "/var/state", "eu-west-1", tmp_path, exec_=lambda f, a: None, classpath=lambda: "")
