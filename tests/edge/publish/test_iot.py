"""IoT Core transport against a real mosquitto broker with mutual TLS (certificates made in the test)."""

from __future__ import annotations

import json
import logging
import random
import ssl
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.publish.backoff import Backoff
from edge.publish.iot import IotCoreTransport, MqttTlsSettings, topic_for
from edge.publish.ports import OutboundRecord, TransportUnavailable
from edge.publish.publisher import SpoolingPublisher
from edge.publish.spool import SqliteSpool
from tests.edge.publish.fakes import RecordingSleep, heartbeat
from tests.edge.publish.mosquitto import (
    MOSQUITTO_MISSING,
    Identity,
    Pki,
    free_port,
    make_pki,
    mosquitto,
    mosquitto_binary,
)

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason=MOSQUITTO_MISSING)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def broker(pki, tmp_path_factory):
    with mosquitto(pki, tmp_path_factory.mktemp("broker")) as port:
        yield port


def settings(pki: Pki, port: int, identity: Identity | None = None, ca: Path | None = None,
             client_id: str = "edge-site-1-cam-1") -> MqttTlsSettings:
    identity = identity or pki.client
    return MqttTlsSettings(host="127.0.0.1", port=port, client_id=client_id, ca_file=ca or pki.ca,
                           cert_file=identity.cert, key_file=identity.key, connect_timeout_s=10,
                           ack_timeout_s=10)


class Subscriber:
    """A trusted client on `moodlens/#` that collects what arrives."""

    def __init__(self, pki: Pki, port: int) -> None:
        self.messages: list[tuple[str, dict]] = []
        self._changed = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"subscriber-{random.random()}")
        self.client.tls_set(ca_certs=str(pki.ca), certfile=str(pki.client.cert), keyfile=str(pki.client.key),
                            tls_version=ssl.PROTOCOL_TLS_CLIENT)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.on_connect = lambda client, *_: client.subscribe("moodlens/#", qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10), "the test subscriber could not subscribe"

    def _on_message(self, client, userdata, message) -> None:
        with self._changed:
            self.messages.append((message.topic, json.loads(message.payload)))
            self._changed.notify_all()

    def wait_for(self, count: int) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + 10  # a safety net, not a timing assertion
        with self._changed:
            while len(self.messages) < count and time.monotonic() < deadline:
                self._changed.wait(0.1)
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber(pki, broker):
    sub = Subscriber(pki, broker)
    yield sub
    sub.close()


@pytest.mark.parametrize(("site", "camera", "topic"), [
    ("site-1", "cam-1", "moodlens/site-1/cam-1/events"),
    ("paris.opera", "door:2", "moodlens/paris.opera/door:2/events"),
    ("site-1", None, "moodlens/site-1/_site/events"),
])
def test_topic_is_site_then_camera(site, camera, topic):
    assert topic_for(OutboundRecord(1, b"{}", site, camera)) == topic


def test_events_arrive_in_order_on_their_topic_and_leave_the_spool_only_after_puback(
        pki, broker, subscriber, tmp_path):
    spool = SqliteSpool(tmp_path / "spool.db")
    transport = IotCoreTransport(settings(pki, broker))
    publisher = SpoolingPublisher(spool, transport, sleep=RecordingSleep())
    events = [heartbeat(n, camera=f"cam-{n % 2}") for n in range(150)]  # more than one batch
    for event in events:
        publisher.publish(event)

    result = publisher.drain()
    transport.close()

    assert (result.delivered, result.remaining, result.error) == (150, 0, None)
    received = subscriber.wait_for(150)
    assert [e["event_id"] for _, e in received] == [e["event_id"] for e in events]
    assert all(topic == f"moodlens/site-1/{e['camera_id']}/events" for topic, e in received)


@pytest.mark.parametrize(("case", "words"), [
    ("client certificate from another CA", "refused"),
    ("broker certificate we do not trust", "certificate verify failed"),
])
def test_a_refused_certificate_is_a_clear_error_and_loses_no_spooled_event(
        pki, broker, subscriber, tmp_path, case, words):
    if case.startswith("client"):
        bad = settings(pki, broker, identity=pki.rogue_client, client_id="rogue")
    else:
        bad = settings(pki, broker, ca=pki.rogue_ca, client_id="distrustful")
    spool = SqliteSpool(tmp_path / "spool.db")
    events = [heartbeat(n) for n in range(5)]
    refused = SpoolingPublisher(spool, IotCoreTransport(bad), sleep=RecordingSleep())
    for event in events:
        refused.publish(event)

    result = refused.drain()

    assert result.remaining == 5
    assert result.error is not None and words in result.error and f"127.0.0.1:{broker}" in result.error
    assert refused.stats.last_error == result.error
    with pytest.raises(TransportUnavailable):
        IotCoreTransport(bad).send(spool.peek(5, 1 << 20))

    # The same spool, fixed credentials: everything goes, in order.
    fixed = SpoolingPublisher(spool, IotCoreTransport(settings(pki, broker, client_id="fixed")))
    assert fixed.drain().remaining == 0
    fixed.transport.close()
    assert [e["event_id"] for _, e in subscriber.wait_for(5)] == [e["event_id"] for e in events]


def test_the_drainer_logs_each_refusal_and_reconnects_with_backoff(pki, broker, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="edge.publish.publisher")
    spool = SqliteSpool(tmp_path / "spool.db")
    publisher = SpoolingPublisher(spool, IotCoreTransport(settings(pki, broker, identity=pki.rogue_client)),
                                  backoff=Backoff(base_s=0.01, cap_s=0.05, rng=random.Random(3)))
    publisher.publish(heartbeat(0))
    publisher.start()
    try:
        deadline = time.monotonic() + 20  # a safety net, not a timing assertion
        while publisher.stats.consecutive_failures < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        publisher.stop()
        publisher.transport.close()

    assert publisher.stats.consecutive_failures >= 3
    assert spool.depth() == 1
    reconnects = [r.getMessage() for r in caplog.records if "reconnecting in" in r.getMessage()]
    assert len(reconnects) >= 2 and all("127.0.0.1" in m and "refused" in m for m in reconnects)


def test_a_broker_that_goes_away_keeps_events_spooled_until_it_is_back(pki, tmp_path):
    port = free_port()
    spool = SqliteSpool(tmp_path / "spool.db")
    transport = IotCoreTransport(settings(pki, port, client_id="survivor"))
    publisher = SpoolingPublisher(spool, transport, sleep=RecordingSleep())
    events = [heartbeat(n) for n in range(10)]
    with mosquitto(pki, tmp_path, port):
        for event in events[:4]:
            publisher.publish(event)
        assert publisher.drain().remaining == 0
    for event in events[4:]:
        publisher.publish(event)  # the broker is gone now

    down = publisher.drain()
    assert down.remaining == 6
    assert down.error is not None and f"127.0.0.1:{port}" in down.error

    with mosquitto(pki, tmp_path, port):
        sub = Subscriber(pki, port)
        up = publisher.drain()
        received = sub.wait_for(6)
        sub.close()
    transport.close()
    assert (up.remaining, up.error) == (0, None)
    assert [e["event_id"] for _, e in received] == [e["event_id"] for e in events[4:]]
