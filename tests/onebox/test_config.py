"""The site file: the example loads, every problem is named with its line, defaults fill the rest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moodlens.cli import main
from onebox.config import ConfigError, load, parse
from onebox.example import EXAMPLE
from onebox.settings import CAMERA, SECTIONS
from onebox.show import show
from onebox.toml_lines import key_lines


def test_the_example_loads_and_mentions_every_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "moodlens.toml"
    assert main(["init", str(path)]) == 0
    said = capsys.readouterr().out  # the example's camera, site name and zone are someone else's
    assert "set [site] id, name and timezone and your cameras" in said
    assert f"`moodlens config check --config {path}`" in said  # the command that checks the cameras too
    assert re.findall(r"\n\n(?:#[^\n]*\n)*\[+(\w+)\]+\n", EXAMPLE) == [
        "site", "cameras", "thresholds", "lake", "report", "dashboard", "alerts", "disk", "labeling"]
    config = load(path)
    assert config.site_id == "cafe-1" and [c.id for c in config.cameras] == ["door"]
    assert config.cameras[0].exclude_zones == ((0.7, 0.0, 1.0, 0.4),)
    assert config.state_dir == tmp_path / "var/moodlens"  # relative to the file, not the working folder
    documented = {s.key for settings in SECTIONS.values() for s in settings} | {s.key for s in CAMERA}
    missing = {k for k in documented if not re.search(rf"^#?\s*{k} = ", EXAMPLE, re.M)} - {"compact_args", "args"}
    assert missing == set()
    assert main(["init", str(path)]) == 2  # never overwrites without --force


def test_every_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    text = ('[site]\nid = "bad site"\n\n[thresholds]\nmin_track = 3\nlow_raise = "low"\n'
            '[[cameras]]\nid = "a"\nsource = "0"\n[[cameras]]\nid = "a"\nsource = "1"\n'
            'exclude_zones = [\n  [0, 0, 1.5, 1],\n]\n[dashboard]\nhost = "0.0.0.0"\nport = 70000\n')
    with pytest.raises(ConfigError) as caught:
        parse(text, tmp_path / "site.toml")
    problems = caught.value.problems
    expected = {
        2: "site.id: 'bad site'",
        5: "thresholds.min_track: unknown setting (did you mean 'min_tracks'?)",
        6: "thresholds.low_raise: must be a number, got text 'low'",
        11: "cameras[1].id: camera id 'a' is already used by cameras[0]",
        13: "cameras[1].exclude_zones[0]: zone coordinates are fractions of the frame",
        17: "dashboard.host: listening on 0.0.0.0 needs a token",
        18: "dashboard.port: must be between 1 and 65535, got 70000",
    }
    for line, message in expected.items():
        assert any(p.startswith(f"{tmp_path / 'site.toml'}:{line}: {message}") for p in problems), (line, problems)
    assert len(problems) == len(expected)


def test_broken_toml_and_missing_parts_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML: .*line 2"):
        parse('[site]\nid = "x\n', tmp_path / "a.toml")
    with pytest.raises(ConfigError, match="no camera: add at least one"):
        parse('[site]\nid = "x"\n', tmp_path / "a.toml")
    with pytest.raises(ConfigError, match=r"a.toml:1: site: missing required setting 'id'"):
        parse('[site]\n[[cameras]]\nid = "c"\nsource = "0"\n', tmp_path / "a.toml")
    with pytest.raises(FileNotFoundError, match="moodlens init"):
        load(tmp_path / "nope.toml")


def test_config_show_lists_values_defaults_and_the_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "moodlens.toml"
    path.write_text('[site]\nid = "shop"\n[thresholds]\nmin_tracks = 3\n[[cameras]]\nid = "c"\nsource = "0"\n')
    monkeypatch.setenv("MOODLENS_IOT_PORT", "8884")
    assert main(["config", "show", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\n[thresholds]\n" in out and "\n  min_tracks = 3  (default 5)\n" in out
    assert "\n  port = 8765\n" in out[out.index("[dashboard]\n"):]
    assert "\n  MOODLENS_IOT_PORT = 8884  (default 8883)\n" in out
    assert "\n  MOODLENS_SPOOL_MAX_RECORDS (not set; default 100000)\n" in out and "MOODLENS_STATE_DIR" in out


def test_config_show_reads_on_an_80_column_console(tmp_path: Path) -> None:
    """What `init` writes, shown at 80 columns: no line wider (but a path: the test's folder is long), every
    setting's help kept whole."""
    path = tmp_path / "moodlens.toml"
    assert main(["init", str(path)]) == 0
    out = show(load(path), str(path), width=80)
    assert [line for line in out.splitlines() if len(line) > 80 and str(tmp_path) not in line] == []
    joined = " ".join(out.split())
    for section, declared in SECTIONS.items():
        assert f"[{section}]" in out
        for setting in declared:
            assert " ".join(setting.help.split()) in joined, setting.key


keys = st.text(alphabet="abcdefghij_", min_size=1, max_size=8).filter(lambda k: k[0] != "_")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(keys, st.lists(keys, min_size=1, max_size=4, unique=True)), min_size=1, max_size=4,
                unique_by=lambda t: t[0]))
def test_key_lines_finds_every_key_where_it_was_written(tables: list[tuple[str, list[str]]]) -> None:
    lines, expected = [], {}
    for table, names in tables:
        lines.append(f"[{table}]  # a comment with key = 1")
        for name in names:
            lines.append(f'{name} = ["#", [1,')
            expected[f"{table}.{name}"] = len(lines)
            lines += ["  2]]", ""]
    found = key_lines("\n".join(lines))
    assert {k: found[k] for k in expected} == expected


def test_values_that_would_kill_up_are_refused_with_their_line(tmp_path: Path) -> None:
    text = ('[site]\nid = "cafe"\nstate_dir = "st"\n'
            '[thresholds]\nlateness_s = inf\n'
            '[lake]\npath = "/"\ncompact_args = ["batch", "compact", "--lake", "{lakes}", "--since", 7]\n'
            '[report]\nargs = ["report", "--out", "{reports"]\n'
            '[labeling]\ncrops_dir = "crops"\nkey_file = "crops/label.key"\n'
            '[[cameras]]\nid = "door"\nsource = "--help"\nfps = nan\n'
            '[[cameras]]\nid = "yard"\nsource = "0"\nfps = inf\n')
    site = tmp_path / "site.toml"
    with pytest.raises(ConfigError) as caught:
        parse(text, site)
    problems = caught.value.problems
    expected = {
        5: "thresholds.lateness_s: must be a finite number at least 0, got inf",
        7: "lake.path: / is not a folder of this site's own",
        8: "lake.compact_args: every argument must be text (quote numbers",
        10: "report.args: argument '{reports': expected '}' before end of string",
        13: "labeling.key_file: ",
        16: "cameras[0].source: '--help' starts with '-': the command would read it as an option",
        17: "cameras[0].fps: must be a positive finite number, got nan",
        21: "cameras[1].fps: must be a positive finite number, got inf",
    }
    for line, message in expected.items():
        assert any(p.startswith(f"{site}:{line}: {message}") for p in problems), (line, problems)
    assert len(problems) == len(expected), problems
    unknown = text.replace('"--since", 7', '"--since", "7d"')
    with pytest.raises(ConfigError, match=r"site.toml:8: lake.compact_args: argument '{lakes}': unknown placeholder "
                                          r"{lakes}; known: {log}, {lake}"):
        parse(unknown, site)


@pytest.mark.parametrize("path", ["~", ".", "..", "st/log/lake", "st", "/etc", "/usr"])
def test_a_lake_that_is_not_the_sites_own_folder_is_refused(tmp_path: Path, path: str) -> None:
    def text(lake: str) -> str:
        return f'[site]\nid = "cafe"\nstate_dir = "st"\n[lake]\npath = "{lake}"\n[[cameras]]\nid = "d"\nsource = "0"\n'

    with pytest.raises(ConfigError, match=r"site.toml:5: lake.path: "):
        parse(text(path), tmp_path / "site.toml")
    assert parse(text("lake"), tmp_path / "site.toml").lake_dir == tmp_path / "lake"


def test_the_state_folder_may_be_the_service_users_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    text = '[site]\nid = "cafe"\nstate_dir = "~"\n[[cameras]]\nid = "d"\nsource = "0"\n'
    assert parse(text, tmp_path / "etc" / "site.toml").lake_dir == tmp_path / "home" / "lake"
    with pytest.raises(ConfigError, match=r"site.toml:5: lake.path: .* is not a folder of this site's own"):
        parse(text.replace('"~"\n', '"~/s"\n[lake]\npath = "~"\n'), tmp_path / "etc" / "site.toml")


def test_config_check_refuses_what_up_would_fail_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "moodlens.toml"
    site.write_text('[site]\nid = "cafe"\n[lake]\ncompact_args = ["batch", "compact", "--lake", "{lake}", "{when}"]\n'
                    '[[cameras]]\nid = "door"\nsource = "0"\n')
    assert main(["config", "check", "--config", str(site)]) == 2
    assert f"{site}:4: lake.compact_args: argument '{{when}}': unknown placeholder" in capsys.readouterr().err


_PARTS = st.lists(st.sampled_from(["{", "}", "{{", "}}", "x", "-", "{lake}", "{log}", "{0}", "{lake.x}", "{site!r}",
                                   "{reports:>5}", "{crops}", "{key}", "{}", "{nope}"]), max_size=4).map("".join)


@given(st.lists(_PARTS, min_size=1, max_size=4))
@settings(max_examples=300, deadline=None)
def test_job_arguments_the_check_accepts_are_always_filled_in(arguments: list[str]) -> None:
    from onebox.children import job_spec
    from onebox.config import from_values
    from onebox.layout import Layout
    from onebox.settings import job_arguments

    config = from_values({"site": {"id": "cafe", "state_dir": "/srv/moodlens-test"}}, [{"id": "d", "source": "0"}])
    if job_arguments(arguments) is None:
        argv = job_spec("compact", arguments, config, Layout(config.state_dir)).argv
        assert len(argv) == len(arguments) + 3  # the interpreter, -m, moodlens.cli, then each argument filled


@pytest.mark.parametrize(("site", "camera", "field"), [
    ("shop\\n", "c", "site.id"), ("shop", "../c", "cameras[0].id"), ("x" * 65, "c", "site.id"),
    ("shop", "-c", "cameras[0].id"),
])
def test_ids_the_events_would_refuse_are_refused_naming_the_file_and_field(tmp_path: Path, site: str, camera: str,
                                                                          field: str) -> None:
    """The site file's ids follow the event contract's rule (schemas.validation), so a box never
    starts with an id every event it writes would be refused for."""
    path = tmp_path / "site.toml"
    with pytest.raises(ConfigError) as caught:
        parse(f'[site]\nid = "{site}"\n[[cameras]]\nid = "{camera}"\nsource = "0"\n', path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:") and f": {field}: " in problem
