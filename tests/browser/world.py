"""The browser tests' world: the demo generator's deployment over a few weeks, loaded through the ingest
path into a database of its own, with an admin's and a member's token, served by a real HTTP server on
127.0.0.1 (the browser needs a socket). Shared with bench/ui_bench.py."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from usagegraph import demo
from usagegraph.app import create_app
from usagegraph.auth.tokens import new_token, token_digest
from usagegraph.cli import _settle
from usagegraph.db.queries import auth
from usagegraph.local import local
from usagegraph.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "Chromium is missing for the browser tests: install it with `apt-get install -y chromium`"
DEMO_DAYS = 35


@dataclass
class World:
    database_url: str
    admin_token: str
    member_token: str


@asynccontextmanager
async def demo_database(server_url: str, days: int = DEMO_DAYS) -> AsyncIterator[World]:
    """A new database on the server of `server_url` with `days` of demo data ending at the current hour;
    dropped on exit."""
    server = make_url(server_url)
    name = f"usagegraph_browser_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        settings = Settings(database_url=url, statement_timeout_ms=600_000)
        async with local(settings) as loc:
            for batch in demo.generate(1, days=days):
                outcome = await loc.ingest(batch)
                assert not outcome["rejected"], outcome["rejected"][:3]
            await _settle(loc)
            tokens = []
            async with loc.engine.begin() as conn:
                for username in (demo.DEMO_ADMIN_USERNAME, demo.DEMO_MEMBER_USERNAME):
                    user_id = await auth.user_id_by_username(conn, username)
                    assert user_id is not None
                    token = new_token()
                    await auth.insert_token(conn, user_id, "browser tests", token_digest(token), None)
                    tokens.append(token)
        yield World(url, tokens[0], tokens[1])
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


class Server:
    """The app under uvicorn in a thread of its own (its own event loop), on a free port of 127.0.0.1."""

    def __init__(self, database_url: str, **overrides: Any) -> None:
        settings = Settings(
            database_url=database_url,
            log_format="console",
            insights_refresh_seconds=0,
            rollup_compaction_seconds=0,
            rate_limit_per_minute=100_000,
            rate_limit_burst=10_000,
            **overrides,
        )
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


async def started(server: Server) -> str:
    return await asyncio.to_thread(server.__enter__)
