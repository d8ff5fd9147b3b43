"""The windows readers get cannot be differenced back to a camera with too few customers: a site's
window minus its cameras' shown windows (same end and length) covers no customer or min_tracks of them.
Run through the real host, read back from its windows.jsonl, the CloudWatch metrics and the Firehose records it puts
(moto server); the alarms still judge every window as the engine made it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locallog import LocalLog
from stream.embedded import WINDOWS, EmbeddedRunner, RunnerConfig
from stream.engine import EngineConfig, WindowEngine
from stream.host import sites as sites_module
from stream.host.loop import Host
from stream.host.sites import Applied, Emitted, Sites
from stream.jsonl import dumps, iter_jsonl
from stream.published import MEASURES, published
from stream.sinks.aws import AwsOutputs, FirehoseSink
from stream.sinks.cloudwatch import CloudWatchPublisher
from stream.sources.locallog import LocalLogSource
from stream.state.local import LocalStateStore
from tests.stream.helpers import T0, face
from tests.stream.host.test_sites import ALARMS, ENGINE
from tests.stream.test_embedded import CrashAt, killed_and_restarted

MIN_TRACKS = 5
CONFIG = RunnerConfig(engine=EngineConfig(window_minutes=(5, 15), min_tracks=MIN_TRACKS), check_time=False)


def customers(crowd: Mapping[str, list[str]], start_ms: int = T0) -> list[dict[str, Any]]:
    """Each camera's customers (their expressions), a face event each, a second apart from ``start_ms``."""
    events = [face(start_ms + i * 1000, f"{camera}-{i}", camera=camera, site="cafe", top=top, n=i)
              for camera, tops in crowd.items() for i, top in enumerate(tops)]
    return sorted(events, key=lambda e: (e["event_time_ms"], e["event_id"]))


def recovered(windows: Iterable[Mapping[str, Any]], min_tracks: int) -> list[tuple[int, int, int, float]]:
    """The difference attack: per shown site window, the site's tracks and net score times tracks minus
    the shown cameras' of the same end and length. (end, minutes, customers, their net score) wherever
    that leaves 1 to min_tracks - 1 customers: a hidden camera's (or cameras') score given back."""
    groups: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
    for w in windows:
        groups.setdefault((w["window_end_ms"], w["window_minutes"]), []).append(w)
    found = []
    for (end, minutes), group in sorted(groups.items()):
        site = next((w for w in group if w["camera_id"] is None), None)
        if site is None or site["net_score"] is None:
            continue
        tracks, net = site["tracks"], site["net_score"] * site["tracks"]
        for w in group:
            if w["camera_id"] is not None and w["net_score"] is not None:
                tracks, net = tracks - w["tracks"], net - w["net_score"] * w["tracks"]
        if 0 < tracks < min_tracks:
            found.append((end, minutes, tracks, round(net / tracks, 3)))  # shares are rounded
    return found


def engine_windows(events: list[dict[str, Any]], config: EngineConfig) -> list[dict[str, Any]]:
    """The window engine's own windows for the events, as the alarms judge them."""
    engine = WindowEngine(config)
    out = engine.process(events)
    out.extend(engine.flush())
    return [dict(w) for w in out.windows]


def host_windows(tmp_path: Path, events: list[dict[str, Any]], batch_size: int = 5_000) -> list[dict[str, Any]]:
    """What the real embedded runner writes to windows.jsonl for the events."""
    LocalLog(tmp_path / "log").append([dumps(e) for e in events])
    runner = EmbeddedRunner(LocalLog(tmp_path / "log"), tmp_path / "stream",
                            RunnerConfig(engine=CONFIG.engine, check_time=False, batch_size=batch_size))
    runner.drain(flush=True)
    runner.close()
    return list(iter_jsonl(tmp_path / "stream" / WINDOWS))


@pytest.mark.parametrize("few", [1, 2, 3, 4])
def test_the_runner_s_windows_give_back_no_camera_with_too_few_customers(tmp_path: Path, few: int) -> None:
    """A door with 8 customers, a till with 6, a terrace with 1 to 4 angry ones: the engine's windows gave
    the terrace's score back; the windows the runner writes do not, and the till (fewest shown) is hidden
    for it, as an insufficient window that keeps its counts."""
    events = customers({"door": ["happy"] * 5 + ["neutral"] * 3, "till": ["sad", "happy"] * 3,
                        "terrace": ["angry"] * few})
    before = recovered(engine_windows(events, CONFIG.engine), MIN_TRACKS)
    assert before and {(tracks, net) for _, _, tracks, net in before} == {(few, -1.0)}, "the attack is real"

    written = host_windows(tmp_path, events)
    assert recovered(written, MIN_TRACKS) == []
    raw = {(w["camera_id"], w["window_end_ms"], w["window_minutes"]): w for w in engine_windows(events, CONFIG.engine)}
    changed = [w for w in written if w != raw[(w["camera_id"], w["window_end_ms"], w["window_minutes"])]]
    assert changed and {w["camera_id"] for w in changed} == {"till"}
    for w in changed:
        assert w["insufficient_data"] and all(w[name] is None for name in MEASURES)
        original = raw[(w["camera_id"], w["window_end_ms"], w["window_minutes"])]
        assert {k: v for k, v in w.items() if k not in (*MEASURES, "insufficient_data")} == \
            {k: v for k, v in original.items() if k not in (*MEASURES, "insufficient_data")}


def test_hidden_cameras_that_hold_enough_together_hide_nothing_more(tmp_path: Path) -> None:
    """Two small cameras of 2 and 3: their difference is over 5 customers, as the site could show on its own."""
    events = customers({"door": ["happy"] * 8, "till": ["sad"] * 2, "terrace": ["angry"] * 3})
    assert host_windows(tmp_path, events) == engine_windows(events, CONFIG.engine)


def test_the_windows_do_not_depend_on_how_the_log_is_cut(tmp_path: Path) -> None:
    events = customers({"door": ["happy"] * 8, "till": ["sad"] * 6, "terrace": ["angry"] * 2})
    whole = host_windows(tmp_path / "whole", events)
    assert host_windows(tmp_path / "cut", events, batch_size=3) == whole


def test_a_runner_killed_anywhere_and_restarted_writes_the_same_complemented_windows(tmp_path: Path) -> None:
    """Killed at every fault point in turn (torn windows write, before and after the checkpoint...) and
    restarted on the same folder: windows.jsonl ends up byte for byte as an uninterrupted run's."""
    events = customers({"door": ["happy"] * 8, "till": ["sad"] * 6, "terrace": ["angry"] * 2})
    LocalLog(tmp_path / "log").append([dumps(e) for e in events])
    config = RunnerConfig(engine=CONFIG.engine, check_time=False, batch_size=4)

    def run(folder: Path, fault: Callable[[str], None]) -> bytes:
        return killed_and_restarted(tmp_path / "log", folder, config, fault, WINDOWS)

    whole = run(tmp_path / "whole", lambda point: None)
    assert recovered(map(json.loads, whole.splitlines()), MIN_TRACKS) == []
    calls = CrashAt(())
    run(tmp_path / "count", calls)
    assert calls.calls > 20  # fault points passed in an uninterrupted run: each batch's write and commit
    for at in range(1, calls.calls + 1, 3):
        assert run(tmp_path / f"crash-{at}", CrashAt({at})) == whole, at


@st.composite
def crowds(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few cameras of a site, each with customers arriving over a quarter of an hour."""
    events = []
    for camera in ("c1", "c2", "c3")[:draw(st.integers(1, 3))]:
        for i in range(draw(st.integers(0, 12))):
            t = T0 + draw(st.integers(0, 15 * 60_000 - 1))
            events.append(face(t, f"{camera}-{i}", camera=camera, site="cafe",
                               top=draw(st.sampled_from(["happy", "sad", "neutral", "angry"])), n=i))
    return sorted(events, key=lambda e: (e["event_time_ms"], e["event_id"]))


@settings(max_examples=60, deadline=None)
@given(crowds())
def test_no_published_group_gives_a_hidden_camera_back_and_only_complements_change(
        events: list[dict[str, Any]]) -> None:
    raw = engine_windows(events, CONFIG.engine)
    out = published(raw, MIN_TRACKS)
    assert recovered(out, MIN_TRACKS) == []
    for before, after in zip(raw, out, strict=True):
        if before != after:  # a shown camera window, now as an insufficient one
            assert before["camera_id"] is not None and not before["insufficient_data"]
            assert after["insufficient_data"] and after["net_score"] is None and after["tracks"] == before["tracks"]


def _sour_site_with_a_lone_customer() -> list[dict[str, Any]]:
    """cam-a's customers turn sour (its alarm fires); cam-b sees one customer every 6 minutes, alone in
    its 5-minute windows, so cam-a's windows beside it are hidden (min_tracks 2 in these settings)."""
    events = [face(T0 + i * 10_000, track=f"t{i // 3}", site="cafe-1", camera="cam-a", n=i,
                   top="happy" if i < 60 else "angry") for i in range(180)]
    events += [face(T0 + (5 + 6 * i) * 60_000 + 5_000, track=f"lone{i}", site="cafe-1", camera="cam-b",
                    n=1000 + i, top="happy") for i in range(5)]
    return sorted(events, key=lambda e: (e["event_time_ms"], e["event_id"]))


def _run(events: list[dict[str, Any]]) -> Emitted:
    sites = Sites(ENGINE, ALARMS)
    out = sites.apply([Applied(e, "p", i) for i, e in enumerate(events)])
    out.extend(sites.flush())
    return out


def test_the_alarms_judge_the_windows_the_readers_do_not_see() -> None:
    events = _sour_site_with_a_lone_customer()
    out = _run(events)
    with mock.patch.object(sites_module, "published", lambda windows, min_tracks: list(windows)):
        whole = _run(events)
    judged_alike = [{k: v for k, v in a.items() if k not in ("reason", "value")} for a in out.alarms]
    assert judged_alike == [{k: v for k, v in a.items() if k not in ("reason", "value")} for a in whole.alarms]
    assert any(a["camera_id"] == "cam-a" for a in out.alarms)  # its words: tests/stream/test_published_alarms.py
    hidden = {(w["camera_id"], w["window_end_ms"], w["window_minutes"])
              for w, was in zip(out.windows, whole.windows, strict=True) if w != was}
    assert hidden and {camera for camera, _, _ in hidden} == {"cam-a"}
    judged = {("cam-a", a["event_time_ms"], ALARMS.window_minutes) for a in out.alarms if a["camera_id"] == "cam-a"}
    assert judged & hidden, "an alarm raised or cleared on a window its readers get hidden"
    assert recovered(out.windows, ENGINE.min_tracks) == [] and recovered(whole.windows, ENGINE.min_tracks) != []


def test_cloudwatch_and_firehose_get_nothing_that_differences_back_to_a_hidden_camera(
        tmp_path: Path, aws_client: Callable[[str], Any], unique: str) -> None:
    """The real host writing to CloudWatch and Firehose -> S3 (moto server), read back: per window end,
    the site's NetScore and Tracks minus the cameras' that have a NetScore cover 0 or min_tracks
    customers; the windows in S3's raw/ likewise."""
    cloudwatch, firehose, s3 = aws_client("cloudwatch"), aws_client("firehose"), aws_client("s3")
    namespace, bucket = f"Moodlens/{unique}", f"raw-{unique}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    firehose.create_delivery_stream(
        DeliveryStreamName=f"out-{unique}", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/firehose",
                                            "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "raw/"})
    events = customers({"door": ["happy"] * 5 + ["neutral"] * 3, "till": ["sad", "happy"] * 3,
                        "terrace": ["angry"] * 2})
    LocalLog(tmp_path / "log").append([dumps(e) for e in events])
    outputs = AwsOutputs(firehose=FirehoseSink(firehose, f"out-{unique}"),
                         metrics=CloudWatchPublisher(cloudwatch, namespace), metric_window_minutes=5)
    host = Host(LocalLogSource(LocalLog(tmp_path / "log")), LocalStateStore(tmp_path / "state"), outputs, CONFIG)
    host.drain(flush=True)
    host.close()

    lines = []
    for item in s3.list_objects_v2(Bucket=bucket, Prefix="raw/")["Contents"]:
        lines += s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode().splitlines()
    raw = [d for d in map(json.loads, lines) if d["schema"] == "sentiment_window"]
    assert len(raw) == len(engine_windows(events, CONFIG.engine)) and recovered(raw, MIN_TRACKS) == []

    def points(metric: str, camera: str | None) -> dict[int, float]:
        dims = [{"Name": "Site", "Value": "cafe"}] + ([{"Name": "Camera", "Value": camera}] if camera else [])
        stats = cloudwatch.get_metric_statistics(
            Namespace=namespace, MetricName=metric, Dimensions=dims, Period=60, Statistics=["Maximum"],
            StartTime=datetime.fromtimestamp(T0 / 1000 - 3600, UTC),
            EndTime=datetime.fromtimestamp(T0 / 1000 + 86_400, UTC))["Datapoints"]
        return {int(p["Timestamp"].timestamp() * 1000): p["Maximum"] for p in stats}

    as_windows = []
    for camera in (None, "door", "till", "terrace"):
        tracks, nets = points("Tracks", camera), points("NetScore", camera)
        as_windows += [{"camera_id": camera, "window_end_ms": end, "window_minutes": 5, "tracks": int(n),
                        "net_score": nets.get(end)} for end, n in tracks.items()]
    assert any(w["camera_id"] is None and w["net_score"] is not None for w in as_windows)
    assert recovered(as_windows, MIN_TRACKS) == []
    # the engine's windows would have put the terrace's score there; its customers are still counted
    assert recovered([w for w in engine_windows(events, CONFIG.engine) if w["window_minutes"] == 5], MIN_TRACKS)
    terrace = {end for end, n in points("Tracks", "terrace").items() if n}
    assert terrace and not points("NetScore", "terrace")
    assert not terrace & set(points("NetScore", "till")), "the till is hidden while the terrace is too few"
