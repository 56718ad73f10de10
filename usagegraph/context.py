"""The per-request context: settings, database access, the caller and the request's loaders."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from usagegraph.auth.principal import Principal
from usagegraph.settings import Settings

if TYPE_CHECKING:
    from usagegraph.loaders import Loaders
    from usagegraph.metrics import Metrics


@dataclass
class Database:
    """The engines of one process. Reads may go to a replica; writes always go to the primary."""

    engine: AsyncEngine
    read_engine: AsyncEngine
    _reader: AsyncEngine = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Reads run outside a transaction block: under READ COMMITTED every statement takes its own snapshot
        # either way, and a read unit then costs its statements' round trips, not a BEGIN and a ROLLBACK more.
        self._reader = self.read_engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection of its own for one unit of read work (never shared between resolvers)."""
        async with self._reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One explicit transaction, committed when the block ends without error."""
        async with self.engine.begin() as conn:
            yield conn


@dataclass
class Context:
    settings: Settings
    db: Database
    principal: Principal
    request_id: str
    loaders: Loaders
    metrics: Metrics | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def release(self) -> None:
        """Drops what the request computed once its response is built. graphql-core's executor refers to
        itself through bound methods, so the context it holds (and every loaded row and shared result
        reachable from it) would otherwise wait for a full cyclic collection; released, a large response's
        objects are freed at once by reference counting."""
        self.state.clear()
        self.loaders.clear()

    @property
    def viewer_id(self) -> uuid.UUID:
        return self.principal.user_id
