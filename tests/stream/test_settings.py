"""The window and alarm settings, declared once in `stream.settings`, give the very same configuration by
every path that carries them (site file -> `moodlens up`'s stream child, `stream run --thresholds FILE`,
the AWS stack's thresholds file -> its consumer and KCL workers, the demo's final drain); a bad file is
refused by each path with the same message, naming the key and the file."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deploy import container
from deploy.stack.thresholds import load_thresholds
from moodlens.cli import build_parser
from moodlens.cli import main as cli_main
from moodlens.commands.stream_host import host_config
from onebox.children import stream_spec
from onebox.config import ConfigError, parse
from onebox.demo import final_drain_config
from onebox.example import EXAMPLE
from onebox.layout import Layout
from onebox.settings import SECTIONS
from stream import settings as stream_settings
from stream.alarms import AlarmConfig
from stream.engine import EngineConfig
from tests.deploy.test_container_commands import concrete, kcl_worker_of

SITE = '[site]\nid = "shop"\n[[cameras]]\nid = "c"\nsource = "0"\n'


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid thresholds document with every key set (the rules' cross-conditions honoured)."""
    windows = sorted(draw(st.sets(st.sampled_from([1, 5, 10, 15, 30, 60, 120]), min_size=1)))
    raise_n = draw(st.integers(1, 5))
    low_raise = draw(st.floats(-1, 0.99, allow_nan=False))
    min_days = draw(st.integers(0, 10))
    number = st.floats(0, 5, allow_nan=False)
    return {
        "window_minutes": windows, "alarm_window_minutes": draw(st.sampled_from(windows)),
        "min_tracks": draw(st.integers(1, 50)), "lateness_s": draw(st.integers(0, 600_000)) / 1000,
        "low_raise": low_raise, "low_clear": draw(st.floats(low_raise, 1, allow_nan=False)),
        "z_raise": draw(st.floats(0, 10, allow_nan=False)), "hold_minutes": draw(st.integers(0, 1440)),
        "quiet_minutes": draw(st.integers(0, 1440)), "silent_minutes": draw(st.integers(1, 1440)),
        "raise_n": raise_n, "raise_m": draw(st.integers(1, raise_n)), "clear_m": draw(st.integers(1, raise_n)),
        "camera_alarms": draw(st.booleans()), "disjoint_windows": draw(st.booleans()),
        "drop_detection": draw(st.sampled_from(["sequential", "windows"])), "drop_sigmas": draw(number),
        "drop_clear_sigmas": draw(number), "drop_min": draw(number), "drop_sampling_noise": draw(st.booleans()),
        "baseline_min_days": min_days, "baseline_keep_days": draw(st.integers(max(min_days, 1), 30)),
        "sour_share": draw(st.floats(0.01, 0.99)), "false_alarms_per_month": draw(st.floats(0.01, 30)),
        "drop_allowance": draw(number), "recovery_odds": draw(st.floats(1.5, 1e6)),
        "low_against_usual": draw(st.booleans()), "low_new_site": draw(st.floats(-1, 1, allow_nan=False)),
    }


def site_file(values: dict[str, Any]) -> str:
    return SITE + "[thresholds]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())


def through_site_file(values: dict[str, Any], folder: Path) -> list[tuple[EngineConfig, AlarmConfig]]:
    """`moodlens up`: the site file -> the stream child's command line -> the host; and the demo's drain."""
    config = parse(site_file(values), folder / "moodlens.toml")
    argv = stream_spec(config, Layout(folder / "state")).argv
    host = host_config(build_parser().parse_args(argv[3:]))
    drain = final_drain_config(config)
    return [(host.engine, host.alarms), (drain.engine, drain.alarms)]


def through_aws(path: Path) -> list[tuple[EngineConfig, AlarmConfig]]:
    """The stack's thresholds file -> the consumer's and every KCL worker's command line -> the host."""
    flags = container.host_arguments(*load_thresholds(path))
    single = host_config(build_parser().parse_args(concrete(container.consumer_command(flags))))
    daemon = build_parser().parse_args(concrete(container.kcl_command(flags)))
    worker = host_config(build_parser().parse_args(kcl_worker_of(daemon.worker_args)))
    return [(single.engine, single.alarms), (worker.engine, worker.alarms)]


@settings(max_examples=40, deadline=None)
@given(documents())
def test_every_path_gives_the_same_engine_and_alarm_configuration(values: dict[str, Any]) -> None:
    expected = stream_settings.configs(values, "test")
    assert stream_settings.configs(stream_settings.document(*expected), "again") == expected
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "thresholds.json"
        path.write_text(json.dumps(values))
        cli = host_config(build_parser().parse_args(["stream", "run", "--state", "s", "--thresholds", str(path)]))
        found = [*through_site_file(values, Path(folder)), (cli.engine, cli.alarms), *through_aws(path)]
    assert found == [expected] * 5


def test_unset_everywhere_is_the_configurations_own_defaults(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("{}")
    assert stream_settings.configs({}, "none") == (EngineConfig(), AlarmConfig())
    assert through_site_file({}, tmp_path) == [(EngineConfig(), AlarmConfig())] * 2
    assert through_aws(tmp_path / "empty.json") == [(EngineConfig(), AlarmConfig())] * 2


def test_the_alarm_window_left_out_is_the_default_for_the_windows_given_by_every_path(tmp_path: Path) -> None:
    values = {"window_minutes": [5, 60]}
    (tmp_path / "t.json").write_text(json.dumps(values))
    expected = stream_settings.configs(values, "t")
    assert expected[1].window_minutes == 60
    assert through_site_file(values, tmp_path) == [expected] * 2
    assert through_aws(tmp_path / "t.json") == [expected] * 2


def test_a_flag_given_beside_the_document_wins(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text('{"min_tracks": 9, "hold_minutes": 40}')
    config = host_config(build_parser().parse_args(
        ["stream", "run", "--state", "s", "--thresholds", str(tmp_path / "t.json"), "--min-tracks", "3"]))
    assert (config.engine.min_tracks, config.alarms.min_tracks, config.alarms.hold_minutes) == (3, 3, 40)


def test_the_site_file_the_example_and_config_show_name_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    keys = [t.key for t in stream_settings.THRESHOLDS]
    assert [s.key for s in SECTIONS["thresholds"]] == keys
    block = EXAMPLE[EXAMPLE.index("[thresholds]"):EXAMPLE.index("[lake]")]
    assert [line.split(" = ")[0] for line in block.splitlines()[1:] if " = " in line] == keys
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "moodlens.toml"
        path.write_text(EXAMPLE)
        assert stream_settings.configs(parse(EXAMPLE, path).values["thresholds"], "x") == (EngineConfig(),
                                                                                             AlarmConfig())
        assert cli_main(["config", "show", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    shown = out[out.index("\n[thresholds]\n"):out.index("\n[lake]\n")]
    assert [line.split(" = ")[0].strip() for line in shown.splitlines() if line.startswith("  ") and " = " in line
            and not line.startswith("      ")] == keys


@pytest.mark.parametrize(("key", "value", "message"), [
    ("min_trakcs", 8, "min_trakcs: unknown setting (did you mean 'min_tracks'?)"),
    ("min_tracks", 0, "min_tracks: must be a finite number at least 1, got 0"),
    ("lateness_s", "2m", "lateness_s: must be a number, got text '2m'"),
    ("drop_detection", "cusum", "drop_detection: must be one of sequential, windows; got 'cusum'"),
    ("window_minutes", [5, 0], "window_minutes: must be a list of whole minutes from 1 to 1440"),
    ("camera_alarms", 1, "camera_alarms: must be true or false, got a whole number 1"),
])
def test_a_bad_setting_is_refused_with_one_message_by_the_site_file_the_cli_and_the_stack(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: Any, message: str) -> None:
    from deploy.stack.template import main as stack_main

    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(json.dumps({key: value}))
    site = tmp_path / "moodlens.toml"
    with pytest.raises(ConfigError) as refused:
        parse(site_file({key: value}), site)
    assert [p for p in refused.value.problems if str(site) in p and f"thresholds.{message}" in p]
    (tmp_path / "log").mkdir()
    assert cli_main(["stream", "run", "--log", str(tmp_path / "log"), "--state", str(tmp_path / "state"),
                     "--once", "--thresholds", str(thresholds)]) == 2
    assert f"{thresholds}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()
    (tmp_path / "inventory.json").write_text(json.dumps({"cafe-1": ["cam-a"]}))
    assert stack_main(["--inventory", str(tmp_path / "inventory.json"), "--thresholds", str(thresholds)]) == 2
    assert f"{thresholds}: {message}" in capsys.readouterr().err


def test_settings_that_do_not_fit_together_are_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(stream_settings.SettingError, match=r"^t\.json: alarm window_minutes 15 is not one of the "
                                                          r"window lengths; choose one of 5, 60$"):
        stream_settings.configs({"window_minutes": [5, 60], "alarm_window_minutes": 15}, "t.json")
    with pytest.raises(ConfigError, match="thresholds: low_clear"):
        parse(site_file({"low_raise": 0.5, "low_clear": 0.1}), tmp_path / "moodlens.toml")
    with pytest.raises(stream_settings.SettingError, match="not JSON"):
        stream_settings.parse("{", "x.json")
