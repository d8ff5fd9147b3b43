"""AWS DeepLens camera through its `awscam` module, imported only when this source is chosen.

`awscam.getLastFrame()` returns (ok, BGR frame) for the latest frame of the device's video stream.
It repeats the same frame when called faster than the camera delivers, which we skip by identity.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from edge.frame import Frame
from edge.sources.capture import ReconnectPolicy, as_bgr8, usable_frame, wall_clock_ms
from edge.sources.errors import SourceError

log = logging.getLogger(__name__)


class AwsCamSource:
    def __init__(self, reconnect: ReconnectPolicy | None = None, module_name: str = "awscam",
                 sleep: Callable[[float], None] = time.sleep, now_ms: Callable[[], int] = wall_clock_ms) -> None:
        try:
            self._module: Any = importlib.import_module(module_name)
        except ImportError:
            raise SourceError(f"source 'awscam' needs the {module_name!r} module, which only the AWS DeepLens "
                              "software provides") from None
        if not callable(getattr(self._module, "getLastFrame", None)):
            raise SourceError(f"module {module_name!r} has no getLastFrame(); is it the DeepLens awscam module?")
        self.description = "awscam"
        self.reconnect = reconnect or ReconnectPolicy()
        self._sleep = sleep
        self._now_ms = now_ms

    def frames(self) -> Iterator[Frame]:
        index = 0
        failures = 0
        previous: Any = None
        while True:
            try:
                ok, image = self._module.getLastFrame()
            except Exception as error:  # the SDK raises whatever its IPC layer raises
                ok, image = False, None
                log.warning("awscam: getLastFrame failed: %s", type(error).__name__)
            if ok and image is previous:
                self._sleep(0.005)
                continue
            raw, image = image, as_bgr8(image) if ok else image
            if ok and usable_frame(image):
                failures = 0
                previous = raw
                yield Frame(image, index, self._now_ms())
                index += 1
                continue
            failures += 1
            limit = self.reconnect.max_attempts
            if limit and failures > limit:
                raise SourceError(f"awscam: no frame after {index} frames; gave up after {limit} retries")
            delay = self.reconnect.delay(failures)
            log.warning("awscam: no frame after %d frames; retrying in %.1f s (attempt %d of %s)",
                        index, delay, failures, limit or "unlimited")
            self._sleep(delay)

    def close(self) -> None:
        pass
