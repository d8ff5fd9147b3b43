"""The commented site file `moodlens init` writes; a test checks it loads and names every setting."""

from __future__ import annotations

from pathlib import Path

EXAMPLE = '''\
# moodlens site file. `moodlens up` runs this site; `moodlens config show` lists every setting,
# its value here and its default. Relative paths are read from this file's folder.

[site]
id = "cafe-1"                 # put on every event: letters, digits, _ . : - (at most 64)
state_dir = "var/moodlens"    # spools, event log, stream state, logs, the lock; keep it on a local disk
timezone = "Europe/Berlin"    # IANA zone: the report's days and hours, the views' local columns

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

[thresholds]
min_tracks = 5                # fewer customers in a window: shown as "too few customers", no alarm
lateness_s = 120              # how late an event may arrive and still count
alarm_window_minutes = 15     # window the alarms watch: 5, 15 or 60
low_raise = -0.2              # net score below this (and 2 std errors below low_clear): a bad window; 2 of 3 raise
low_clear = 0.0               # net score at or above this: a good window (2 of 3 good clear it)
z_raise = 2                   # how sure a bad window must be (standard errors); higher: fewer, later alarms
hold_minutes = 15             # a raised alarm stays raised at least this long (0: no hold)
quiet_minutes = 30            # a raised alarm resolves after this long without customers (0: never)
silent_minutes = 5            # a camera quiet this long raises camera_silent

[lake]
path = ""                     # the event lake; empty: <state_dir>/lake
compact_every_minutes = 60    # `moodlens batch compact` this often (0: never)

[report]
weekday = "monday"            # the weekly report, local time
hour = 6
output_dir = ""               # empty: <state_dir>/reports; the dashboard links the latest ones

[dashboard]
enabled = true
host = "127.0.0.1"            # any other address needs a token (or MOODLENS_DASHBOARD_TOKEN)
port = 8765
token = ""

[disk]
budget_mb = 2048              # spools + event log + logs + lake; a warning at warn_percent,
warn_percent = 80             # and at 100% the oldest event log segments already in the lake are deleted

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


def write_example(path: Path, force: bool = False) -> None:
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXAMPLE, encoding="utf-8")
