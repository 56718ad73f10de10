"""`usagegraph export` then `usagegraph import` (docs/operations.md, "Export and backup"): a generated
world exported from one database and imported into a fresh one gives the same answers from every analytics
field; an organization's export carries that organization alone; `--since` keeps the entities whole and
the facts from that time on."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.analytics_probe import every_field
from tests.conftest import GraphQL
from usagegraph import demo
from usagegraph.app import create_app
from usagegraph.auth.tokens import new_token, token_digest
from usagegraph.cli import main
from usagegraph.db.engine import create_engine
from usagegraph.db.queries import auth
from usagegraph.local import local
from usagegraph.settings import Settings

NOW = datetime(2026, 5, 4, tzinfo=UTC)
DAYS = 3
START = (NOW - timedelta(days=DAYS)).isoformat().replace("+00:00", "Z")
END = NOW.isoformat().replace("+00:00", "Z")


@pytest.fixture
async def fresh_databases(database_url: str) -> AsyncIterator[list[str]]:
    """URLs of two empty databases on the test server (not migrated: import migrates)."""
    server = make_url(database_url)
    names = [f"usagegraph_export_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        for name in names:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield [server.set(database=name).render_as_string(hide_password=False) for name in names]
    async with admin.connect() as conn:
        for name in names:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


def _extra(world_orgs: list[str], users: list[str]) -> dict[str, Any]:
    """AI sessions whose costs must survive the trip exactly: one with a given cost, one unpriced."""
    base = {"organizationId": world_orgs[0], "userId": users[0], "agent": "export-test"}
    return {
        "aiSessions": [
            {
                **base,
                "id": str(uuid.uuid4()),
                "startedAt": (NOW - timedelta(hours=5)).isoformat(),
                "endedAt": (NOW - timedelta(hours=4)).isoformat(),
                "usage": [{"model": "claude-sonnet-4", "inputTokens": 1000, "cost": "1.234567"}],
            },
            {
                **base,
                "id": str(uuid.uuid4()),
                "startedAt": (NOW - timedelta(hours=3)).isoformat(),
                "usage": [{"model": "no-such-model", "inputTokens": 7, "outputTokens": 3}],
            },
        ]
    }


async def _load(settings: Settings) -> None:
    async with local(settings) as loc:
        organizations: list[str] = []
        users: list[str] = []
        for batch in demo.generate(seed=11, now=NOW, days=DAYS):
            organizations += [o["id"] for o in batch.get("organizations", [])]
            users += [
                m["userId"] for m in batch.get("memberships", []) if m["organizationId"] == organizations[0]
            ]
            outcome = await loc.ingest(batch)
            assert not outcome["rejected"], outcome["rejected"][:3]
        outcome = await loc.ingest(_extra(organizations, users))
        assert outcome["accepted"] == 2, outcome


async def _answers(url: str, settings: Settings, orgs: list[str] | None = None) -> dict[str, Any]:
    """Every analytics field of every organization (or of `orgs`), asked through HTTP."""
    settings = settings.model_copy(update={"database_url": url, "rate_limit_per_minute": 0})
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            owner = await auth.create_owner(conn, f"reader-{uuid.uuid4().hex[:6]}")
            token = new_token()
            await auth.insert_token(conn, owner, "export test", token_digest(token), None)
        app = create_app(settings, engine=engine)
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", timeout=120
            ) as client:
                gql = GraphQL(client)
                listed = await gql("{ organizations { id name } }", token=token)
                ids = orgs or sorted(o["id"] for o in listed["data"]["organizations"])
                return {org: await every_field(gql, token, org, START, END) for org in ids}
    finally:
        await engine.dispose()


def _cli(monkeypatch: pytest.MonkeyPatch, url: str, *args: str) -> None:
    monkeypatch.setenv("USAGEGRAPH_DATABASE_URL", url)
    main(list(args))


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two answers differ (the first few paths), for a readable failure."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _differences(a.get(k), b.get(k), f"{path}.{k}")][:10]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")
        ][:10]
    if isinstance(a, float) and isinstance(b, float):
        # Sums of doubles depend on the order PostgreSQL meets the rows in, which a reload changes: the
        # stored values are the same, their averages may differ in the last bits.
        return [] if math.isclose(a, b, rel_tol=1e-12) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {str(a)[:200]} != {str(b)[:200]}"]


def _kinds(path: Path) -> Counter[str]:
    return Counter(orjson.loads(raw)["kind"] for raw in path.read_bytes().splitlines())


async def test_export_then_import_gives_the_same_answers(
    settings: Settings,
    engine: AsyncEngine,
    fresh_databases: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _load(settings)
    source = settings.database_url
    assert source is not None
    everything = tmp_path / "everything.ndjson"
    await asyncio.to_thread(_cli, monkeypatch, source, "export", str(everything))
    kinds = _kinds(everything)
    assert set(kinds) == set(demo.ENTITY_KINDS) | set(demo.FACT_KINDS)
    async with engine.connect() as conn:
        stored = {
            "activity": "activity_sessions",
            "aiSessions": "ai_sessions",
            "resources": "resource_samples",
            "latency": "latency_samples",
            "nodes": "node_samples",
            "workspaces": "workspaces",
            "organizations": "organizations",
        }
        for kind, table in stored.items():
            count = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608
            assert kinds[kind] == count, kind

    target, single = fresh_databases
    await asyncio.to_thread(_cli, monkeypatch, target, "import", str(everything))

    expected = await _answers(source, settings)
    assert len(expected) == kinds["organizations"] > 1
    # Every section has something to compare, in some organization.
    for section in (
        lambda a: a["activity"]["users"],
        lambda a: a["ide"]["buckets"],
        lambda a: a["templateInsights"]["userLatency"],
        lambda a: a["templateInsights"]["appUsage"],
        lambda a: a["templateInsights"]["parameters"],
        lambda a: a["organization"]["logins"][-1]["mau"],
        lambda a: a["organization"]["sessionAnalytics"]["users"],
        lambda a: a["organization"]["sessionAnalytics"]["summary"]["unpricedSessions"],
        lambda a: a["organization"]["compute"]["nodes"],
        lambda a: a["organization"]["compute"]["workspaces"],
    ):
        assert any(section(answers) for answers in expected.values())
    imported = await _answers(target, settings)
    assert _differences(imported, expected) == []

    # One organization split off into a deployment of its own answers as it did.
    org = sorted(expected)[0]
    one = tmp_path / "one.ndjson"
    await asyncio.to_thread(_cli, monkeypatch, source, "export", "--organization", org, str(one))
    lines = [orjson.loads(raw) for raw in one.read_bytes().splitlines()]
    assert {r["id"] for r in lines if r["kind"] == "organizations"} == {org}
    assert all(r["organizationId"] == org for r in lines if "organizationId" in r)
    assert not any("siteRoles" in r for r in lines)
    await asyncio.to_thread(_cli, monkeypatch, single, "import", str(one))
    assert _differences(await _answers(single, settings, [org]), {org: expected[org]}) == []


async def test_since_keeps_entities_and_the_later_facts(
    settings: Settings, engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _load(settings)
    source = settings.database_url
    assert source is not None
    since = NOW - timedelta(days=1)
    everything, later = tmp_path / "all.ndjson", tmp_path / "later.ndjson"
    await asyncio.to_thread(_cli, monkeypatch, source, "export", str(everything))
    await asyncio.to_thread(
        _cli, monkeypatch, source, "export", "--since", since.date().isoformat(), str(later)
    )
    full, recent = _kinds(everything), _kinds(later)
    for kind in demo.ENTITY_KINDS:
        assert recent[kind] == full[kind], kind
    async with engine.connect() as conn:
        for kind, sql in {
            "activity": "SELECT count(*) FROM activity_sessions WHERE started_at >= :s OR ended_at IS NULL OR ended_at >= :s",
            "resources": "SELECT count(*) FROM resource_samples WHERE at >= :s",
            "aiSessions": "SELECT count(*) FROM ai_sessions WHERE started_at >= :s OR ended_at IS NULL OR ended_at >= :s",
        }.items():
            count = (await conn.execute(text(sql), {"s": since})).scalar_one()
            assert 0 < recent[kind] == count < full[kind], kind
    for raw in later.read_bytes().splitlines():
        record = orjson.loads(raw)
        if record["kind"] in ("latency", "resources", "nodes"):
            assert record["at"] >= since.isoformat().replace("+00:00", "Z")
