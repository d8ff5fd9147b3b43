"""The dashboard's connections, held against half-sent requests and forged Host headers.

uvicorn closes an idle keep-alive connection, but it waits for ever on a request whose headers never
end, so a client opening connections and sending a few bytes on each locks every viewer out once the
process runs out of file descriptors. Here each connection must finish its request headers within
`header_timeout_s` of connecting (or of its previous response), and at most `max_waiting` connections
may be waiting for headers at once: a new one closes the one that has waited longest, so the box's
descriptors stay bounded and a real browser, which sends its headers at once, always gets in.
Connections that finished their headers (a page, the event stream) are never closed here.

The Host check stops DNS rebinding: a page on an attacker's name that resolves to this box would be
same-origin with the dashboard; only names and addresses the box answers to are accepted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0
MAX_WAITING = 64
MAX_CONCURRENT = 256  # connections plus running requests; beyond it uvicorn answers 503
MAX_HEADER_BYTES = 16 * 1024
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD = ("0.0.0.0", "::")  # nosec B104: names of the wildcard address, compared, not bound


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for request headers and a bound on connections waiting."""

    header_timeout_s = HEADER_TIMEOUT_S
    max_waiting = MAX_WAITING

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting_since: float | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        waiting = [c for c in self.connections if isinstance(c, GuardedH11) and c.waiting_since is not None]
        if len(waiting) >= self.max_waiting:
            min(waiting, key=lambda c: c.waiting_since or 0.0).drop()
        self._wait()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self._stop_waiting()  # the headers are in: the request runs (a page, the event stream)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._wait()  # a kept-alive connection owes the next request's headers on the same terms

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def drop(self) -> None:
        self._stop_waiting()
        if not self.transport.is_closing():
            self.transport.close()

    def _wait(self) -> None:
        self._stop_waiting()
        self.waiting_since = self.loop.time()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expired)

    def _stop_waiting(self) -> None:
        self.waiting_since = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        if self.waiting_since is not None:
            self.drop()


def guarded_protocol(header_timeout_s: float = HEADER_TIMEOUT_S, max_waiting: int = MAX_WAITING) -> type[GuardedH11]:
    return type("GuardedH11", (GuardedH11,), {"header_timeout_s": header_timeout_s, "max_waiting": max_waiting})


def allowed_hosts(host: str, names: Iterable[str] = ()) -> frozenset[str]:
    """The Host names the dashboard answers to: loopback, the address it listens on and `names` (the
    site file's [dashboard] allowed_hosts); listening on every interface adds this machine's names."""
    allowed = {*LOOPBACK_NAMES, host, *names}
    if host in WILDCARD:
        allowed |= {socket.gethostname(), socket.getfqdn()}
    return frozenset(name.lower().rstrip(".") for name in allowed if name)


def host_allowed(header: str, allowed: frozenset[str], bound: str) -> bool:
    """Whether a request's Host header names this box. An IP address is accepted when it is loopback,
    the address listened on, or any address when listening on all of them: a rebinding attack needs
    a name, never an address. Any name must be in `allowed`."""
    name = host_name(header)
    if name is None:
        return False
    if name in allowed:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or bound in WILDCARD


def host_name(header: str) -> str | None:
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8765
        end = header.find("]")
        return header[1:end] if end > 0 else None
    name, _, port = header.partition(":") if header.count(":") == 1 else (header, "", "")
    if port and not port.isdigit():
        return None
    return name.rstrip(".") or None
