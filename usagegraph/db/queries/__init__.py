"""SQL of the server, a module per subject."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@asynccontextmanager
async def work_mem(conn: AsyncConnection, size: str) -> AsyncIterator[None]:
    """A larger work_mem for the statements of the block (reads run outside transaction blocks, so a
    transaction-local setting would end with its own statement); the connection's default is restored
    after them, also when one fails."""
    await conn.execute(text("SELECT set_config('work_mem', :size, false)"), {"size": size})
    try:
        yield
    finally:
        await conn.execute(text("RESET work_mem"))
