"""infra/Dockerfile, without Docker (it cannot run here): what it copies exists and is not ignored,
the package it installs is complete and pinned, it runs as a non-root user, and its entrypoint and
every command the stack gives it are commands of our CLI."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import pytest

from moodlens.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "infra" / "Dockerfile"


def instructions(dockerfile: Path = DOCKERFILE) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def ignored(path: str) -> bool:
    patterns = [p.strip() for p in (REPO / "infra" / "Dockerfile.dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    return any(fnmatch.fnmatch(path, p) or path.split("/", maxsplit=1)[0] == p for p in patterns)


def test_every_stage_starts_from_python_311_slim() -> None:
    stages = [args.split()[0] for op, args in instructions() if op == "FROM"]
    assert stages and set(stages) == {"python:3.11-slim"}


def test_what_it_copies_exists_and_is_in_the_build_context() -> None:
    copies = [args.split() for op, args in instructions() if op == "COPY" and not args.startswith("--from")]
    sources = [source for words in copies for source in words[:-1]]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not ignored(source), f"{source} is excluded by infra/Dockerfile.dockerignore"


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, REPO / "infra" / "onebox" / "Dockerfile"],
                         ids=["aws", "onebox"])
def test_it_copies_every_package_the_project_installs(dockerfile: Path) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    includes = project["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {source for op, args in instructions(dockerfile) if op == "COPY" and not args.startswith("--from")
              for source in args.split()[:-1]}
    assert {pattern.rstrip("*") for pattern in includes} <= copied
    assert project["project"]["readme"] in copied  # setuptools reads it while building


def test_it_installs_from_the_constraints_and_pins_the_kcl() -> None:
    runs = " ".join(args for op, args in instructions() if op == "RUN")
    assert "pip install -c constraints.txt ." in runs
    assert re.search(r"pip install amazon-kclpy==\d+\.\d+\.\d+", runs)
    assert "default-jre-headless" in runs  # the MultiLangDaemon is Java


def test_it_runs_as_a_non_root_user_after_the_last_install() -> None:
    ops = instructions()
    users = [i for i, (op, _) in enumerate(ops) if op == "USER"]
    assert users and ops[users[-1]][1] not in ("root", "0")
    assert users[-1] > max(i for i, (op, _) in enumerate(ops) if op in ("RUN", "COPY"))


def test_the_entrypoint_is_our_console_script_and_the_default_command_parses() -> None:
    ops = dict(instructions())
    entrypoint, command = json.loads(ops["ENTRYPOINT"]), json.loads(ops["CMD"])
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["moodlens"] and scripts["moodlens"] == "moodlens.cli:main"
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(command)
    assert exit_.value.code == 0
