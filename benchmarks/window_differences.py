"""What an attacker gets by subtracting the stream's shown windows from one another.

Reads a ``windows.jsonl`` as the stream runner wrote it and prints, as JSON:

* ``site_minus_cameras``: of the shown site windows, how many, minus the cameras' shown windows of the
  same end and length, leave 1 to ``min_tracks - 1`` customers (a hidden camera's score given back);
  `stream.published` is there to make this 0;
* ``nested``: of the pairs of shown windows of one key (site or camera) ending together, one longer,
  how many differ by 1 to ``min_tracks - 1`` customers (the longer one's earlier part given back);
  not stopped yet (README, "What suppression does not (yet) stop").

    .venv/bin/python -m moodlens.cli demo history --sites 2 --days 14 --seed 1 --out /tmp/h
    .venv/bin/python -m moodlens.cli stream run --log /tmp/h/log --state /tmp/h/stream --once --flush --no-time-check
    .venv/bin/python benchmarks/window_differences.py /tmp/h/stream/windows.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from schemas.privacy import DEFAULT_MIN_TRACKS
from stream.jsonl import iter_jsonl


def differences(windows: list[dict[str, Any]], min_tracks: int) -> dict[str, Any]:
    groups: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    by_key: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for w in windows:
        groups[(w["site_id"], w["window_end_ms"], w["window_minutes"])].append(w)
        if not w["insufficient_data"]:
            by_key[(w["site_id"], w["camera_id"] or "", w["window_end_ms"])].append(w)
    shown_sites = given_back = 0
    for group in groups.values():
        site = next((w for w in group if w["camera_id"] is None), None)
        if site is None or site["insufficient_data"]:
            continue
        shown_sites += 1
        left = site["tracks"] - sum(w["tracks"] for w in group if w["camera_id"] is not None
                                    and not w["insufficient_data"])
        given_back += 0 < left < min_tracks
    pairs = few = 0
    for shown in by_key.values():
        for longer in shown:
            for shorter in shown:
                if shorter["window_minutes"] < longer["window_minutes"]:
                    pairs += 1
                    few += 0 < longer["tracks"] - shorter["tracks"] < min_tracks
    return {"windows": len(windows), "min_tracks": min_tracks,
            "site_minus_cameras": {"shown_site_windows": shown_sites, "give_back_a_hidden_camera": given_back},
            "nested": {"shown_pairs": pairs, "give_back_1_to_min_tracks_minus_1": few}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("windows", type=Path, help="a windows.jsonl the stream runner wrote")
    parser.add_argument("--min-tracks", type=int, default=DEFAULT_MIN_TRACKS)
    args = parser.parse_args()
    print(json.dumps(differences(list(iter_jsonl(args.windows)), args.min_tracks), indent=1))


if __name__ == "__main__":
    main()
