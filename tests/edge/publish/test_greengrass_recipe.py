"""The Greengrass recipe stays in step with the settings the edge reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
RECIPE = Path(__file__).resolve().parents[3] / "infra" / "greengrass" / "com.moodlens.Edge.recipe.yaml"
FACTORY = Path(__file__).resolve().parents[3] / "edge" / "publish" / "factory.py"


def test_the_recipe_runs_the_edge_with_settings_the_factory_reads():
    recipe = yaml.safe_load(RECIPE.read_text())
    assert recipe["RecipeFormatVersion"] == "2020-01-25"
    (manifest,) = recipe["Manifests"]
    run = manifest["Lifecycle"]["Run"]
    assert "moodlens edge run" in run["Script"]
    for option in ("--site", "--camera", "--source", "--publisher"):
        assert option in run["Script"]
    read = set(re.findall(r'"(MOODLENS_[A-Z_]+)"', FACTORY.read_text()))
    assert set(run["Setenv"]) <= read
    referenced = set(re.findall(r"\{configuration:/(\w+)\}", RECIPE.read_text()))
    assert referenced <= set(recipe["ComponentConfiguration"]["DefaultConfiguration"])
