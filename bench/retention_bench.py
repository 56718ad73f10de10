"""Retention: bytes on disk per raw record before and after a purge, and how fast the purge goes.

A database of its own (`usagegraph_retention_bench` on the embedded server under .usagegraph-bench), built
in SQL: one organization, USERS users each with a workspace, DAYS days ending now of hourly workspace
resource samples, node samples every 5 minutes on 10 nodes, latency samples every 2 hours per user, four
activity sessions and two AI sessions (two usage lines each, and ten events in OTLP's event ledger: four
prompts, six API requests) per user and day. Then, per raw table: rows and
bytes on disk (heap, indexes and TOAST: pg_total_relation_size) per row; the purge of everything older than
KEEP days (RETENTION_*_DAYS = KEEP, batches of --batch rows) timed; the same sizes after it, after VACUUM,
and after as many new rows as were purged are written again (the freed space is reused).

Usage: python -m bench.retention_bench [--users 300] [--days 180] [--keep 90] [--batch 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.dataset import make_engine
from usagegraph.db import migrate
from usagegraph.db.database import Database
from usagegraph.settings import Settings
from usagegraph.upkeep import retention

DATABASE = "usagegraph_retention_bench"
TABLES = retention.TABLES

SETUP = [
    "TRUNCATE organizations, users, templates, workspaces, memberships, activity_sessions, ai_sessions, "
    "ai_session_usage, resource_samples, node_samples, latency_samples, activity_minutes, ai_session_hours, "
    "ai_usage_hours, ai_session_user_days, ai_session_user_weeks, ai_session_project_days, otlp_events CASCADE",
    "INSERT INTO organizations (id, name, created_at) VALUES (:org, 'bench', CAST(:t0 AS timestamptz) - interval '1 day')",
    "INSERT INTO users (id, username, name, email, created_at, site_roles) "
    "SELECT gen_random_uuid(), 'user' || g, 'User ' || g, 'user' || g || '@example.com', :t0, '{}' "
    "FROM generate_series(1, :users) g",
    "INSERT INTO templates (organization_id, id, name, display_name, created_at) "
    "VALUES (:org, :tpl, 'python', 'Python', :t0)",
    "INSERT INTO workspaces (organization_id, id, template_id, owner_id, name, created_at) "
    "SELECT :org, gen_random_uuid(), :tpl, u.id, 'ws-' || u.username, :t0 FROM users u",
]

# Each fills [:lo, :hi) of its kind.
FILL = {
    "resource_samples": """
        INSERT INTO resource_samples (organization_id, workspace_id, at, node, cpu_used_cores, cpu_limit_cores,
                                      memory_used_bytes, memory_limit_bytes)
        SELECT :org, w.id, t, 'node-' || (abs(hashtext(w.id::text)) % 10), random() * 2, 2,
               random() * 4e9, 4e9
        FROM workspaces w, generate_series(CAST(:lo AS timestamptz), CAST(:hi AS timestamptz) - interval '1 second',
                                           interval '1 hour') t
    """,
    "node_samples": """
        INSERT INTO node_samples (node, at, cpu_used_cores, cpu_capacity_cores, memory_used_bytes,
                                  memory_capacity_bytes)
        SELECT 'node-' || n, t, random() * 32, 32, random() * 128e9, 128e9
        FROM generate_series(0, 9) n,
             generate_series(CAST(:lo AS timestamptz), CAST(:hi AS timestamptz) - interval '1 second',
                             interval '5 minutes') t
    """,
    "latency_samples": """
        INSERT INTO latency_samples (organization_id, workspace_id, user_id, at, template_id, latency_ms)
        SELECT :org, w.id, w.owner_id, t, :tpl, 20 + random() * 200
        FROM workspaces w, generate_series(CAST(:lo AS timestamptz), CAST(:hi AS timestamptz) - interval '1 second',
                                           interval '2 hours') t
    """,
    "activity_sessions": """
        INSERT INTO activity_sessions (organization_id, id, user_id, workspace_id, template_id, category, app,
                                       started_at, ended_at)
        SELECT :org, gen_random_uuid(), w.owner_id, w.id, :tpl, 'IDE', 'vscode', d + k * interval '6 hours',
               d + k * interval '6 hours' + interval '1 minute' * (10 + (random() * 200)::int)
        FROM workspaces w, generate_series(0, 3) k,
             generate_series(CAST(:lo AS timestamptz), CAST(:hi AS timestamptz) - interval '1 second',
                             interval '1 day') d
    """,
    "ai_sessions": """
        WITH s AS (
            INSERT INTO ai_sessions (organization_id, id, user_id, agent, started_at, ended_at, cost, input_tokens,
                                     output_tokens, cache_read_tokens, cache_write_tokens, unpriced)
            SELECT :org, gen_random_uuid(), u.id, 'claude-code', d + k * interval '9 hours',
                   d + k * interval '9 hours' + interval '20 minutes', 0.5, 3000, 1500, 0, 0, false
            FROM users u, generate_series(0, 1) k,
                 generate_series(CAST(:lo AS timestamptz), CAST(:hi AS timestamptz) - interval '1 second',
                                 interval '1 day') d
            RETURNING id
        )
        INSERT INTO ai_session_usage (organization_id, session_id, model, input_tokens, output_tokens,
                                      cache_read_tokens, cache_write_tokens, cost, priced)
        SELECT :org, s.id, m, 1500, 750, 0, 0, 0.25, true FROM s, unnest(ARRAY['sonnet', 'opus']) m
    """,
    # The events the AI sessions of [:lo, :hi) were summed from, two minutes apart.
    "otlp_events": """
        INSERT INTO otlp_events (organization_id, event_id, session_id, name, occurred_at, model, input_tokens,
                                 output_tokens, cost)
        SELECT s.organization_id, gen_random_uuid(), s.id,
               CASE WHEN n % 5 IN (0, 3) THEN 'claude_code.user_prompt' ELSE 'claude_code.api_request' END,
               s.started_at + n * interval '2 minutes',
               CASE WHEN n % 5 IN (0, 3) THEN NULL ELSE 'sonnet' END,
               CASE WHEN n % 5 IN (0, 3) THEN 0 ELSE 500 END, CASE WHEN n % 5 IN (0, 3) THEN 0 ELSE 250 END,
               CASE WHEN n % 5 IN (0, 3) THEN NULL ELSE 0.08 END
        FROM ai_sessions s, generate_series(0, 9) n
        WHERE s.started_at >= :lo AND s.started_at < :hi
    """,
}


async def sizes(engine: AsyncEngine) -> dict[str, tuple[int, int]]:
    out = {}
    async with engine.connect() as conn:
        for table in TABLES:
            rows = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            size = (await conn.execute(text(f"SELECT pg_total_relation_size('{table}')"))).scalar_one()
            out[table] = (int(rows), int(size))
    return out


def show(label: str, measured: dict[str, tuple[int, int]]) -> None:
    print(f"\n{label}")
    print(f"{'table':<20} {'rows':>11} {'MB on disk':>11} {'bytes/row':>10}")
    for table, (rows, size) in measured.items():
        per_row = f"{size / rows:,.0f}" if rows else "-"
        print(f"{table:<20} {rows:>11,} {size / 1e6:>11,.1f} {per_row:>10}")


async def vacuum(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f"VACUUM (ANALYZE) {', '.join(TABLES)}"))


async def run(users: int, days: int, keep: int, batch: int) -> None:
    engine = make_engine(DATABASE)
    try:
        await migrate.upgrade(engine)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        t0 = now - timedelta(days=days)
        params: dict[str, Any] = {"org": _uuid(1), "tpl": _uuid(2), "users": users, "t0": t0}
        started = time.perf_counter()
        async with engine.begin() as conn:
            for statement in SETUP:
                await conn.execute(text(statement), params)
            for statement in FILL.values():
                await conn.execute(text(statement), {**params, "lo": t0, "hi": now})
        await vacuum(engine)
        print(f"{users} users, {days} days, generated in {time.perf_counter() - started:.0f} s")
        before = await sizes(engine)
        show("before the purge", before)

        settings = Settings().model_copy(
            update={**{kind.setting: keep for kind in retention.KINDS}, "retention_batch_rows": batch}
        )
        db = Database(engine=engine, read_engine=engine)
        dry_started = time.perf_counter()
        dry = await retention.Purger(db, settings).run(dry_run=True, now=now)
        dry_seconds = time.perf_counter() - dry_started
        # Each batch's time goes to its table: from the previous batch's end to its own (a table's last,
        # empty batch, which reports nothing, is counted with the next table's first).
        spent: dict[str, float] = dict.fromkeys(TABLES, 0.0)
        mark = [time.perf_counter()]

        def batch_done(table: str, _rows: int) -> None:
            at = time.perf_counter()
            spent[table] += at - mark[0]
            mark[0] = at

        started = mark[0] = time.perf_counter()
        report = await retention.Purger(db, settings, on_purged=batch_done).run(now=now)
        seconds = time.perf_counter() - started
        assert dry is not None and report is not None and report.rows == dry.rows
        total = sum(report.rows.values())
        print(
            f"\npurge of everything older than {keep} days: {total:,} rows in {seconds:.1f} s "
            f"({total / seconds:,.0f} rows/s, batches of {batch}); the dry run took {dry_seconds:.1f} s"
        )
        for table, rows in report.rows.items():
            print(f"  {table:<20} {rows:>11,} rows in {spent[table]:5.1f} s")
        show("after the purge", await sizes(engine))
        await vacuum(engine)
        show("after VACUUM", await sizes(engine))
        async with engine.begin() as conn:
            for statement in FILL.values():
                await conn.execute(
                    text(statement), {**params, "lo": now, "hi": now + (now - report.cutoffs["ai_sessions"])}
                )
        await vacuum(engine)
        show(f"after {days - keep} more days written (as many rows as were purged)", await sizes(engine))
    finally:
        await engine.dispose()


def _uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--keep", type=int, default=90)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(run(args.users, args.days, args.keep, args.batch))


if __name__ == "__main__":
    main()
