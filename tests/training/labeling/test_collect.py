import cv2
import numpy as np

from schemas.expressions import EXPRESSIONS
from tests.training.labeling.helpers import NOW_MS
from training.labeling.collect import CropSampler

HOUR_MS = 3_600_000


def probs(top: str) -> np.ndarray:
    p = np.full(len(EXPRESSIONS), 0.05)
    p[EXPRESSIONS.index(top)] = 1 - 0.05 * (len(EXPRESSIONS) - 1)
    return p


def face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (90, 80), dtype=np.uint8)


def test_one_crop_per_visit_spread_over_time_hours_and_expressions(store):
    sampler = CropSampler(store, "cafe", "door", per_camera=84 * 2, min_gap_ms=10_000)
    assert sampler.cell_cap == 2  # 168 crops over 7 expressions x 12 hours
    t = NOW_MS - NOW_MS % HOUR_MS
    sampler.offer("t1", t, face(1), probs("happy"))
    sampler.offer("t1", t + 60_000, face(2), probs("sad"))  # same visit: never a second crop
    sampler.offer("t2", t + 5_000, face(3), probs("sad"))  # too soon after the last one kept
    sampler.offer("t3", t + 20_000, face(4), probs("happy"))
    sampler.offer("t4", t + 40_000, face(5), probs("happy"))  # (hour, happy) already holds its 2
    sampler.offer("t5", t + 60_000, face(6), probs("fear"))
    sampler.offer("t6", t + HOUR_MS, face(7), probs("happy"))  # the next hour has room again
    kept = list(store.records())
    assert [r.crop_id.split("-")[0] for r in kept] == ["door"] * 4 and sampler.kept == 4
    tops = [EXPRESSIONS[int(np.argmax(r.model_probabilities))] for r in kept]
    assert tops == ["happy", "happy", "fear", "happy"]


def test_kept_crops_are_the_48px_grey_face_never_the_frame_and_the_quota_stops_the_camera(store):
    sampler = CropSampler(store, "cafe", "door", per_camera=2, min_gap_ms=0)
    for i in range(5):
        sampler.offer(f"t{i}", NOW_MS + i * 1000, face(i), probs(EXPRESSIONS[i]))
    assert sampler.full and sampler.kept == 2
    for record in store.records():
        image = cv2.imdecode(np.frombuffer(store.read(record), np.uint8), cv2.IMREAD_UNCHANGED)
        assert image.shape == (48, 48)
    frames = iter(range(100))
    assert list(sampler.until_full(frames)) == []  # full: the source is not read on


def test_a_crops_id_says_nothing_about_when_the_face_was_seen(store):
    """The id travels in the Rekognition manifest and the review list, which carry only the day: an id
    holding the millisecond would join the face to its track's events in the lake."""
    sampler = CropSampler(store, "cafe", "door", per_camera=3, min_gap_ms=0)
    times = [NOW_MS + 1234, NOW_MS + 61_234, NOW_MS + 2 * HOUR_MS + 7]
    for i, t in enumerate(times):
        sampler.offer(f"t{i}", t, face(i), probs(EXPRESSIONS[i]))
    ids = [r.crop_id for r in store.records()]
    assert len(set(ids)) == 3
    for crop_id in ids:
        assert not any(str(t)[-6:] in crop_id or str(t // 1000)[-6:] in crop_id for t in times), crop_id
        assert crop_id.startswith("door-")
