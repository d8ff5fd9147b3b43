"""The commented site file `moodlens init` writes; a test checks it loads and names every setting."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from schemas.privacy import DEFAULT_RETAIN_DAYS
from stream.settings import THRESHOLDS

_EXAMPLE = '''\
# moodlens site file. `moodlens up` runs this site; `moodlens config show` lists every setting,
# its value here and its default. Relative paths are read from this file's folder.

[site]
id = "cafe-1"                 # put on every event: letters, digits, _ . : - (at most 64)
state_dir = "var/moodlens"    # spools, event log, stream state, logs, the lock; keep it on a local disk
name = "Café Central"         # the site's name for people: messages, the report (empty: its id)
timezone = "Europe/Berlin"    # the site's IANA zone (set yours): the report's days and hours, the page, messages

# One [[cameras]] block per camera; each runs as its own edge process.
[[cameras]]
id = "door"                   # unique within the site
source = "0"                  # camera index, rtsp://user:pass@host/stream, a video file, an image folder or awscam
name = "Front door"           # shown on the dashboard
fps = 10                      # frame rate given to an image folder source
realtime = false              # pace recorded sources (files, folders) to their real time
exclude_zones = [             # fractions of the frame where faces are never looked at (staff areas)
  [0.7, 0.0, 1.0, 0.4],       # x1, y1, x2, y2: the counter
]

# [[cameras]]
# id = "terrace"
# source = "rtsp://192.168.1.20/stream1"
# name = "Terrace"

{thresholds}
[lake]
path = ""                     # the event lake; empty: <state_dir>/lake
compact_every_minutes = 60    # `moodlens batch compact` this often (0: never)
retain_days = {retain_days:<15} # rows older than this are deleted daily (`batch maintain`; 0: keep all)

[report]
weekday = "monday"            # the weekly report, local time
hour = 6
output_dir = ""               # empty: <state_dir>/reports; the dashboard links the latest ones

[dashboard]
enabled = true
host = "127.0.0.1"            # any other address needs a token (or MOODLENS_DASHBOARD_TOKEN)
port = 8765
token = ""                    # off loopback: at least 16 random characters (`openssl rand -hex 16`)
allowed_hosts = []            # names browsers use besides this address, e.g. ["cafe-box.lan"]

# Alarm and weekly-report messages to people, through Apprise: one URL per destination, e.g.
# "mailto://user:app-password@smtp.example.com?to=manager@example.com", "slack://T0/B0/xyz",
# "msteams://...", "ntfy://ntfy.sh/my-cafe", "json://alerts.example.com/hook". Empty: no messages.
[alerts]
urls = []
page_url = ""                 # the live page's link in messages; empty: the dashboard's own address
min_interval_minutes = 30     # at most one message per alarm and camera this often (a flapping camera: one)
give_up_minutes = 60          # an undelivered message is retried this long, then given up (logged)
weekly_report = true          # send the weekly report, attached, when it is written

[disk]
budget_mb = 2048              # spools + event log + logs + lake; a warning at warn_percent, and at 100%
warn_percent = 80             # rotated logs, then event log segments already windowed and in the lake, are deleted

# Opt-in labeling of this site's own faces (`moodlens label collect`), off while consent is not recorded.
# Crops (48x48 faces, never whole frames) are kept encrypted and deleted after retention_days.
[labeling]
consent_recorded_by = ""      # who recorded the consent (empty: labeling is off)
consent_recorded_at = ""      # when, e.g. "2026-11-30"
purpose = "fine-tune the expression model for this site"
retention_days = 30           # 1 to 365
crops_dir = ""                # empty: <state_dir>/label-crops
key_file = "~/.moodlens/label.key"  # keep the key off the box's disk if you can
'''


def _toml(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


def _thresholds() -> str:
    """The `[thresholds]` block: every window and alarm setting at its default, with its help."""
    lines = ["# The stream host's window and alarm settings (`moodlens stream run --help` explains each).",
             "[thresholds]"]
    lines += [f"{f'{t.key} = {_toml(t.default)}':<29} # {t.help}" for t in THRESHOLDS]
    return "\n".join(lines) + "\n\n"


EXAMPLE = _EXAMPLE.replace("{thresholds}\n", _thresholds()).replace("{retain_days:<15}", f"{DEFAULT_RETAIN_DAYS:<15}")


def write_example(path: Path, force: bool = False) -> None:
    """Writes the example readable by its owner only: the site file will hold camera passwords and the
    dashboard token."""
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(fd, 0o600)  # an existing file overwritten with --force keeps its mode otherwise
        handle.write(EXAMPLE)
