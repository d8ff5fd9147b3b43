"""The box's log: JSON lines, one object per record, in a rotated file (and readable on the console).

The log file is readable by its owner only, and a password in a URL (a camera's RTSP source, in a
child's output too) is masked in every record."""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.handlers
import os
import sys
import time
from io import TextIOWrapper
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.redact import mask_credentials

LOG_FILE = "moodlens.log"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                    + f".{int(record.msecs):03d}Z", "level": record.levelname, "logger": record.name,
                    "message": mask_credentials(record.getMessage())}
        for key in ("child", "event", "pid", "exit", "restart_in_s", "used_mb", "budget_mb"):
            if hasattr(record, key):
                document[key] = getattr(record, key)
        if record.exc_info:
            document["error"] = mask_credentials(self.formatException(record.exc_info))
        return json.dumps(document, ensure_ascii=False)


class Console(logging.Formatter):
    """One line a record, at the site's clock when given (the times the box's messages name are the site's,
    also on a machine whose own clock is UTC), else the machine's."""

    def __init__(self, zone: str | None = None) -> None:
        super().__init__()
        self.zone = ZoneInfo(zone) if zone else None

    def format(self, record: logging.LogRecord) -> str:
        who = getattr(record, "child", None) or record.name.removeprefix("moodlens.")
        message = mask_credentials(record.getMessage())
        clock = dt.datetime.fromtimestamp(record.created, self.zone).strftime("%H:%M:%S")
        return f"{clock} {who:>12} {message}"


class CurrentStderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes, not to the one there at set-up (which a
    test's output capture, or a caller that redirected it, may have closed since)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


class OwnerOnlyFile(logging.handlers.RotatingFileHandler):
    """A rotated log whose files only the box's user can read (they name cameras, hosts and errors).

    A file it cannot write (a full disk) is said once on stderr, and again once it writes again: not
    logging's own traceback for every line, which would bury the console in the hour a box needs it."""

    failing: str | None = None  # why the file cannot be written, while it cannot
    _failed_now = False

    def _open(self) -> TextIOWrapper:
        stream = super()._open()
        os.fchmod(stream.fileno(), 0o600)
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        self._failed_now = False
        super().emit(record)
        if self.failing is not None and not self._failed_now:
            self.failing = None
            sys.stderr.write(f"moodlens: writing the log file {self.baseFilename} again\n")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)
            return
        self._failed_now = True
        if self.failing is None:
            self.failing = str(error)
            sys.stderr.write(f"moodlens: cannot write the log file {self.baseFilename} ({error}); its lines are "
                             "lost until it can be written again (the console still shows them)\n")


def teardown() -> None:
    """Undoes `setup`: the box's handlers closed and removed, records propagate again (the command ended)."""
    root = logging.getLogger("moodlens")
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.propagate = True


def setup(log_dir: Path, max_bytes: int = 10 * 1024 * 1024, backups: int = 5, console: bool = True,
          console_children: bool = True, console_level: str = "INFO",
          zone: str | None = None) -> logging.handlers.RotatingFileHandler:
    """JSON lines to `log_dir/moodlens.log`, rotated at `max_bytes`, `backups` old files kept; the console's
    times at `zone`'s clock (the log file's are UTC)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = OwnerOnlyFile(log_dir / LOG_FILE, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(JsonLines())
    root = logging.getLogger("moodlens")
    root.setLevel(logging.INFO)
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    if console:
        stream = CurrentStderr()
        stream.setFormatter(Console(zone))
        stream.setLevel(console_level)
        if not console_children:
            stream.addFilter(lambda record: not hasattr(record, "child"))
        root.addHandler(stream)
    root.propagate = False
    return handler
