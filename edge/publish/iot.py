"""Transport to AWS IoT Core (or any MQTT broker) over MQTT with mutual TLS, QoS 1.

Topic: ``moodlens/{site}/{camera}/events``. A record counts as delivered only once the broker's PUBACK
for it arrived, and only then does the publisher delete it from the spool; anything not acknowledged
before `ack_timeout_s` (or before the connection dropped) is reported failed and sent again later.

Connection failures are never silent: a refused TCP connection, a TLS handshake the broker rejects
(wrong client certificate, unknown CA), a CONNACK with an error or no CONNACK at all each raise
`TransportUnavailable` with the broker's address and the reason; the publisher logs it and reconnects
after a backoff with jitter, keeping every event spooled meanwhile.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.publish.ports import BatchLimits, OutboundRecord, TransportUnavailable

logger = logging.getLogger(__name__)

TOPIC_TEMPLATE = "moodlens/{site}/{camera}/events"
NO_CAMERA = "_site"  # topic level for site-wide events; '_' keeps it clear of real camera ids
IOT_CORE_MAX_PAYLOAD = 128 * 1024


@dataclass(frozen=True)
class MqttTlsSettings:
    host: str
    client_id: str
    ca_file: Path
    cert_file: Path
    key_file: Path
    port: int = 8883
    keepalive_s: int = 60
    connect_timeout_s: float = 10.0
    ack_timeout_s: float = 10.0


def topic_for(record: OutboundRecord) -> str:
    return TOPIC_TEMPLATE.format(site=record.site_id, camera=record.camera_id or NO_CAMERA)


class IotCoreTransport:
    name = "iot-core"
    # IoT Core allows 128 KiB a message; a batch is only how many we keep in flight before the acks.
    limits = BatchLimits(max_records=100, max_bytes=2 * 1024 * 1024, max_record_bytes=IOT_CORE_MAX_PAYLOAD)

    def __init__(self, settings: MqttTlsSettings) -> None:
        self.settings = settings
        self._client: mqtt.Client | None = None
        self._changed = threading.Condition()  # signalled on CONNACK, PUBACK and disconnect
        self._connack: mqtt.ReasonCode | None = None
        self._connected = False
        self._problems: list[str] = []  # what paho reported going wrong on this connection, first first
        # PUBACKed message ids of the batch in flight. paho calls on_publish before it marks the
        # MQTTMessageInfo published, so we keep our own record rather than poll is_published().
        self._acked: set[int] = set()

    # ---------------------------------------------------------------- sending

    def send(self, records: Sequence[OutboundRecord]) -> list[int]:
        client = self._ensure_connected()
        with self._changed:
            self._acked.clear()
        mids = []
        for record in records:
            info = client.publish(topic_for(record), record.payload, qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN, mqtt.MQTT_ERR_AGAIN):
                logger.warning("MQTT publish of seq %d refused locally: %s", record.seq, mqtt.error_string(info.rc))
            mids.append(info.mid)
        deadline = time.monotonic() + self.settings.ack_timeout_s
        with self._changed:
            while self._connected and not self._acked.issuperset(mids):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            acked = set(self._acked)
        failed = [index for index, mid in enumerate(mids) if mid not in acked]
        if failed:
            reason = "connection lost" if not self._connected else f"no PUBACK within {self.settings.ack_timeout_s}s"
            if not self._connected:
                self._disconnect()  # start the next attempt from a clean connection
            if len(failed) == len(records):
                raise TransportUnavailable(f"MQTT {self._address()}: {reason}: none of {len(records)} acknowledged"
                                           + (f" ({self._problem_text()})" if self._problems else ""))
            logger.warning("MQTT %s: %s for %d of %d records", self._address(), reason, len(failed), len(records))
        return failed

    def close(self) -> None:
        self._disconnect()

    # ---------------------------------------------------------------- connection

    def _ensure_connected(self) -> mqtt.Client:
        if self._client is not None and self._connected:
            return self._client
        self._disconnect()
        settings = self.settings
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                             protocol=mqtt.MQTTv311, clean_session=True,
                             # We reconnect ourselves, with the publisher's backoff; paho's own loop
                             # would otherwise retry behind our back and hold loop_stop() up.
                             reconnect_on_failure=False)
        try:
            client.tls_set(ca_certs=str(settings.ca_file), certfile=str(settings.cert_file),
                           keyfile=str(settings.key_file), cert_reqs=ssl.CERT_REQUIRED,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (OSError, ssl.SSLError) as error:
            raise TransportUnavailable(f"MQTT TLS files for {self._address()} are unusable: {error}") from error
        client.max_inflight_messages_set(self.limits.max_records)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_log = self._on_log
        self._connack, self._connected, self._problems = None, False, []
        try:
            client.connect(settings.host, settings.port, keepalive=settings.keepalive_s)
        except ssl.SSLError as error:
            raise TransportUnavailable(f"MQTT {self._address()}: TLS handshake failed "
                                       f"(certificate or CA refused?): {error}") from error
        except OSError as error:
            raise TransportUnavailable(f"MQTT {self._address()}: cannot connect: {error}") from error
        self._client = client
        client.loop_start()
        deadline = time.monotonic() + settings.connect_timeout_s
        with self._changed:
            while self._connack is None and not self._problems:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
        if self._connack is not None and not self._connack.is_failure:
            logger.info("MQTT connected to %s as %s", self._address(), settings.client_id)
            return client
        if self._connack is not None:
            problem = f"broker refused the connection: {self._connack}"
        elif self._problems:
            problem = ("connection closed before CONNACK, the broker probably refused our client "
                       f"certificate: {self._problem_text()}")
        else:
            problem = f"no CONNACK within {settings.connect_timeout_s}s"
        self._disconnect()
        raise TransportUnavailable(f"MQTT {self._address()}: {problem}")

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        client.on_disconnect = None  # our own teardown is not news
        try:
            client.disconnect()
        finally:
            client.loop_stop()
        with self._changed:
            self._connected = False

    def _address(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    # ---------------------------------------------------------------- paho callbacks (its network thread)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: mqtt.ReasonCode,
                    properties: Any) -> None:
        with self._changed:
            self._connack = reason
            self._connected = not reason.is_failure
            self._changed.notify_all()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: mqtt.ReasonCode,
                       properties: Any) -> None:
        with self._changed:
            self._connected = False
            self._note(f"disconnected: {reason}")
            self._changed.notify_all()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: mqtt.ReasonCode,
                    properties: Any) -> None:
        with self._changed:
            self._acked.add(mid)
            self._changed.notify_all()

    def _on_log(self, client: mqtt.Client, userdata: Any, level: int, message: str) -> None:
        if level in (mqtt.MQTT_LOG_ERR, mqtt.MQTT_LOG_WARNING):
            with self._changed:
                self._note(message)
                self._changed.notify_all()

    def _note(self, problem: str) -> None:
        if problem not in self._problems and len(self._problems) < 4:
            self._problems.append(problem)

    def _problem_text(self) -> str:
        # TLS alerts (the useful part: "unknown ca", "certificate required") first, paho's aftermath last.
        return "; ".join(sorted(self._problems, key=lambda p: "SSL" not in p))
