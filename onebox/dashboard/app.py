"""The live dashboard: one page, its script and style, a server-sent event stream, and the reports.

Security: bound to 127.0.0.1 unless told otherwise, and any other address needs a token (header
`Authorization: Bearer`, `?token=` once, then a same-site cookie). Every request must name this box
in its Host header (`onebox.dashboard.guard`: no DNS rebinding onto a tokenless page). It never serves an image: the
content security policy forbids images in the page, and a guard refuses any image response.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from onebox.config import weak_token
from onebox.dashboard.guard import allowed_hosts, host_allowed
from onebox.dashboard.state import REPORT_SUFFIXES, DashboardState

STATIC = Path(__file__).parent / "static"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'none'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
COOKIE = "moodlens_token"
REPORT_TYPES = {".html": "text/html", ".md": "text/markdown", ".txt": "text/plain", ".csv": "text/csv",
                ".json": "application/json", ".pdf": "application/pdf"}


def needs_token(host: str) -> bool:
    return host not in LOOPBACK


class Hub:
    """One poller for every viewer: reads the files, bumps `version` when something changed."""

    def __init__(self, state: DashboardState, poll_s: float = 0.2, refresh_s: float = 5.0) -> None:
        self.state, self.poll_s, self.refresh_s = state, poll_s, refresh_s
        self.version = 0
        self.payload = "{}"
        self._changed: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        self._publish()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    def _publish(self) -> None:
        self.state.poll()
        self.payload = json.dumps(self.state.snapshot(), separators=(",", ":"))
        self.version += 1

    async def _loop(self) -> None:
        assert self._changed is not None
        loop = asyncio.get_running_loop()
        since_refresh = 0.0
        while True:
            await asyncio.sleep(self.poll_s)
            since_refresh += self.poll_s
            changed = await loop.run_in_executor(None, self.state.poll)
            if changed or since_refresh >= self.refresh_s:  # children and health change without new windows
                since_refresh = 0.0
                self.payload = json.dumps(self.state.snapshot(), separators=(",", ":"))
                self.version += 1
                async with self._changed:
                    self._changed.notify_all()

    async def updates(self, request: Request) -> AsyncIterator[str]:
        assert self._changed is not None
        seen = -1
        while not await request.is_disconnected():
            if seen != self.version:
                seen = self.version
                yield f"data: {self.payload}\n\n"
            try:
                async with self._changed:
                    await asyncio.wait_for(self._changed.wait(), timeout=15)
            except TimeoutError:
                yield ": keep-alive\n\n"


def create_app(state: DashboardState, host: str = "127.0.0.1", token: str = "",  # nosec B107: "" = no token, refused off loopback
               poll_s: float = 0.2, host_names: Iterable[str] = ()) -> Starlette:
    """`host_names`: names besides loopback and `host` that browsers may reach the page by (the site
    file's [dashboard] allowed_hosts); a request naming any other Host is refused."""
    if needs_token(host) and not token:
        raise ValueError(f"the dashboard on {host} needs a token ([dashboard] token, --token or "
                         "MOODLENS_DASHBOARD_TOKEN); only 127.0.0.1 may go without")
    if needs_token(host) and (why := weak_token(token)):
        raise ValueError(f"the dashboard token is too weak for {host}: {why}")
    allowed = allowed_hosts(host, host_names)
    hub = Hub(state, poll_s)

    async def page(request: Request) -> Response:
        response = FileResponse(STATIC / "index.html", media_type="text/html")
        if token and request.query_params.get("token"):
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        types = {"app.js": "text/javascript", "app.css": "text/css"}
        if name not in types:
            return PlainTextResponse("not found", 404)
        return FileResponse(STATIC / name, media_type=types[name])

    async def events(request: Request) -> Response:
        return StreamingResponse(hub.updates(request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def snapshot(request: Request) -> Response:
        return JSONResponse(json.loads(hub.payload))

    async def report(request: Request) -> Response:
        name = request.path_params["name"]
        folder = state.reports_dir
        suffix = Path(name).suffix.lower()
        if folder is None or "/" in name or name.startswith(".") or suffix not in REPORT_SUFFIXES:
            return PlainTextResponse("not found", 404)
        path = folder / name
        if not path.is_file():
            return PlainTextResponse("not found", 404)
        return FileResponse(path, media_type=REPORT_TYPES[suffix])

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    class Guard(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            if not host_allowed(request.headers.get("host", ""), allowed, host):
                return PlainTextResponse("400: this dashboard does not answer to that Host name; add the name to "
                                         "[dashboard] allowed_hosts in the site file", 400)
            if token and not _authorized(request, token):
                return PlainTextResponse("401: this dashboard needs its token (?token=... or "
                                         "Authorization: Bearer ...)", 401, headers={"WWW-Authenticate": "Bearer"})
            response = await call_next(request)
            if response.headers.get("content-type", "").startswith("image/"):
                return PlainTextResponse("this dashboard never serves images", 403)
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
            return response

    routes = [Route("/", page), Route("/static/{name}", static), Route("/events", events),
              Route("/api/snapshot", snapshot), Route("/reports/{name}", report), Route("/favicon.ico", favicon)]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    return Starlette(routes=routes, middleware=[Middleware(Guard)], lifespan=lifespan)


def _authorized(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    offered = (header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else
               request.query_params.get("token") or request.cookies.get(COOKIE) or "")
    return hmac.compare_digest(offered.encode(), token.encode())
