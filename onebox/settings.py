"""Every setting of the site file, declared once: type, default, check and a line of help.

`onebox.config` validates against these declarations, `moodlens config show` lists them, and the
environment settings the edge reads (`edge/publish/factory.py`) are listed beside them.
"""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import dataclass
from typing import Any

from edge.publish.spool import SpoolBounds
from edge.redact import SOURCE_ENV
from schemas.privacy import DEFAULT_RETAIN_DAYS
from schemas.time_zones import time_zone_problem
from schemas.validation import identifier_problem
from stream.settings import THRESHOLDS, Check, at_least, between, one_of, positive

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def not_an_option(value: Any) -> str | None:
    """A value that becomes a command-line argument must not read as an option to the command."""
    if not value.strip():
        return "must not be empty"
    return f"{value!r} starts with '-': the command would read it as an option" if value.startswith("-") else None


# What `{name}` in a scheduled job's arguments is filled with (onebox.children.job_spec fills exactly these).
JOB_PLACEHOLDERS = ("log", "lake", "reports", "state", "site", "crops", "key")


def job_arguments(value: Any) -> str | None:
    """A scheduled job's argument list: text only, a `moodlens` command first, known placeholders."""
    if not value:
        return "must name a moodlens command, e.g. [\"batch\", \"compact\", ...]; got an empty list"
    if not all(isinstance(part, str) for part in value):
        wrong = next(part for part in value if not isinstance(part, str))
        return f"every argument must be text (quote numbers: \"{wrong}\"); got {wrong!r}"
    if value[0].startswith("-"):
        return f"must start with a moodlens command, not the option {value[0]!r}"
    for part in value:
        try:
            names = [field for _, field, _, _ in string.Formatter().parse(part) if field is not None]
        except ValueError as error:
            return f"argument {part!r}: {error} (write a literal brace as {{{{ or }}}})"
        unknown = [n for n in names if n not in JOB_PLACEHOLDERS]
        if unknown:
            return (f"argument {part!r}: unknown placeholder {{{unknown[0]}}}; known: "
                    + ", ".join(f"{{{n}}}" for n in JOB_PLACEHOLDERS))
    return None


def address(value: Any) -> str | None:
    if value in ("localhost", "0.0.0.0", "::"):  # nosec B104: a check of the setting, not a bind
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address (use 127.0.0.1, 0.0.0.0 or a local interface's address)"
    return None


def host_name(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})", value):
        return None
    return f"{value!r} is not a host name (letters, digits, dots and dashes, e.g. \"cafe-box.lan\")"


def zone(value: Any) -> str | None:
    if not isinstance(value, list) or len(value) < 4 or len(value) % 2 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return "a zone is a list of numbers: [x1, y1, x2, y2] (a rectangle) or x,y pairs of a polygon"
    if not all(0.0 <= v <= 1.0 for v in value):
        return f"zone coordinates are fractions of the frame, 0 to 1; got {value}"
    return None


def alert_url(value: Any) -> str | None:
    from onebox.alerts.apprise_notifier import check_url  # Apprise loads only for a site that sends alerts

    return check_url(value)


@dataclass(frozen=True)
class Setting:
    key: str
    kind: type | tuple[type, ...]
    default: Any
    help: str
    check: Check | None = None
    required: bool = False
    item_check: Check | None = None  # for lists: each item


# Paths: relative ones are read from the site file's folder; "" means "under state_dir".
SECTIONS: dict[str, tuple[Setting, ...]] = {
    "site": (
        Setting("id", str, None, "site id put on every event", identifier_problem, required=True),
        Setting("state_dir", str, "var/moodlens",
                "the box's folder: spools, event log, stream state, logs, lock (relative: to this file)"),
        Setting("name", str, "", "the site's name for people: messages, the report, the lake's sites table "
                "(empty: its id)"),
        Setting("timezone", str, "UTC", "the site's IANA time zone: reports, views, messages and the page speak "
                "its local time, the alarms learn its local hours (the lake keeps instants)", time_zone_problem),
    ),
    # The stream host's window and alarm settings: declared in `stream.settings`, one row each.
    "thresholds": tuple(Setting(t.key, t.kind, t.default, t.help, t.check) for t in THRESHOLDS),
    "lake": (
        Setting("path", str, "", "the event lake folder (empty: <state_dir>/lake)"),
        Setting("compact_every_minutes", int, 60, "run `moodlens batch compact` this often (0: never)", at_least(0)),
        Setting("compact_args", list, ["batch", "compact", "--log", "{log}", "--lake", "{lake}"],
                "the compaction command's arguments; {log}, {lake}, {state} are filled in", job_arguments),
        Setting("retain_days", int, DEFAULT_RETAIN_DAYS, "`moodlens up` deletes lake rows older than this many "
                "days, daily (`batch maintain`; 0: keep everything)", between(0, 100 * 366)),
    ),
    "report": (
        Setting("weekday", str, "monday", "day of the weekly report (local time)", one_of(*WEEKDAYS)),
        Setting("hour", int, 6, "hour of the weekly report (local time, 0-23)", between(0, 23)),
        Setting("output_dir", str, "", "where reports go (empty: <state_dir>/reports); the dashboard links them"),
        Setting("args", list, ["report", "--lake", "{lake}", "--out", "{reports}"],
                "the report command's arguments; {lake}, {reports}, {state} are filled in", job_arguments),
    ),
    "dashboard": (
        Setting("enabled", bool, True, "serve the live dashboard from `moodlens up`"),
        Setting("host", str, "127.0.0.1", "address to listen on; anything but loopback needs a token", address),
        Setting("port", int, 8765, "port to listen on", between(1, 65535)),
        Setting("token", str, "", "required on a non-loopback address (or set MOODLENS_DASHBOARD_TOKEN)"),
        Setting("allowed_hosts", list, [], "names besides loopback and host that browsers reach the page by (the "
                "box's DNS name); any other Host header is refused", item_check=host_name),
    ),
    "disk": (
        Setting("budget_mb", int, 2048, "most disk for spools, logs and the lake together (MiB)", at_least(1)),
        Setting("warn_percent", int, 80, "warn when this share of the budget is used", between(1, 99)),
    ),
    # Messages to people (onebox/alerts): empty urls sends nothing.
    "alerts": (
        Setting("urls", list, [], "where alarm and report messages go, one Apprise URL each (mailto://, json://, "
                "slack://, msteams://, ntfy://, tgram://, ...); empty: no messages", item_check=alert_url),
        Setting("page_url", str, "", "the live page's link in messages (empty: the dashboard's address)"),
        Setting("min_interval_minutes", int, 30, "at most one message per alarm and camera this often; the "
                "raises in between are counted in the next one (no storm when a camera flaps)", between(0, 24 * 60)),
        Setting("give_up_minutes", int, 60, "a message not delivered for this long is given up (logged at ERROR)",
                between(1, 7 * 24 * 60)),
        Setting("weekly_report", bool, True, "send the weekly report, attached, when it is written"),
    ),
    # Opt-in labeling (`moodlens label collect`): off until consent is recorded here. See README: privacy.
    "labeling": (
        Setting("consent_recorded_by", str, "", "who recorded the consent to keep face crops for labeling "
                "(empty: labeling is off)"),
        Setting("consent_recorded_at", str, "", "when the consent was recorded (a date, e.g. 2026-11-30)"),
        Setting("purpose", str, "fine-tune the expression model for this site", "what the crops are for"),
        Setting("retention_days", int, 30, "crops are deleted this many days after they were taken",
                between(1, 365)),
        Setting("crops_dir", str, "", "the encrypted crop store (empty: <state_dir>/label-crops)"),
        Setting("key_file", str, "~/.moodlens/label.key", "the crop store's key: keep it off the box's disk "
                "if you can (relative: to this file)"),
    ),
}

CAMERA: tuple[Setting, ...] = (
    Setting("id", str, None, "camera id put on every event (unique within the site)", identifier_problem,
            required=True),
    Setting("source", str, None, "video file, camera index ('0'), rtsp:// URL, image folder or 'awscam'",
            not_an_option, required=True),
    Setting("name", str, "", "a name people know it by (shown on the dashboard)"),
    Setting("fps", (int, float), 10.0, "frame rate given to an image folder source", positive),
    Setting("realtime", bool, False, "pace recorded sources (files, folders) to their real time"),
    Setting("exclude_zones", list, [], "areas where faces are never looked at (staff): [[x1,y1,x2,y2], ...]",
            item_check=zone),
)


@dataclass(frozen=True)
class EnvSetting:
    name: str
    default: str
    help: str


# What the edge reads from the environment (edge/publish/factory.py, moodlens/commands/edge.py).
ENVIRONMENT: tuple[EnvSetting, ...] = (
    EnvSetting(SOURCE_ENV, "", "the edge's source when --source is not given; `moodlens up` passes each camera's "
               "source here, out of the command line"),
    EnvSetting("MOODLENS_STATE_DIR", "~/.moodlens", "the edge's spool and verified model cache"),
    EnvSetting("MOODLENS_SPOOL", "<state>/spool-<site>-<camera>.db", "one edge's spool file"),
    EnvSetting("MOODLENS_LOCAL_LOG", "", "the embedded event log (`--publisher local`); `moodlens up` sets it"),
    EnvSetting("MOODLENS_SPOOL_MAX_RECORDS", str(SpoolBounds.max_records), "spool bound: events kept while offline"),
    EnvSetting("MOODLENS_SPOOL_MAX_BYTES", str(SpoolBounds.max_bytes), "spool bound: bytes kept while offline"),
    EnvSetting("MOODLENS_SPOOL_MAX_AGE_S", f"{SpoolBounds.max_age_s:g}", "spool bound: oldest event kept (seconds)"),
    EnvSetting("MOODLENS_KINESIS_STREAM", "", "Kinesis stream (`--publisher kinesis`)"),
    EnvSetting("MOODLENS_KINESIS_ENDPOINT_URL", "", "Kinesis endpoint (moto, VPC endpoint)"),
    EnvSetting("MOODLENS_IOT_ENDPOINT", "", "AWS IoT Core endpoint (`--publisher iot`)"),
    EnvSetting("MOODLENS_IOT_PORT", "8883", "AWS IoT Core MQTT port"),
    EnvSetting("MOODLENS_IOT_CA", "", "IoT: CA certificate file"),
    EnvSetting("MOODLENS_IOT_CERT", "", "IoT: device certificate file"),
    EnvSetting("MOODLENS_IOT_KEY", "", "IoT: device private key file"),
    EnvSetting("MOODLENS_IOT_CLIENT_ID", "moodlens-<site>-<camera>", "IoT: MQTT client id"),
    EnvSetting("MOODLENS_DASHBOARD_TOKEN", "", "dashboard token (instead of [dashboard] token)"),
)
