"""Mixed load against a real `usagegraph serve --workers N` on loopback: dashboard queries of every kind
plus concurrent ingest batches, at a fixed concurrency for a fixed time, then throughput, p50, p99 and
errors per kind and overall.

Run: .venv/bin/python -m bench.load [--duration 60] [--warmup 5] [--concurrency 32] [--workers 2]
     [--database-url URL]   (default: an embedded PostgreSQL under .usagegraph-load, with a load database
                             made afresh at every run: filled with the demo data the first time of the
                             day, copied from that day's first load afterwards; --reuse keeps it)

Each client has a token of its own (as dashboards do), so the per-token rate limit is not what is measured.
The server is started here and stopped by its pid at the end, whatever happens."""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
INGEST = "mutation($b: IngestBatch!) { ingest(batch: $b) { accepted duplicates rejected { code } } }"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    done = subprocess.run(  # noqa: S603 (our own command line)
        [str(BIN / "usagegraph"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise SystemExit(f"usagegraph {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "USAGEGRAPH_DATABASE_URL": database_url, "USAGEGRAPH_LOG_LEVEL": "WARNING"}
    env.update({f"USAGEGRAPH_{k.upper()}": v for k, v in extra.items()})
    return env


def prepare_database(env: dict[str, str]) -> None:
    """Migrations, then the demo data set when the database has no organization yet."""
    cli(env, "migrate")
    probe = (
        "import asyncio, sys\n"
        "from sqlalchemy import text\n"
        "from usagegraph.db.engine import create_engine\n"
        "from usagegraph.settings import Settings\n"
        "async def main():\n"
        "    engine = create_engine(Settings())\n"
        "    async with engine.connect() as conn:\n"
        "        n = (await conn.execute(text('SELECT count(*) FROM organizations'))).scalar_one()\n"
        "    await engine.dispose()\n"
        "    print(n)\n"
        "asyncio.run(main())\n"
    )
    count = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    if count == "0":
        print("loading demo data (first use of this database)...", flush=True)
        cli({**env, "USAGEGRAPH_STATEMENT_TIMEOUT_MS": "600000"}, "demo-data", timeout=1800)


class Server:
    """`usagegraph serve` as a child process, stopped by its own pid."""

    def __init__(self, env: dict[str, str], workers: int, log: Path | None = None) -> None:
        self.log = log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        output = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
        self.process = subprocess.Popen(  # noqa: S603
            [str(BIN / "usagegraph"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--workers", str(self.workers)],
            env=self.env,
            cwd=ROOT,
            stdout=output,
            stderr=output,
        )

    async def wait_listening(self, within: float = 60) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise SystemExit(f"server exited with {self.process.returncode}")
                try:
                    if (await client.get(f"{self.base}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise SystemExit("server did not start listening")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


async def post(
    client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    body["_status"] = response.status_code
    return body


@dataclass
class World:
    orgs: list[str]
    templates: dict[str, list[str]]
    workspaces: dict[str, list[tuple[str, str]]]
    end: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )


async def discover(client: httpx.AsyncClient, token: str) -> World:
    body = await post(
        client,
        token,
        "{ organizations { id templates { id } workspaces(first: 100) { nodes { id owner { id } } } } }",
    )
    orgs = body["data"]["organizations"]
    return World(
        orgs=[o["id"] for o in orgs],
        templates={o["id"]: [t["id"] for t in o["templates"]] for o in orgs},
        workspaces={o["id"]: [(w["id"], w["owner"]["id"]) for w in o["workspaces"]["nodes"]] for o in orgs},
    )


async def client_tokens(client: httpx.AsyncClient, owner: str, count: int) -> list[str]:
    viewer = (await post(client, owner, "{ viewer { id } }"))["data"]["viewer"]["id"]
    tokens = []
    for n in range(count):
        body = await post(
            client,
            owner,
            "mutation($u: ID!, $n: String!) { createToken(userId: $u, name: $n) { token } }",
            {"u": viewer, "n": f"load-{n}"},
        )
        tokens.append(body["data"]["createToken"]["token"])
    return tokens


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def dashboard_requests(
    world: World, rng: random.Random
) -> dict[str, Callable[[], tuple[str, dict[str, Any]]]]:
    """One request builder per dashboard panel kind."""
    end = world.end
    month, week = _iso(end - timedelta(days=28)), _iso(end - timedelta(days=7))

    def org() -> str:
        return rng.choice(world.orgs)

    def workspace() -> str:
        o = rng.choice([o for o in world.orgs if world.workspaces[o]])
        return rng.choice(world.workspaces[o])[0]

    return {
        "activity": lambda: (
            'query($o: ID!, $s: DateTime!, $e: DateTime!) { activity(start: $s, end: $e, interval: "1 day", '
            "organizationId: $o, category: IDE) { buckets { start activeUsers durationSeconds } "
            "users { user { username } totalDurationSeconds } } }",
            {"o": org(), "s": month, "e": _iso(end)},
        ),
        "usageMetrics": lambda: (
            "query($o: ID!) { organization(id: $o) { usageMetrics(periodLength: 90, window: ROLLING) "
            "{ date dau wau mau } } }",
            {"o": org()},
        ),
        "templateInsights": lambda: (
            "query($o: ID!, $s: DateTime!, $e: DateTime!) { templateInsights(organizationId: $o, start: $s, "
            "end: $e, interval: DAY) { activeUsers activeUsersSeries { start activeUsers } "
            "userLatency { user { username } p50 { ms band } } appUsage { slug seconds users } "
            "parameters { name values { value count } } } }",
            {"o": org(), "s": month, "e": _iso(end)},
        ),
        "sessionAnalytics": lambda: (
            "query($o: ID!, $s: DateTime!, $e: DateTime!) { organization(id: $o) { sessionAnalytics(filter: "
            "{ start: $s, end: $e }) { scope summary { totalSessions totalCost totalTokens } "
            "timeseries { start sessions cost } byAgent { agent sessions totalCost } "
            "costBreakdown(by: MODEL) { key cost share } users { user { username } sessions cost } } } }",
            {"o": org(), "s": month, "e": _iso(end)},
        ),
        "sessions": lambda: (
            "query($o: ID!) { organization(id: $o) { sessions(first: 50) { totalCount "
            "nodes { id agent cost tokens user { username } models { model cost } } } } }",
            {"o": org()},
        ),
        "compute": lambda: (
            "query($o: ID!, $s: DateTime!, $e: DateTime!) { organization(id: $o) { compute(start: $s, end: $e, "
            'interval: "1 hour") { nodes { node cpu { p95 } series { start cpu memory } } '
            "workspaces { workspace { name } cpu { p95 } samples } } } }",
            {"o": org(), "s": week, "e": _iso(end)},
        ),
        "utilization": lambda: (
            "query($w: ID!, $s: DateTime!, $e: DateTime!) { workspace(id: $w) { name utilization(start: $s, "
            'end: $e, interval: "1 hour") { start cpu memory } } }',
            {"w": workspace(), "s": week, "e": _iso(end)},
        ),
        "entities": lambda: (
            "query($o: ID!) { organization(id: $o) { name templates { name parameters { name } } "
            "members(first: 50) { totalCount nodes { username email } } "
            "workspaces(first: 50) { totalCount nodes { name owner { username } template { name } } } } }",
            {"o": org()},
        ),
    }


def activity_batch(world: World, rng: random.Random, size: int) -> tuple[dict[str, Any], list[str]]:
    """`size` new IDE sessions in existing workspaces during the last day, with fresh ids."""
    events, ids = [], []
    for _ in range(size):
        o = rng.choice([o for o in world.orgs if world.workspaces[o]])
        ws, owner = rng.choice(world.workspaces[o])
        start = world.end - timedelta(minutes=rng.randrange(60, 24 * 60))
        event_id = str(uuid.uuid4())
        ids.append(event_id)
        events.append(
            {
                "id": event_id,
                "userId": owner,
                "workspaceId": ws,
                "category": "IDE",
                "app": rng.choice(["vscode", "jetbrains", "ssh"]),
                "startedAt": _iso(start),
                "endedAt": _iso(start + timedelta(minutes=rng.randrange(1, 59))),
            }
        )
    return {"activity": events}, ids


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    ingested: int = 0
    since: float = 0.0
    """Requests sent before this moment (time.monotonic) are the warm-up: sent, not counted."""
    trace: list[tuple[float, str, float, str]] = field(default_factory=list)
    """(sent, seconds after `since`; kind; latency in seconds; error or "") of every counted request"""

    def record(self, kind: str, seconds: float, error: str | None) -> None:
        sent = time.monotonic() - seconds
        if sent < self.since:
            return
        self.latencies[kind].append(seconds)
        self.trace.append((sent - self.since, kind, seconds, error or ""))
        if error is not None:
            self.errors[kind][error] += 1


def classify(body: dict[str, Any]) -> str | None:
    """None for a clean answer, else what went wrong (HTTP status or the first error code)."""
    if body["_status"] != 200:
        return f"HTTP {body['_status']}"
    errors = body.get("errors")
    if errors:
        return str(errors[0].get("extensions", {}).get("code", "UNKNOWN"))
    return None


async def timed(
    stats: Stats, kind: str, call: Callable[[], Awaitable[dict[str, Any]]]
) -> dict[str, Any] | None:
    started = time.perf_counter()
    try:
        body = await call()
    except httpx.TimeoutException:
        stats.record(kind, time.perf_counter() - started, "timeout")
        return None
    except (httpx.HTTPError, ValueError) as error:
        stats.record(kind, time.perf_counter() - started, type(error).__name__)
        return None
    stats.record(kind, time.perf_counter() - started, classify(body))
    return body


async def run_clients(
    base: str,
    tokens: list[str],
    world: World,
    duration: float,
    ingest_share: float,
    batch_size: int,
    stats: Stats,
    seed: int = 7,
    request_timeout: float = 10,
    warmup: float = 0,
) -> float:
    """Every client loops over random panels (and, with probability ingest_share, an ingest batch) for
    `warmup` seconds, not counted, and then for `duration` seconds. Returns the measured wall time."""
    stats.since = time.monotonic() + warmup
    stop_at = stats.since + duration
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))

    async with httpx.AsyncClient(base_url=base, timeout=request_timeout, limits=limits) as client:

        async def one(n: int, token: str) -> None:
            rng = random.Random(seed * 1000 + n)
            panels = dashboard_requests(world, rng)
            kinds = list(panels)
            while time.monotonic() < stop_at:
                if rng.random() < ingest_share:
                    batch, _ = activity_batch(world, rng, batch_size)
                    sent = time.monotonic()
                    body = await timed(stats, "ingest", lambda b=batch: post(client, token, INGEST, {"b": b}))  # type: ignore[misc]
                    if body and body.get("data") and sent >= stats.since:
                        stats.ingested += body["data"]["ingest"]["accepted"]
                else:
                    kind = rng.choice(kinds)
                    query, variables = panels[kind]()
                    await timed(stats, kind, lambda q=query, v=variables: post(client, token, q, v))  # type: ignore[misc]

        await asyncio.gather(*(one(n, token) for n, token in enumerate(tokens)))
        return time.monotonic() - stats.since


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def report(stats: Stats, wall: float) -> list[str]:
    lines = [f"{'kind':<18}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  errors"]
    everything: list[float] = []
    total_errors = 0
    for kind in sorted(stats.latencies):
        values = stats.latencies[kind]
        everything += values
        errors = dict(stats.errors.get(kind, {}))
        total_errors += sum(errors.values())
        lines.append(
            f"{kind:<18}{len(values):>9}{len(values) / wall:>9.1f}{percentile(values, 0.5) * 1000:>9.1f}"
            f"{percentile(values, 0.99) * 1000:>9.1f}{max(values) * 1000:>9.1f}  {errors or 0}"
        )
    lines.append(
        f"{'overall':<18}{len(everything):>9}{len(everything) / wall:>9.1f}"
        f"{percentile(everything, 0.5) * 1000:>9.1f}{percentile(everything, 0.99) * 1000:>9.1f}"
        f"{max(everything, default=0) * 1000:>9.1f}  {total_errors}"
    )
    return lines


LOAD_DATABASE = "usagegraph_load"


# What decides the content of a freshly loaded database: the schema, the demo data and the ingest path
# that writes it (rollups included). A seed made by other code is not reused.
SEED_SOURCES = (
    "usagegraph/cli.py",
    "usagegraph/db/migrations",
    "usagegraph/demo",
    "usagegraph/ingest",
    "usagegraph/db/queries/ingest.py",
    "usagegraph/db/queries/ingest_facts.py",
    "usagegraph/db/queries/user_days.py",
    "usagegraph/db/queries/day_vectors.py",
    "usagegraph/db/queries/rollup.py",
    "usagegraph/db/queries/workspace_days.py",
    "usagegraph/db/queries/app_days.py",
)
SEED_PREFIX = "usagegraph_load_seed_"


def seed_name() -> str:
    """The demo data is dated relative to today; the seed is named by the day and the sources above."""
    digest = hashlib.sha256()
    for source in SEED_SOURCES:
        root = ROOT / source
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{SEED_PREFIX}{datetime.now(UTC):%Y%m%d}_{digest.hexdigest()[:12]}"


def embedded_url(data_dir: Path, reuse: bool) -> tuple[str, str | None]:
    """The embedded server's load database, and the seed to make from it once it is loaded (None: none
    to make). Unless `reuse`, the database is made afresh, so that every run starts from the same data
    (the ingest of earlier runs would otherwise pile up in the last day and make each run measure a denser
    database than the one before): copied from today's seed when there is one, else filled with the demo
    data and then copied into a seed for the next runs (older seeds are dropped). Copies are made file by
    file (STRATEGY FILE_COPY): the default copy writes the whole database to the WAL, which the checkpointer
    would still be writing out during the measured run."""
    import asyncpg

    from usagegraph.db.embedded import start_embedded

    if reuse:
        return start_embedded(data_dir, LOAD_DATABASE), None
    admin = start_embedded(data_dir, "postgres").replace("postgresql+asyncpg://", "postgresql://")
    seed = seed_name()

    async def recreate() -> bool:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{LOAD_DATABASE}" WITH (FORCE)')
            names = [row["datname"] for row in await conn.fetch("SELECT datname FROM pg_database")]
            for name in names:
                if name.startswith(SEED_PREFIX) and name != seed:
                    await conn.execute(f'DROP DATABASE "{name}"')
            if seed in names:
                await conn.execute(f'CREATE DATABASE "{LOAD_DATABASE}" TEMPLATE "{seed}" STRATEGY FILE_COPY')
            return seed in names
        finally:
            await conn.close()

    copied = asyncio.run(recreate())
    return start_embedded(data_dir, LOAD_DATABASE), (None if copied else seed)


def make_seed(data_dir: Path, seed: str) -> None:
    import asyncpg

    from usagegraph.db.embedded import start_embedded

    admin = start_embedded(data_dir, "postgres").replace("postgresql+asyncpg://", "postgresql://")

    async def copy() -> None:
        conn = await asyncpg.connect(admin)
        try:
            for attempt in range(10):  # a copy needs the database to itself (autovacuum may be in it)
                try:
                    await conn.execute(
                        f'CREATE DATABASE "{seed}" TEMPLATE "{LOAD_DATABASE}" STRATEGY FILE_COPY'
                    )
                    return
                except asyncpg.ObjectInUseError:
                    await asyncio.sleep(0.5 * (attempt + 1))
            print("note: the load database stayed in use; no seed made for the next runs", flush=True)
        finally:
            await conn.close()

    asyncio.run(copy())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument(
        "--warmup", type=float, default=5, help="seconds of load before the measured duration (not counted)"
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ingest-share", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--database-url")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".usagegraph-load")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the embedded load database of the previous run (and its ingest)",
    )
    parser.add_argument(
        "--trace",
        type=Path,
        help="write every counted request (sent at, kind, latency, error) to this CSV file",
    )
    args = parser.parse_args()
    seed = None
    if args.database_url:
        url = args.database_url
    else:
        url, seed = await asyncio.to_thread(embedded_url, args.data_dir, args.reuse)
    env = server_env(url)
    prepare_database(env)
    if seed is not None:
        await asyncio.to_thread(make_seed, args.data_dir, seed)
    owner = cli(env, "token", "create", "--username", "load-owner", "--name", "load", "--create-owner")
    server = Server(env, args.workers)
    server.start()
    try:
        await server.wait_listening()
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            tokens = await client_tokens(client, owner, args.concurrency)
            world = await discover(client, owner)
        stats = Stats()
        print(
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, serve --workers {args.workers}, "
            f"{args.concurrency} clients, {args.duration:.0f} s after {args.warmup:.0f} s of warm-up, ingest share {args.ingest_share:.0%} "
            f"(batches of {args.batch_size} events), {len(world.orgs)} organizations",
            flush=True,
        )
        wall = await run_clients(
            server.base,
            tokens,
            world,
            args.duration,
            args.ingest_share,
            args.batch_size,
            stats,
            warmup=args.warmup,
        )
        print("\n".join(report(stats, wall)))
        print(f"ingested {stats.ingested} events; server alive at the end: {server.alive()}")
        if args.trace:
            with args.trace.open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(["sent_s", "kind", "latency_ms", "error"])
                for sent, kind, seconds, error in sorted(stats.trace):
                    writer.writerow([f"{sent:.3f}", kind, f"{seconds * 1000:.1f}", error])
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
