"""The Greengrass recipe stays in step with the settings the edge reads."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
RECIPE = Path(__file__).resolve().parents[3] / "infra" / "greengrass" / "com.moodlens.Edge.recipe.yaml"
EDGE = Path(__file__).resolve().parents[3] / "edge"
SETTINGS_READERS = [EDGE / "publish" / "factory.py", EDGE / "state.py"]  # the publisher's settings, the state folder


def test_the_recipe_runs_the_edge_with_settings_the_factory_reads():
    recipe = yaml.safe_load(RECIPE.read_text())
    assert recipe["RecipeFormatVersion"] == "2020-01-25"
    (manifest,) = recipe["Manifests"]
    run = manifest["Lifecycle"]["Run"]
    assert "moodlens edge run" in run["Script"]
    for option in ("--site", "--camera", "--source", "--publisher"):
        assert option in run["Script"]
    read = {name for reader in SETTINGS_READERS for name in re.findall(r'"(MOODLENS_[A-Z_]+)"', reader.read_text())}
    assert set(run["Setenv"]) <= read
    referenced = set(re.findall(r"\{configuration:/(\w+)\}", RECIPE.read_text()))
    assert referenced <= set(recipe["ComponentConfiguration"]["DefaultConfiguration"])


def run_arguments(configuration: dict[str, str]) -> list[str]:
    """The Run script's `moodlens` arguments with `configuration` (and the recipe's other variables) filled in."""
    recipe = yaml.safe_load(RECIPE.read_text())
    script = recipe["Manifests"][0]["Lifecycle"]["Run"]["Script"]
    values = {**recipe["ComponentConfiguration"]["DefaultConfiguration"], **configuration}
    script = re.sub(r"\{configuration:/(\w+)\}", lambda m: str(values[m.group(1)]), script)
    script = script.replace("{artifacts:path}", "/greengrass/artifacts").replace("{work:path}", "/greengrass/work")
    words = shlex.split(script)
    assert words[:2] == ["exec", "venv/bin/moodlens"]
    return words[2:]


@pytest.mark.parametrize(("configuration", "expected"), [
    ({}, {"model": "/greengrass/artifacts/expression.onnx", "model_sha256": "", "model_poll_interval": 300.0,
          "heartbeat_interval": 30.0, "publisher": "iot", "quiet": True}),
    ({"ModelUri": "s3://models/expression.onnx", "ModelSha256": "ab" * 32, "ModelPollIntervalSeconds": "0",
      "HeartbeatIntervalSeconds": "60"},
     {"model": "s3://models/expression.onnx", "model_sha256": "ab" * 32, "model_poll_interval": 0.0,
      "heartbeat_interval": 60.0}),
])
def test_the_run_script_parses_as_an_edge_run_command_line(configuration, expected):
    from moodlens.cli import build_parser
    from moodlens.commands.edge import run_command

    args = build_parser().parse_args(run_arguments(configuration))
    assert args.handler is run_command
    assert {name: getattr(args, name) for name in expected} == expected


def test_an_s3_model_can_get_credentials():
    recipe = yaml.safe_load(RECIPE.read_text())
    assert "aws.greengrass.TokenExchangeService" in recipe["ComponentDependencies"]
