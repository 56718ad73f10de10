"""Ingest throughput: activity events through POST /graphql (the real app, in-process over ASGI) in
batches of 1,000 and 10,000 with the rollup maintained, side by side with baselines that skip the API:
one unnest INSERT per batch without validation or rollup, and one INSERT statement per event.

Run: .venv/bin/python -m bench.ingest_bench [--events 20000] [--repeat 3] [--profile]

Each configuration runs --repeat times, alternating with its baseline, and the best run is shown: the
machine is shared, and the best run is the one least disturbed by other load.

The time of each API batch is split into: SQL (statements on the wire, measured by engine events),
ingest Python (validation, de-duplication, building arrays: resolver time minus SQL) and everything
before the resolver (HTTP, JSON, GraphQL parse and validation, variable coercion into input objects)."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from asgi_lifespan import LifespanManager
from sqlalchemy import event, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.factories import Factory
from usagegraph.app import create_app
from usagegraph.db import migrate
from usagegraph.db.embedded import start_embedded
from usagegraph.db.engine import create_engine
from usagegraph.db.queries.rollup import merge_sessions
from usagegraph.ingest import pipeline
from usagegraph.resolvers import ingest as ingest_resolver
from usagegraph.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MUTATION = "mutation($b: IngestBatch!) { ingest(batch: $b) { accepted duplicates rejected { code } } }"
START = datetime(2024, 3, 1, tzinfo=UTC)
CATEGORIES = ["IDE", "APP", "TUNNEL", "WEB_TERMINAL"]
APPS = ["vscode", "jetbrains", "ssh", "web-terminal", "code-server", "jupyter"]


class Timers:
    def __init__(self) -> None:
        self.sql = 0.0
        self.resolver = 0.0
        self.pipeline = 0.0
        self.pipeline_cpu = 0.0
        self.gc = 0.0
        self.gc_started = 0.0
        self.statements = 0
        self.by_statement: dict[str, float] = {}
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.gc_started = time.perf_counter()
        else:
            self.gc += time.perf_counter() - self.gc_started


def instrument(engine: AsyncEngine, timers: Timers) -> None:
    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(
        conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool
    ) -> None:
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(
        conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool
    ) -> None:
        elapsed = time.perf_counter() - conn.info.pop("bench_started")
        timers.sql += elapsed
        timers.statements += 1
        key = " ".join(statement.split())[:60]
        timers.by_statement[key] = timers.by_statement.get(key, 0.0) + elapsed

    original = ingest_resolver.ingest

    async def timed(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args)
        finally:
            timers.resolver += time.perf_counter() - started

    ingest_resolver.ingest = timed  # type: ignore[assignment]
    run_pipeline = pipeline.run

    async def timed_pipeline(*args: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return await run_pipeline(*args)
        finally:
            timers.pipeline += time.perf_counter() - started
            timers.pipeline_cpu += time.process_time() - cpu

    pipeline.run = timed_pipeline  # type: ignore[assignment]


def make_events(
    n: int, users: list[uuid.UUID], workspaces: list[uuid.UUID], rng: random.Random
) -> list[dict[str, Any]]:
    events = []
    for _ in range(n):
        k = rng.randrange(len(workspaces))
        start = START + timedelta(minutes=rng.randrange(60 * 24 * 28), seconds=rng.randrange(60))
        events.append(
            {
                "id": str(uuid.uuid4()),
                "userId": str(users[k % len(users)]),
                "workspaceId": str(workspaces[k]),
                "category": rng.choice(CATEGORIES),
                "app": rng.choice(APPS),
                "startedAt": start.isoformat().replace("+00:00", "Z"),
                "endedAt": (start + timedelta(seconds=rng.randrange(30, 5400)))
                .isoformat()
                .replace("+00:00", "Z"),
            }
        )
    return events


async def reset(engine: AsyncEngine) -> None:
    """Empties the sessions and every rollup kept from them, so each run starts from the same state."""
    async with engine.begin() as conn:
        names = (
            await conn.execute(text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'activity\\_%'"))
        ).scalars()
        await conn.execute(text(f"TRUNCATE {', '.join(names)}"))


async def via_api(
    client: httpx.AsyncClient, token: str, events: list[dict[str, Any]], size: int, timers: Timers
) -> tuple[float, dict[str, float]]:
    bodies = [
        orjson.dumps({"query": MUTATION, "variables": {"b": {"activity": events[i : i + size]}}})
        for i in range(0, len(events), size)
    ]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    gc.collect()
    gc.freeze()  # the client's generated events are not the server's heap: keep them out of its GC passes
    timers.sql = timers.resolver = timers.pipeline = timers.pipeline_cpu = timers.gc = 0.0
    timers.statements = 0
    cpu = time.process_time()
    started = time.perf_counter()
    for k, body in enumerate(bodies):
        response = await client.post("/graphql", content=body, headers=headers)
        result = response.json()
        if "errors" in result:
            raise RuntimeError(f"batch {k} of {size}: {result['errors'][0]['message']} (see the server log)")
        assert result["data"]["ingest"]["accepted"] == len(events[k * size : (k + 1) * size])
    total = time.perf_counter() - started
    gc.unfreeze()
    return total, {
        "cpu": time.process_time() - cpu,
        "pipeline_cpu": timers.pipeline_cpu,
        "gc": timers.gc,
        "sql": timers.sql,
        "python": timers.pipeline - timers.sql,
        "commit": timers.resolver - timers.pipeline,
        "before": total - timers.resolver,
        "statements": timers.statements / len(bodies),
    }


def rows_of(
    org: uuid.UUID, templates: dict[uuid.UUID, uuid.UUID], events: list[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    out = []
    for e in events:
        ws = uuid.UUID(e["workspaceId"])
        out.append(
            (
                org,
                uuid.UUID(e["id"]),
                uuid.UUID(e["userId"]),
                ws,
                templates[ws],
                e["category"],
                e["app"],
                datetime.fromisoformat(e["startedAt"]),
                datetime.fromisoformat(e["endedAt"]),
            )
        )
    return out


async def plain_unnest(
    engine: AsyncEngine, rows: list[tuple[Any, ...]], size: int, rollup: bool = False
) -> float:
    sql = text(
        "INSERT INTO activity_sessions (organization_id, id, user_id, workspace_id, template_id, category, app, "
        "started_at, ended_at) SELECT * FROM unnest(CAST(:a AS uuid[]), CAST(:b AS uuid[]), CAST(:c AS uuid[]), "
        "CAST(:d AS uuid[]), CAST(:e AS uuid[]), CAST(:f AS text[]), CAST(:g AS text[]), "
        "CAST(:h AS timestamptz[]), CAST(:i AS timestamptz[]))"
    )
    started = time.perf_counter()
    for i in range(0, len(rows), size):
        chunk = rows[i : i + size]
        params = {name: [row[k] for row in chunk] for k, name in enumerate("abcdefghi")}
        async with engine.begin() as conn:
            await conn.execute(sql, params)
            if rollup:
                await merge_sessions(conn, [(row[0], row[1]) for row in chunk])
    return time.perf_counter() - started


async def per_statement(engine: AsyncEngine, rows: list[tuple[Any, ...]]) -> float:
    sql = text(
        "INSERT INTO activity_sessions (organization_id, id, user_id, workspace_id, template_id, category, app, "
        "started_at, ended_at) VALUES (:a, :b, :c, :d, :e, :f, :g, :h, :i)"
    )
    started = time.perf_counter()
    async with engine.begin() as conn:
        for row in rows:
            await conn.execute(sql, dict(zip("abcdefghi", row, strict=True)))
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--per-statement-events", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration; the best one is shown")
    parser.add_argument("--profile", action="store_true", help="cProfile one 10,000-event API batch")
    args = parser.parse_args()

    server = make_url(start_embedded(ROOT / ".usagegraph-bench", database="postgres"))
    name = f"usagegraph_bench_{uuid.uuid4().hex[:6]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    settings = Settings(database_url=url, log_level="ERROR", max_body_bytes=64 * 1024 * 1024)
    engine = create_engine(settings)
    try:
        await migrate.upgrade(engine)
        await run(engine, settings, args)
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def run(engine: AsyncEngine, settings: Settings, args: argparse.Namespace) -> None:
    rng = random.Random(7)
    factory = Factory(engine)
    org = await factory.organization("bench")
    owner = await factory.user("owner", site_roles=["owner"])
    token = await factory.token(owner)
    users = [await factory.user(orgs={org: ["member"]}) for _ in range(200)]
    tpls = [await factory.template(org) for _ in range(5)]
    templates: dict[uuid.UUID, uuid.UUID] = {}
    for k in range(500):
        ws = await factory.workspace(org, tpls[k % 5], users[k % 200])
        templates[ws] = tpls[k % 5]
    workspaces = list(templates)
    timers = Timers()
    instrument(engine, timers)

    results: list[tuple[str, int, int, float, str]] = []
    splits: list[tuple[int, int, float, dict[str, float]]] = []
    failures: list[str] = []
    app = create_app(settings, engine=engine)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
            await via_api(client, token, make_events(1_000, users, workspaces, rng), 1_000, timers)  # warm-up
            for size in (1_000, 10_000):
                best: tuple[float, dict[str, float]] | None = None
                plain: float | None = None
                merged: float | None = None
                for _ in range(args.repeat):
                    await reset(engine)
                    events = make_events(args.events, users, workspaces, rng)
                    try:
                        seconds, split = await via_api(client, token, events, size, timers)
                    except RuntimeError as error:
                        gc.unfreeze()
                        failures.append(f"ingest API, batch {size}: {error}")
                        continue
                    if best is None or seconds < best[0]:
                        best = (seconds, split)
                    await reset(engine)
                    rows = rows_of(org, templates, make_events(args.events, users, workspaces, rng))
                    seconds = await plain_unnest(engine, rows, size)
                    plain = seconds if plain is None else min(plain, seconds)
                    await reset(engine)
                    rows = rows_of(org, templates, make_events(args.events, users, workspaces, rng))
                    try:
                        seconds = await plain_unnest(engine, rows, size, rollup=True)
                    except DBAPIError as error:
                        failures.append(f"INSERT + merge_sessions, batch {size}: {str(error.orig)[:120]}")
                        continue
                    merged = seconds if merged is None else min(merged, seconds)
                assert plain is not None
                if best is not None:
                    splits.append((size, args.events, *best))
                    results.append(
                        ("ingest API + rollup", size, args.events, best[0], "validation, dedup, rollup, HTTP")
                    )
                results.append(
                    (
                        "baseline: plain unnest INSERT",
                        size,
                        args.events,
                        plain,
                        "no validation, no rollup, no HTTP",
                    )
                )
                if merged is not None:
                    results.append(
                        (
                            "baseline: INSERT + merge_sessions",
                            size,
                            args.events,
                            merged,
                            "the shared rollup, no validation, no HTTP",
                        )
                    )
            await reset(engine)
            rows = rows_of(org, templates, make_events(args.per_statement_events, users, workspaces, rng))
            results.append(
                (
                    "baseline: one INSERT per event",
                    1,
                    len(rows),
                    await per_statement(engine, rows),
                    "one transaction, no validation, no rollup",
                )
            )
            if args.profile:
                await reset(engine)
                events = make_events(10_000, users, workspaces, rng)
                profiler = cProfile.Profile()
                profiler.enable()
                await via_api(client, token, events, 10_000, timers)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)

    print(f"\n{'path':<34} {'batch':>6} {'events':>7} {'seconds':>8} {'events/s':>9}  notes")
    for label, size, n, seconds, note in results:
        print(f"{label:<34} {size:>6} {n:>7} {seconds:>8.2f} {n / seconds:>9.0f}  {note}")
    for failure in failures:
        print(f"FAILED {failure}")
    print("\nwhere the API time goes (wall seconds; CPU = this process, which runs the whole app)")
    print(
        f"{'batch':>6} {'wall':>6} {'before resolver':>16} {'ingest Python':>14} {'SQL':>6} {'begin+commit':>13}"
        f" {'stmts/batch':>12} {'CPU':>6} {'CPU in ingest':>14} {'CPU us/event':>13} {'GC':>6}"
    )
    for size, n, seconds, split in splits:
        print(
            f"{size:>6} {seconds:>6.2f} {split['before']:>16.2f} {split['python']:>14.2f} {split['sql']:>6.2f}"
            f" {split['commit']:>13.2f} {split['statements']:>12.0f} {split['cpu']:>6.2f}"
            f" {split['pipeline_cpu']:>14.2f} {split['cpu'] / n * 1e6:>13.0f} {split['gc']:>6.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
