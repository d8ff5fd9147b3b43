import hashlib
import json

import boto3
import pytest

from edge.expression.classifier import DEFAULT_MODEL
from edge.model_registry import LocalBlobStore, Registry, RegistryError, RegistrySource, S3BlobStore, parse_registry_uri
from edge.model_store import ModelStore, ModelWatcher, classifier_watcher, source_for
from moodlens.cli import main


def registry_with(tmp_path, *versions):
    registry = Registry(LocalBlobStore(tmp_path / "registry"))
    for version in versions:
        registry.publish(f"model {version}".encode(), {"version": version, "accuracy": 0.7}, version)
    return registry


def test_publish_is_idempotent_for_the_same_file_and_refuses_another_file_under_a_published_version(tmp_path):
    registry = registry_with(tmp_path, "1.0.0")
    assert registry.publish(b"model 1.0.0", {}, "1.0.0") is False
    with pytest.raises(RegistryError, match="already published with another file"):
        registry.publish(b"something else", {}, "1.0.0")
    [published] = registry.versions()
    assert published.sha256 == hashlib.sha256(b"model 1.0.0").hexdigest()
    assert published.card["accuracy"] == 0.7


def test_a_site_channel_wins_over_the_fleet_and_rollback_walks_back(tmp_path):
    registry = registry_with(tmp_path, "1.0", "1.1", "1.2")
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


def test_bad_requests_change_nothing(tmp_path):
    registry = registry_with(tmp_path, "1.0")
    with pytest.raises(RegistryError, match="never published"):
        registry.promote("9.9")
    with pytest.raises(RegistryError, match="no previous version"):
        registry.rollback()
    with pytest.raises(RegistryError, match="not a valid site id"):
        registry.promote("1.0", site="../../etc")
    with pytest.raises(RegistryError, match="version"):
        registry.publish(b"x", {}, "../escape")
    assert registry.channel() is None
    assert registry.store.keys("channels/") == []


def test_an_edge_follows_promotions_and_rollbacks_and_keeps_the_previous_file_cached(tmp_path):
    registry = registry_with(tmp_path, "1.0", "1.1")
    registry.promote("1.0")
    fetches = []
    source = RegistrySource(registry, "cafe-1")
    original_fetch = source.fetch
    source.fetch = lambda destination: (fetches.append(1), original_fetch(destination))[1]
    watcher = ModelWatcher(source, ModelStore(tmp_path / "cache"), lambda path: path.read_bytes(), 1e9)
    assert watcher.current() == b"model 1.0"
    assert watcher.check_now() is False
    registry.promote("1.1")
    assert watcher.check_now() is True and watcher.current() == b"model 1.1"
    registry.rollback()
    assert watcher.check_now() is True and watcher.current() == b"model 1.0"
    assert len(fetches) == 2  # the rollback came from the cache: no download


def test_a_tampered_model_is_refused_and_the_running_one_keeps_serving(tmp_path):
    registry = registry_with(tmp_path, "1.0", "1.1")
    registry.promote("1.0")
    watcher = ModelWatcher(RegistrySource(registry, None), ModelStore(tmp_path / "cache"),
                           lambda path: path.read_bytes(), 1e9)
    (tmp_path / "registry" / "versions" / "1.1" / "model.onnx").write_bytes(b"tampered")
    registry.promote("1.1")
    assert watcher.check_now() is False
    assert watcher.current() == b"model 1.0" and "sha256" in (watcher.last_error or "")


def test_registry_uris_name_a_location_and_optionally_a_site():
    assert parse_registry_uri("registry:s3://bucket/models#site=cafe-1") == ("s3://bucket/models", "cafe-1")
    assert parse_registry_uri("registry:/srv/models") == ("/srv/models", None)
    with pytest.raises(RegistryError, match="fragment"):
        parse_registry_uri("registry:/srv/models#camera=x")


def test_the_shipped_model_runs_from_an_s3_registry(aws_env, tmp_path):
    s3 = boto3.client("s3", endpoint_url=aws_env)
    s3.create_bucket(Bucket="models-reg", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    registry = Registry(S3BlobStore("s3://models-reg/moodlens", s3))
    card = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    assert registry.publish(DEFAULT_MODEL.read_bytes(), card, card["version"]) is True
    registry.promote(card["version"], site="cafe-1")
    assert isinstance(source_for("registry:s3://models-reg/moodlens#site=cafe-1", s3), RegistrySource)
    watcher = classifier_watcher("registry:s3://models-reg/moodlens#site=cafe-1", tmp_path / "cache", s3_client=s3)
    assert watcher.resolved.sha256 == card["sha256"]
    assert watcher.current().info.version == card["version"]


def test_the_commands_publish_promote_list_and_roll_back(tmp_path, capsys):
    root = str(tmp_path / "reg")
    model = tmp_path / "m.onnx"
    model.write_bytes(b"fake model")
    (tmp_path / "m.json").write_text(json.dumps({"version": "2.0", "int8": {"accuracy": 0.71, "macro_f1": 0.7}}))
    assert main(["model", "publish", str(model), "--registry", root]) == 0
    assert main(["model", "publish", str(model), "--registry", root, "--version", "2.1"]) == 0
    assert main(["model", "promote", "2.0", "--registry", root]) == 0
    assert main(["model", "promote", "2.1", "--registry", root, "--site", "cafe-1"]) == 0
    capsys.readouterr()
    assert main(["model", "list", "--registry", root]) == 0
    listing = capsys.readouterr().out
    assert "2.0" in listing and "0.7100" in listing and "fleet" in listing and "site cafe-1" in listing
    assert main(["model", "rollback", "--registry", root, "--site", "cafe-1"]) == 2
    assert "no previous version" in capsys.readouterr().err
    assert main(["model", "promote", "3.0", "--registry", root]) == 2
    assert "never published" in capsys.readouterr().err


def test_edge_run_takes_a_registry_channel_as_its_model(tmp_path):
    from edge.runtime import open_model

    registry = Registry(LocalBlobStore(tmp_path / "registry"))
    card = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    registry.publish(DEFAULT_MODEL.read_bytes(), card, card["version"])
    registry.promote(card["version"], site="cafe-1")
    watcher, classifier = open_model(f"registry:{tmp_path / 'registry'}#site=cafe-1", None, 0, tmp_path / "cache")
    assert watcher.resolved.sha256 == card["sha256"] and classifier.info.version == card["version"]
