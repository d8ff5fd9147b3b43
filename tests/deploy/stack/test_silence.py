"""The silence alarms in the generated template: one heartbeat alarm and one camera-silent alarm per
inventory camera, their rule from the stream's AlarmConfig, held back by the one consumer-silent
alarm; inventories CloudFormation cannot hold are refused naming the file. (Deployed and evaluated
against the real consumer's metrics: test_silence_on_aws.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy import container
from deploy.cost import Assumptions
from deploy.stack.logical import logical_id
from deploy.stack.silence import CONSUMER_SILENT, camera_alarms, suppressor_wait_s
from deploy.stack.template import MAX_RESOURCES, build_template, main, render
from stream.alarms import AlarmConfig
from stream.engine import EngineConfig

TWO_SITES = {"cafe-1": ["cam-a", "cam-b"], "cinema-2": ["lobby.1", "lobby_1", "door"]}


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def heartbeat_alarms(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a["Dimensions"][0]["Value"], a["Dimensions"][1]["Value"]): a
            for a in of_type(template, "AWS::CloudWatch::Alarm").values() if a.get("MetricName") == container.HEARTBEAT}


@pytest.mark.parametrize("minutes", [1, 5, 17])
def test_every_camera_gets_its_heartbeat_alarm_with_the_stream_rule_and_a_camera_silent_alarm_that_notifies(
        minutes: int) -> None:
    config = AlarmConfig(silent_minutes=minutes)
    template = build_template(TWO_SITES, config)
    alarms = heartbeat_alarms(template)
    assert set(alarms) == {(site, camera) for site, cams in TWO_SITES.items() for camera in cams}
    for (site, camera), alarm in alarms.items():
        assert alarm["Dimensions"] == [{"Name": container.SITE_DIMENSION, "Value": site},
                                       {"Name": container.CAMERA_DIMENSION, "Value": camera}]
        assert (alarm["Namespace"], alarm["Statistic"], alarm["Period"]) == (container.METRIC_NAMESPACE,
                                                                             "SampleCount", 60)
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == config.silent_minutes
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
        assert alarm["TreatMissingData"] == "breaching"  # a camera that never sends raises too
        assert "AlarmActions" not in alarm  # its camera-silent alarm sends the messages

    composites = of_type(template, "AWS::CloudWatch::CompositeAlarm")
    assert len(composites) == len(alarms)
    for (site, camera) in alarms:
        composite = composites[logical_id("camera-silent", site, camera)]
        assert composite["AlarmRule"] == {"Fn::Sub": f'ALARM("${{{logical_id("heartbeats", site, camera)}.Arn}}")'}
        assert composite["ActionsSuppressor"] == {"Fn::GetAtt": [CONSUMER_SILENT, "Arn"]}
        assert composite["ActionsSuppressorWaitPeriod"] == suppressor_wait_s(EngineConfig().allowed_lateness_ms)
        assert composite["ActionsSuppressorExtensionPeriod"] >= 60 * minutes
        assert composite["AlarmActions"] == composite["OKActions"] == [{"Ref": "AlarmTopic"}]
        assert f"Camera {camera} at site {site} has sent no heartbeat for {minutes} minutes" in \
            composite["AlarmDescription"]

    consumer = template["Resources"][CONSUMER_SILENT]["Properties"]
    assert (consumer["MetricName"], consumer.get("Dimensions")) == (container.CONSUMER_ALIVE, None)
    assert consumer["EvaluationPeriods"] == consumer["DatapointsToAlarm"] == minutes
    assert (consumer["TreatMissingData"], consumer["AlarmActions"]) == ("breaching", [{"Ref": "AlarmTopic"}])


def test_the_wait_for_the_consumer_alarm_follows_the_engine_lateness() -> None:
    later = build_template(TWO_SITES, engine=EngineConfig(allowed_lateness_ms=300_000))
    waits = {c["ActionsSuppressorWaitPeriod"] for c in of_type(later, "AWS::CloudWatch::CompositeAlarm").values()}
    assert waits == {suppressor_wait_s(300_000)} and suppressor_wait_s(300_000) > suppressor_wait_s(120_000)


ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,12}", fullmatch=True)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(ids, st.lists(ids, max_size=6, unique=True), min_size=1, max_size=5))
def test_any_inventory_gets_exactly_its_cameras_alarmed_each_once(inventory: dict[str, list[str]]) -> None:
    made = {"Resources": camera_alarms(AlarmConfig(), EngineConfig().allowed_lateness_ms, inventory)}
    pairs = {(site, camera) for site, cams in inventory.items() for camera in cams}
    assert set(heartbeat_alarms(made)) == pairs
    composites = of_type(made, "AWS::CloudWatch::CompositeAlarm")
    assert {c["AlarmName"]["Fn::Sub"] for c in composites.values()} == {
        f"${{AWS::StackName}}-camera-silent-{site}-{camera}" for site, camera in pairs}
    assert len(made["Resources"]) == 2 * len(pairs)


def test_the_sites_names_say_which_site_a_camera_is_at(tmp_path: Path) -> None:
    inventory, sites, out = tmp_path / "inventory.json", tmp_path / "sites.json", tmp_path / "stack.json"
    inventory.write_text(json.dumps(TWO_SITES))
    sites.write_text(json.dumps({"cafe-1": {"name": "Café Zentral", "timezone": "Europe/Berlin"},
                                 "cinema-2": {"timezone": "Europe/Berlin"}}))
    assert main(["--inventory", str(inventory), "--sites", str(sites), "--out", str(out)]) == 0
    composites = of_type(json.loads(out.read_text()), "AWS::CloudWatch::CompositeAlarm")
    text = composites[logical_id("camera-silent", "cafe-1", "cam-b")]["AlarmDescription"]
    assert text.startswith("Camera cam-b at Café Zentral (site cafe-1) has sent no heartbeat")
    unnamed = composites[logical_id("camera-silent", "cinema-2", "door")]["AlarmDescription"]
    assert unnamed.startswith("Camera door at site cinema-2 has sent")
    assert all(len(c["AlarmDescription"]) <= 1024 for c in composites.values())


def _fleet(sites: int, cameras: int) -> dict[str, list[str]]:
    return {f"site-{s}": [f"cam-{c}" for c in range(cameras)] for s in range(sites)}


def test_the_cost_models_fleet_fits_one_stack_and_the_largest_that_fits_stays_under_the_template_limit() -> None:
    assumed = Assumptions()
    assert len(build_template(_fleet(assumed.sites, assumed.cameras))["Resources"]) <= MAX_RESOURCES
    base = len(build_template(_fleet(assumed.sites, 0))["Resources"])
    most = (MAX_RESOURCES - base) // 2
    fleet = _fleet(assumed.sites, 0)
    fleet["site-0"] = [f"cam-{c}" for c in range(most)]
    largest = build_template(fleet)
    assert len(largest["Resources"]) in (MAX_RESOURCES - 1, MAX_RESOURCES)
    assert len(render(largest).encode()) < 1_000_000  # CloudFormation's template size through S3


def test_an_inventory_too_big_for_one_stack_is_refused_naming_the_file_and_the_count(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory, out = tmp_path / "inventory.json", tmp_path / "stack.json"
    inventory.write_text(json.dumps(_fleet(10, 25)))
    assert main(["--inventory", str(inventory), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert f"{inventory}: 10 sites with 250 cameras make a stack of" in error
    assert f"CloudFormation allows {MAX_RESOURCES}" in error and "at most 210 cameras fit" in error
    assert not out.exists()


@pytest.mark.parametrize(("inventory", "message"), [
    ('["cam-a"]', "give an object of site id -> [camera id, ...]"),
    ('{"cafe-1": "cam-a"}', "site 'cafe-1': give a list of camera ids, got 'cam-a'"),
    ('{"cafe-1": ["cam a"]}', "site 'cafe-1': camera 'cam a' is not a camera id of the events"),
    ('{"café": ["cam-a"]}', "site 'café' is not a site id of the events"),
    ('{"cafe-1": ["cam-a\\n"]}', "site 'cafe-1': camera 'cam-a\\n' is not a camera id of the events"),
    ('{"cafe-1": ["cam-a", "cam-b", "cam-a"]}', "site 'cafe-1': camera(s) ['cam-a'] listed more than once"),
    ('{"cafe-1": [', "not JSON"),
])
def test_a_bad_inventory_is_refused_naming_the_file_and_the_entry(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], inventory: str, message: str) -> None:
    path = tmp_path / "inventory.json"
    path.write_text(inventory)
    assert main(["--inventory", str(path)]) == 2
    assert f"error: {path}: {message}" in capsys.readouterr().err


def test_a_silence_longer_than_cloudwatch_looks_back_is_refused() -> None:
    with pytest.raises(ValueError, match="silent_minutes 1441: a CloudWatch alarm on 60-second periods looks back "
                                         "at most 1440 minutes"):
        build_template(TWO_SITES, AlarmConfig(silent_minutes=1441))
