"""The application factory. Nothing is built at import time: engines, caches and metrics belong to the
app, and the lifespan closes what it opened."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from usagegraph.admission import Admission, Overloaded
from usagegraph.compiled import CompiledExecutor
from usagegraph.context import Database
from usagegraph.db import migrate
from usagegraph.db.engine import create_engine, resolve_database_url
from usagegraph.graphql_http import GraphQLEndpoint, new_request_id
from usagegraph.http import ui
from usagegraph.insights_metrics import start_insights_collector
from usagegraph.logging import AccessLogMiddleware, configure_logging, is_configured
from usagegraph.maintenance import insights_refresher, rollup_compactor
from usagegraph.metrics import Metrics, MetricsMiddleware, PoolCollector
from usagegraph.schema.schema import build_schema
from usagegraph.settings import Settings
from usagegraph.workers import Board
from usagegraph.workspace_metrics import WorkspaceUtilizationCollector

log = logging.getLogger("usagegraph.app")


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
    process holds clearly more requests than the others, usagegraph.workers), so that a keep-alive
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


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    read_engine: AsyncEngine | None = None,
) -> Starlette:
    """Build the ASGI app. Engines passed in are owned by the caller; engines built here are disposed by
    the lifespan."""
    settings = settings or Settings()
    metrics = Metrics()
    schema = build_schema()
    holder: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned: list[AsyncEngine] = []
        primary = engine
        if primary is None:
            url = await anyio.to_thread.run_sync(resolve_database_url, settings)
            primary = create_engine(settings, url)
            owned.append(primary)
        replica = read_engine
        if replica is None and settings.database_read_url:
            replica = create_engine(settings, settings.database_read_url)
            owned.append(replica)
        db = Database(engine=primary, read_engine=replica or primary)
        holder["db"] = db
        holder["graphql"] = GraphQLEndpoint(
            schema._schema,
            settings,
            db,
            executor_class=CompiledExecutor if settings.compiled_execution else None,
            on_operation=metrics.count_operation,
            metrics=metrics,
        )
        app.state.db = db
        app.state.metrics = metrics
        # With `serve --workers N`: publish what this process holds on the workers' board.
        board = None
        if admission is not None and settings.worker_board is not None and settings.workers > 1:
            board = Board.join(settings.worker_board)
            if board is not None:
                holder["board"] = board
                admission.on_change = board.publish
        if not is_configured():
            configure_logging(settings)
        pools = PoolCollector({"primary": primary, **({"read": replica} if replica is not None else {})})
        workspace_gauges = WorkspaceUtilizationCollector(db)
        metrics.register(pools)
        metrics.register(workspace_gauges)
        metrics.log_handler.attach()
        workspace_gauges.start()
        app.state.workspace_gauges = workspace_gauges
        insights_gauges = await start_insights_collector(metrics.registry, db, settings)
        compactor = rollup_compactor(db, settings.rollup_compaction_seconds)
        if settings.rollup_compaction_seconds > 0:
            compactor.start()
        refresher = insights_refresher(db, settings.insights_refresh_seconds)
        if settings.insights_refresh_seconds > 0:
            refresher.start()
        # What startup built (schema, types, caches) lives as long as the process: keep the cyclic garbage
        # collector from traversing it again on every full collection during large responses.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await compactor.stop()
            await refresher.stop()
            await insights_gauges.close()
            await workspace_gauges.stop()
            metrics.log_handler.detach()
            metrics.unregister(workspace_gauges)
            metrics.unregister(pools)
            for owned_engine in owned:
                await owned_engine.dispose()
            if board is not None:
                holder.pop("board", None)
                if admission is not None:
                    admission.on_change = None
                board.close()

    admission = (
        Admission(
            settings.admission_min_active, settings.admission_share, settings.admission_max_wait_seconds
        )
        if settings.admission_min_active > 0
        else None
    )
    if admission is not None:
        metrics.watch_admission(admission)

    async def graphql(request: Request) -> Response:
        try:
            if admission is None:
                return await holder["graphql"](request)  # type: ignore[no-any-return]
            async with admission.slot() as waited:
                metrics.admission_wait.observe(waited)
                return await holder["graphql"](request)  # type: ignore[no-any-return]
        except Overloaded as overloaded:
            metrics.admission_rejected.inc()
            return _overloaded(request, overloaded)
        except Exception:
            return _unavailable(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        db: Database = holder["db"]
        try:
            with anyio.fail_after(5):
                async with db.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
                pending = await migrate.pending(db.engine)
        except Exception as error:  # noqa: BLE001  (readiness reports any failure as not ready)
            return JSONResponse({"status": "unavailable", "database": type(error).__name__}, status_code=503)
        if pending:
            return JSONResponse({"status": "unavailable", "migrations": "pending"}, status_code=503)
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/graphql", graphql, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics.endpoint, methods=["GET"]),
        *ui.routes(),
    ]

    def crowded() -> bool:
        board: Board | None = holder.get("board")
        return board is not None and admission is not None and board.crowded(admission.held)

    middleware = [Middleware(RequestIdMiddleware), Middleware(AccessLogMiddleware)]
    if settings.workers > 1:
        middleware.insert(
            0,
            Middleware(
                KeepAliveLimitMiddleware, max_requests=settings.keepalive_max_requests, crowded=crowded
            ),
        )
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Session-Token", "Content-Type"],
                allow_credentials=False,
                expose_headers=["X-Request-Id"],
            )
        )
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.admission = admission
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=lambda: app.routes)
    return app


def _unavailable(request: Request) -> Response:
    """A failure outside GraphQL execution (the token lookup while the database is down or the pool is
    exhausted): a GraphQL error body with the request id, logged with its traceback, instead of a bare
    text 500 that clients cannot parse. 503 with Retry-After because such failures are transient."""
    request_id = request.state.request_id
    log.exception("request failed outside execution", extra={"request_id": request_id})
    return _error_response(request, "Service unavailable")


def _error_response(request: Request, message: str) -> Response:
    request_id = request.state.request_id
    accept = request.headers.get("accept", "")
    media = (
        "application/graphql-response+json"
        if "application/graphql-response+json" in accept
        else "application/json"
    )
    body = {
        "errors": [
            {
                "message": message,
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ]
    }
    return JSONResponse(body, status_code=503, media_type=media, headers={"Retry-After": "1"})


def _overloaded(request: Request, overloaded: Overloaded) -> Response:
    """A request that was not admitted within the longest wait (usagegraph.admission): 503 with
    Retry-After, as for a database that cannot be reached."""
    log.warning(
        "request not admitted within %.1f s: server overloaded",
        overloaded.waited,
        extra={"request_id": request.state.request_id},
    )
    return _error_response(request, "Service unavailable: the server is overloaded, retry later")


def create_app_from_env() -> Starlette:
    """Factory for uvicorn workers: each worker process reads its settings from the environment."""
    settings = Settings()
    configure_logging(settings)
    return create_app(settings)
