"""A signature vouches for one (version, sha256) under one key, and for nothing else."""

import base64
import json
import string

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.model.signature import ModelSignatureError, load_public_key, verify
from training.signing import sign

PUBLISHER = Ed25519PrivateKey.generate()
STRANGER = Ed25519PrivateKey.generate()
versions = st.text(alphabet=string.ascii_letters + string.digits + "._-", min_size=1, max_size=64)
digests = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


@given(versions, digests)
def test_a_signature_verifies_as_exactly_what_was_signed(version, sha256):
    signed = verify(sign(PUBLISHER, version, sha256), PUBLISHER.public_key(), "m.sig")
    assert (signed.version, signed.sha256) == (version, sha256)


@settings(max_examples=200)
@given(versions, digests, st.sampled_from(["version", "sha256", "signature", "key"]), st.data())
def test_any_change_to_what_was_signed_is_refused(version, sha256, change, data):
    body = json.loads(sign(PUBLISHER, version, sha256))
    key = PUBLISHER.public_key()
    if change == "version":
        body["version"] = data.draw(versions.filter(lambda v: v != version))
    elif change == "sha256":
        body["sha256"] = data.draw(digests.filter(lambda d: d != sha256))
    elif change == "signature":
        raw = bytearray(base64.b64decode(body["signature"]))
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        body["signature"] = base64.b64encode(bytes(raw)).decode()
    else:
        key = STRANGER.public_key()
    with pytest.raises(ModelSignatureError, match="not valid under the trusted key"):
        verify(json.dumps(body).encode(), key, "m.sig")


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"format": "moodlens-model-signature/1"}',
                                  '{"format": "other/9", "version": "1", "sha256": "' + "0" * 64
                                  + '", "key_id": "x", "signature": "AA=="}'])
def test_what_is_not_a_signature_file_is_named(text):
    with pytest.raises(ModelSignatureError, match=r"m\.sig"):
        verify(text.encode(), PUBLISHER.public_key(), "m.sig")


def test_a_public_key_file_that_is_not_one_is_named(tmp_path):
    (tmp_path / "k.pub").write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ModelSignatureError, match=r"k\.pub: not a PEM public key"):
        load_public_key(tmp_path / "k.pub")
    with pytest.raises(FileNotFoundError, match="no public key at"):
        load_public_key(tmp_path / "none.pub")
