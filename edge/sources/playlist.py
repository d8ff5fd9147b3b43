"""A folder of video files played one after another as one camera (a day's recordings, say).

Each file's frames continue the timeline where the previous file ended, so tracks and windows
downstream see one continuous camera. A file that cannot be opened is named and skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from edge.frame import Frame
from edge.sources.capture import VideoCaptureSource
from edge.sources.errors import SourceError

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ts"})


class VideoFolderSource:
    def __init__(self, folder: Path | str, start_ms: int | None = None,
                 open_video: Callable[[str, int], VideoCaptureSource] | None = None) -> None:
        self.folder = Path(folder)
        self.paths = sorted(p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not self.paths:
            raise SourceError(f"folder {self.folder} holds no videos ({', '.join(sorted(VIDEO_SUFFIXES))})")
        self.description = f"{self.folder} ({len(self.paths)} videos in turn)"
        self._start_ms = int(time.time() * 1000) if start_ms is None else start_ms
        self._open = open_video or (lambda path, start: VideoCaptureSource(path, live=False, start_ms=start))
        self._current: VideoCaptureSource | None = None
        self.fps = self._probe_fps()

    def _probe_fps(self) -> float:
        for path in self.paths:
            try:
                video = self._open(str(path), self._start_ms)
            except SourceError:
                continue
            video.close()
            return video.fps
        raise SourceError(f"folder {self.folder}: none of its {len(self.paths)} videos can be opened")

    def frames(self) -> Iterator[Frame]:
        index, next_ms = 0, self._start_ms
        for path in self.paths:
            try:
                self._current = self._open(str(path), next_ms)
            except SourceError as error:
                log.warning("%s: %s; skipped", self.folder, error)
                continue
            log.info("%s: playing %s", self.folder, path.name)
            last_ms = None
            try:
                for frame in self._current.frames():
                    last_ms = frame.time_ms
                    yield Frame(frame.image, index, frame.time_ms)
                    index += 1
            finally:
                self._current.close()
            if last_ms is not None:
                next_ms = last_ms + round(1000 / self._current.fps)

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
