"""The engines of one process, below every request: reads may go to a replica, writes go to the primary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


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
