import hashlib
import json
import string

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.expression.classifier import DEFAULT_MODEL
from edge.model.registry import (
    LocalBlobStore,
    Registry,
    RegistryError,
    RegistrySource,
    S3BlobStore,
    check_version,
    parse_registry_uri,
)
from edge.model.store import ModelStore, ModelWatcher, classifier_watcher, source_for
from tests.edge.model.keys import make_keys, registry_with


@pytest.fixture
def keys(tmp_path):
    return make_keys(tmp_path / "keys")


def test_publish_is_idempotent_for_the_same_file_and_refuses_another_file_under_a_published_version(tmp_path, keys):
    registry = registry_with(tmp_path / "registry", keys, "1.0.0")
    assert registry.publish(b"model 1.0.0", {}, "1.0.0", keys.sign("1.0.0", b"model 1.0.0")) is False
    with pytest.raises(RegistryError, match="already published with another file"):
        registry.publish(b"something else", {}, "1.0.0", keys.sign("1.0.0", b"something else"))
    [published] = registry.versions()
    assert published.sha256 == hashlib.sha256(b"model 1.0.0").hexdigest()
    assert published.card["accuracy"] == 0.7


def test_a_signature_must_name_the_file_and_version_it_is_published_with(tmp_path, keys):
    registry = Registry(LocalBlobStore(tmp_path / "registry"))
    with pytest.raises(RegistryError, match=r"signs version 1.0"):
        registry.publish(b"model 2.0", {}, "2.0", keys.sign("1.0", b"model 2.0"))
    with pytest.raises(RegistryError, match=r"signs version 2.0 sha256"):
        registry.publish(b"model 2.0", {}, "2.0", keys.sign("2.0", b"another file"))
    with pytest.raises(RegistryError, match="not a model signature file"):
        registry.publish(b"model 2.0", {}, "2.0", b"{}")
    assert registry.versions() == []


def test_a_site_channel_wins_over_the_fleet_and_rollback_walks_back(tmp_path, keys):
    registry = registry_with(tmp_path / "registry", keys, "1.0", "1.1", "1.2")
    registry.promote("1.0")
    registry.promote("1.1")
    registry.promote("1.2", site="cafe-1")
    assert registry.resolve("cafe-1").version == "1.2"
    assert registry.resolve("cinema-2").version == "1.1"
    assert registry.rollback().version == "1.0"
    assert registry.resolve("cinema-2").version == "1.0"
    with pytest.raises(RegistryError, match="no previous version"):
        registry.rollback(site="cafe-1")
    assert registry.resolve("cafe-1").version == "1.2"  # nothing changed


def test_bad_requests_change_nothing(tmp_path, keys):
    registry = registry_with(tmp_path / "registry", keys, "1.0")
    with pytest.raises(RegistryError, match="never published"):
        registry.promote("9.9")
    with pytest.raises(RegistryError, match="no previous version"):
        registry.rollback()
    with pytest.raises(RegistryError, match=r"site: '\.\./\.\./etc'"):
        registry.promote("1.0", site="../../etc")
    for bad in ("../escape", "1..0", ".hidden", "1.0/", "a b", "", "x" * 65):
        with pytest.raises(RegistryError, match="not a version name"):
            registry.publish(b"x", {}, bad, keys.sign(bad, b"x"))
    assert registry.channel() is None
    assert registry.store.keys("channels/") == []


@given(st.text(alphabet=string.ascii_letters + string.digits + "._-/ ", max_size=70))
def test_an_accepted_version_name_is_one_folder_under_versions(name):
    try:
        check_version(name)
    except RegistryError:
        return
    assert "/" not in name and ".." not in name and not name.startswith(".") and 0 < len(name) <= 64


def test_a_promote_of_a_swapped_file_is_refused_and_the_channel_is_unchanged(tmp_path, keys):
    root = tmp_path / "registry"
    registry = registry_with(root, keys, "1.0", "2.0")
    registry.promote("1.0")
    before = (root / "channels" / "fleet.json").read_bytes()
    (root / "versions" / "2.0" / "model.onnx").write_bytes(b"swapped")
    with pytest.raises(RegistryError, match=r"versions/2.0/model.onnx: sha256 is .* changed after publishing"):
        registry.promote("2.0")
    assert (root / "channels" / "fleet.json").read_bytes() == before


def test_a_file_swapped_together_with_its_checksum_is_refused_by_its_signature(tmp_path, keys):
    root = tmp_path / "registry"
    registry = registry_with(root, keys, "1.0", "2.0")
    registry.promote("1.0")
    swapped = b"someone else's model"
    digest = hashlib.sha256(swapped).hexdigest()
    (root / "versions" / "2.0" / "model.onnx").write_bytes(swapped)
    (root / "versions" / "2.0" / "model.onnx.sha256").write_text(f"{digest}  model.onnx\n")
    with pytest.raises(RegistryError, match=r"model.onnx.sig: signs version 2.0 sha256"):
        registry.promote("2.0")
    # re-signed with a key of the attacker's own: the publisher's public key tells
    (root / "versions" / "2.0" / "model.onnx.sig").write_bytes(make_keys(tmp_path, "attacker").sign("2.0", swapped))
    with pytest.raises(RegistryError, match="not valid under the trusted key"):
        Registry(LocalBlobStore(root), keys.public_key).promote("2.0")
    assert registry.resolve().version == "1.0"


def test_rolling_back_onto_deleted_or_changed_files_is_refused(tmp_path, keys):
    root = tmp_path / "registry"
    registry = registry_with(root, keys, "1.0", "2.0")
    registry.promote("1.0")
    registry.promote("2.0")
    model = root / "versions" / "1.0" / "model.onnx"
    model.unlink()
    with pytest.raises(RegistryError, match=r"cannot roll back to 1.0: version 1.0: model file missing"):
        registry.rollback()
    model.write_bytes(b"not what was published")
    with pytest.raises(RegistryError, match=r"cannot roll back to 1.0: .*changed after publishing"):
        registry.rollback()
    assert registry.resolve().version == "2.0" and registry.resolve().previous[-1][0] == "1.0"
    model.write_bytes(b"model 1.0")
    assert registry.rollback().version == "1.0"


@pytest.mark.parametrize("version", ["../../outside", "/etc/passwd", "1.0/../../../outside"])
def test_a_hand_edited_channel_never_reads_outside_the_registry(tmp_path, keys, version):
    root = tmp_path / "registry"
    registry = registry_with(root, keys, "1.0")
    registry.promote("1.0")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "model.onnx").write_bytes(b"model from elsewhere")
    channel = json.loads((root / "channels" / "fleet.json").read_text())
    (root / "channels" / "fleet.json").write_text(json.dumps({**channel, "version": version}))
    with pytest.raises(RegistryError, match=r"channels/fleet.json: version .*not a version name"):
        registry.resolve()
    with pytest.raises(RegistryError, match="not a version name"):
        ModelWatcher(RegistrySource(registry, None), ModelStore(tmp_path / "cache", public_key=keys.public_key),
                     lambda path: path.read_bytes(), 1e9)
    with pytest.raises(RegistryError, match="would leave"):
        LocalBlobStore(root).get(f"versions/{version}/model.onnx")


def test_an_edge_follows_promotions_and_rollbacks_and_keeps_the_previous_file_cached(tmp_path, keys):
    registry = registry_with(tmp_path / "registry", keys, "1.0", "1.1")
    registry.promote("1.0")
    fetches = []
    source = RegistrySource(registry, "cafe-1")
    original_fetch = source.fetch
    source.fetch = lambda destination: (fetches.append(1), original_fetch(destination))[1]
    watcher = ModelWatcher(source, ModelStore(tmp_path / "cache", public_key=keys.public_key),
                           lambda path: path.read_bytes(), 1e9)
    assert watcher.current() == b"model 1.0"
    assert watcher.check_now() is False
    registry.promote("1.1")
    assert watcher.check_now() is True and watcher.current() == b"model 1.1"
    registry.rollback()
    assert watcher.check_now() is True and watcher.current() == b"model 1.0"
    assert len(fetches) == 2  # the rollback came from the cache: no download


def test_registry_uris_name_a_location_and_optionally_a_site():
    assert parse_registry_uri("registry:s3://bucket/models#site=cafe-1") == ("s3://bucket/models", "cafe-1")
    assert parse_registry_uri("registry:/srv/models") == ("/srv/models", None)
    with pytest.raises(RegistryError, match="fragment"):
        parse_registry_uri("registry:/srv/models#camera=x")


def test_the_shipped_model_runs_from_an_s3_registry(aws_env, tmp_path, keys):
    s3 = boto3.client("s3", endpoint_url=aws_env)
    s3.create_bucket(Bucket="models-reg", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    registry = Registry(S3BlobStore("s3://models-reg/moodlens", s3))
    card = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    model = DEFAULT_MODEL.read_bytes()
    assert registry.publish(model, card, card["version"], keys.sign(card["version"], model)) is True
    registry.promote(card["version"], site="cafe-1")
    assert isinstance(source_for("registry:s3://models-reg/moodlens#site=cafe-1", s3), RegistrySource)
    watcher = classifier_watcher("registry:s3://models-reg/moodlens#site=cafe-1", tmp_path / "cache", s3_client=s3,
                                 public_key_file=keys.public)
    assert watcher.resolved.sha256 == card["sha256"]
    assert watcher.current().info.version == card["version"]


def test_edge_run_takes_a_registry_channel_as_its_model(tmp_path, keys):
    from edge.model.loading import open_model

    registry = Registry(LocalBlobStore(tmp_path / "registry"))
    card = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    model = DEFAULT_MODEL.read_bytes()
    registry.publish(model, card, card["version"], keys.sign(card["version"], model))
    registry.promote(card["version"], site="cafe-1")
    uri = f"registry:{tmp_path / 'registry'}#site=cafe-1"
    watcher, classifier = open_model(uri, None, 0, tmp_path / "cache", public_key_file=keys.public)
    assert watcher.resolved.sha256 == card["sha256"] and classifier.info.version == card["version"]
    with pytest.raises(ValueError, match=r"holds no public key.*--model-public-key"):
        open_model(uri, None, 0, tmp_path / "cache")
