"""Host state in a local folder: one checkpoint file holding the host position and every site's
state, replaced atomically (temp file, fsync, rename, folder fsync), so the sites and the position
always change together."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stream.host.sites import StateError
from stream.jsonl import write_atomically

CHECKPOINT = "checkpoint.json"


class LocalStateStore:
    def __init__(self, folder: Path | str, name: str = CHECKPOINT,
                 fault: Callable[[str], None] = lambda point: None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / name
        self.atomic = True  # sites and position in one file, replaced at once
        self.where = str(self.path)
        self._fault = fault
        self._sites: dict[str, Any] = {}

    def site_where(self, site: str) -> str:
        return f"{self.path} (site {site})"

    def load(self) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
        try:
            document = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None, {}
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise StateError(f"{self.path}: corrupt checkpoint ({error})") from error
        if not isinstance(document, dict) or not isinstance(document.get("sites", {}), dict):
            raise StateError(f"{self.path}: corrupt checkpoint (not a checkpoint object)")
        self._sites = dict(document.pop("sites", {}))
        return document, dict(self._sites)

    def commit(self, checkpoint: Mapping[str, Any], sites: Mapping[str, Mapping[str, Any]]) -> None:
        merged = {**self._sites, **sites}
        write_atomically(self.path, {**checkpoint, "sites": merged},
                         before_replace=lambda: self._fault("before-replace"))
        self._sites = merged
