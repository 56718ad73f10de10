"""Engine factory: one async engine per process, built by the app factory or a CLI command."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from usagegraph.db.embedded import start_embedded
from usagegraph.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded server's (started on demand)."""
    url = settings.database_url or start_embedded(settings.data_dir)
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    return create_async_engine(
        url or resolve_database_url(settings),
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.statement_timeout_ms),
                "application_name": "usagegraph",
                # Statements are prepared and cached per connection; after five runs PostgreSQL may switch
                # to a generic plan that ignores the sizes of the arrays bound to it, and for the rollup
                # and analytics statements such a plan can be orders of magnitude slower.
                "plan_cache_mode": "force_custom_plan",
            },
            "timeout": 10,
            "command_timeout": settings.statement_timeout_ms / 1000 + 5,
        },
    )
