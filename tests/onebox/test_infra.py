"""The systemd unit and the container start `moodlens up` with options the CLI really has."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from moodlens.cli import build_parser

INFRA = Path(__file__).resolve().parents[2] / "infra" / "onebox"


def test_the_unit_and_the_image_run_moodlens_up_with_a_site_file() -> None:
    unit = (INFRA / "moodlens.service").read_text()
    exec_start = shlex.split(re.search(r"^ExecStart=(.+)$", unit, re.M).group(1))
    assert exec_start[0].endswith("/moodlens")
    args = build_parser().parse_args(exec_start[1:])
    assert args.group == "up" and str(args.config) == "/etc/moodlens/moodlens.toml"
    assert "KillMode=mixed" in unit and "RestartPreventExitStatus=2" in unit  # lock refusal: no restart loop
    from moodlens.commands.up import EXIT_PORT_BUSY

    prevented = re.search(r"^RestartPreventExitStatus=(.+)$", unit, re.M).group(1).split()
    assert "Restart=on-failure" in unit and str(EXIT_PORT_BUSY) not in prevented  # a busy port is tried again

    docker = (INFRA / "Dockerfile").read_text()
    entry = json.loads(re.search(r"^ENTRYPOINT (.+)$", docker, re.M).group(1))
    args = build_parser().parse_args(entry[1:])
    assert entry[0] == "moodlens" and args.group == "up"
    copied = set(re.findall(r"^COPY (\w+) ", docker, re.M))
    assert {"moodlens", "onebox", "edge", "stream", "schemas"} <= copied
