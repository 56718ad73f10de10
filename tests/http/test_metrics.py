"""GET /metrics as Prometheus reads it: counters that move when requests, errors, log events and ingests
happen, the connection pool's state, and the per-workspace utilization gauges."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from tests.factories import Factory
from usagegraph import __version__
from usagegraph.app import create_app
from usagegraph.db.database import Database
from usagegraph.db.engine import create_engine
from usagegraph.monitoring.metrics import PoolCollector
from usagegraph.monitoring.workspace_gauges import WorkspaceUtilizationCollector
from usagegraph.settings import Settings

Served = tuple[Starlette, httpx.AsyncClient]


@pytest.fixture
async def served(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Served]:
    app = create_app(settings, engine=engine)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(exposition: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def post(client: httpx.AsyncClient, token: str | None, query: str, operation: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body: dict[str, Any] = {"query": query}
    if operation:
        body["operationName"] = operation
    return await client.post("/graphql", json=body, headers=headers)


async def test_http_requests_are_counted_by_method_route_and_status(served: Served) -> None:
    _, client = served
    before = await scrape(client)
    for _ in range(2):
        assert (await client.get("/healthz")).status_code == 200
    assert (await client.get(f"/no-such-page/{uuid.uuid4()}")).status_code == 404
    assert (await post(client, None, "{ viewer { username } }")).status_code == 401
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("usagegraph_http_requests_total", method="GET", route="/healthz", status="200") == 2
    assert delta("usagegraph_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert delta("usagegraph_http_requests_total", method="POST", route="/graphql", status="401") == 1
    assert delta("usagegraph_http_request_duration_seconds_count", method="GET", route="/healthz") == 2
    assert (
        value(
            after,
            "usagegraph_http_request_duration_seconds_bucket",
            method="GET",
            route="/healthz",
            le="+Inf",
        )
        >= 2
    )
    assert value(after, "usagegraph_build_info", version=__version__) == 1


async def test_graphql_operations_are_counted_by_name_and_outcome(
    served: Served, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client = served
    org = await factory.organization()
    user = await factory.user("ops", orgs={org: ["admin"]})
    token = await factory.token(user)

    async def broken(*args: Any) -> Any:
        raise RuntimeError("database exploded")

    monkeypatch.setattr("usagegraph.resolvers.compute.organization_compute", broken)
    compute = (
        f'query Compute {{ organization(id: "{org}") {{ compute(start: "2024-01-01T00:00:00Z", '
        'end: "2024-01-02T00:00:00Z", interval: "1 day") { nodes { node } } } }'
    )

    assert (await post(client, token, "query Me { viewer { username } }", "Me")).status_code == 200
    assert (await post(client, token, "query Me { viewer { username } }", "Me")).status_code == 200
    assert (await post(client, token, "query Typo { viewer { nosuchfield } }", "Typo")).status_code in (
        200,
        400,
    )
    errored = (await post(client, token, compute, "Compute")).json()
    assert errored["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    samples = await scrape(client)

    assert value(samples, "usagegraph_graphql_operations_total", operation="Me", outcome="ok") == 2
    assert (
        value(samples, "usagegraph_graphql_operations_total", operation="Typo", outcome="client_error") == 1
    )
    assert (
        value(samples, "usagegraph_graphql_operations_total", operation="Compute", outcome="server_error")
        == 1
    )


async def test_log_events_are_counted_by_severity(
    served: Served, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client = served
    user = await factory.user("logs", site_roles=["owner"])
    token = await factory.token(user)
    org = await factory.organization()

    async def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("usagegraph.resolvers.compute.organization_compute", broken)
    before = await scrape(client)
    query = (
        f'{{ organization(id: "{org}") {{ compute(start: "2024-01-01T00:00:00Z", end: "2024-01-02T00:00:00Z", '
        'interval: "1 day") { nodes { node } } } }'
    )
    await post(client, token, query)
    await post(client, token, "{ viewer { username } }")
    after = await scrape(client)

    errors = value(after, "usagegraph_log_events_total", level="error") - value(
        before, "usagegraph_log_events_total", level="error"
    )
    infos = value(after, "usagegraph_log_events_total", level="info") - value(
        before, "usagegraph_log_events_total", level="info"
    )
    assert errors == 1
    assert infos >= 2


async def test_pool_gauges_report_size_and_connections_in_use(served: Served, settings: Settings) -> None:
    app, client = served
    samples = await scrape(client)
    assert value(samples, "usagegraph_db_pool_size", pool="primary") == settings.pool_size
    assert (
        value(samples, "usagegraph_db_pool_limit", pool="primary")
        == settings.pool_size + settings.pool_max_overflow
    )
    assert value(samples, "usagegraph_db_pool_waiting", pool="primary") == 0

    async with app.state.db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        held = await scrape(client)
    in_use = value(held, "usagegraph_db_pool_checked_out", pool="primary")
    assert in_use >= 1
    assert value(held, "usagegraph_db_pool_connections", pool="primary") >= in_use


async def test_pool_gauges_count_checkouts_waiting_for_an_exhausted_pool(settings: Settings) -> None:
    small = create_engine(settings.model_copy(update={"pool_size": 1, "pool_max_overflow": 0}))
    registry = CollectorRegistry()
    registry.register(PoolCollector({"primary": small}))
    try:
        async with small.connect() as first:
            await first.execute(text("SELECT 1"))

            async def second() -> int:
                async with small.connect() as conn:
                    return int((await conn.execute(text("SELECT 2"))).scalar_one())

            waiter = asyncio.create_task(second())
            for _ in range(1000):
                samples = parse(generate_latest(registry).decode())
                if value(samples, "usagegraph_db_pool_waiting", pool="primary") == 1:
                    break
                await asyncio.sleep(0.005)
            assert value(samples, "usagegraph_db_pool_waiting", pool="primary") == 1
            assert value(samples, "usagegraph_db_pool_checked_out", pool="primary") == 1
            assert value(samples, "usagegraph_db_pool_idle", pool="primary") == 0
        assert await waiter == 2
        samples = parse(generate_latest(registry).decode())
        assert value(samples, "usagegraph_db_pool_waiting", pool="primary") == 0
        assert value(samples, "usagegraph_db_pool_checked_out", pool="primary") == 0
        assert value(samples, "usagegraph_db_pool_idle", pool="primary") == 1
    finally:
        await small.dispose()


async def test_ingest_counts_accepted_and_rejected_records_by_kind(served: Served, factory: Factory) -> None:
    _, client = served
    org = await factory.organization()
    owner = await factory.user(orgs={org: ["member"]})
    template = await factory.template(org)
    workspace = await factory.workspace(org, template, owner)
    collector = await factory.user("collector", site_roles=["collector"])
    token = await factory.token(collector)
    at = "2024-05-01T00:00:00Z"
    sample = "cpuUsedCores: 1, cpuLimitCores: 2, memoryUsedBytes: 1, memoryLimitBytes: 2"
    mutation = (
        "mutation { ingest(batch: { resources: ["
        f'{{ workspaceId: "{workspace}", at: "{at}", {sample} }},'
        f'{{ workspaceId: "{workspace}", at: "2024-05-01T00:01:00Z", {sample} }},'
        f'{{ workspaceId: "{uuid.uuid4()}", at: "{at}", {sample} }}'
        "] }) { accepted rejected { kind index code } } }"
    )
    body = (await post(client, token, mutation)).json()
    result = body["data"]["ingest"]
    assert result["accepted"] == 2
    [rejection] = result["rejected"]
    kind = rejection["kind"]
    samples = await scrape(client)
    assert value(samples, "usagegraph_ingest_records_total", kind=kind, result="accepted") == 2
    assert value(samples, "usagegraph_ingest_records_total", kind=kind, result="rejected") == 1


async def resource_sample(
    engine: AsyncEngine, org: uuid.UUID, ws: uuid.UUID, at: datetime, cpu: float
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO resource_samples (organization_id, workspace_id, at, node, cpu_used_cores, "
                "cpu_limit_cores, memory_used_bytes, memory_limit_bytes) VALUES (:org, :ws, :at, NULL, :cpu, 4, 512, 1024)"
            ),
            {"org": org, "ws": ws, "at": at, "cpu": cpu * 4},
        )


async def test_workspace_gauges_show_the_latest_sample_of_the_window(
    served: Served, factory: Factory, engine: AsyncEngine
) -> None:
    app, client = served
    org = await factory.organization("acme")
    alice = await factory.user("alice", orgs={org: ["member"]})
    bob = await factory.user("bob", orgs={org: ["member"]})
    python = await factory.template(org, "python")
    busy = await factory.workspace(org, python, alice, "busy")
    idle = await factory.workspace(org, python, bob, "idle")
    gone = await factory.workspace(org, python, bob, "gone")
    now = datetime.now(UTC)
    await resource_sample(engine, org, busy, now - timedelta(minutes=10), 0.25)
    await resource_sample(engine, org, busy, now - timedelta(minutes=2), 0.75)
    await resource_sample(engine, org, idle, now - timedelta(minutes=5), 0.125)
    await resource_sample(engine, org, gone, now - timedelta(minutes=20), 1.0)

    await app.state.workspace_gauges.refresh()
    samples = await scrape(client)

    labels = {"organization": "acme", "template": "python"}
    assert (
        value(samples, "usagegraph_workspace_cpu_utilization", username="alice", workspace="busy", **labels)
        == 0.75
    )
    assert (
        value(samples, "usagegraph_workspace_cpu_utilization", username="bob", workspace="idle", **labels)
        == 0.125
    )
    assert (
        value(samples, "usagegraph_workspace_memory_utilization", username="bob", workspace="idle", **labels)
        == 0.5
    )
    exported = {
        dict(key[1]).get("workspace") for key in samples if key[0] == "usagegraph_workspace_cpu_utilization"
    }
    assert exported == {"busy", "idle"}
    assert value(samples, "usagegraph_workspace_series_dropped") == 0
    assert value(samples, "usagegraph_workspace_gauges_refreshed_timestamp_seconds") > 0


async def test_workspace_gauges_are_capped_busiest_first(factory: Factory, engine: AsyncEngine) -> None:
    org = await factory.organization("acme")
    owner = await factory.user("carol", orgs={org: ["member"]})
    template = await factory.template(org, "go")
    now = datetime.now(UTC)
    for n, cpu in enumerate([0.5, 0.875, 0.25]):
        ws = await factory.workspace(org, template, owner, f"ws-{n}")
        await resource_sample(engine, org, ws, now - timedelta(minutes=1), cpu)
    collector = WorkspaceUtilizationCollector(Database(engine=engine, read_engine=engine), max_series=2)
    registry = CollectorRegistry()
    registry.register(collector)

    await collector.refresh()
    samples = parse(generate_latest(registry).decode())

    exported = {
        dict(key[1])["workspace"]: v
        for key, v in samples.items()
        if key[0] == "usagegraph_workspace_cpu_utilization"
    }
    assert exported == {"ws-1": 0.875, "ws-0": 0.5}
    assert value(samples, "usagegraph_workspace_series_dropped") == 1
