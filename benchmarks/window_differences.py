"""What an attacker gets by subtracting the stream's shown windows from one another.

Reads a ``windows.jsonl`` as the stream runner wrote it and prints, as JSON:

* ``site_minus_cameras``: of the shown site windows, how many, minus the cameras' shown windows of the
  same end and length, leave 1 to ``min_tracks - 1`` customers (a hidden camera's score given back);
  `stream.published` is there to make this 0;
* ``nested``: of the pairs of shown windows of one key (site or camera) ending together, one longer,
  how many differ by 1 to ``min_tracks - 1`` customers (the longer one's earlier part given back);
  not stopped yet (README, "What suppression does not (yet) stop");
* ``alarms`` (with ``--alarms``, the runner's alarms.jsonl): of the alarm changes, how many were judged on a
  window readers get hidden (its site, camera and end, the alarms' window length), and how many of those
  tell that window's score in their reason (`stream.published` is there to make this 0).

    .venv/bin/python -m moodlens.cli demo history --sites 2 --days 14 --seed 1 --out /tmp/h
    .venv/bin/python -m moodlens.cli stream run --log /tmp/h/log --state /tmp/h/stream --once --flush --no-time-check
    .venv/bin/python benchmarks/window_differences.py /tmp/h/stream/windows.jsonl --alarms /tmp/h/stream/alarms.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from schemas.privacy import DEFAULT_MIN_TRACKS
from stream.alarm_config import AlarmConfig
from stream.alarm_words import latest_score
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


def alarm_leaks(windows: list[dict[str, Any]], alarms: list[dict[str, Any]], window_minutes: int) -> dict[str, int]:
    hidden = {(w["site_id"], w["camera_id"], w["window_end_ms"]) for w in windows
              if w["insufficient_data"] and w["window_minutes"] == window_minutes}
    judged = [a for a in alarms if (a["site_id"], a["camera_id"], a["event_time_ms"]) in hidden]
    return {"changes": len(alarms), "on_hidden_windows": len(judged),
            "tell_the_hidden_window_s_score": sum(latest_score(a["reason"], window_minutes) is not None
                                                  for a in judged)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("windows", type=Path, help="a windows.jsonl the stream runner wrote")
    parser.add_argument("--min-tracks", type=int, default=DEFAULT_MIN_TRACKS)
    parser.add_argument("--alarms", type=Path, help="the alarms.jsonl the runner wrote beside the windows")
    parser.add_argument("--alarm-minutes", type=int, default=AlarmConfig().window_minutes,
                        help="the alarms' window length (default: the stream's)")
    args = parser.parse_args()
    windows = list(iter_jsonl(args.windows))
    figures = differences(windows, args.min_tracks)
    if args.alarms is not None:
        figures["alarms"] = alarm_leaks(windows, list(iter_jsonl(args.alarms)), args.alarm_minutes)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
