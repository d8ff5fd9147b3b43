"""The dashboard against a careless or hostile network: half-sent requests, forged Host headers."""

from __future__ import annotations

import ipaddress
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from onebox.dashboard.app import create_app
from onebox.dashboard.guard import allowed_hosts, host_allowed, host_name
from onebox.dashboard.server import DashboardServer, bind, state_for

HALF_SENT = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"  # the headers never end
HEADER_TIMEOUT_S = 1.0
MAX_WAITING = 16


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DashboardServer]:
    (tmp_path / "stream").mkdir()
    app = create_app(state_for(tmp_path, None), poll_s=0.05)
    running = DashboardServer(app, bind("127.0.0.1", 0), HEADER_TIMEOUT_S, MAX_WAITING)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _address(server: DashboardServer) -> tuple[str, int]:
    host, port = server.sock.getsockname()[:2]
    return host, port


def _half_sent(server: DashboardServer) -> socket.socket:
    sock = socket.create_connection(_address(server), timeout=10)
    sock.sendall(HALF_SENT)
    return sock


def _get(server: DashboardServer, path: str = "/api/snapshot") -> int:
    with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=10) as response:  # nosec B310: loopback
        return int(response.status)


def test_many_half_sent_requests_leave_the_page_answering_and_the_server_bounded(server: DashboardServer) -> None:
    with ExitStack() as stack:
        for _ in range(400):  # loopback only, a bounded count
            stack.enter_context(_half_sent(server))
        assert _get(server, "/") == 200
        assert _get(server) == 200
        held = len(server.server.server_state.connections)
        assert held <= MAX_WAITING + 1, f"{held} connections held open by half-sent requests"


def test_a_half_sent_request_is_closed_when_its_headers_do_not_come(server: DashboardServer) -> None:
    with _half_sent(server) as sock:
        assert sock.recv(1024) == b""  # the server hung up (a stalled server would run into the 10 s timeout)


def test_a_kept_alive_connection_owes_its_next_headers_too(server: DashboardServer) -> None:
    with socket.create_connection(_address(server), timeout=10) as sock:
        sock.sendall(b"GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 204")
        sock.sendall(HALF_SENT)
        assert sock.recv(1024) == b""


def test_the_event_stream_outlives_the_header_deadline(server: DashboardServer) -> None:
    with socket.create_connection(_address(server), timeout=10) as sock:
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"200 OK" in sock.recv(65536)
        sock.settimeout(HEADER_TIMEOUT_S * 3)  # past the header deadline; the hub refreshes every 5 s
        try:
            data = sock.recv(65536)
        except TimeoutError:
            data = b"(still open)"
        assert data != b"", "the server closed a running event stream"


def test_a_forged_host_is_refused_and_the_boxs_own_names_are_served(tmp_path: Path) -> None:
    (tmp_path / "stream").mkdir()
    app = create_app(state_for(tmp_path, None))
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        for host in ("evil.example", "evil.example:8765", "127.0.0.1.evil.example", "", "localhost:x"):
            response = client.get("/api/snapshot", headers={"Host": host})
            assert response.status_code == 400, host
            assert "allowed_hosts" in response.text
        for host in ("127.0.0.1:8765", "localhost:8765", "LOCALHOST", "[::1]:8765", "localhost."):
            assert client.get("/api/snapshot", headers={"Host": host}).status_code == 200, host


def test_a_lan_dashboard_takes_its_named_hosts_and_addresses_but_not_other_names(tmp_path: Path) -> None:
    (tmp_path / "stream").mkdir()
    app = create_app(state_for(tmp_path, None), host="0.0.0.0", token="a-long-enough-token-1234",  # nosec B104
                     host_names=["cafe-box.lan"])
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        bearer = {"Authorization": "Bearer a-long-enough-token-1234"}
        for host in ("cafe-box.lan:8765", "192.168.1.20:8765", "[fe80::1]:8765"):
            assert client.get("/api/snapshot", headers={"Host": host, **bearer}).status_code == 200, host
        assert client.get("/api/snapshot", headers={"Host": "evil.example", **bearer}).status_code == 400


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=30))
def test_a_loopback_dashboard_takes_only_loopback_names_and_addresses(header: str) -> None:
    if host_allowed(header, allowed_hosts("127.0.0.1"), "127.0.0.1"):
        name = host_name(header)
        assert name is not None
        assert name in ("localhost", "127.0.0.1", "::1") or ipaddress.ip_address(name).is_loopback
