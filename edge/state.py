"""The edge's own state folder: its spool, its verified model copies and how far a recorded source has
been played, kept across restarts."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from locallog.files import write_atomically

STATE_DIR_ENV = "MOODLENS_STATE_DIR"
PROGRESS_DIR = "progress"
log = logging.getLogger(__name__)


def state_dir() -> Path:
    """MOODLENS_STATE_DIR (what `moodlens up` and Greengrass set), else ~/.moodlens; an empty value is unset."""
    return Path(os.environ.get(STATE_DIR_ENV) or Path.home() / ".moodlens")


@dataclass
class SourceProgress:
    """How far a recorded source (a file or folder used as a camera) has been played: every event of the
    frames before `next_frame` is published (in the spool, which delivers it), the last of them at `last_ms`.

    A restarted edge goes on from `next_frame`, after `last_ms`, so no face is counted twice and none is
    skipped; one that `ended` is not played again. A frame that published events is recorded before the
    next frame is read; the others at most every `every_s` (their events are none: replaying them is only
    work). The record names the source (`identity`: its path, size and time): another clip starts over.
    """

    path: Path
    identity: str
    next_frame: int = 0
    last_ms: int | None = None
    ended: bool = False
    every_s: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _saved_at: float = float("-inf")
    _unsaved: bool = False
    _failing: bool = False
    _written_frame: int = 0

    @classmethod
    def load(cls, folder: Path, site_id: str, camera_id: str, identity: str) -> SourceProgress:
        path = folder / PROGRESS_DIR / f"{site_id}.{camera_id}.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            recorded = str(document["identity"])
            next_frame, last_ms = int(document["next_frame"]), document.get("last_ms")
            ended = bool(document.get("ended", False))
        except FileNotFoundError:
            return cls(path, identity)
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("%s: unreadable (%s); the recorded source plays from its start", path, error)
            return cls(path, identity)
        if recorded != identity:
            log.info("%s: the source is not the one recorded there (%s, now %s); it plays from its start",
                     path, recorded, identity)
            return cls(path, identity)
        return cls(path, identity, next_frame, None if last_ms is None else int(last_ms), ended,
                   _written_frame=next_frame)

    def frame_done(self, index: int, time_ms: int, published: bool) -> None:
        """Every event of frame `index` (at `time_ms`) is published; `published`: it had some."""
        self.next_frame = index + 1
        self.last_ms = time_ms if self.last_ms is None else max(self.last_ms, time_ms)
        self._unsaved = True
        if published or self.clock() - self._saved_at >= self.every_s:
            self.save()

    def end(self) -> None:
        """The source played to its end and every event of it is published."""
        self.ended = True
        self._unsaved = True
        self.save()

    def flush(self) -> None:
        if self._unsaved:
            self.save()

    def save(self) -> None:
        """Writes the record; one that cannot be written (a full disk) is said once and tried again on the
        next frame: the camera goes on, and a restart meanwhile replays from the last record written."""
        document = {"identity": self.identity, "next_frame": self.next_frame, "last_ms": self.last_ms,
                    "ended": self.ended}
        try:
            write_atomically(self.path, json.dumps(document).encode())
        except OSError as error:
            if not self._failing:
                log.warning("cannot record how far the recorded source has played in %s: %s (a restart now "
                            "would replay from frame %d)", self.path, error, self._written_frame)
            self._failing = True
            return
        if self._failing:
            log.warning("%s: recorded again (frame %d)", self.path, self.next_frame)
        self._saved_at, self._unsaved, self._failing = self.clock(), False, False
        self._written_frame = self.next_frame
