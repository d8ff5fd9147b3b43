"""The alarm settings operations tune in the site file reach the stream host's `AlarmConfig`; bad values are
named with their key, value and allowed range; unset, they are exactly the alarm rules' own defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from moodlens.cli import build_parser, main
from moodlens.commands.stream_host import host_config
from onebox.children import stream_spec
from onebox.config import ConfigError, parse
from onebox.layout import Layout
from onebox.settings import SECTIONS
from stream.alarms import AlarmConfig

SITE = '[site]\nid = "shop"\n[[cameras]]\nid = "c"\nsource = "0"\n[thresholds]\n'
ALARM_KEYS = ("min_tracks", "low_raise", "low_clear", "z_raise", "hold_minutes", "quiet_minutes", "silent_minutes")


def built_alarms(thresholds: str, tmp_path: Path) -> AlarmConfig:
    """Site file -> the stream child's command line (what `moodlens up` starts) -> the host's AlarmConfig."""
    config = parse(SITE + thresholds, tmp_path / "moodlens.toml")
    argv = stream_spec(config, Layout(tmp_path / "state")).argv
    assert argv[3:5] == ("stream", "run")
    return host_config(build_parser().parse_args(argv[3:])).alarms


def test_site_file_alarm_keys_reach_the_stream_hosts_alarm_config(tmp_path: Path) -> None:
    alarms = built_alarms("z_raise = 2.5\nhold_minutes = 40\nquiet_minutes = 0\nlow_raise = -0.3\n", tmp_path)
    assert (alarms.z_raise, alarms.hold_minutes, alarms.quiet_minutes, alarms.low_raise) == (2.5, 40, 0, -0.3)


def test_unset_keys_and_flags_give_exactly_the_alarm_rules_defaults(tmp_path: Path) -> None:
    assert built_alarms("", tmp_path) == AlarmConfig()
    assert host_config(build_parser().parse_args(["stream", "run", "--state", "s"])).alarms == AlarmConfig()
    declared = {s.key: s.default for s in SECTIONS["thresholds"]}
    assert {k: declared[k] for k in ALARM_KEYS} == {k: getattr(AlarmConfig(), k) for k in ALARM_KEYS}


@pytest.mark.parametrize(("line", "message"), [
    ("z_raise = -1", "thresholds.z_raise: must be between 0 and 10, got -1"),
    ("z_raise = \"high\"", "thresholds.z_raise: must be a number, got text 'high'"),
    ("hold_minutes = -5", "thresholds.hold_minutes: must be between 0 and 1440, got -5"),
    ("hold_minutes = 7.5", "thresholds.hold_minutes: must be a whole number"),
    ("quiet_minutes = 2000", "thresholds.quiet_minutes: must be between 0 and 1440, got 2000"),
])
def test_bad_alarm_keys_are_named_with_value_and_range(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(SITE + line + "\n", tmp_path / "moodlens.toml")
    assert [p for p in caught.value.problems if message in p and ":7: " in p], caught.value.problems


def test_config_show_and_check_cover_the_alarm_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "moodlens.toml"
    path.write_text(SITE + "hold_minutes = 20\n")
    assert main(["config", "show", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    thresholds = out[out.index("[thresholds]\n"):out.index("[lake]\n")]
    assert "\n  hold_minutes = 20  (default 15)\n" in thresholds
    assert "\n  z_raise = 2.0\n" in thresholds and "\n  quiet_minutes = 30\n" in thresholds
    path.write_text(SITE + "quiet_minutes = -1\n")
    assert main(["config", "check", "--config", str(path)]) != 0
    assert "thresholds.quiet_minutes: must be between 0 and 1440, got -1" in capsys.readouterr().err
