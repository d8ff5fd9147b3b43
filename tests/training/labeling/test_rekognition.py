"""Rekognition labeling against botocore's Stubber: moto has no DetectFaces, so the responses here are
built in the shape of the AWS API reference (DetectFaces, Attributes ALL) and Stubber checks every
request and response against the service model."""

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from schemas.expressions import EXPRESSIONS
from tests.training.labeling.helpers import NOW_MS, jpeg
from training.labeling.rekognition import RekognitionLabeler, already_done, estimate


def face(emotions: dict[str, float], confidence: float = 99.9, width: float = 0.8) -> dict:
    """One FaceDetails entry as DetectFaces returns it with Attributes ALL (age, gender... included)."""
    return {
        "BoundingBox": {"Width": width, "Height": width, "Left": 0.1, "Top": 0.1},
        "AgeRange": {"Low": 25, "High": 35}, "Gender": {"Value": "Female", "Confidence": 99.0},
        "Smile": {"Value": True, "Confidence": 90.0}, "Eyeglasses": {"Value": False, "Confidence": 99.0},
        "Sunglasses": {"Value": False, "Confidence": 99.0}, "Beard": {"Value": False, "Confidence": 99.0},
        "Mustache": {"Value": False, "Confidence": 99.0}, "EyesOpen": {"Value": True, "Confidence": 99.0},
        "MouthOpen": {"Value": False, "Confidence": 90.0},
        "Emotions": [{"Type": name, "Confidence": value} for name, value in emotions.items()],
        "Landmarks": [{"Type": "eyeLeft", "X": 0.3, "Y": 0.4}],
        "Pose": {"Roll": 0.0, "Yaw": 2.0, "Pitch": 1.0}, "Quality": {"Brightness": 70.0, "Sharpness": 80.0},
        "Confidence": confidence, "FaceOccluded": {"Value": False, "Confidence": 99.0},
        "EyeDirection": {"Yaw": 0.0, "Pitch": 0.0, "Confidence": 99.0},
    }


HAPPY = {"HAPPY": 92.0, "CALM": 5.0, "SURPRISED": 1.0, "CONFUSED": 1.0, "SAD": 0.5, "ANGRY": 0.2,
         "DISGUSTED": 0.1, "FEAR": 0.1, "UNKNOWN": 0.1}


def client_and_stubber():
    client = boto3.client("rekognition", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def expect(stubber, response=None, error=None):
    params = {"Image": {"Bytes": ANY}, "Attributes": ["ALL"]}
    if error:
        stubber.add_client_error("detect_faces", service_error_code=error, expected_params=params)
    else:
        stubber.add_response("detect_faces", response, params)


class UpperBound:
    """Jitter that always takes the top of its range, so the backoff schedule itself can be checked."""

    def uniform(self, low, high):
        return high


def labeler(client, store, sleeps=None):
    return RekognitionLabeler(client, store.read, rate_per_second=1000, rng=UpperBound(),
                              sleep=(sleeps.append if sleeps is not None else lambda s: None))


def run(labeler_, store, tmp_path):
    return labeler_.run(list(store.records()), tmp_path / "m.jsonl", tmp_path / "r.jsonl",
                        source_ref=lambda r: f"crops/{r.crop_id}.enc")


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_clear_face_becomes_a_ground_truth_line_with_a_soft_label_and_nothing_personal(store, tmp_path):
    store.add("c1", jpeg(1), "cafe", "door", NOW_MS)
    client, stubber = client_and_stubber()
    expect(stubber, {"FaceDetails": [face(HAPPY)]})
    with stubber:
        result = run(labeler(client, store), store, tmp_path)
    stubber.assert_no_pending_responses()
    [line] = lines(tmp_path / "m.jsonl")
    assert line["expression"] == EXPRESSIONS.index("happy")
    assert line["expression-metadata"]["type"] == "groundtruth/image-classification"
    assert line["expression-metadata"]["human-annotated"] == "no"
    assert sum(line["expression-soft"].values()) == pytest.approx(1.0, abs=1e-5)
    assert line["expression-soft"]["happy"] == pytest.approx(92.0 / (100 - 1.1), abs=1e-4)
    text = json.dumps(line)
    assert "Female" not in text and "AgeRange" not in text and "Gender" not in text
    assert (result.calls, result.labeled, result.to_review) == (1, 1, 0)


def test_doubtful_labels_go_to_review_with_their_reasons(store, tmp_path):
    store.add("unsure", jpeg(1), "cafe", "door", NOW_MS)
    store.add("confused", jpeg(2), "cafe", "door", NOW_MS + 1)
    store.add("twofaces", jpeg(3), "cafe", "door", NOW_MS + 2)
    disagree_probs = [0.0] * 7
    disagree_probs[EXPRESSIONS.index("sad")] = 1.0
    store.add("disagree", jpeg(4), "cafe", "door", NOW_MS + 3, model_probabilities=disagree_probs)
    store.add("empty", jpeg(5), "cafe", "door", NOW_MS + 4)
    client, stubber = client_and_stubber()
    expect(stubber, {"FaceDetails": [face({"HAPPY": 40.0, "SAD": 35.0, "CALM": 25.0})]})
    expect(stubber, {"FaceDetails": [face({"CONFUSED": 70.0, "CALM": 30.0})]})
    expect(stubber, {"FaceDetails": [face(HAPPY), face(HAPPY, width=0.2)]})
    expect(stubber, {"FaceDetails": [face(HAPPY)]})
    expect(stubber, {"FaceDetails": []})
    with stubber:
        result = run(labeler(client, store), store, tmp_path)
    reasons = {line["crop-id"]: " ".join(line["review-reasons"]) for line in lines(tmp_path / "r.jsonl")}
    assert "low confidence" in reasons["unsure"]
    assert "unmapped" in reasons["confused"]
    assert "2 faces" in reasons["twofaces"]
    assert "disagrees with the edge model (sad vs happy)" in reasons["disagree"]
    assert "no face" in reasons["empty"]
    assert result.to_review == 5 and not (tmp_path / "m.jsonl").read_text()


def test_throttling_is_retried_with_backoff_and_other_errors_go_to_review(store, tmp_path):
    store.add("c1", jpeg(1), "cafe", "door", NOW_MS)
    store.add("bad", jpeg(2), "cafe", "door", NOW_MS + 1)
    client, stubber = client_and_stubber()
    expect(stubber, error="ThrottlingException")
    expect(stubber, error="ProvisionedThroughputExceededException")
    expect(stubber, {"FaceDetails": [face(HAPPY)]})
    expect(stubber, error="InvalidImageFormatException")
    sleeps: list[float] = []
    with stubber:
        result = run(labeler(client, store, sleeps), store, tmp_path)
    assert result.retries == 2 and result.calls == 4
    backoffs = [s for s in sleeps if s > 0.01]  # the rate limiter's own waits are 1 ms at most here
    assert backoffs == [0.5, 1.0]  # capped exponential: 0.5 s, then 1 s
    [reviewed] = lines(tmp_path / "r.jsonl")
    assert reviewed["crop-id"] == "bad" and "InvalidImageFormatException" in reviewed["review-reasons"][0]


def test_a_resumed_run_never_pays_twice_for_a_crop(store, tmp_path):
    for i in range(3):
        store.add(f"c{i}", jpeg(i), "cafe", "door", NOW_MS + i)
    client, stubber = client_and_stubber()
    expect(stubber, {"FaceDetails": [face(HAPPY)]})
    expect(stubber, error="AccessDeniedException")  # first run "dies" on the second crop: to review
    with stubber:
        first = labeler(client, store).run(list(store.records())[:2], tmp_path / "m.jsonl", tmp_path / "r.jsonl",
                                           source_ref=str)
    assert first.calls == 2
    todo, cost = estimate(store.records(), already_done(tmp_path / "m.jsonl", tmp_path / "r.jsonl"), 0.001)
    assert (todo, cost) == (1, pytest.approx(0.001))
    client, stubber = client_and_stubber()
    expect(stubber, {"FaceDetails": [face(HAPPY)]})
    with stubber:
        second = run(labeler(client, store), store, tmp_path)
    stubber.assert_no_pending_responses()
    assert (second.skipped_done, second.calls) == (2, 1)
    ids = [line["crop-id"] for line in lines(tmp_path / "m.jsonl") + lines(tmp_path / "r.jsonl")]
    assert sorted(ids) == ["c0", "c1", "c2"]


def test_a_crop_that_no_longer_exists_is_reported_and_not_sent(store, tmp_path):
    record = store.add("gone", jpeg(1), "cafe", "door", NOW_MS)
    (store.root / "crops" / "gone.enc").unlink()
    client, stubber = client_and_stubber()
    with stubber:
        result = labeler(client, store).run([record], tmp_path / "m.jsonl", tmp_path / "r.jsonl", source_ref=str)
    assert result.calls == 0 and "no longer exists" in result.missing[0]


def test_a_manifest_line_that_does_not_parse_is_named_with_its_line(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"crop-id": "a"}\nnot json\n')
    with pytest.raises(ValueError, match=r"m.jsonl:2"):
        already_done(tmp_path / "m.jsonl")


def test_the_rate_limit_spaces_calls_evenly():
    from training.labeling.rekognition import RateLimiter

    now = [0.0]
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert now[0] == pytest.approx(1.0) and len(slept) == 4
