"""When each scheduled job last ran and how it ended, kept in `run/jobs.json` across restarts of `up`.

The dashboard shows it (through `run/status.json`), and `up` reads it back at start so a daily job
that a box switched off at night never reached runs soon after the box comes back.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locallog.files import write_atomically

log = logging.getLogger("moodlens.up")


@dataclass
class JobRuns:
    path: Path
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> last_run_ms, finished_ms, last_exit

    @classmethod
    def load(cls, path: Path) -> JobRuns:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            runs = {str(r["name"]): {"last_run_ms": int(r["last_run_ms"]),
                                     "finished_ms": None if r.get("finished_ms") is None else int(r["finished_ms"]),
                                     "last_exit": r.get("last_exit"),
                                     "interrupted": bool(r.get("interrupted", False))} for r in document}
        except FileNotFoundError:
            runs = {}
        except (ValueError, KeyError, TypeError) as error:
            log.warning("%s: unreadable (%s); the jobs' last runs start over", path, error)
            runs = {}
        return cls(path, runs)

    def last_run_ms(self, name: str) -> int | None:
        run = self.runs.get(name)
        return None if run is None else int(run["last_run_ms"])

    def started(self, name: str, now_ms: int) -> None:
        self.runs[name] = {"last_run_ms": now_ms, "finished_ms": None, "last_exit": None, "interrupted": False}
        self._save()

    def ended(self, name: str, code: int | None, now_ms: int, interrupted: bool = False) -> None:
        """`interrupted`: `up` stopped it before it ended on its own (the next `up` runs it again, as one
        whose end was never recorded: `up` died under it)."""
        run = self.runs.setdefault(name, {"last_run_ms": now_ms})
        run.update(finished_ms=now_ms, last_exit=code, interrupted=interrupted)
        self._save()

    def to_json(self) -> list[dict[str, Any]]:
        return [{"name": name, **run} for name, run in sorted(self.runs.items())]

    def _save(self) -> None:
        try:
            write_atomically(self.path, json.dumps(self.to_json()).encode())
        except OSError as error:  # a full disk: the page shows the run from status.json still
            log.warning("cannot record the jobs' last runs in %s: %s", self.path, error)
