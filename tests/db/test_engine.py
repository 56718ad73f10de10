"""The engine's connections: reads outside transaction blocks with the server's statement settings, a larger
work_mem only inside `work_mem`, and a pooled connection that died while idle replaced at checkout."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from usagegraph.db.database import Database
from usagegraph.db.engine import IDLE_PING_SECONDS, create_engine
from usagegraph.db.queries import work_mem
from usagegraph.settings import Settings


async def test_reads_run_outside_transactions_with_the_server_settings(settings: Settings) -> None:
    engine = create_engine(settings)
    db = Database(engine=engine, read_engine=engine)
    try:
        async with db.read() as conn:
            settings_row = (
                await conn.execute(
                    text(
                        "SELECT current_setting('work_mem'), current_setting('max_parallel_workers_per_gather'), "
                        "now(), pg_sleep(0.01)"
                    )
                )
            ).one()
            assert tuple(settings_row)[:2] == ("64MB", "0")
            # now() is the transaction's start: the next statement is a transaction of its own.
            assert (await conn.execute(text("SELECT now()"))).scalar_one() > settings_row[2]
            async with work_mem(conn, "256MB"):
                assert (await conn.execute(text("SHOW work_mem"))).scalar_one() == "256MB"
            assert (await conn.execute(text("SHOW work_mem"))).scalar_one() == "64MB"
            with pytest.raises(ZeroDivisionError):
                async with work_mem(conn, "128MB"):
                    raise ZeroDivisionError
            assert (await conn.execute(text("SHOW work_mem"))).scalar_one() == "64MB"
        async with db.write() as conn:
            one = (await conn.execute(text("SELECT now(), pg_sleep(0.01)"))).one()[0]
            two = (await conn.execute(text("SELECT now()"))).scalar_one()
            assert one == two  # writes are one transaction
    finally:
        await engine.dispose()


async def test_a_connection_that_died_while_idle_is_replaced_at_checkout(settings: Settings) -> None:
    engine = create_engine(settings)
    db = Database(engine=engine, read_engine=engine)
    try:
        async with engine.connect() as killer:
            async with db.read() as conn:
                first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                await killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
                await killer.commit()
            # The dead connection went back to the pool first, so it is the next one handed out.
        await asyncio.sleep(IDLE_PING_SECONDS + 0.2)
        # The pool hands out the same connection first; the idle check finds it dead and connects afresh.
        async with db.read() as conn:
            second = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second != first
    finally:
        await engine.dispose()
