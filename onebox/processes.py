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


ERROR_PREFIX = "moodlens: error: "  # how every `moodlens` command says why it failed (moodlens.cli)


class SubprocessSpawner:
    def __init__(self, base_env: dict[str, str] | None = None) -> None:
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.reasons: dict[str, str] = {}  # child name -> its last error line (the camera card shows it)

    def spawn(self, spec: ChildSpec) -> subprocess.Popen[bytes]:
        # argv is built from the validated site file and runs no shell
        proc = subprocess.Popen(list(spec.argv), env={**self.base_env, **spec.env},  # nosec B603
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        assert proc.stdout is not None
        threading.Thread(target=_forward, args=(spec.name, proc.stdout, self.reasons), name=f"out-{spec.name}",
                         daemon=True).start()
        return proc


def _forward(name: str, stream: IO[bytes], reasons: dict[str, str]) -> None:
    """Child output into the log, one record per line (a status line redrawn with \\r counts as lines);
    the child's own error lines at ERROR, and the last one kept as its reason."""
    for raw in stream:
        for part in raw.decode("utf-8", "replace").replace("\r", "\n").splitlines():
            line = part.rstrip()
            if not line.strip():
                continue
            if line.startswith(ERROR_PREFIX):
                reasons[name] = line[len(ERROR_PREFIX):]
                log.error(line, extra={"child": name})
            else:
                log.info(line, extra={"child": name})
    stream.close()
