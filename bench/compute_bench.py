"""Compute utilization: the queries behind Organization.compute and Workspace.utilization against
straightforward alternatives, side by side, on a generated sample dataset.

Dataset (scale 1), generated in SQL in its own database on the benchmark server: 3 organizations,
600 workspaces (200 each) sampled every 5 minutes for 30 days (5.2 million resource samples) on 60
nodes sampled every minute (2.6 million node samples).

What is timed (median of --runs, in-process over the embedded server's Unix socket, from sending the
statements to having every row decoded):
(a) node statistics of one organization over 30 days and (c) workspace statistics of one organization
    over 30 days: ours is one SQL aggregate (avg, percentile_cont, max); the baseline fetches the raw
    samples and computes in Python.
(b) node series of one organization, 30 days by 1 hour, and (d) one workspace's series, 30 days by
    1 hour: ours reads each bucket with a LATERAL index range scan; the baseline joins samples to
    buckets on the time range.
The baseline is cut at --raw-timeout seconds.

Usage: python -m bench.compute_bench [--scale 1.0] [--runs 5] [--raw-timeout 120]
       [--zones America/New_York,Asia/Kolkata,Asia/Kathmandu] [--zone-runs 7] [--zones-only]

Then the zone table (bench/zones.py): (a) to (d), and the two series by 1 day, over the same 28 local days
(from the local midnight 29 days before the dataset's end, so that every zone's range lies in the data),
in UTC and in each of --zones, interleaved, with the ratio to UTC.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench import zones as z
from bench.activity_bench import timed
from bench.dataset import make_engine
from usagegraph.db import migrate
from usagegraph.db.queries import compute as q

DATABASE = "usagegraph_bench_compute"
END = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30

GENERATE = [
    "INSERT INTO organizations (id, name, created_at) "
    "SELECT md5('org' || o)::uuid, 'org-' || o, :start FROM generate_series(1, 3) o",
    "INSERT INTO users (id, username, name, email, created_at, site_roles) "
    "SELECT md5('user' || u)::uuid, 'user-' || u, 'User ' || u, NULL, :start, '{}' FROM generate_series(1, 300) u",
    "INSERT INTO templates (organization_id, id, name, display_name, created_at) "
    "SELECT md5('org' || o)::uuid, md5('tpl' || o)::uuid, 'tpl-' || o, 'Tpl ' || o, :start "
    "FROM generate_series(1, 3) o",
    "INSERT INTO workspaces (organization_id, id, template_id, owner_id, name, created_at) "
    "SELECT md5('org' || (1 + w % 3))::uuid, md5('ws' || w)::uuid, md5('tpl' || (1 + w % 3))::uuid, "
    "md5('user' || (1 + w % 300))::uuid, 'ws-' || w, :start FROM generate_series(1, :workspaces) w",
    "INSERT INTO resource_samples (organization_id, workspace_id, at, node, cpu_used_cores, cpu_limit_cores, "
    "memory_used_bytes, memory_limit_bytes) "
    "SELECT md5('org' || (1 + w % 3))::uuid, md5('ws' || w)::uuid, t, "
    "'node-' || lpad(((w + (extract(epoch FROM t)::bigint / 86400) / 7) % 60)::text, 2, '0'), "
    "random() * 4, 4, random() * 8e9, 8e9 "
    "FROM generate_series(1, :workspaces) w, "
    "generate_series(:start, :end - interval '5 minutes', interval '5 minutes') t",
    "INSERT INTO node_samples (node, at, cpu_used_cores, cpu_capacity_cores, memory_used_bytes, "
    "memory_capacity_bytes) "
    "SELECT 'node-' || lpad(n::text, 2, '0'), t, random() * 64, 64, random() * 256e9, 256e9 "
    "FROM generate_series(0, 59) n, generate_series(:start, :end - interval '1 minute', interval '1 minute') t",
]

RANGE_JOIN_NODES = """
WITH org_nodes AS (
    SELECT DISTINCT node FROM resource_samples
    WHERE organization_id = :org AND node IS NOT NULL AND at >= :start AND at < :end
), buckets AS (
    SELECT k, date_add(CAST(:start AS timestamptz), k * CAST(CAST(:iv AS text) AS interval), 'UTC') AS bucket_start,
           least(date_add(CAST(:start AS timestamptz), (k + 1) * CAST(CAST(:iv AS text) AS interval), 'UTC'), :end) AS bucket_end
    FROM generate_series(0, CAST(:last_k AS integer)) k
)
SELECT n.node, b.bucket_start, b.bucket_end,
       avg(ns.cpu_used_cores / ns.cpu_capacity_cores) AS cpu,
       avg(ns.memory_used_bytes / ns.memory_capacity_bytes) AS memory
FROM org_nodes n CROSS JOIN buckets b
LEFT JOIN node_samples ns ON ns.node = n.node AND ns.at >= b.bucket_start AND ns.at < b.bucket_end
GROUP BY n.node, b.k, b.bucket_start, b.bucket_end
ORDER BY n.node, b.k
"""

RANGE_JOIN_WORKSPACE = """
WITH buckets AS (
    SELECT k, date_add(CAST(:start AS timestamptz), k * CAST(CAST(:iv AS text) AS interval), 'UTC') AS bucket_start,
           least(date_add(CAST(:start AS timestamptz), (k + 1) * CAST(CAST(:iv AS text) AS interval), 'UTC'), :end) AS bucket_end
    FROM generate_series(0, CAST(:last_k AS integer)) k
)
SELECT b.bucket_start, b.bucket_end,
       avg(rs.cpu_used_cores / rs.cpu_limit_cores) AS cpu,
       avg(rs.memory_used_bytes / rs.memory_limit_bytes) AS memory
FROM buckets b
LEFT JOIN resource_samples rs ON rs.organization_id = :org AND rs.workspace_id = :ws
     AND rs.at >= b.bucket_start AND rs.at < b.bucket_end
GROUP BY b.k, b.bucket_start, b.bucket_end
ORDER BY b.k
"""

RAW_NODE_SAMPLES = """
WITH org_nodes AS (
    SELECT DISTINCT node FROM resource_samples
    WHERE organization_id = :org AND node IS NOT NULL AND at >= :start AND at < :end
)
SELECT node AS workspace_id, cpu_used_cores / cpu_capacity_cores AS cpu,
       memory_used_bytes / memory_capacity_bytes AS memory
FROM node_samples JOIN org_nodes USING (node) WHERE at >= :start AND at < :end
"""

RAW_SAMPLES = """
SELECT workspace_id, cpu_used_cores / cpu_limit_cores AS cpu, memory_used_bytes / memory_limit_bytes AS memory
FROM resource_samples WHERE organization_id = :org AND at >= :start AND at < :end
"""


async def generate(engine: AsyncEngine, scale: float) -> None:
    await migrate.upgrade(engine)
    workspaces = max(30, round(600 * scale))
    async with engine.connect() as conn:
        present = (await conn.execute(text("SELECT count(*) FROM workspaces"))).scalar_one()
    if present == workspaces:
        print(f"dataset with {workspaces} workspaces already present; skipping generation")
        return
    params = {"start": END - timedelta(days=DAYS), "end": END, "workspaces": workspaces}
    async with engine.begin() as conn:
        tables = "node_samples, resource_samples, workspaces, templates, users, organizations"
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        await conn.execute(text("SET LOCAL synchronous_commit = off"))
        await conn.execute(text("SELECT setseed(0.42)"))
        for sql in GENERATE:
            began = time.perf_counter()
            sql = sql.replace(":workspaces", "CAST(:workspaces AS integer)")
            sql = sql.replace(":start", "CAST(:start AS timestamptz)").replace(
                ":end", "CAST(:end AS timestamptz)"
            )
            result = await conn.execute(text(sql), {k: v for k, v in params.items() if f":{k}" in sql})
            table = sql.split()[2]
            print(f"{table:<20} {result.rowcount:>12} rows {time.perf_counter() - began:8.1f} s", flush=True)
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        await conn.execute(text("VACUUM ANALYZE"))


def python_stats(rows: list[Any]) -> dict[Any, tuple[float, ...]]:
    """What a resolver looping over raw samples would do: group, sort, interpolate."""
    groups: dict[Any, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for row in rows:
        cpu, memory = groups[row.workspace_id]
        cpu.append(row.cpu)
        memory.append(row.memory)

    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        position = 0.95 * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return {
        ws: (statistics.fmean(c), p95(c), max(c), statistics.fmean(m), p95(m), max(m))
        for ws, (c, m) in groups.items()
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--raw-timeout", type=float, default=120.0)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--zones", type=z.zones_argument, default=list(z.ZONES), help="'' for no zone table")
    parser.add_argument("--zone-runs", type=int, default=7)
    parser.add_argument("--zones-only", action="store_true", help="only the zone table")
    args = parser.parse_args()
    engine = make_engine(args.database)
    await generate(engine, args.scale)
    async with engine.connect() as conn:
        org = (await conn.execute(text("SELECT id FROM organizations ORDER BY name LIMIT 1"))).scalar_one()
        ws = (
            await conn.execute(
                text("SELECT id FROM workspaces WHERE organization_id = :org ORDER BY name LIMIT 1"),
                {"org": org},
            )
        ).scalar_one()
    start = END - timedelta(days=DAYS)
    rng = q.Range(start=start, end=END, interval="1 hours", timezone="UTC", buckets=DAYS * 24)
    params = {**rng.params(), "org": org, "ws": ws}

    async with engine.connect() as conn:
        nodes = [row.node for row in await q.node_stats(conn, org, rng)]

    async def ours_node_stats(conn: AsyncConnection) -> Any:
        return await q.node_stats(conn, org, rng)

    async def raw_node_stats(conn: AsyncConnection) -> Any:
        rows = (await conn.execute(text(RAW_NODE_SAMPLES), params)).all()
        return list(python_stats(list(rows)).items())

    async def ours_nodes(conn: AsyncConnection) -> Any:
        return await q.node_series(conn, nodes, rng)

    async def raw_nodes(conn: AsyncConnection) -> Any:
        return (await conn.execute(text(RANGE_JOIN_NODES), params)).all()

    async def ours_workspace(conn: AsyncConnection) -> Any:
        return await q.workspace_series(conn, org, ws, rng)

    async def raw_workspace(conn: AsyncConnection) -> Any:
        return (await conn.execute(text(RANGE_JOIN_WORKSPACE), params)).all()

    async def ours_stats(conn: AsyncConnection) -> Any:
        return await q.workspace_stats(conn, org, rng)

    async def raw_stats(conn: AsyncConnection) -> Any:
        rows = (await conn.execute(text(RAW_SAMPLES), params)).all()
        return list(python_stats(list(rows)).items())

    cases = [
        ("(a) node stats, 1 org, 30 days", ours_node_stats, raw_node_stats),
        ("(b) node series, 1 org, 30 days by 1 hour", ours_nodes, raw_nodes),
        ("(c) workspace stats, 1 org, 30 days", ours_stats, raw_stats),
        ("(d) workspace series, 30 days by 1 hour", ours_workspace, raw_workspace),
    ]
    print(f"\n{'case':<44} {'ours ms':>10} {'baseline ms':>12} {'speed-up':>9} {'rows':>7}")
    for label, ours, raw in cases:
        if args.zones_only:
            break
        ours_ms, rows = await timed(engine, ours, args.runs, args.raw_timeout)
        raw_ms, raw_rows = await timed(engine, raw, args.runs, args.raw_timeout)
        assert ours_ms is not None
        raw_text = (
            f"{raw_ms:12.1f}" if raw_ms is not None else f"{'> ' + str(int(args.raw_timeout)) + ' s':>12}"
        )
        speed = f"{raw_ms / ours_ms:8.1f}x" if raw_ms is not None else f"{'>':>8} "
        assert raw_ms is None or raw_rows == rows, (label, rows, raw_rows)
        print(f"{label:<44} {ours_ms:10.1f} {raw_text} {speed} {rows:>7}", flush=True)

    def zoned(
        work: Callable[[AsyncConnection, q.Range], Awaitable[Any]], interval: str
    ) -> Callable[[str], Callable[[], Awaitable[Any]]]:
        def make(zone: str) -> Callable[[], Awaitable[Any]]:
            first, last = z.local(END - timedelta(days=29), zone), z.local(END - timedelta(days=1), zone)
            buckets = 28 * (24 if interval == "1 hours" else 1)
            local_range = q.Range(start=first, end=last, interval=interval, timezone=zone, buckets=buckets)

            async def run() -> Any:
                async with engine.connect() as conn:
                    return await work(conn, local_range)

            return run

        return make

    zone_cases = [
        ("(a) node stats, 1 org, 28 days", zoned(lambda c, r: q.node_stats(c, org, r), "1 hours")),
        ("(b) node series, 1 org, 28 days by 1 hour", zoned(lambda c, r: q.node_series(c, nodes, r), "1 hours")),
        ("(b') node series, 1 org, 28 days by 1 day", zoned(lambda c, r: q.node_series(c, nodes, r), "1 days")),
        ("(c) workspace stats, 1 org, 28 days", zoned(lambda c, r: q.workspace_stats(c, org, r), "1 hours")),
        ("(d) workspace series, 28 days by 1 hour", zoned(lambda c, r: q.workspace_series(c, org, ws, r), "1 hours")),
        ("(d') workspace series, 28 days by 1 day", zoned(lambda c, r: q.workspace_series(c, org, ws, r), "1 days")),
    ]  # fmt: skip
    await z.table(zone_cases, args.zones, args.zone_runs, width=44)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
