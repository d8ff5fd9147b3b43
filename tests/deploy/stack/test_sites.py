"""The AWS stack takes each site's name and time zone (`--sites`); its hourly compaction writes them into
the lake's `sites` table, which the report, the views and Athena join for local time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy.stack.template import build_template, main, sites_argument

REPO = Path(__file__).resolve().parents[3]
INVENTORY: dict[str, list[str]] = json.loads((REPO / "infra" / "cloudformation" / "inventory.json").read_text())


def _compaction_command(template: dict) -> list:
    return template["Resources"]["CompactionTask"]["Properties"]["ContainerDefinitions"][0]["Command"]


def test_the_compaction_task_carries_the_sites_and_the_stack_without_them_is_unchanged(tmp_path: Path) -> None:
    first, second = sorted(INVENTORY)[:2]
    sites = tmp_path / "sites.json"
    sites.write_text(json.dumps({first: {"name": "Café Zentral", "timezone": "Europe/Berlin"},
                                 second: {"timezone": "America/New_York", "opening_hours": "08-20"}}))
    inventory, out = tmp_path / "inventory.json", tmp_path / "stack.json"
    inventory.write_text(json.dumps(INVENTORY))
    assert main(["--inventory", str(inventory), "--sites", str(sites), "--out", str(out)]) == 0
    command = _compaction_command(json.loads(out.read_text()))
    given = json.loads(command[command.index("--sites") + 1])
    assert given == {first: {"name": "Café Zentral", "timezone": "Europe/Berlin"},
                     second: {"name": second, "timezone": "America/New_York", "opening_hours": "08-20"}}
    assert "--sites" not in _compaction_command(build_template(INVENTORY))


@pytest.mark.parametrize(("sites", "message"), [
    ({"SITE": {"timezone": "Mars/Olympus"}}, r"sites.json: sites: site 'SITE': timezone: 'Mars/Olympus' is not an"),
    ({"SITE": {"name": "x"}}, r"sites.json: site 'SITE': give at least its \"timezone\""),
    ({"SITE": {"timezone": "UTC", "zone": "x"}}, r"sites.json: site 'SITE': unknown field\(s\) \['zone'\]"),
    ({"nowhere": {"timezone": "UTC"}}, r"sites.json: site\(s\) \['nowhere'\] are not in the inventory"),
    ({"SITE": {"timezone": "UTC", "name": "${AWS::Region}"}}, r"sites.json: \"\$\{\" cannot appear"),
])
def test_a_bad_sites_file_is_refused_naming_the_file_site_and_field(sites: dict, message: str) -> None:
    site = sorted(INVENTORY)[0]
    text = json.dumps(sites).replace("SITE", site)
    with pytest.raises(ValueError, match=message.replace("SITE", site)):
        sites_argument(INVENTORY, text, "sites.json")


def test_the_stack_command_says_what_is_wrong_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory, sites = tmp_path / "inventory.json", tmp_path / "sites.json"
    inventory.write_text(json.dumps(INVENTORY))
    sites.write_text("{not json")
    assert main(["--inventory", str(inventory), "--sites", str(sites)]) == 2
    assert f"{sites}: not JSON" in capsys.readouterr().err


def _plain(word: object) -> str:
    """A command word of the template: a string, or an Fn::Sub of one, with its placeholders filled."""
    text = word if isinstance(word, str) else word["Fn::Sub"]  # type: ignore[index]
    return text.replace("${EventStream}", "events").replace("${StateBucket}", "state").replace(
        "${AWS::StackName}", "moodlens")


def test_the_consumer_and_the_kcl_workers_learn_each_sites_local_hours(tmp_path: Path) -> None:
    """The stack's --sites reaches the consumer, in both modes, as `--sites` of its zones (ids and zone names
    only: the KCL daemon splits its workers' command at spaces, and a site's name may hold one); parsed
    by the CLI it gives the host the sites' zones."""
    from moodlens.cli import build_parser
    from moodlens.commands.stream_host import host_config
    from tests.deploy.test_container_commands import kcl_worker_of

    first, second = sorted(INVENTORY)[:2]
    sites = json.dumps({first: {"name": "Café Zentral", "timezone": "Europe/Berlin"},
                        second: {"timezone": "America/New_York"}})
    command = build_template(INVENTORY, sites_json=sites_argument(INVENTORY, sites, "sites.json"))[
        "Resources"]["ConsumerTask"]["Properties"]["ContainerDefinitions"][0]["Command"]["Fn::If"]
    kcl, single = ([_plain(w) for w in words] for words in command[1:])
    zones = {first: "Europe/Berlin", second: "America/New_York"}
    assert host_config(build_parser().parse_args(single)).site_zones == zones
    worker_args = next(w for w in kcl if w.startswith("--worker-args="))[len("--worker-args="):]
    assert host_config(build_parser().parse_args(kcl_worker_of(worker_args))).site_zones == zones
    assert "--sites" not in build_template(INVENTORY)["Resources"]["ConsumerTask"]["Properties"][
        "ContainerDefinitions"][0]["Command"]["Fn::If"][2]


def test_the_consumer_and_the_kcl_workers_name_the_sites_in_their_sns_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sites' names (spaces and all) reach the consumer in its task's environment, which the KCL daemon's
    workers inherit: `stream run` and `stream kcl-worker` read them as the SNS texts' names; a stack without
    --sites sets no such variable."""
    from moodlens.cli import build_parser
    from moodlens.commands.stream_host import outlets
    from stream.sinks.aws import ENV_SITE_NAMES
    from tests.deploy.test_container_commands import kcl_worker_of

    first, second = sorted(INVENTORY)[:2]
    sites = json.dumps({first: {"name": "Café Zentral am Markt", "timezone": "Europe/Berlin"},
                        second: {"timezone": "America/New_York"}})
    task = build_template(INVENTORY, sites_json=sites_argument(INVENTORY, sites, "sites.json"))[
        "Resources"]["ConsumerTask"]["Properties"]["ContainerDefinitions"][0]
    for variable in task["Environment"]:
        monkeypatch.setenv(variable["Name"], variable["Value"] if isinstance(variable["Value"], str) else "x")
    kcl, single = ([_plain(w) for w in words] for words in task["Command"]["Fn::If"][1:])
    worker_args = next(w for w in kcl if w.startswith("--worker-args="))[len("--worker-args="):]
    for argv in (single, kcl_worker_of(worker_args)):
        assert outlets(build_parser().parse_args(argv)).site_names == {first: "Café Zentral am Markt",
                                                                       second: second}
    plain = build_template(INVENTORY)["Resources"]["ConsumerTask"]["Properties"]["ContainerDefinitions"][0]
    assert ENV_SITE_NAMES not in {variable["Name"] for variable in plain["Environment"]}
