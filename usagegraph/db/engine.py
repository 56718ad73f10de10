"""Engine factory: one async engine per process, built by the app factory or a CLI command."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.util import await_only

from usagegraph.db.embedded import start_embedded
from usagegraph.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded server's (started on demand)."""
    return with_driver(settings.database_url or start_embedded(settings.data_dir))


def with_driver(url: str) -> str:
    """A plain `postgresql://` (or `postgres://`) URL given the asyncpg driver; others unchanged."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


_BROKEN = (
    "another operation is in progress",
    "connection was closed in the middle of operation",
    "connection is closed",
    "terminating connection due to administrator command",
)


def _invalidate_broken(context: ExceptionContext) -> None:
    """asyncpg reports a connection whose protocol was cut mid-operation (the server restarted, or an
    await was cancelled) as an error that the dialect does not count as a disconnect, so the pool would
    hand the broken connection out again, to fail or hang the next request. Count it as one: the pool
    then drops it (and, on a restart, every older connection) and the next checkout connects afresh."""
    if not context.is_disconnect and any(m in str(context.original_exception) for m in _BROKEN):
        context.is_disconnect = True


# A pooled connection returned longer ago than this is checked before it is handed out again.
IDLE_PING_SECONDS = 1.0


def _returned(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["returned_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
    """Pessimistic disconnect handling for connections that sat idle (the database may have restarted
    meanwhile): one trivial simple query, and on failure the pool drops the connection and checks out a
    fresh one. A connection returned within the last second is handed out unchecked: under load that is
    nearly every checkout, and a connection broken since fails its statement, which invalidates the whole
    pool (see _invalidate_broken), so the next checkouts connect afresh."""
    if dbapi_connection.driver_connection.is_closed():
        # The server ended it while it sat in the pool (a restart, a standby stopping): known without a
        # round trip, so it is replaced before a statement fails on it.
        raise DisconnectionError("connection closed by the server")
    if time.monotonic() - record.info.get("returned_at", 0.0) < IDLE_PING_SECONDS:
        return
    try:
        await_only(dbapi_connection.driver_connection.execute("SELECT 1"))
    except Exception as error:  # noqa: BLE001  (whatever broke it, the pool replaces the connection)
        raise DisconnectionError(str(error)) from error


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    engine = create_async_engine(
        with_driver(url) if url else resolve_database_url(settings),
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_timeout=10,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.statement_timeout_ms),
                "application_name": "usagegraph",
                # Statements are prepared and cached per connection; after five runs PostgreSQL may switch
                # to a generic plan that ignores the sizes of the arrays bound to it, and for the rollup
                # and analytics statements such a plan can be orders of magnitude slower.
                "plan_cache_mode": "force_custom_plan",
                # Room to hash the aggregates grouped by user and something else, whose groups the planner
                # cannot count in advance (with the default they are planned as sorts that spill to disk).
                "work_mem": "64MB",
                # The sections of one request already run side by side on their own connections, and
                # requests beside them: parallel workers only add processes competing for the same cores
                # (measured slower on two cores).
                "max_parallel_workers_per_gather": "0",
            },
            "timeout": 10,
            # Statements are composed per filter and section: more distinct texts than the driver's default
            # cache of 100 holds, and a statement missing from it is parsed and described again.
            "prepared_statement_cache_size": 500,
            "command_timeout": settings.statement_timeout_ms / 1000 + 5,
        },
    )
    event.listen(engine.sync_engine, "handle_error", _invalidate_broken)
    event.listen(engine.sync_engine.pool, "connect", _returned)  # a new connection needs no check either
    event.listen(engine.sync_engine.pool, "checkin", _returned)
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    return engine
