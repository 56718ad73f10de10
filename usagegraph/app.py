"""The application factory. Nothing is built at import time: engines, caches and metrics belong to the
app, and the lifespan closes what it opened."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
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

from usagegraph.db import migrate
from usagegraph.db.database import Database
from usagegraph.db.engine import create_engine, resolve_database_url
from usagegraph.execution.compiled import CompiledExecutor
from usagegraph.http import ui
from usagegraph.http.admission import Admission, Overloaded
from usagegraph.http.endpoint import JSON, GraphQLEndpoint, response_media_type
from usagegraph.http.middleware import KeepAliveLimitMiddleware, RequestIdMiddleware
from usagegraph.http.otlp import otlp_routes
from usagegraph.http.rest.mount import rest_routes
from usagegraph.http.workers import Board
from usagegraph.monitoring.insights_gauges import start_insights_collector
from usagegraph.monitoring.logging import AccessLogMiddleware, configure_logging, is_configured
from usagegraph.monitoring.metrics import Metrics, MetricsMiddleware, PoolCollector
from usagegraph.monitoring.replica_gauges import ReplicaCollector
from usagegraph.monitoring.retention_gauges import RetentionCollector
from usagegraph.monitoring.workspace_gauges import WorkspaceUtilizationCollector
from usagegraph.schema.schema import build_schema
from usagegraph.settings import Settings
from usagegraph.upkeep import retention
from usagegraph.upkeep.periodic import insights_refresher, rollup_compactor

log = logging.getLogger("usagegraph.app")


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
        # Every part is entered on one exit stack: whatever started is stopped, in the reverse order, however
        # far startup got.
        async with contextlib.AsyncExitStack() as stack:
            primary = engine
            if primary is None:
                url = await anyio.to_thread.run_sync(resolve_database_url, settings)
                primary = create_engine(settings, url)
                stack.push_async_callback(primary.dispose)
            replica = read_engine
            if replica is None and settings.database_read_url:
                replica = create_engine(settings, settings.database_read_url)
                stack.push_async_callback(replica.dispose)
            db = Database(
                engine=primary,
                read_engine=replica or primary,
                replica_retry_seconds=settings.database_read_retry_seconds,
            )
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
            if admission is not None and settings.worker_board is not None and settings.workers > 1:
                board = Board.join(settings.worker_board)
                if board is not None:
                    stack.callback(_leave_board, holder, admission, board)
                    holder["board"] = board
                    admission.on_change = board.publish
            if not is_configured():
                configure_logging(settings)
            pools = PoolCollector({"primary": primary, **({"read": replica} if replica is not None else {})})
            metrics.register(pools)
            stack.callback(metrics.unregister, pools)
            if replica is not None:
                replica_gauges = ReplicaCollector(db)
                metrics.register(replica_gauges)
                stack.callback(metrics.unregister, replica_gauges)
            workspace_gauges = WorkspaceUtilizationCollector(db)
            metrics.register(workspace_gauges)
            stack.callback(metrics.unregister, workspace_gauges)
            metrics.log_handler.attach()
            stack.callback(metrics.log_handler.detach)
            workspace_gauges.start()
            stack.push_async_callback(workspace_gauges.stop)
            app.state.workspace_gauges = workspace_gauges
            insights_gauges = await start_insights_collector(metrics.registry, db, settings)
            stack.push_async_callback(insights_gauges.close)
            for job, seconds in (
                (
                    rollup_compactor(db, settings.rollup_compaction_seconds),
                    settings.rollup_compaction_seconds,
                ),
                (
                    insights_refresher(db, settings.insights_refresh_seconds),
                    settings.insights_refresh_seconds,
                ),
            ):
                if seconds > 0:
                    job.start()
                    stack.push_async_callback(job.stop)
            # Retention (off unless a USAGEGRAPH_RETENTION_*_DAYS is set): purged in the background.
            purges = retention.enabled(settings) and settings.retention_purge_seconds > 0
            retention_gauges = RetentionCollector(
                retention.TABLES,
                retention.retention_seconds(settings),
                settings.retention_purge_seconds if purges else 0.0,
            )
            metrics.register(retention_gauges)
            stack.callback(metrics.unregister, retention_gauges)
            app.state.retention_gauges = retention_gauges
            if purges:
                purge = retention.retention_purger(
                    db, settings, on_purged=retention_gauges.count, on_oldest=retention_gauges.observe
                )
                purge.start()
                stack.push_async_callback(purge.stop)
            # What startup built (schema, types, caches) lives as long as the process: keep the cyclic
            # garbage collector from traversing it again on every full collection during large responses.
            gc.collect()
            gc.freeze()
            yield

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
        *rest_routes(lambda: holder["graphql"], admission, metrics),
        *ui.routes(),
        *otlp_routes(settings),
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


def _leave_board(holder: dict[str, Any], admission: Admission, board: Board) -> None:
    holder.pop("board", None)
    admission.on_change = None
    board.close()


def _unavailable(request: Request) -> Response:
    """A failure outside GraphQL execution (the token lookup while the database is down or the pool is
    exhausted): a GraphQL error body with the request id, logged with its traceback, instead of a bare
    text 500 that clients cannot parse. 503 with Retry-After because such failures are transient."""
    request_id = request.state.request_id
    log.exception("request failed outside execution", extra={"request_id": request_id})
    return _error_response(request, "Service unavailable")


def _error_response(request: Request, message: str) -> Response:
    request_id = request.state.request_id
    media = response_media_type(request) or JSON
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
    """A request that was not admitted within the longest wait (usagegraph.http.admission): 503 with
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
