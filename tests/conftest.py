"""Test fixtures: a real PostgreSQL (embedded by default, or USAGEGRAPH_TEST_DATABASE_URL), a fresh
database per test session built by the migrations, tables emptied after every test, and the app served
in-process through HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.factories import Factory
from usagegraph.app import create_app
from usagegraph.db import migrate
from usagegraph.db.embedded import start_embedded, stop_embedded
from usagegraph.db.engine import create_engine
from usagegraph.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

# CI replays the same generated examples on every run (a red build must be reproducible); local runs explore.
hypothesis.settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")


TEST_DATA = ROOT / ".usagegraph-test"


def _server_url() -> tuple[str, bool]:
    """The server's URL, and whether this run started the embedded server (and so stops it at the end)."""
    url = os.environ.get("USAGEGRAPH_TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+asyncpg://", 1), False
    started = not (TEST_DATA / "pg" / "postmaster.pid").exists()
    return start_embedded(TEST_DATA, database="postgres"), started


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    raw, started = _server_url()
    server = make_url(raw)
    name = f"usagegraph_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    yield url
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()
    if started:
        stop_embedded(TEST_DATA)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # The Template Insights day rows are refreshed where a test says so (tests/test_insights_org.py has
    # the server's own background refresh), not at a moment that depends on the machine's speed.
    return Settings(database_url=database_url, log_format="console", insights_refresh_seconds=0)


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


_TABLES: list[str] = []


@pytest.fixture(autouse=True)
async def _clean(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "engine" not in request.fixturenames:
        return
    engine: AsyncEngine = request.getfixturevalue("engine")
    async with engine.begin() as conn:
        if not _TABLES:
            rows = await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
            _TABLES.extend(row.tablename for row in rows)
        await conn.execute(text(f"TRUNCATE {', '.join(_TABLES)} CASCADE"))


@pytest.fixture
async def factory(engine: AsyncEngine) -> Factory:
    return Factory(engine)


async def _client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(settings, engine):
        yield c


@pytest.fixture
def make_client(engine: AsyncEngine, settings: Settings) -> Any:
    """A client of an app with other settings (e.g. insights disabled)."""

    def make(**overrides: Any) -> Any:
        return _client(settings.model_copy(update=overrides), engine)

    return make


class GraphQL:
    """Posts GraphQL operations with a token, as a dashboard would."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        body["_status"] = response.status_code
        return body


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    return GraphQL(client)
