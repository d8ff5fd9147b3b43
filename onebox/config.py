"""The site file, `moodlens.toml`: read, checked against `onebox.settings`, and turned into a `SiteConfig`.

Every problem is reported at once, each with the file, the line and the setting's name, so a typo
costs one round trip, not five. Unknown sections and keys are errors (with a "did you mean"): a
misspelt `min_track = 1` silently ignored would be worse than a refusal.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.redact import has_credentials
from onebox.settings import CAMERA, SECTIONS, Setting
from onebox.toml_lines import key_lines, line_of
from stream import settings as stream_settings
from stream.alarm_config import default_alarm_window
from stream.settings import did_you_mean as _did_you_mean
from stream.settings import is_kind as _is
from stream.settings import kind_name as _kind_name
from stream.settings import kind_of as _kind

DEFAULT_FILE = Path("moodlens.toml")


class ConfigError(ValueError):
    """The site file is wrong; `str()` lists every problem, one per line, with file:line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        super().__init__(f"{path}: {len(problems)} problem{'s' if len(problems) > 1 else ''} in the site file:\n"
                         + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class CameraConfig:
    id: str
    source: str
    name: str
    fps: float
    realtime: bool
    exclude_zones: tuple[tuple[float, ...], ...]

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class SiteConfig:
    path: Path | None  # the file it came from; None when built in code (the demo)
    values: dict[str, dict[str, Any]]  # section -> key -> value, defaults filled in
    cameras: tuple[CameraConfig, ...]

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    @property
    def site_id(self) -> str:
        return str(self.values["site"]["id"])

    @property
    def site_name(self) -> str:
        """The site's name for people (messages, the report, the lake's sites table); its id when unnamed."""
        return str(self.values["site"]["name"]) or self.site_id

    @property
    def base(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def _path(self, value: str, default: Path) -> Path:
        if not value:
            return default
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base / path

    @property
    def state_dir(self) -> Path:
        return self._path(self.values["site"]["state_dir"], self.base / "var/moodlens")

    @property
    def lake_dir(self) -> Path:
        return self._path(self.values["lake"]["path"], self.state_dir / "lake")

    @property
    def reports_dir(self) -> Path:
        return self._path(self.values["report"]["output_dir"], self.state_dir / "reports")

    @property
    def label_crops_dir(self) -> Path:
        return self._path(self.values["labeling"]["crops_dir"], self.state_dir / "label-crops")

    @property
    def label_key_file(self) -> Path:
        return self._path(self.values["labeling"]["key_file"], Path.home() / ".moodlens" / "label.key")

    @property
    def dashboard_token(self) -> str:
        return str(self.values["dashboard"]["token"] or os.environ.get("MOODLENS_DASHBOARD_TOKEN", ""))


def load(path: Path) -> SiteConfig:
    """Reads and checks the site file; raises ConfigError (every problem) or FileNotFoundError."""
    if not path.is_file():
        raise FileNotFoundError(f"no site file at {path}: `moodlens init` writes a commented example")
    text = path.read_text(encoding="utf-8")
    config = parse(text, path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077 and (secret := _secret_in(config)):
        raise ConfigError(path, [f"{path}: holds {secret} and other users may read it (mode {mode:o}): "
                                 f"chmod 600 {path}"])
    return config


def _secret_in(config: SiteConfig) -> str | None:
    """What secret the site file itself holds (a token, a camera password), else None."""
    if config.values["dashboard"]["token"]:
        return "the dashboard token"
    for index, camera in enumerate(config.cameras):
        if has_credentials(camera.source):
            return f"a password in cameras[{index}].source"
    return None


def parse(text: str, path: Path) -> SiteConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # its message already says "(at line N, column M)"
        raise ConfigError(path, [f"{path}: not valid TOML: {error}"]) from None
    checker = _Checker(path, key_lines(text))
    values, cameras = checker.check(data)
    if checker.problems:
        raise ConfigError(path, sorted(checker.problems, key=_line_number))
    return SiteConfig(path.resolve(), values, cameras)


def from_values(values: dict[str, dict[str, Any]], cameras: list[dict[str, Any]],
                path: Path = Path("<demo>")) -> SiteConfig:
    """A SiteConfig built in code (the demo), checked exactly like a file."""
    checker = _Checker(path, {})
    filled, checked = checker.check({**values, "cameras": cameras})
    if checker.problems:
        raise ConfigError(path, checker.problems)
    return SiteConfig(None, filled, checked)


class _Checker:
    def __init__(self, path: Path, lines: dict[str, int]) -> None:
        self.path, self.lines = path, lines
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        line = line_of(self.lines, where)
        place = f"{self.path}:{line}" if line else str(self.path)
        self.problems.append(f"{place}: {where}: {message}")

    def check(self, data: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], tuple[CameraConfig, ...]]:
        known = [*SECTIONS, "cameras"]
        for name in data:
            if name not in known:
                self.problem(name, f"unknown section{_did_you_mean(name, known)}")
        values: dict[str, dict[str, Any]] = {}
        for section, settings in SECTIONS.items():
            table = data.get(section, {})
            if not isinstance(table, dict):
                self.problem(section, f"must be a table ([{section}]), got {_kind(table)}")
                table = {}
            values[section] = self.table(section, table, settings)
        given = data.get("thresholds")
        if not isinstance(given, dict) or "alarm_window_minutes" not in given:  # the default fits the windows
            windows = values["thresholds"]["window_minutes"]
            if isinstance(windows, list) and windows and all(isinstance(m, int) for m in windows):
                values["thresholds"]["alarm_window_minutes"] = default_alarm_window(windows)
        cameras = self.cameras(data.get("cameras"))
        self.cross_checks(values)
        return values, cameras

    def table(self, where: str, table: dict[str, Any], settings: tuple[Setting, ...]) -> dict[str, Any]:
        names = [s.key for s in settings]
        for key in table:
            if key not in names:
                self.problem(f"{where}.{key}", f"unknown setting{_did_you_mean(key, names)}")
        out: dict[str, Any] = {}
        for setting in settings:
            path = f"{where}.{setting.key}"
            if setting.key not in table:
                if setting.required:
                    self.problem(where, f"missing required setting {setting.key!r} ({setting.help})")
                out[setting.key] = setting.default
                continue
            value = table[setting.key]
            out[setting.key] = value
            if not _is(value, setting.kind):
                self.problem(path, f"must be {_kind_name(setting.kind)}, got {_kind(value)} {value!r}")
                out[setting.key] = setting.default
                continue
            if isinstance(value, int) and not isinstance(value, bool) and setting.kind == (int, float):
                out[setting.key] = value = float(value)
            if setting.check is not None and (message := setting.check(value)):
                self.problem(path, message)
            if setting.item_check is not None:
                for index, item in enumerate(value):
                    if message := setting.item_check(item):
                        self.problem(f"{path}[{index}]", message)
        return out

    def cameras(self, raw: Any) -> tuple[CameraConfig, ...]:
        if raw is None:
            self.problem("cameras", "no camera: add at least one [[cameras]] table with id and source")
            return ()
        if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
            self.problem("cameras", "must be an array of tables ([[cameras]] blocks)")
            return ()
        cameras: list[CameraConfig] = []
        seen: dict[str, int] = {}
        for index, table in enumerate(raw):
            where = f"cameras[{index}]"
            values = self.table(where, table, CAMERA)
            if values["id"] is None or values["source"] is None:
                continue
            if values["id"] in seen:
                first = seen[values["id"]]
                self.problem(f"{where}.id", f"camera id {values['id']!r} is already used by cameras[{first}]")
            seen.setdefault(values["id"], index)
            zones = tuple(tuple(float(v) for v in z) for z in values["exclude_zones"] if isinstance(z, list))
            cameras.append(CameraConfig(values["id"], values["source"], values["name"], float(values["fps"]),
                                        values["realtime"], zones))
        return tuple(cameras)

    def cross_checks(self, values: dict[str, dict[str, Any]]) -> None:
        if not any(": thresholds." in problem for problem in self.problems):
            try:  # the settings that must fit together (low_clear >= low_raise, the alarm window a window)
                stream_settings.configs(values["thresholds"], str(self.path))
            except stream_settings.SettingError as error:
                self.problem(f"thresholds.{error.key}" if error.key else "thresholds", error.message)
        self.folders(values)
        dashboard = values["dashboard"]
        token = dashboard["token"] or os.environ.get("MOODLENS_DASHBOARD_TOKEN", "")
        if dashboard["enabled"] and dashboard["host"] not in ("127.0.0.1", "localhost", "::1"):
            if not token.strip():
                self.problem("dashboard.host", f"listening on {dashboard['host']} needs a token: set [dashboard] "
                             "token or MOODLENS_DASHBOARD_TOKEN (only 127.0.0.1 may go without)")
            elif why := weak_token(token):
                where = "dashboard.token" if dashboard["token"] else "MOODLENS_DASHBOARD_TOKEN"
                self.problem(where, f"too weak for a dashboard on {dashboard['host']}: {why}")

    def folders(self, values: dict[str, dict[str, Any]]) -> None:
        """Folders the box writes into, deletes from or counts must be its own, never a system's or a home."""
        real = self.path.name.endswith(".toml") or self.path.exists()
        config = SiteConfig(self.path.resolve() if real else None, values, ())
        home, base = Path.home().resolve(), config.base.resolve()
        folders = {"site.state_dir": config.state_dir, "lake.path": config.lake_dir,
                   "report.output_dir": config.reports_dir, "labeling.crops_dir": config.label_crops_dir}
        for where, given in folders.items():
            folder = given.resolve()
            # the state folder may be a home: the service user's (`useradd --home /var/lib/moodlens`)
            if folder == folder.parent or folder in _SYSTEM_FOLDERS or (folder == home and where != "site.state_dir"):
                self.problem(where, f"{folder} is not a folder of this site's own: the box creates, counts and "
                             "deletes files in it; give a folder for moodlens alone, e.g. under the state folder")
        lake, state = config.lake_dir.resolve(), config.state_dir.resolve()
        if base.is_relative_to(lake) and lake != lake.parent:
            self.problem("lake.path", f"{lake} holds the site file's own folder {base}: lake maintenance deletes "
                         "files it does not know there; give the lake a folder of its own")
        elif state.is_relative_to(lake) and lake != lake.parent:
            self.problem("lake.path", f"{lake} holds the state folder {state}: give the lake a folder of its own "
                         "(empty: <state_dir>/lake)")
        elif any(lake.is_relative_to(state / part) for part in ("log", "stream", "spool", "logs", "run")):
            self.problem("lake.path", f"{lake} is inside one of the state folder's working folders (log, stream, "
                         "spool, logs, run); empty puts it at <state_dir>/lake")
        crops, key = config.label_crops_dir.resolve(), config.label_key_file.resolve()
        if key.is_relative_to(crops):
            self.problem("labeling.key_file", f"{key} is inside the crop store {crops}: whoever copies the store "
                         "would have the key too; keep the key elsewhere (default ~/.moodlens/label.key)")


MIN_TOKEN_CHARS = 16
MIN_TOKEN_DISTINCT = 8


def weak_token(token: str) -> str | None:
    """Why `token` would not keep a network out of the dashboard (short, or few distinct characters
    like "aaaaaaaaaaaaaaaa"), else None. `openssl rand -hex 16` passes."""
    if len(token) < MIN_TOKEN_CHARS:
        return f"{len(token)} characters; use at least {MIN_TOKEN_CHARS} random ones (e.g. `openssl rand -hex 16`)"
    if len(set(token)) < MIN_TOKEN_DISTINCT or token.strip() != token:
        return (f"only {len(set(token))} distinct characters (or spaces at an end); use a random one "
                "(e.g. `openssl rand -hex 16`)")
    return None


# Folders a site file may not name as its own (refused, never written to).
_SYSTEM_FOLDERS = {Path(p) for p in ("/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc",
                                     "/root", "/run", "/sbin", "/srv", "/sys", "/usr", "/var", "/var/lib", "/mnt",
                                     "/media", "/tmp", "/var/tmp")}  # nosec B108


def check_sources(config: SiteConfig, cwd: Path | None = None, devices: Path = Path("/dev")) -> list[str]:
    """What can be known about each camera's source before anything runs, each problem with the site
    file's line: a file or folder exists (seen from ``cwd``, where `moodlens up` starts the edges), a
    folder holds images or videos, a camera index has its device, a stream URL parses."""
    from urllib.parse import urlsplit

    from edge.sources import IMAGE_SUFFIXES, STREAM_SCHEMES, VIDEO_SUFFIXES

    lines = key_lines(config.path.read_text(encoding="utf-8")) if config.path is not None else {}
    checker = _Checker(config.path or Path("<demo>"), lines)
    here = cwd or Path.cwd()
    for index, camera in enumerate(config.cameras):
        where, text = f"cameras[{index}].source", camera.source.strip()
        if text == "awscam":
            continue
        if text.isdigit():
            if devices.is_dir() and not (devices / f"video{text}").exists():
                found = sorted(p.name for p in devices.glob("video*"))
                checker.problem(where, f"camera index {text}: there is no {devices}/video{text} on this machine "
                                f"(video devices here: {', '.join(found) or 'none'})")
            continue
        if text.lower().startswith(STREAM_SCHEMES):
            try:
                parts = urlsplit(text)
                port = parts.port
            except ValueError as error:
                checker.problem(where, f"{_scheme(text)} URL does not parse: {error}")
                continue
            if not parts.hostname:
                checker.problem(where, f"{parts.scheme}:// URL without a host: {_without_password(text)}")
            elif port == 0:
                checker.problem(where, f"{parts.scheme}:// URL with port 0: {_without_password(text)}")
            continue
        path = Path(text).expanduser()
        full = path if path.is_absolute() else here / path
        if full.is_dir():
            kinds = {p.suffix.lower() for p in full.iterdir() if p.is_file()}
            if not kinds & (set(IMAGE_SUFFIXES) | set(VIDEO_SUFFIXES)):
                checker.problem(where, f"folder {full} holds no images or videos")
        elif not full.is_file():
            beside = config.base / path
            hint = f" (there is one at {beside}: give that path)" if not path.is_absolute() and beside.exists() else ""
            checker.problem(where, f"no file or folder {full}: a camera index is a number (\"0\"), a stream a "
                            f"URL (rtsp://...){hint}")
        elif full.suffix.lower() in IMAGE_SUFFIXES:
            checker.problem(where, f"{full} is a single image; put it in a folder to use it as an image folder")
    return sorted(checker.problems, key=_line_number)


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] + "://"


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def _line_number(problem: str) -> int:
    parts = problem.split(":", 2)
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0
