"""Small lakes with known contents for the batch tests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog

from batch.compact.run import CompactionResult, compact
from batch.compact.sources import Source, SourceError, from_directory
from batch.lake.tables import LakeConfig, open_catalog
from schemas.expressions import EXPRESSIONS, VALENCE
from schemas.ids import new_event_id
from tests.schemas.events import face_expression

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
T0 = 1_790_035_200_000  # 2026-09-22 00:00 UTC, a day boundary


def new_catalog(root: Path) -> Catalog:
    return open_catalog(LakeConfig(root=root))


def visit(time_ms: int, site: str = "cafe-1", camera: str = "cam-a", track: str = "t1", top: str = "happy",
          duration_ms: int = 4000, **overrides: Any) -> dict[str, Any]:
    """A track_end whose probabilities put all mass on `top` (so valence = VALENCE[top])."""
    probabilities = {e: (1.0 if e == top else 0.0) for e in EXPRESSIONS}
    return face_expression(event_id=new_event_id(time_ms), event_time_ms=time_ms, site_id=site, camera_id=camera,
                           track_id=track, kind="track_end", duration_ms=duration_ms, frame_count=10,
                           probabilities=probabilities, top_class=top, valence=VALENCE[top], **overrides)


def update(time_ms: int, site: str = "cafe-1", **overrides: Any) -> dict[str, Any]:
    return face_expression(event_id=new_event_id(time_ms), event_time_ms=time_ms, site_id=site, **overrides)


def write_jsonl(path: Path, lines: Iterable[dict[str, Any] | bytes | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = [line if isinstance(line, bytes) else (line if isinstance(line, str) else json.dumps(line)).encode()
               for line in lines]
    path.write_bytes(b"\n".join(encoded) + b"\n")
    return path


def compact_folder(catalog: Catalog, folder: Path, **options: Any) -> CompactionResult:
    errors: list[SourceError] = []
    return compact(catalog, [Source(str(folder), from_directory(folder, errors), errors)], **options)
