"""Serving the dashboard with uvicorn on a socket bound here, so a busy port gets a clear message; its
connections are guarded (`onebox.dashboard.guard`) against half-sent requests."""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from onebox.dashboard.app import create_app
from onebox.dashboard.guard import HEADER_TIMEOUT_S, MAX_CONCURRENT, MAX_HEADER_BYTES, MAX_WAITING, guarded_protocol
from onebox.dashboard.state import DashboardState, ForecastHook
from onebox.eventlog import LogTail
from onebox.layout import Layout


class PortInUseError(RuntimeError):
    pass


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(f"the dashboard cannot listen on {host}:{port}: the port is already in use (another "
                            "`moodlens up` or `moodlens dashboard`?). Choose another [dashboard] port in the site "
                            "file or --port") from None
        raise PortInUseError(f"the dashboard cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def state_for(root: Path, reports: Path | None, lake: Path | None = None,
              timezone: str | None = None) -> DashboardState:
    """`timezone` None: the zone the box's status file names (else UTC)."""
    layout = Layout(root)
    return DashboardState(layout.stream, layout.status, reports or root / "reports", LogTail(layout.log),
                          forecast=lake_forecast(lake or root / "lake"), drift=lake_json(lake or root / "lake",
                                                                                            "drift.json", dict),
                          timezone=timezone)


def lake_json(lake: Path, name: str, kind: type) -> Callable[[], Any]:
    """`<lake>/<name>` as JSON of type `kind` when it exists (written by the box's daily jobs), else None."""
    import json

    def read() -> Any:
        try:
            value = json.loads((lake / name).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return value if isinstance(value, kind) else None

    return read


def lake_forecast(lake: Path) -> ForecastHook:
    """The analytics forecast: `<lake>/forecast.json` as [[time_ms, net], ...] when it exists."""
    import json

    def read() -> list[list[float]] | None:
        try:
            points = json.loads((lake / "forecast.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return points if isinstance(points, list) else None

    return read


class DashboardServer:
    def __init__(self, app: Starlette, sock: socket.socket, header_timeout_s: float = HEADER_TIMEOUT_S,
                 max_waiting: int = MAX_WAITING) -> None:
        self.sock = sock
        self.server = uvicorn.Server(uvicorn.Config(
            app, log_level="warning", access_log=False, timeout_graceful_shutdown=1,
            http=guarded_protocol(header_timeout_s, max_waiting), timeout_keep_alive=5,
            limit_concurrency=MAX_CONCURRENT, h11_max_incomplete_event_size=MAX_HEADER_BYTES))
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}/"

    def serve_forever(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self) -> None:
        self.thread = threading.Thread(target=self.serve_forever, name="dashboard", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.sock.close()


def open_dashboard(root: Path, host: str, port: int, token: str, reports: Path | None = None,
                   lake: Path | None = None, host_names: Sequence[str] = (),
                   timezone: str | None = None) -> DashboardServer:
    # create_app refuses a non-loopback host without a token
    app = create_app(state_for(root, reports, lake, timezone), host, token, host_names=host_names)
    return DashboardServer(app, bind(host, port))
