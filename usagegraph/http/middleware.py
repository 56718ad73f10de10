"""ASGI middleware of the HTTP surface: a request id on every request and response, and the keep-alive limit
that lets `serve --workers N` spread connections over its processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from usagegraph.http.endpoint import new_request_id


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"x-request-id")
        request_id = new_request_id(raw.decode("latin-1") if raw else None)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_wrapper)  # type: ignore[arg-type]


class KeepAliveLimitMiddleware:
    """Asks the client to close its connection (`Connection: close`) with the response to its
    `max_requests`-th request on that connection (0: never), or to any request while `crowded()` (this
    process holds clearly more requests than the others, usagegraph.http.workers), so that a keep-alive
    connection does not stay with one server process for good. The processes of `serve --workers N` share
    one listening socket and race to accept: a burst of new connections (a dashboard opening its panels, a
    proxy's pool) can land mostly on one process and keep it busy while another idles, and those
    connections never move. Reconnecting, the client lands on whichever process accepts first. Counted
    per TCP connection (the client's address and port) in this process."""

    def __init__(self, app: ASGIApp, max_requests: int, crowded: Callable[[], bool] = lambda: False) -> None:
        self.app = app
        self.max_requests = max_requests
        self.crowded = crowded
        self.served: dict[Any, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or client is None:
            await self.app(scope, receive, send)
            return
        key = tuple(client)
        count = self.served.pop(key, 0) + 1
        if count < self.max_requests or self.max_requests <= 0:
            if len(self.served) >= 100_000:  # connections the client closed first leave their count behind
                self.served.clear()
            self.served[key] = count

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and (key not in self.served or self.crowded()):
                self.served.pop(key, None)
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, receive, send_wrapper)  # type: ignore[arg-type]
