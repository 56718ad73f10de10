"""OTLP intake throughput: Claude Code shaped log events through POST /v1/logs (the real app, in process
over ASGI) in batches of 512 log records (the OpenTelemetry SDK's default batch), side by side with the
same events through the `ingest` mutation, sent the way a collector written for it would: each batch of
events folded into the cumulative snapshots of the sessions it touched (start, end, one usage line per
model), since AI sessions are ingested as snapshots.

Run: .venv/bin/python -m bench.otlp_bench [--events 20480] [--batch 512] [--repeat 3]

Each run writes a fresh organization's sessions (new session ids), so runs do not see each other's rows.
Bodies are encoded before the clock starts: the figures are the server's work (HTTP, decoding, mapping,
SQL), not the client's. The best of --repeat runs is shown; the machine is shared."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
from asgi_lifespan import LifespanManager
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import usagegraph.http.otlp as otlp_http
from tests.factories import Factory
from tests.ingest.otlp_client import Event, Person, claude_events, proto_logs
from usagegraph.app import create_app
from usagegraph.db import migrate
from usagegraph.db.embedded import start_embedded
from usagegraph.db.engine import create_engine
from usagegraph.ingest import pipeline
from usagegraph.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MUTATION = (
    "mutation($b: IngestBatch!) { ingest(batch: $b) { accepted duplicates rejected { code message } } }"
)


def snapshots(batches: list[list[Event]], org: uuid.UUID) -> list[dict[str, Any]]:
    """For each batch of events, the ingest batch a collector would send: the sessions it touched, each
    as its cumulative snapshot so far."""
    state: dict[str, dict[str, Any]] = {}
    out = []
    for batch in batches:
        touched: dict[str, None] = {}
        for e in batch:
            s = state.setdefault(
                e.session,
                {
                    "user": e.person.user_id,
                    "start": e.at,
                    "end": e.at,
                    "lines": defaultdict(lambda: [0, 0, 0, 0, Decimal(0), True]),
                },
            )
            s["start"], s["end"] = min(s["start"], e.at), max(s["end"], e.at)
            if e.name == "api_request" and e.model is not None:
                line = s["lines"][e.model]
                for i in range(4):
                    line[i] += e.tokens[i]
                if e.cost is None:
                    line[5] = False
                else:
                    line[4] += Decimal(str(e.cost))
            touched[e.session] = None
        sessions = []
        for key in touched:
            s = state[key]
            sessions.append(
                {
                    "id": key,
                    "organizationId": str(org),
                    "userId": str(s["user"]),
                    "agent": "claude-code",
                    "startedAt": s["start"].isoformat(),
                    "endedAt": s["end"].isoformat(),
                    "usage": [
                        {
                            "model": model,
                            "inputTokens": v[0],
                            "outputTokens": v[1],
                            "cacheReadTokens": v[2],
                            "cacheWriteTokens": v[3],
                            **({"cost": str(v[4])} if v[5] else {}),
                        }
                        for model, v in sorted(s["lines"].items())
                    ],
                }
            )
        out.append({"aiSessions": sessions})
    return out


async def world(engine: AsyncEngine, run: int) -> tuple[uuid.UUID, str, list[Person]]:
    f = Factory(engine)
    org = await f.organization(f"bench-{run}-{uuid.uuid4().hex[:6]}")
    people = []
    for n in range(20):
        name = f"dev-{run}-{n}-{uuid.uuid4().hex[:6]}"
        user = await f.user(name, email=f"{name}@bench.test", orgs={org: ["member"]})
        people.append(Person(user, str(uuid.uuid4()), f"{name}@bench.test"))
    collector = await f.user(f"collector-{run}-{uuid.uuid4().hex[:6]}", orgs={org: ["collector"]})
    return org, await f.token(collector), people


def _events(people: list[Person], total: int, seed: int) -> list[Event]:
    per_session = 16
    start = (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0)
    events = claude_events(
        people, sessions=max(1, total // per_session), seed=seed, start=start, events_per_session=per_session
    )
    return sorted(events, key=lambda e: e.at)[:total]


async def via_otlp(client: httpx.AsyncClient, token: str, bodies: list[bytes]) -> float:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}
    began = time.perf_counter()
    for body in bodies:
        response = await client.post("/v1/logs", content=body, headers=headers)
        assert response.status_code == 200, response.content
        assert response.content == b"", response.content  # no partial success: every record stored
    return time.perf_counter() - began


async def via_ingest(client: httpx.AsyncClient, token: str, bodies: list[bytes]) -> float:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    began = time.perf_counter()
    for body in bodies:
        response = await client.post("/graphql", content=body, headers=headers)
        result = response.json()
        assert "errors" not in result and not result["data"]["ingest"]["rejected"], result
    return time.perf_counter() - began


SPENT: dict[str, float] = defaultdict(float)


def instrument() -> None:
    """Time spent in the OTLP store step (the transaction) and, within it, in the ingest pipeline's AI
    session path; the rest of a request is HTTP, decoding and mapping."""
    store, run_pipeline = otlp_http.store, pipeline.run

    async def timed_store(*args: Any) -> Any:
        began = time.perf_counter()
        try:
            return await store(*args)
        finally:
            SPENT["store"] += time.perf_counter() - began

    async def timed_pipeline(*args: Any) -> Any:
        began = time.perf_counter()
        try:
            return await run_pipeline(*args)
        finally:
            SPENT["pipeline"] += time.perf_counter() - began

    otlp_http.store = timed_store  # type: ignore[assignment]
    pipeline.run = timed_pipeline  # type: ignore[assignment]


async def run(engine: AsyncEngine, settings: Settings, args: argparse.Namespace) -> None:
    instrument()
    app = create_app(settings, engine=engine)
    results: dict[str, list[float]] = {"otlp": [], "ingest": []}
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
            for attempt in range(args.repeat):
                for path in ("otlp", "ingest"):
                    org, token, people = await world(engine, attempt * 2 + (path == "ingest"))
                    events = _events(people, args.events, seed=attempt * 2 + (path == "ingest"))
                    batches = [events[i : i + args.batch] for i in range(0, len(events), args.batch)]
                    SPENT.clear()
                    if path == "otlp":
                        resource = {"service.name": "claude-code", "service.version": "2.0.0"}
                        bodies = [proto_logs(b, resource).SerializeToString() for b in batches]
                        seconds = await via_otlp(client, token, bodies)
                    else:
                        bodies = [
                            orjson.dumps({"query": MUTATION, "variables": {"b": b}})
                            for b in snapshots(batches, org)
                        ]
                        seconds = await via_ingest(client, token, bodies)
                    results[path].append(len(events) / seconds)
                    print(
                        f"run {attempt + 1} {path:>6}: {len(events):,} events in {len(batches)} batches, {seconds:.2f} s, {len(events) / seconds:,.0f} events/s"
                    )
                    ms = {k: v / len(batches) * 1000 for k, v in SPENT.items()}
                    print(
                        f"    per batch {seconds / len(batches) * 1000:.0f} ms: store transaction "
                        f"{ms.get('store', 0):.0f} ms, ingest AI session path {ms.get('pipeline', 0):.0f} ms"
                    )
    print()
    print(f"{'path':<48} {'events/s (best)':>16} {'ms per batch':>13}")
    for path, label in (
        ("otlp", f"POST /v1/logs, protobuf, {args.batch} records/batch"),
        ("ingest", f"ingest mutation, session snapshots of {args.batch} events"),
    ):
        best = max(results[path])
        print(f"{label:<48} {best:>16,.0f} {args.batch / best * 1000:>13.1f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_480)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    server = make_url(start_embedded(ROOT / ".usagegraph-bench", database="postgres"))
    name = f"usagegraph_bench_{uuid.uuid4().hex[:6]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    settings = Settings(database_url=url, log_level="ERROR", rate_limit_per_minute=0)
    engine = create_engine(settings)
    try:
        await migrate.upgrade(engine)
        await run(engine, settings, args)
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
