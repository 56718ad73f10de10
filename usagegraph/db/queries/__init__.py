"""SQL of the server, a module per subject.

Statements are written as module constants in SQL and put together in one way only, by
usagegraph.db.queries.compose: a statement names a shared fragment as `$NAME` and `splice(statement,
NAME=fragment)` puts the fragment's text there (a fragment may name others; names left open are filled by
a later splice), while `sql(statement, ...)` does the same and returns the executable clause, refusing
any name still open. What is spliced is always SQL text of the server's own: constants, column and table
names, lists built from them. Values never are: they travel as bind parameters (`:name`), also where a
statement is chosen at run time (a filter's predicates, a cursor's condition). A statement that depends on
the request only through such choices is composed once, at import or through a small cache, not per call.

Reads run outside transaction blocks (each statement has its own snapshot), so reads that must agree
with each other are one statement (insights.day_sections); `work_mem` raises work_mem for a block."""

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
