"""The supervisor's adapters: real subprocesses and the real clock.

Each child gets its own session (so a Ctrl-C on the terminal reaches only `moodlens up`, which stops
the children in order) and its output is read line by line into the box's structured log, tagged
with the child's name. On Linux each child also asks the kernel for its stop signal should its
parent die (`PR_SET_PDEATHSIG`): a `kill -9` of `moodlens up` leaves no edge or stream runner
behind to be doubled by the next `up` (which also stops any it finds: `onebox.leftovers`). The kernel
sends it when the thread that spawned the child ends, so spawn from the supervisor's main loop only.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import subprocess  # nosec B404: children are our own `moodlens` commands, argument lists, no shell
import threading
import time
from collections.abc import Callable
from typing import IO

from onebox.supervisor import ChildSpec

log = logging.getLogger("moodlens.child")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _prctl() -> Callable[..., int] | None:
    if os.uname().sysname != "Linux":
        return None
    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return function


_PRCTL = _prctl()  # looked up once, here: the child between fork and exec only calls it


def die_with_parent(signum: int) -> Callable[[], None] | None:
    """What the child runs before exec: the kernel sends it `signum` when this process dies."""
    if _PRCTL is None:
        return None
    parent, prctl = os.getpid(), _PRCTL

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl: nobody will signal us
            os._exit(1)

    return arm


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


ERROR_PREFIX = "moodlens: error: "  # how every `moodlens` command says why it failed (moodlens.cli)
# a child's own log line ("%(asctime)s %(levelname)s %(name)s: ..."): the box's record has the time, and
# the child's clock (the machine's zone) beside the box's (the site's) would read as two times
CHILD_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


class SubprocessSpawner:
    def __init__(self, base_env: dict[str, str] | None = None) -> None:
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.reasons: dict[str, str] = {}  # child name -> its last error line (the camera card shows it)

    def spawn(self, spec: ChildSpec) -> subprocess.Popen[bytes]:
        # argv is built from the validated site file and runs no shell. The parent-death signal is the
        # child's own stop signal, so an edge still drains its spool and the runner still checkpoints.
        # preexec_fn beside threads is safe here: between fork and exec the child only calls prctl (found
        # before the fork) and getppid, nothing that takes a lock another thread might have held.
        proc = subprocess.Popen(list(spec.argv), env={**self.base_env, **spec.env},  # nosec B603
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                preexec_fn=die_with_parent(spec.stop_signal))  # noqa: PLW1509
        assert proc.stdout is not None
        threading.Thread(target=_forward, args=(spec.name, proc.stdout, self.reasons), name=f"out-{spec.name}",
                         daemon=True).start()
        return proc


def _forward(name: str, stream: IO[bytes], reasons: dict[str, str]) -> None:
    """Child output into the log, one record per line (a status line redrawn with \\r counts as lines);
    the child's own error lines at ERROR, and the last one kept as its reason; its log lines at their level."""
    for raw in stream:
        for part in raw.decode("utf-8", "replace").replace("\r", "\n").splitlines():
            line = part.rstrip()
            if not line.strip():
                continue
            if line.startswith(ERROR_PREFIX):
                reasons[name] = line[len(ERROR_PREFIX):]
                log.error(line, extra={"child": name})
            elif own := CHILD_LOG_LINE.match(line):
                log.log(logging.getLevelNamesMapping()[own["level"]], line[own.start("level"):], extra={"child": name})
            else:
                log.info(line, extra={"child": name})
    stream.close()
