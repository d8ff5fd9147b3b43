"""Builds the edge's event sink for `moodlens edge run --publisher local|kinesis|iot`.

Each choice is the same `SpoolingPublisher` (durable spool, background drainer) with another transport.
Settings come from a `PublisherSettings`, which `from_environment` fills from MOODLENS_* variables so
Greengrass (or systemd) can configure the component without new command-line flags.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from edge.publish.publisher import SpoolingPublisher
from edge.publish.spool import SpoolBounds, SqliteSpool
from edge.state import state_dir
from schemas.validation import require_identifiers

N = TypeVar("N", int, float)


@dataclass(frozen=True)
class PublisherSettings:
    spool_path: Path
    local_log_dir: Path | None = None
    kinesis_stream: str | None = None
    kinesis_endpoint_url: str | None = None  # moto or a VPC endpoint; None for AWS itself
    region: str | None = None
    iot_endpoint: str | None = None
    iot_port: int = 8883
    iot_ca_file: Path | None = None
    iot_cert_file: Path | None = None
    iot_key_file: Path | None = None
    iot_client_id: str | None = None
    spool_max_records: int = SpoolBounds.max_records
    spool_max_bytes: int = SpoolBounds.max_bytes
    spool_max_age_s: float = SpoolBounds.max_age_s

    @classmethod
    def from_environment(cls, site_id: str, camera_id: str) -> PublisherSettings:
        # The ids name the spool file below: checked against the contract before any path is built.
        require_identifiers(site=site_id, camera=camera_id)
        env = os.environ.get
        state = state_dir()

        def path(name: str) -> Path | None:
            value = env(name)
            return Path(value) if value else None

        return cls(
            spool_path=path("MOODLENS_SPOOL") or state / f"spool-{site_id}-{camera_id}.db",
            local_log_dir=path("MOODLENS_LOCAL_LOG"),
            kinesis_stream=env("MOODLENS_KINESIS_STREAM"),
            kinesis_endpoint_url=env("MOODLENS_KINESIS_ENDPOINT_URL"),
            region=env("AWS_REGION") or env("AWS_DEFAULT_REGION"),
            iot_endpoint=env("MOODLENS_IOT_ENDPOINT"),
            iot_port=_number("MOODLENS_IOT_PORT", 8883, int),
            iot_ca_file=path("MOODLENS_IOT_CA"),
            iot_cert_file=path("MOODLENS_IOT_CERT"),
            iot_key_file=path("MOODLENS_IOT_KEY"),
            iot_client_id=env("MOODLENS_IOT_CLIENT_ID"),
            spool_max_records=_number("MOODLENS_SPOOL_MAX_RECORDS", SpoolBounds.max_records, int),
            spool_max_bytes=_number("MOODLENS_SPOOL_MAX_BYTES", SpoolBounds.max_bytes, int),
            spool_max_age_s=_number("MOODLENS_SPOOL_MAX_AGE_S", SpoolBounds.max_age_s, float),
        )


def _number(name: str, default: N, kind: Callable[[str], N]) -> N:
    """A numeric MOODLENS_* setting; a bad value names the variable and the value, not int()'s message."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name}={text!r} is not {what} (default {default})") from None
    if value <= 0:
        raise ValueError(f"{name}={text!r} must be positive (default {default})")
    return value


def build_publisher(kind: str, site_id: str, camera_id: str, settings: PublisherSettings) -> SpoolingPublisher:
    """A started SpoolingPublisher for `kind`; raises ValueError naming what is missing."""
    from edge.publish.ports import Transport

    require_identifiers(site=site_id, camera=camera_id)  # they name the MQTT client and topics

    transport: Transport
    if kind == "local":
        if settings.local_log_dir is None:
            raise ValueError("the local log publisher needs a log directory (MOODLENS_LOCAL_LOG)")
        from edge.publish.local import LocalLogTransport

        transport = LocalLogTransport(settings.local_log_dir, producer=f"{site_id}.{camera_id}")
    elif kind == "kinesis":
        if not settings.kinesis_stream:
            raise ValueError("--publisher kinesis needs a stream name (MOODLENS_KINESIS_STREAM)")
        from edge.publish.kinesis import KinesisTransport, kinesis_client

        transport = KinesisTransport(settings.kinesis_stream,
                                     kinesis_client(settings.region, settings.kinesis_endpoint_url))
    elif kind == "iot":
        missing = [name for name, value in (("MOODLENS_IOT_ENDPOINT", settings.iot_endpoint),
                                            ("MOODLENS_IOT_CA", settings.iot_ca_file),
                                            ("MOODLENS_IOT_CERT", settings.iot_cert_file),
                                            ("MOODLENS_IOT_KEY", settings.iot_key_file)) if not value]
        if missing:
            raise ValueError(f"--publisher iot needs {', '.join(missing)}")
        from edge.publish.iot import IotCoreTransport, MqttTlsSettings

        assert settings.iot_endpoint and settings.iot_ca_file and settings.iot_cert_file and settings.iot_key_file
        transport = IotCoreTransport(MqttTlsSettings(
            host=settings.iot_endpoint, port=settings.iot_port,
            client_id=settings.iot_client_id or f"moodlens-{site_id}-{camera_id}",
            ca_file=settings.iot_ca_file, cert_file=settings.iot_cert_file, key_file=settings.iot_key_file))
    else:
        raise ValueError(f"unknown publisher {kind!r}; choose local, kinesis or iot")
    spool = SqliteSpool(settings.spool_path, SpoolBounds(settings.spool_max_records, settings.spool_max_bytes,
                                                         settings.spool_max_age_s))
    publisher = SpoolingPublisher(spool, transport)
    publisher.start()
    return publisher
