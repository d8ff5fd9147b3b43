"""The site file's `[site] timezone` reaches the stream host, whose alarm baselines learn the site's local
hours (ADR alarms-0006): the child `moodlens up` starts and the demo's final drain both get it."""

from __future__ import annotations

from pathlib import Path

import pytest

from moodlens.cli import build_parser, main
from moodlens.commands.stream_host import host_config
from onebox.children import stream_spec
from onebox.config import parse
from onebox.demo import final_drain_config
from onebox.layout import Layout

SITE = '[site]\nid = "shop"\n{zone}[[cameras]]\nid = "c"\nsource = "0"\n'


@pytest.mark.parametrize(("line", "zone"), [('timezone = "Europe/Berlin"\n', "Europe/Berlin"), ("", "UTC")])
def test_the_site_files_zone_reaches_the_stream_child_and_the_final_drain(tmp_path: Path, line: str,
                                                                          zone: str) -> None:
    config = parse(SITE.format(zone=line), tmp_path / "moodlens.toml")
    argv = stream_spec(config, Layout(tmp_path / "state")).argv
    assert argv[3:5] == ("stream", "run")
    assert host_config(build_parser().parse_args(argv[3:])).site_zones == {"shop": zone}
    assert final_drain_config(config).site_zones == {"shop": zone}


def test_stream_run_refuses_a_zone_that_is_none_naming_the_flag_and_site(capsys: pytest.CaptureFixture[str],
                                                                         tmp_path: Path) -> None:
    code = main(["stream", "run", "--log", str(tmp_path), "--state", str(tmp_path / "state"), "--once",
                 "--sites", '{"shop": {"timezone": "Mars/Olympus"}}'])
    assert code == 2
    assert ("--sites: sites: site 'shop': timezone: 'Mars/Olympus' is not an IANA time zone"
            in capsys.readouterr().err)
    assert not (tmp_path / "state").exists()
