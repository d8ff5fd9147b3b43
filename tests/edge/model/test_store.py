"""Model store: path or S3, sha256-checked, cached, and swapped atomically when a new version appears."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import boto3
import numpy as np
import pytest

from edge.model.store import (
    LocalFileSource,
    ModelStore,
    ModelVerificationError,
    ModelWatcher,
    SwappingClassifier,
    classifier_watcher,
    parse_sha256,
    source_for,
)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_model(path: Path, data: bytes, sidecar: str | None = "auto") -> Path:
    path.write_bytes(data)
    if sidecar == "auto":
        sidecar = f"{digest(data)}  {path.name}\n"  # sha256sum's format
    if sidecar is not None:
        path.with_name(path.name + ".sha256").write_text(sidecar)
    bump_mtime(path)
    return path


def bump_mtime(path: Path) -> None:
    # Two writes within the file system's timestamp granularity must still look different.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000 * (1 + int(stat.st_size))))


@pytest.mark.parametrize(("text", "expected"), [
    ("a" * 64, "a" * 64),
    ("A" * 64 + "  model.onnx\n", "a" * 64),
    ("  " + "0123456789abcdef" * 4 + "\n", "0123456789abcdef" * 4),
])
def test_sidecar_formats(text, expected):
    assert parse_sha256(text, "x") == expected


@pytest.mark.parametrize("text", ["", "abc", "g" * 64, "a" * 63])
def test_sidecars_without_a_digest_are_refused(text):
    with pytest.raises(ModelVerificationError, match="sha256"):
        parse_sha256(text, "model.onnx.sha256")


def test_a_verified_model_is_cached_under_its_digest(tmp_path):
    model = write_model(tmp_path / "model.onnx", b"version one")
    resolved = ModelStore(tmp_path / "cache").resolve(LocalFileSource(model))
    assert resolved.path == tmp_path / "cache" / f"{digest(b'version one')}.onnx"
    assert resolved.path.read_bytes() == b"version one"


@pytest.mark.parametrize(("sidecar", "pinned", "words"), [
    (digest(b"something else"), None, "expected"),  # corrupted download or wrong sidecar
    ("auto", digest(b"pinned other"), "expected"),  # a pin wins over the sidecar
    (None, None, "no sha256"),  # nothing to check against: refused, never run unverified
])
def test_models_that_do_not_verify_are_refused_and_never_cached(tmp_path, sidecar, pinned, words):
    model = write_model(tmp_path / "model.onnx", b"the bytes", sidecar=sidecar)
    with pytest.raises(ModelVerificationError, match=words):
        ModelStore(tmp_path / "cache", pinned_sha256=pinned).resolve(LocalFileSource(model))
    assert list((tmp_path / "cache").iterdir()) == []


class Loaded:
    def __init__(self, path: Path) -> None:
        self.content = path.read_bytes()
        if self.content.startswith(b"broken"):
            raise ValueError("not a model")


def test_a_new_version_is_swapped_in_and_a_bad_one_keeps_the_current_model(tmp_path):
    model = write_model(tmp_path / "model.onnx", b"version one")
    watcher = ModelWatcher(LocalFileSource(model), ModelStore(tmp_path / "cache"), Loaded)
    first = watcher.current()
    assert first.content == b"version one"
    assert watcher.check_now() is False  # nothing changed

    write_model(model, b"version two")
    assert watcher.check_now() is True
    assert watcher.current().content == b"version two"

    write_model(model, b"broken three")  # verifies, but does not load
    assert watcher.check_now() is False
    assert watcher.current().content == b"version two"
    assert "not a model" in (watcher.last_error or "")

    write_model(model, b"version four", sidecar=digest(b"other"))  # does not verify
    assert watcher.check_now() is False
    assert watcher.current().content == b"version two"


def test_the_first_model_must_load(tmp_path):
    model = write_model(tmp_path / "model.onnx", b"broken")
    with pytest.raises(ValueError, match="not a model"):
        ModelWatcher(LocalFileSource(model), ModelStore(tmp_path / "cache"), Loaded)


def test_models_come_from_s3_and_an_uploaded_version_is_picked_up(aws_env, tmp_path):
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=aws_env)
    s3.create_bucket(Bucket="models", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    def upload(data: bytes) -> None:
        s3.put_object(Bucket="models", Key="expression/model.onnx", Body=data)
        s3.put_object(Bucket="models", Key="expression/model.onnx.sha256", Body=digest(data).encode())

    upload(b"s3 version one")
    source = source_for("s3://models/expression/model.onnx", s3_client=s3)
    watcher = ModelWatcher(source, ModelStore(tmp_path / "cache"), Loaded)
    assert watcher.current().content == b"s3 version one"
    assert watcher.check_now() is False

    upload(b"s3 version two")
    assert watcher.check_now() is True
    assert watcher.current().content == b"s3 version two"


def test_an_s3_model_without_a_sidecar_is_refused(aws_env, tmp_path):
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=aws_env)
    s3.create_bucket(Bucket="bare", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="bare", Key="model.onnx", Body=b"x")
    with pytest.raises(ModelVerificationError, match="no sha256"):
        ModelStore(tmp_path / "cache").resolve(source_for("s3://bare/model.onnx", s3_client=s3))


def test_an_edge_holding_the_public_key_runs_only_signed_s3_models(aws_env, tmp_path):
    from edge.model.signature import ModelSignatureError
    from tests.edge.model.keys import make_keys

    keys = make_keys(tmp_path / "keys")
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=aws_env)
    s3.create_bucket(Bucket="signed", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="signed", Key="model.onnx", Body=b"s3 model")
    s3.put_object(Bucket="signed", Key="model.onnx.sha256", Body=digest(b"s3 model").encode())
    store = ModelStore(tmp_path / "cache", public_key=keys.public_key)
    with pytest.raises(ModelSignatureError, match=r"s3://signed/model.onnx: not signed \(no s3://signed/model.onnx.sig\)"):
        store.resolve(source_for("s3://signed/model.onnx", s3_client=s3))
    s3.put_object(Bucket="signed", Key="model.onnx.sig", Body=keys.sign("1.0", b"s3 model"))
    assert store.resolve(source_for("s3://signed/model.onnx", s3_client=s3)).sha256 == digest(b"s3 model")


@pytest.mark.parametrize("uri", ["s3://", "s3://bucket", "s3://bucket/"])
def test_malformed_s3_uris_are_refused(uri):
    with pytest.raises(ValueError, match="S3 URI"):
        source_for(uri, s3_client=object())  # type: ignore[arg-type]


def tiny_onnx_model(path: Path, version: str, bias: float) -> Path:
    """A real ONNX expression model shaped like the trained one ((N,1,8,8) -> (N,7)), in a few ms."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.zeros((64, 7), dtype=np.float32), "W")
    biases = numpy_helper.from_array(np.eye(7, dtype=np.float32)[int(bias)] * 5, "B")
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["pixels"], ["flat"]), helper.make_node("MatMul", ["flat", "W"], ["logits0"]),
         helper.make_node("Add", ["logits0", "B"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)],
        "tiny", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 7])], [weights, biases])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"moodlens.model_version": version, "moodlens.model_id": "tiny"})
    onnx.save(model, path)
    data = path.read_bytes()
    path.with_name(path.name + ".sha256").write_text(digest(data))
    bump_mtime(path)
    return path


def test_the_expression_classifier_is_swapped_without_the_caller_noticing(tmp_path):
    model = tiny_onnx_model(tmp_path / "expression.onnx", "1.0.0", bias=3)
    watcher = classifier_watcher(str(model), tmp_path / "cache")
    classifier = SwappingClassifier(watcher)
    crops = [np.zeros((20, 20), dtype=np.uint8)]
    assert (classifier.version, int(classifier.classify(crops).argmax())) == ("1.0.0", 3)

    tiny_onnx_model(model, "1.1.0", bias=6)
    assert watcher.check_now() is True
    assert (classifier.version, int(classifier.classify(crops).argmax())) == ("1.1.0", 6)


def write_card(model: Path, card: object) -> None:
    model.with_suffix(".json").write_text(card if isinstance(card, str) else json.dumps(card))


@pytest.mark.parametrize(("card", "outcome"), [
    ({"model_id": "m", "sha256": digest(b"carded")}, "ok"),  # training/publish.py's model card
    ({"model_id": "m", "sha256": digest(b"carded").upper()}, "ok"),
    ({"model_id": "m", "sha256": digest(b"other")}, "expected"),  # a stale card: refused
    ({"model_id": "m", "sha256": "short"}, "sha256 digest"),
    ("[1, 2]", "not a JSON object"),
    ("{not json", "not a JSON object"),
    ({"model_id": "m"}, "no sha256"),  # a card without a digest is no checksum
])
def test_a_local_models_card_carries_its_digest(tmp_path, card, outcome):
    model = write_model(tmp_path / "model.onnx", b"carded", sidecar=None)
    write_card(model, card)
    store = ModelStore(tmp_path / "cache")
    if outcome == "ok":
        assert store.resolve(LocalFileSource(model)).sha256 == digest(b"carded")
    else:
        with pytest.raises(ModelVerificationError, match=outcome):
            store.resolve(LocalFileSource(model))


def test_the_sidecar_wins_over_the_card(tmp_path):
    model = write_model(tmp_path / "model.onnx", b"both")
    write_card(model, {"sha256": digest(b"other")})
    assert ModelStore(tmp_path / "cache").resolve(LocalFileSource(model)).sha256 == digest(b"both")


def test_the_shipped_model_verifies_against_its_card(tmp_path):
    from edge.expression.classifier import DEFAULT_MODEL

    card = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    resolved = ModelStore(tmp_path / "cache").resolve(LocalFileSource(DEFAULT_MODEL))
    assert resolved.sha256 == card["sha256"] == digest(DEFAULT_MODEL.read_bytes())


@pytest.mark.parametrize(("sidecar", "pinned", "result"), [
    (None, None, "trusted"),  # nothing published: the operator's file, as it is
    (digest(b"other"), None, "expected"),  # a published checksum is still enforced
    (None, digest(b"other"), "expected"),  # and so is a pin
])
def test_trusting_local_files_only_covers_files_with_nothing_to_check(tmp_path, sidecar, pinned, result):
    model = write_model(tmp_path / "model.onnx", b"local", sidecar=sidecar)
    store = ModelStore(tmp_path / "cache", pinned_sha256=pinned, trust_local=True)
    if result == "trusted":
        resolved = store.resolve(LocalFileSource(model))
        assert (resolved.sha256, resolved.path.read_bytes()) == (digest(b"local"), b"local")
    else:
        with pytest.raises(ModelVerificationError, match=result):
            store.resolve(LocalFileSource(model))
        assert list((tmp_path / "cache").iterdir()) == []


def test_a_trusted_local_file_is_still_swapped_only_when_it_loads(tmp_path):
    model = write_model(tmp_path / "model.onnx", b"version one", sidecar=None)
    watcher = ModelWatcher(LocalFileSource(model), ModelStore(tmp_path / "cache", trust_local=True), Loaded)
    write_model(model, b"broken two", sidecar=None)
    assert watcher.check_now() is False and watcher.current().content == b"version one"
    write_model(model, b"version three", sidecar=None)
    assert watcher.check_now() is True and watcher.current().content == b"version three"


def test_trust_never_extends_to_s3(aws_env, tmp_path):
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=aws_env)
    s3.create_bucket(Bucket="untrusted", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="untrusted", Key="model.onnx", Body=b"x")
    with pytest.raises(ModelVerificationError, match="no sha256"):
        ModelStore(tmp_path / "cache", trust_local=True).resolve(source_for("s3://untrusted/model.onnx", s3_client=s3))


def test_a_pinned_classifier_holds_its_model_until_the_next_pin(tmp_path):
    model = tiny_onnx_model(tmp_path / "expression.onnx", "1.0.0", bias=3)
    watcher = classifier_watcher(str(model), tmp_path / "cache")
    classifier = SwappingClassifier(watcher)
    crops = [np.zeros((20, 20), dtype=np.uint8)]
    assert classifier.pin().version == "1.0.0"

    tiny_onnx_model(model, "1.1.0", bias=6)
    assert watcher.check_now() is True
    # Swapped in the watcher, but this frame goes on with the model it started with...
    assert (classifier.version, classifier.info.version, int(classifier.classify(crops).argmax())) == ("1.0.0",
                                                                                                      "1.0.0", 3)
    # ...and the next one gets the new version.
    assert classifier.pin().version == "1.1.0"
    assert (classifier.version, int(classifier.classify(crops).argmax())) == ("1.1.0", 6)
