"""The shared benchmark dataset, generated in SQL (generate_series, INSERT ... SELECT) on the embedded
server under .usagegraph-bench, database usagegraph_bench.

At scale 1: 3 organizations, 5,000 users with memberships, 12 templates with a `region` parameter,
6,000 workspaces with parameter values, 730 days of activity (10 million IDE/APP/TUNNEL/WEB_TERMINAL
sessions with apps, 3 million LOGINs), the activity minute and user-day rollups built set-based from them, and
2 million latency samples. `--scale 0.01` makes a small copy for a quick check. Generation is skipped
when the database already holds a dataset of the same scale.

Usage: python -m bench.dataset [--scale 1.0] [--force] [--database usagegraph_bench]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from usagegraph.db import migrate
from usagegraph.db.embedded import start_embedded
from usagegraph.db.queries import app_days, day_vectors, part_vectors, rollup, user_days, workspace_days

DATA_DIR = Path(".usagegraph-bench")
DATABASE = "usagegraph_bench"
DAYS = 730
END = datetime(2026, 1, 1, tzinfo=UTC)
REGIONS = ["us-east", "us-west", "eu-west", "eu-central", "ap-south", "ap-northeast"]
INTEGERS = ("users", "workspaces", "sessions", "logins", "latency")
LOADED = [
    "activity_quarter_users",
    "activity_hour_users",
    "activity_user_bits",
    "activity_sessions",
    "activity_minutes",
    "activity_user_days",
    "activity_day_vectors",
    "activity_part_vectors",
    "activity_workspace_days",
    "latency_samples",
    "workspace_parameters",
    "workspaces",
]


def counts(scale: float) -> dict[str, int]:
    return {
        "users": max(30, round(5000 * scale)),
        "workspaces": max(30, round(6000 * scale)),
        "sessions": max(300, round(10_000_000 * scale)),
        "logins": max(100, round(3_000_000 * scale)),
        "latency": max(100, round(2_000_000 * scale)),
    }


def make_engine(database: str = DATABASE) -> AsyncEngine:
    url = start_embedded(DATA_DIR, database=database)
    return create_async_engine(url, connect_args={"command_timeout": 7200})


STEPS: list[tuple[str, str]] = [
    (
        "organizations",
        """
        INSERT INTO organizations (id, name, created_at)
        SELECT uuidv7(), 'org-' || g, CAST(:end AS timestamptz) - interval '800 days' FROM generate_series(0, 2) g
        """,
    ),
    (
        "ids",
        """
        CREATE TEMP TABLE b_org AS
        SELECT row_number() OVER (ORDER BY name) - 1 AS idx, id FROM organizations
        """,
    ),
    (
        "users",
        """
        CREATE TEMP TABLE b_user AS
        SELECT g AS idx, uuidv7() AS id, (g % 3) AS org_idx FROM generate_series(0, :users - 1) g
        """,
    ),
    (
        "users",
        """
        INSERT INTO users (id, username, name, email, created_at, site_roles)
        SELECT u.id, 'user' || u.idx, 'User ' || u.idx, 'user' || u.idx || '@example.com',
               CAST(:end AS timestamptz) - interval '800 days', CASE WHEN u.idx = 0 THEN ARRAY['owner'] ELSE '{}' END
        FROM b_user u
        """,
    ),
    (
        "memberships",
        """
        INSERT INTO memberships (organization_id, user_id, roles)
        SELECT o.id, u.id, CASE WHEN u.idx < 3 THEN ARRAY['admin'] ELSE ARRAY['member'] END
        FROM b_user u JOIN b_org o ON o.idx = u.org_idx
        """,
    ),
    (
        "templates",
        """
        CREATE TEMP TABLE b_tpl AS
        SELECT g AS idx, uuidv7() AS id, g % 3 AS org_idx FROM generate_series(0, 11) g
        """,
    ),
    (
        "templates",
        """
        INSERT INTO templates (organization_id, id, name, display_name, created_at)
        SELECT o.id, t.id, 'template-' || t.idx, 'Template ' || t.idx, CAST(:end AS timestamptz) - interval '790 days'
        FROM b_tpl t JOIN b_org o ON o.idx = t.org_idx
        """,
    ),
    (
        "template parameters",
        """
        INSERT INTO template_parameters
            (organization_id, template_id, name, position, display_name, type, default_value, options)
        SELECT o.id, t.id, 'region', 0, 'Region', 'string', 'us-east',
               (SELECT jsonb_agg(jsonb_build_object('value', r, 'name', initcap(r))) FROM unnest(CAST(:regions AS text[])) r)
        FROM b_tpl t JOIN b_org o ON o.idx = t.org_idx
        """,
    ),
    (
        "workspaces",
        """
        CREATE TEMP TABLE b_ws AS
        SELECT g AS idx, uuidv7() AS id, o.id AS org_id, t.id AS template_id, u.id AS owner_id,
               CAST(:end AS timestamptz) - interval '730 days' + random() * interval '700 days' AS created_at
        FROM generate_series(0, :workspaces - 1) g
        JOIN b_org o ON o.idx = g % 3
        JOIN b_tpl t ON t.idx = (g % 3) + 3 * ((g / 3) % 4)
        JOIN b_user u ON u.idx = (g % 3) + 3 * ((g * 7919 / 3) % (:users / 3))
        """,
    ),
    ("workspaces", "CREATE INDEX ON b_ws (idx)"),
    (
        "workspaces",
        """
        INSERT INTO workspaces (organization_id, id, template_id, owner_id, name, created_at, deleted_at)
        SELECT org_id, id, template_id, owner_id, 'ws-' || idx, created_at,
               CASE WHEN idx % 10 = 0 THEN created_at + interval '20 days' END
        FROM b_ws
        """,
    ),
    (
        "workspace parameters",
        """
        INSERT INTO workspace_parameters (organization_id, workspace_id, name, value)
        SELECT org_id, id, 'region', (CAST(:regions AS text[]))[1 + (idx * 31 % 7) % 6] FROM b_ws
        """,
    ),
    (
        "activity sessions",
        """
        INSERT INTO activity_sessions
            (organization_id, id, user_id, workspace_id, template_id, category, app, started_at, ended_at)
        SELECT w.org_id, uuidv7(), w.owner_id, w.id, w.template_id, s.category, s.app, s.started_at,
               s.started_at + s.minutes * interval '1 minute' + (random() * 59)::int * interval '1 second'
        FROM (
            SELECT (random() * (:workspaces - 1))::int AS ws_idx,
                   CAST(:end AS timestamptz) - interval '730 days'
                       + floor(random() * 730) * interval '1 day'
                       + (6 * 60 + random() * 14 * 60) * interval '1 minute'
                       + (random() * 59)::int * interval '1 second' AS started_at,
                   c.category, c.apps[1 + (random() * (cardinality(c.apps) - 1))::int] AS app,
                   (power(random(), 2) * c.max_minutes)::int AS minutes
            FROM generate_series(1, :sessions) g
            JOIN (VALUES (0, 'IDE', ARRAY['vscode', 'jetbrains', 'code-server'], 240),
                         (1, 'APP', ARRAY['jupyter', 'rstudio', 'grafana'], 120),
                         (2, 'TUNNEL', ARRAY['ssh'], 180),
                         (3, 'WEB_TERMINAL', ARRAY['web-terminal'], 30))
                 AS c(k, category, apps, max_minutes) ON c.k = g % 4
        ) s
        JOIN b_ws w ON w.idx = s.ws_idx
        """,
    ),
    (
        "logins",
        """
        INSERT INTO activity_sessions
            (organization_id, id, user_id, workspace_id, template_id, category, app, started_at, ended_at)
        SELECT o.id, uuidv7(), u.id, NULL, NULL, 'LOGIN', NULL,
               CAST(:end AS timestamptz) - interval '730 days' + random() * interval '730 days', NULL
        FROM (SELECT (random() * (:users - 1))::int AS user_idx FROM generate_series(1, :logins)) g
        JOIN b_user u ON u.idx = g.user_idx
        JOIN b_org o ON o.idx = u.org_idx
        """,
    ),
    (
        "latency samples",
        """
        INSERT INTO latency_samples (organization_id, workspace_id, user_id, at, template_id, latency_ms)
        SELECT w.org_id, w.id, w.owner_id,
               w.created_at + k * interval '2 hours' + (random() * 7000)::int * interval '1 second',
               w.template_id, 20 + power(random(), 3) * 500
        FROM b_ws w CROSS JOIN generate_series(0, (:latency / :workspaces) - 1) k
        """,
    ),
    (
        "activity minute rollup",
        """
        INSERT INTO activity_minutes (organization_id, hour, user_id, workspace_id, category, app, template_id, minutes)
        SELECT organization_id, hour, user_id, workspace_id, category, app, max(template_id::text)::uuid,
               bit_or(((CAST(1 AS bigint) << (hi + 1)) - 1) # ((CAST(1 AS bigint) << lo) - 1))
        FROM (
            SELECT s.*, h.hour,
                   CASE WHEN h.hour = date_trunc('hour', s.first_minute)
                        THEN extract(minute FROM s.first_minute)::int ELSE 0 END AS lo,
                   CASE WHEN h.hour = date_trunc('hour', s.last_minute)
                        THEN extract(minute FROM s.last_minute)::int ELSE 59 END AS hi
            FROM (
                SELECT organization_id, user_id,
                       coalesce(workspace_id, '00000000-0000-0000-0000-000000000000'::uuid) AS workspace_id,
                       category, coalesce(app, '') AS app, template_id,
                       date_trunc('minute', started_at) AS first_minute,
                       date_trunc('minute', CASE WHEN category = 'LOGIN' OR ended_at IS NULL THEN started_at
                           ELSE greatest(ended_at - interval '1 microsecond', started_at) END) AS last_minute
                FROM activity_sessions
            ) s
            CROSS JOIN LATERAL generate_series(date_trunc('hour', s.first_minute),
                                               date_trunc('hour', s.last_minute), interval '1 hour') AS h(hour)
        ) hours
        GROUP BY organization_id, hour, user_id, workspace_id, category, app
        """,
    ),
    (
        "user numbering",
        """
        INSERT INTO activity_user_bits (organization_id, user_id, idx)
        SELECT organization_id, user_id,
               (row_number() OVER (PARTITION BY organization_id ORDER BY user_id) - 1)::int
        FROM (SELECT DISTINCT organization_id, user_id FROM activity_minutes) u
        """,
    ),
    (
        "quarter-hour user bitmaps",
        """
        INSERT INTO activity_quarter_users (organization_id, category, quarter, users)
        SELECT m.organization_id, k.category, m.hour + j * interval '15 minutes',
               bit_or(set_bit(c.zeros, b.idx, 1))
        FROM activity_minutes m
        JOIN activity_user_bits b ON b.organization_id = m.organization_id AND b.user_id = m.user_id
        JOIN (
            SELECT organization_id,
                   CAST(repeat('0', 1024 * ((max(idx) + 1024) / 1024)) AS bit varying) AS zeros
            FROM activity_user_bits GROUP BY organization_id
        ) c ON c.organization_id = m.organization_id
        CROSS JOIN generate_series(0, 3) AS j
        CROSS JOIN LATERAL (VALUES (m.category), ('*')) AS k(category)
        WHERE (m.minutes >> (15 * j)) & 32767 <> 0
        GROUP BY m.organization_id, k.category, m.hour + j * interval '15 minutes'
        ORDER BY 1, 2, 3
        """,
    ),
    ("hour user bitmaps", rollup.HOURS_BACKFILL),
    ("activity user days", user_days.BACKFILL),
    ("activity workspace days", workspace_days.BACKFILL),
    (
        "activity day vectors",
        day_vectors.BACKFILL,
    ),
    ("activity part vectors", part_vectors.BACKFILL),
    *((f"insights days ({k + 1} of 3)", sql) for k, sql in enumerate(app_days.BACKFILLS)),
    (
        "session spans",
        """
        INSERT INTO activity_session_spans (organization_id, max_minutes)
        SELECT organization_id,
               max(extract(epoch FROM date_trunc('minute', greatest(ended_at - interval '1 microsecond', started_at))
                   - date_trunc('minute', started_at))::integer / 60)
        FROM activity_sessions
        WHERE category <> 'LOGIN' AND ended_at IS NOT NULL
        GROUP BY organization_id
        """,
    ),
]


async def _present(conn: AsyncConnection) -> float | None:
    exists = (await conn.execute(text("SELECT to_regclass('bench_dataset') IS NOT NULL"))).scalar_one()
    if not exists:
        return None
    return (await conn.execute(text("SELECT max(scale) FROM bench_dataset"))).scalar()


async def _secondary_indexes(conn: AsyncConnection) -> list[tuple[str, str]]:
    rows = await conn.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = 'public' AND i.tablename = ANY(:tables) AND NOT EXISTS ("
            "  SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ),
        {"tables": LOADED},
    )
    return [(row.indexname, row.indexdef) for row in rows]


async def generate(engine: AsyncEngine, scale: float, force: bool = False) -> None:
    await migrate.upgrade(engine)
    async with engine.connect() as conn:
        present = await _present(conn)
    if present is not None and present == scale and not force:
        print(f"dataset of scale {scale} already present; skipping generation")
        return
    params = {**counts(scale), "end": END, "regions": REGIONS}
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS bench_dataset"))
        tables = (
            (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
        await conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        indexes = await _secondary_indexes(conn)
        for name, _ in indexes:
            await conn.execute(text(f'DROP INDEX "{name}"'))
        for setting in (
            "synchronous_commit = off",
            "work_mem = '1GB'",
            "maintenance_work_mem = '2GB'",
            "max_parallel_maintenance_workers = 2",
            "timezone = 'UTC'",
        ):
            await conn.execute(text(f"SET LOCAL {setting}"))
        await conn.execute(text("SELECT setseed(0.42)"))
        for label, sql in STEPS:
            began = time.perf_counter()
            for key in INTEGERS:
                sql = sql.replace(f":{key}", f"CAST(:{key} AS integer)")
            result = await conn.execute(text(sql), {k: v for k, v in params.items() if f":{k}" in sql})
            print(f"{label:<24} {result.rowcount:>12} rows {time.perf_counter() - began:8.1f} s", flush=True)
        for name, definition in indexes:
            began = time.perf_counter()
            await conn.execute(text(definition))
            print(f"index {name:<30} {time.perf_counter() - began:8.1f} s", flush=True)
        await conn.execute(
            text("CREATE TABLE bench_dataset (scale double precision, generated_at timestamptz)")
        )
        await conn.execute(text("INSERT INTO bench_dataset VALUES (:scale, now())"), {"scale": scale})
    began = time.perf_counter()
    async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        await conn.execute(text("VACUUM ANALYZE"))
    print(f"{'vacuum analyze':<24} {'':>12}      {time.perf_counter() - began:8.1f} s", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--force", action="store_true", help="regenerate even when present")
    parser.add_argument("--database", default=DATABASE, help="e.g. a second database for a small copy")
    args = parser.parse_args()
    engine = make_engine(args.database)
    try:
        await generate(engine, args.scale, args.force)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
