"""The cost figures: the README's table is what `python -m deploy.cost` prints, and the model
behaves as its arithmetic says (shared items divided by sites, per-site items with cameras)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from deploy.cost import Assumptions, lines, per_site, report

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_readme_shows_the_table_the_model_prints() -> None:
    assert report(Assumptions()) in README, "regenerate: python -m deploy.cost (and paste into the deploy guide)"
    for sites in (1, 100):
        assert f"${per_site(replace(Assumptions(), sites=sites)):.2f}" in README


@given(st.integers(1, 1000), st.integers(1, 50))
def test_shared_costs_are_divided_by_sites_and_the_rest_scales_with_cameras(sites: int, cameras: int) -> None:
    base = Assumptions(sites=sites, cameras=cameras)
    shared = sum(cost for *_, cost, is_shared in lines(base) if is_shared)
    own = sum(cost for *_, cost, is_shared in lines(base) if not is_shared)
    assert abs(per_site(base) - (own + shared / sites)) < 1e-9
    assert per_site(replace(base, sites=sites + 1)) < per_site(base)
    assert per_site(replace(base, cameras=cameras + 1)) > per_site(base)
    assert per_site(replace(base, events_per_minute=0)) < per_site(base)
