"""The dashboard under half-sent requests and forged Host headers, as the issue's attacker tried it.

    .venv/bin/python benchmarks/dashboard_attack.py                 # 1,100 half-sent connections
    .venv/bin/python benchmarks/dashboard_attack.py --connections 3000

Opens N loopback connections that each send the start of a request and never finish its headers,
then asks for the page and the snapshot as a viewer would, and prints what came back, how long it
took, and how many connections the server still holds. Then a request with `Host: evil.example`.
Needs N + ~100 file descriptors (`ulimit -n`).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from onebox.dashboard.guard import HEADER_TIMEOUT_S, MAX_WAITING  # noqa: E402
from onebox.dashboard.server import open_dashboard  # noqa: E402

HALF_SENT = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"


def fetch(url: str, host: str | None = None) -> tuple[str, float]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310: loopback
            outcome = str(response.status)
    except urllib.error.HTTPError as error:
        outcome = str(error.code)
    except OSError as error:
        outcome = f"failed ({error})"
    return outcome, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1100)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dashboard-attack-"))
    (root / "stream").mkdir()
    server = open_dashboard(root, "127.0.0.1", 0, "")
    server.start()
    address = server.sock.getsockname()[:2]
    print(f"dashboard {server.url}: header deadline {HEADER_TIMEOUT_S:g} s, at most {MAX_WAITING} waiting")
    try:
        with ExitStack() as stack:
            opened = 0
            for _ in range(args.connections):
                sock = stack.enter_context(socket.create_connection(address, timeout=10))
                sock.sendall(HALF_SENT)
                opened += 1
            held = len(server.server.server_state.connections)
            print(f"half-sent connections opened: {opened}; held by the server: {held}")
            for path in ("", "api/snapshot"):
                outcome, seconds = fetch(server.url + path)
                print(f"GET /{path:<13} -> {outcome} in {seconds * 1000:.0f} ms")
        outcome, _ = fetch(server.url + "api/snapshot", host="evil.example")
        print(f"GET /api/snapshot with Host: evil.example -> {outcome}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
