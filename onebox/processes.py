"""The supervisor's adapters: real subprocesses and the real clock.

Each child gets its own session (so a Ctrl-C on the terminal reaches only `moodlens up`, which stops
the children in order) and its output is read line by line into the box's structured log, tagged
with the child's name.
"""

from __future__ import annotations

import logging
import os
import subprocess  # nosec B404: children are our own `moodlens` commands, argument lists, no shell
import threading
import time
from typing import IO

from onebox.supervisor import ChildSpec

log = logging.getLogger("moodlens.child")


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class SubprocessSpawner:
    def __init__(self, base_env: dict[str, str] | None = None) -> None:
        self.base_env = dict(os.environ if base_env is None else base_env)

    def spawn(self, spec: ChildSpec) -> subprocess.Popen[bytes]:
        # argv is built from the validated site file and runs no shell
        proc = subprocess.Popen(list(spec.argv), env={**self.base_env, **spec.env},  # nosec B603
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        assert proc.stdout is not None
        threading.Thread(target=_forward, args=(spec.name, proc.stdout), name=f"out-{spec.name}",
                         daemon=True).start()
        return proc


def _forward(name: str, stream: IO[bytes]) -> None:
    """Child output into the log, one record per line (a status line redrawn with \\r counts as lines)."""
    for raw in stream:
        for part in raw.decode("utf-8", "replace").replace("\r", "\n").splitlines():
            if part.strip():
                log.info(part.rstrip(), extra={"child": name})
    stream.close()
