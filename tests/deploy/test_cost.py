"""The cost figures: the README's table is what `python -m deploy.cost` prints, and the model
behaves as its arithmetic says (shared items divided by sites, per-site items with cameras)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from deploy.cost import OPERATIONS_ALARMS, Assumptions, lines, per_site, report

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


def test_the_alarms_priced_are_the_alarms_the_stack_makes_for_the_assumed_fleet() -> None:
    from deploy.stack.template import build_template

    a = Assumptions()
    template = build_template({f"site-{s}": [f"cam-{c}" for c in range(a.cameras)] for s in range(a.sites)})
    # the model prices the single consumer: the scaling alarms exist only with ConsumerMode=kcl
    kinds = [r["Type"] for r in template["Resources"].values() if "Condition" not in r]
    # per site one net-score alarm, per camera a heartbeat alarm and a composite camera-silent alarm
    assert kinds.count("AWS::CloudWatch::Alarm") == a.sites * (1 + a.cameras) + OPERATIONS_ALARMS
    assert kinds.count("AWS::CloudWatch::CompositeAlarm") == a.sites * a.cameras


def test_the_batch_tasks_priced_hourly_are_the_ones_the_stack_runs_hourly() -> None:
    """Compaction and model drift both start every hour (deploy.stack.compute), and each is priced per run."""
    import re

    from deploy.stack.compute import schedules

    expressions = {name: r["Properties"]["ScheduleExpression"] for name, r in schedules().items()
                   if r["Type"] == "AWS::Scheduler::Schedule"}
    assert all(re.fullmatch(r"cron\(\d+ \* \* \* \? \*\)", expressions[s]) for s in ("CompactionSchedule",
                                                                                      "DriftSchedule"))
    items = {item: cost for item, _, cost, _ in lines(Assumptions())}
    assert any(item.startswith("Fargate model drift") and "hourly" in item for item in items)
    base = Assumptions()
    assert per_site(replace(base, drift_minutes=2 * base.drift_minutes)) > per_site(base)
