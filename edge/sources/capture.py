"""OpenCV VideoCapture sources: video files, camera indices and network streams.

Live sources reconnect with exponential backoff and log each attempt; after `max_attempts`
failures in a row they raise, so a vanished camera is never a silent stall.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

import cv2
import numpy as np

from edge.frame import Frame
from edge.redact import mask_credentials
from edge.sources.errors import SourceError

log = logging.getLogger(__name__)


class Capture(Protocol):
    def isOpened(self) -> bool: ...  # noqa: N802 (OpenCV's name)

    def read(self) -> tuple[bool, Any]: ...

    def get(self, prop: int) -> float: ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class ReconnectPolicy:
    first_delay_s: float = 0.5
    max_delay_s: float = 10.0
    max_attempts: int = 10  # in a row; 0 means keep trying forever
    max_bad_frames: int = 25  # unreadable frames in a row before the stream counts as lost

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay_s, self.first_delay_s * 2 ** (attempt - 1)))


def usable_frame(image: Any) -> TypeGuard[np.ndarray]:
    return (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 3 and image.shape[0] > 0 and image.shape[1] > 0)


def as_bgr8(image: Any) -> Any:
    """Gray, BGRA and 16-bit frames (thermal and machine-vision cameras deliver them) as 8-bit BGR;
    anything else is returned as it came, for `usable_frame` to turn away."""
    if not isinstance(image, np.ndarray) or image.size == 0 or image.ndim not in (2, 3):
        return image
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)  # keep the top 8 bits: the picture, not the sensor noise
    if image.dtype != np.uint8:
        return image
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


STREAM_TIMEOUT_MS = 10_000


def opencv_capture(target: str | int) -> Capture:
    if isinstance(target, str) and "://" in target:
        if target.lower().startswith(("rtsp://", "rtsps://")):
            # RTSP over TCP: over UDP a stalled camera costs FFmpeg three read timeouts (it retries
            # with TCP by itself) before the read fails; TCP also passes NAT and firewalls.
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        # Without timeouts FFmpeg can wait on a silent network camera for minutes: a stall, not an error.
        timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                    cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
        stream: Capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, timeouts)
        return stream
    capture: Capture = cv2.VideoCapture(target)
    return capture


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class VideoCaptureSource:
    def __init__(self, target: str | int, live: bool, reconnect: ReconnectPolicy | None = None,
                 open_capture: Callable[[str | int], Capture] | None = None,
                 sleep: Callable[[float], None] = time.sleep, now_ms: Callable[[], int] = wall_clock_ms,
                 start_ms: int | None = None, first_frame: int = 0) -> None:
        self.target = target
        self.live = live
        self.description = f"camera {target}" if isinstance(target, int) else mask_credentials(str(target))
        self.reconnect = reconnect or ReconnectPolicy()
        self._open_capture = open_capture or opencv_capture
        self._sleep = sleep
        self._now_ms = now_ms
        self._capture = self._open()
        if self._capture is None:
            raise SourceError(f"cannot open source {self.description}: no such device, file or stream, "
                              "or an unsupported codec")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 1.0 <= fps <= 240.0 else 25.0  # streams often report 0 or nonsense
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if not live else 0
        # Recorded video gets a timeline starting now (or at start_ms), one frame every 1/fps.
        self._start_ms = now_ms() if start_ms is None else start_ms
        self._first_frame = 0 if live or first_frame <= 0 else self._seek(first_frame)

    def _seek(self, first_frame: int) -> int:
        """Recorded video from frame `first_frame` (a restarted camera going on); read up to it where the
        file cannot seek. Returns the index of the next frame read."""
        assert self._capture is not None
        seek = getattr(self._capture, "set", None)
        if seek is not None and seek(cv2.CAP_PROP_POS_FRAMES, first_frame):
            return first_frame
        for index in range(first_frame):
            if not self._capture.read()[0]:
                return index
        return first_frame

    def _open(self) -> Capture | None:
        capture = self._open_capture(self.target)
        if capture.isOpened():
            return capture
        capture.release()
        return None

    def frames(self) -> Iterator[Frame]:
        index = self._first_frame
        bad_in_a_row = 0
        while True:
            capture = self._capture
            ok, image = capture.read() if capture is not None else (False, None)
            image = as_bgr8(image) if ok else image
            if ok and usable_frame(image):
                bad_in_a_row = 0
                time_ms = self._now_ms() if self.live else self._start_ms + round(index * 1000 / self.fps)
                yield Frame(image, index, time_ms)
                index += 1
                continue
            if ok:  # a frame came back but is not an image we can use: corrupt or an odd format
                bad_in_a_row += 1
                log.warning("%s: unusable frame after %d frames (%s), skipped", self.description, index,
                            _describe(image))
                if bad_in_a_row < self.reconnect.max_bad_frames:
                    continue
            if not self.live:
                if self.frame_count and index < self.frame_count - 1:
                    log.warning("%s: stopped after %d of %d frames: the file is truncated or corrupt",
                                self.description, index, self.frame_count)
                return
            self._reconnect(index)
            bad_in_a_row = 0

    def _reconnect(self, index: int) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        attempt = 0
        while True:
            attempt += 1
            limit = self.reconnect.max_attempts
            if limit and attempt > limit:
                raise SourceError(f"{self.description}: lost after {index} frames and {limit} reconnect "
                                  "attempts failed")
            delay = self.reconnect.delay(attempt)
            log.warning("%s: no frame after %d frames; reconnecting in %.1f s (attempt %d of %s)",
                        self.description, index, delay, attempt, limit or "unlimited")
            self._sleep(delay)
            self._capture = self._open()
            if self._capture is not None:
                log.warning("%s: reconnected", self.description)
                return

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


def _describe(image: Any) -> str:
    # Shape and type only: a log line never carries pixels.
    if isinstance(image, np.ndarray):
        return f"array {image.shape} {image.dtype}"
    return type(image).__name__
