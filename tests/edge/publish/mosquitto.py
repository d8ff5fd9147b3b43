"""A real mosquitto broker for tests: TLS only, client certificates required, certificates made here."""

from __future__ import annotations

import datetime
import getpass
import ipaddress
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MOSQUITTO_MISSING = ("mosquitto is not installed: the IoT publisher's mutual-TLS tests need the real broker "
                     "(apt-get install -y mosquitto)")


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).is_file()), None)


@dataclass(frozen=True)
class Identity:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: Identity
    client: Identity
    rogue_ca: Path  # an unrelated CA: the broker must refuse what it signed
    rogue_client: Identity


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
                 issuer_key: ec.EllipticCurvePrivateKey, is_ca: bool, server: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    if is_ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _issue(directory: Path, name: str, ca_name: str, ca_key: ec.EllipticCurvePrivateKey,
           server: bool = False) -> Identity:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(name, key, ca_name, ca_key, is_ca=False, server=server)
    identity = Identity(directory / f"{name}.pem", directory / f"{name}.key")
    identity.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, identity.key)
    return identity


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    cas = {}
    for ca_name in ("moodlens-test-ca", "rogue-ca"):
        key = ec.generate_private_key(ec.SECP256R1())
        path = directory / f"{ca_name}.pem"
        path.write_bytes(_certificate(ca_name, key, ca_name, key, is_ca=True).public_bytes(serialization.Encoding.PEM))
        cas[ca_name] = (path, key)
    ca_path, ca_key = cas["moodlens-test-ca"]
    rogue_path, rogue_key = cas["rogue-ca"]
    return Pki(ca=ca_path,
               server=_issue(directory, "broker", "moodlens-test-ca", ca_key, server=True),
               client=_issue(directory, "edge-client", "moodlens-test-ca", ca_key),
               rogue_ca=rogue_path,
               rogue_client=_issue(directory, "rogue-client", "rogue-ca", rogue_key))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mosquitto(pki: Pki, directory: Path, port: int | None = None) -> Iterator[int]:
    """Runs mosquitto with one TLS listener requiring a client certificate; yields its port."""
    binary = mosquitto_binary()
    assert binary is not None, MOSQUITTO_MISSING
    port = port or free_port()
    config = directory / f"mosquitto-{port}.conf"
    config.write_text("\n".join([
        # Run as whoever runs the tests: as root, mosquitto would otherwise drop to user `mosquitto`,
        # which cannot read pytest's private temporary folders.
        f"user {getpass.getuser()}",
        "per_listener_settings false",
        "persistence false",
        f"log_dest file {directory / f'mosquitto-{port}.log'}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        f"listener {port} 127.0.0.1",
        f"cafile {pki.ca}",
        f"certfile {pki.server.cert}",
        f"keyfile {pki.server.key}",
        "require_certificate true",
        "use_identity_as_username true",
        "allow_anonymous false",
        "",
    ]))
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15  # a safety net against a broker that never starts
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"mosquitto exited with {process.returncode}: {error}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"mosquitto did not listen on port {port}")
