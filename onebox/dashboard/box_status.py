"""Whether the box's status file (`onebox.box` writes it) is still being written: a page that shows a
frozen status as live tells an operator all is well while the box is stuck, out of disk or gone.

The box rewrites its status at least every ``every_s`` seconds (the file says so). One older than
``STALE_AFTER`` of those intervals is stale, whatever the cause. A stale status is told apart:

* ``stopped``: the box is not running: no service of it runs or restarts any more (it was stopped,
  or a demo's clips ended), or its process is gone (killed);
* ``stuck``: the box's process is still there but writes nothing: its loop hangs, or its disk is full.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Literal

STALE_AFTER = 2  # write intervals
ALIVE_STATES = ("running", "backoff")  # a service that runs, or waits to restart

Verdict = Literal["current", "stuck", "stopped"]


def process_alive(pid: int) -> bool:
    """Whether a process of this id runs on this machine (another user's counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, OverflowError):  # an id no process can have
        return False
    return True


def freshness(status: Mapping[str, Any], now_ms: int,
              alive: Callable[[int], bool] = process_alive) -> dict[str, Any] | None:
    """How current ``status`` is at ``now_ms`` (the machine's wall clock, the writer's): when it was
    written, how long ago, and the verdict. None when the status does not say when it was written and
    how often (no box writes it: a dashboard over a copied state folder)."""
    updated, every = _number(status.get("updated_ms")), _number(status.get("every_s"))
    if updated is None or every is None or every <= 0:
        return None
    age_ms = max(0, now_ms - int(updated))  # a clock set back: written "now", not in the future
    verdict: Verdict = "current"
    if age_ms > STALE_AFTER * every * 1000:
        services = [c for c in status.get("children") or [] if isinstance(c, Mapping)]
        running = any(c.get("state") in ALIVE_STATES for c in services)
        pid = status.get("pid")
        gone = isinstance(pid, int) and not isinstance(pid, bool) and not alive(pid)
        verdict = "stopped" if gone or not running else "stuck"
    return {"updated_ms": int(updated), "age_s": round(age_ms / 1000, 1), "every_s": every, "verdict": verdict}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
