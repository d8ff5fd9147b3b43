"""Signed models: what `moodlens model publish` writes, and edges that refuse anything else by name."""

import hashlib
import json
import os
import stat

import pytest

from edge.expression.classifier import DEFAULT_MODEL
from edge.model.registry import LocalBlobStore, Registry, RegistrySource
from edge.model.signature import ModelSignatureError
from edge.model.store import LocalFileSource, ModelStore, ModelVerificationError, ModelWatcher
from moodlens.cli import main
from tests.edge.model.keys import make_keys, registry_with
from training.signing import generate_key_pair, load_private_key, sign_file


@pytest.fixture
def keys(tmp_path):
    return make_keys(tmp_path / "keys")


def load(path):
    return path.read_bytes()


def watcher_of(registry, tmp_path, public_key):
    return ModelWatcher(RegistrySource(registry, None), ModelStore(tmp_path / "cache", public_key=public_key), load,
                        1e9)


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(tmp_path, capsys):
    private, public = tmp_path / "k" / "publisher.key", tmp_path / "k" / "publisher.pub"
    assert main(["model", "keygen", "--private-key", str(private), "--public-key", str(public)]) == 0
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PUBLIC KEY" in public.read_bytes() and b"PRIVATE" not in public.read_bytes()
    assert main(["model", "keygen", "--private-key", str(private), "--public-key", str(tmp_path / "other.pub")]) == 2
    assert "never overwritten" in capsys.readouterr().err


def test_a_signing_key_others_can_read_is_refused(tmp_path):
    generate_key_pair(tmp_path / "p.key", tmp_path / "p.pub")
    os.chmod(tmp_path / "p.key", 0o644)
    with pytest.raises(ValueError, match=r"p.key: the model signing key is readable by group or others \(mode 0644\)"):
        load_private_key(tmp_path / "p.key")


def test_the_commands_publish_promote_list_and_roll_back(tmp_path, keys, capsys):
    root = str(tmp_path / "reg")
    model = tmp_path / "m.onnx"
    model.write_bytes(b"fake model")
    (tmp_path / "m.json").write_text(json.dumps({"version": "2.0", "int8": {"accuracy": 0.71, "macro_f1": 0.7}}))
    assert main(["model", "publish", str(model), "--registry", root]) == 2
    assert "no signing key" in capsys.readouterr().err
    signing = ["--signing-key", str(keys.private)]
    assert main(["model", "publish", str(model), "--registry", root, *signing]) == 0
    assert main(["model", "publish", str(model), "--registry", root, "--version", "2.1", *signing]) == 0
    assert main(["model", "promote", "2.0", "--registry", root, "--public-key", str(keys.public)]) == 0
    assert main(["model", "promote", "2.1", "--registry", root, "--site", "cafe-1"]) == 0
    capsys.readouterr()
    assert main(["model", "list", "--registry", root]) == 0
    listing = capsys.readouterr().out
    assert "2.0" in listing and "0.7100" in listing and "fleet" in listing and "site cafe-1" in listing
    assert main(["model", "rollback", "--registry", root, "--site", "cafe-1"]) == 2
    assert "no previous version" in capsys.readouterr().err
    assert main(["model", "promote", "3.0", "--registry", root]) == 2
    assert "never published" in capsys.readouterr().err


def test_model_list_reports_a_malformed_card_and_lists_the_rest(tmp_path, keys, capsys):
    root = tmp_path / "reg"
    registry_with(root, keys, "1.0", "1.1", "1.2").promote("1.2")
    (root / "versions" / "1.1" / "card.json").write_text("{not json")
    (root / "versions" / "1.0" / "card.json").write_text("[1, 2]")
    (root / "channels" / "sites").mkdir()
    (root / "channels" / "sites" / "cafe-1.json").write_text('{"version": "../../x"}')
    assert main(["model", "list", "--registry", str(root)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if not line.startswith("problem")}
    assert set(rows) == {"1.0", "1.1", "1.2"} and "fleet" in rows["1.2"] and "0.7000" in rows["1.2"]
    assert "problem: " in out and "versions/1.1/card.json: not JSON" in out
    assert "versions/1.0/card.json: not a JSON object" in out and "channels/sites/cafe-1.json" in out


def test_a_swapped_file_is_refused_by_the_promote_command_and_the_edges_keep_their_model(tmp_path, keys, capsys):
    root = tmp_path / "reg"
    registry = registry_with(root, keys, "1.0", "2.0")
    registry.promote("1.0")
    watcher = watcher_of(registry, tmp_path, keys.public_key)
    (root / "versions" / "2.0" / "model.onnx").write_bytes(b"swapped")
    assert main(["model", "promote", "2.0", "--registry", str(root)]) == 2
    assert "changed after publishing" in capsys.readouterr().err
    assert registry.resolve().version == "1.0"
    assert watcher.check_now() is False and watcher.current() == b"model 1.0"
    fresh = watcher_of(registry, tmp_path / "fresh", keys.public_key)  # a fresh edge starts too
    assert fresh.current() == b"model 1.0"


def test_a_file_changed_after_its_promote_is_refused_and_the_running_model_keeps_serving(tmp_path, keys):
    root = tmp_path / "reg"
    registry = registry_with(root, keys, "1.0", "1.1")
    registry.promote("1.0")
    watcher = watcher_of(registry, tmp_path, keys.public_key)
    registry.promote("1.1")
    (root / "versions" / "1.1" / "model.onnx").write_bytes(b"tampered")
    assert watcher.check_now() is False
    assert watcher.current() == b"model 1.0" and "sha256" in (watcher.last_error or "")


@pytest.mark.parametrize(("damage", "message"), [
    ("unsigned", r"not signed \(no .*/versions/1.1/model.onnx.sig\)"),
    ("other key", r"versions/1.1/model.onnx.sig: the signature is not valid under the trusted key .* names key"),
    ("garbage", r"versions/1.1/model.onnx.sig: not a model signature file"),
    ("swapped with its checksum", r"signed for sha256"),
])
def test_an_edge_refuses_an_unsigned_or_badly_signed_model_by_name(tmp_path, keys, damage, message):
    root = tmp_path / "reg"
    registry = registry_with(root, keys, "1.0", "1.1")
    registry.promote("1.1")
    version = root / "versions" / "1.1"
    if damage == "unsigned":
        (version / "model.onnx.sig").unlink()
    elif damage == "other key":
        (version / "model.onnx.sig").write_bytes(make_keys(tmp_path, "attacker").sign("1.1", b"model 1.1"))
    elif damage == "garbage":
        (version / "model.onnx.sig").write_text("signed, honestly")
    else:
        (version / "model.onnx").write_bytes(b"evil")
        channel = json.loads((root / "channels" / "fleet.json").read_text())
        channel["sha256"] = hashlib.sha256(b"evil").hexdigest()
        (root / "channels" / "fleet.json").write_text(json.dumps(channel))
    with pytest.raises((ModelSignatureError, ModelVerificationError), match=message):
        watcher_of(registry, tmp_path, keys.public_key)


def test_a_signature_for_another_version_is_refused(tmp_path, keys):
    root = tmp_path / "reg"
    registry = registry_with(root, keys, "1.0", "1.1")
    registry.promote("1.1")
    (root / "versions" / "1.1" / "model.onnx.sig").write_bytes(keys.sign("1.0", b"model 1.1"))
    with pytest.raises(ModelSignatureError, match=r"signed as version 1.0, but it is published as 1.1"):
        watcher_of(registry, tmp_path, keys.public_key)


def test_an_edge_without_the_public_key_never_follows_a_registry(tmp_path, keys):
    registry = registry_with(tmp_path / "reg", keys, "1.0")
    registry.promote("1.0")
    with pytest.raises(ModelSignatureError, match="holds no public key"):
        watcher_of(registry, tmp_path, None)


def test_a_local_model_signed_by_the_publisher_runs_and_a_changed_one_does_not(tmp_path, keys):
    model = tmp_path / "expression.onnx"
    model.write_bytes(DEFAULT_MODEL.read_bytes())
    sign_file(load_private_key(keys.private), model, "1.0.1")
    store = ModelStore(tmp_path / "cache", trust_local=True, public_key=keys.public_key)
    resolved = store.resolve(LocalFileSource(model))
    assert resolved.path.read_bytes() == DEFAULT_MODEL.read_bytes()
    model.write_bytes(DEFAULT_MODEL.read_bytes() + b"\0")
    with pytest.raises(ModelVerificationError, match="sha256 is"):
        ModelStore(tmp_path / "cache2", trust_local=True, public_key=keys.public_key).resolve(LocalFileSource(model))
    (tmp_path / "expression.onnx.sig").unlink()
    with pytest.raises(ModelSignatureError, match=r"not signed \(no .*expression.onnx.sig\)"):
        store.resolve(LocalFileSource(model))


def test_edge_run_refuses_an_unsigned_model_when_given_the_key(tmp_path, keys, capsys):
    model = tmp_path / "expression.onnx"
    model.write_bytes(DEFAULT_MODEL.read_bytes())
    code = main(["edge", "run", "--source", str(tmp_path / "none.mp4"), "--site", "cafe", "--camera", "door",
                 "--model", str(model), "--model-public-key", str(keys.public)])
    assert code == 2
    assert "expression.onnx: not signed" in capsys.readouterr().err


def test_a_registry_given_the_public_key_checks_signatures_when_promoting(tmp_path, keys):
    root = tmp_path / "reg"
    registry_with(root, keys, "1.0")
    strict = Registry(LocalBlobStore(root), make_keys(tmp_path, "someone-else").public_key)
    with pytest.raises(ValueError, match="not valid under the trusted key"):
        strict.promote("1.0")
    assert strict.channel() is None


def test_model_sign_lets_an_edge_holding_the_key_run_a_local_model(tmp_path, keys, capsys):
    from edge.model.loading import open_model

    model = tmp_path / "expression.onnx"
    model.write_bytes(DEFAULT_MODEL.read_bytes())
    (tmp_path / "expression.json").write_text(DEFAULT_MODEL.with_suffix(".json").read_text())
    assert main(["model", "sign", str(model), "--signing-key", str(keys.private)]) == 0
    version = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())["version"]
    assert f"as version {version}" in capsys.readouterr().out
    _, classifier = open_model(str(model), None, 0, tmp_path / "cache", public_key_file=keys.public)
    assert classifier.info.version == version
    assert main(["model", "sign", str(model), "--signing-key", str(keys.private), "--version", "../1"]) == 2
    assert "not a version name" in capsys.readouterr().err
