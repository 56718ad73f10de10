"""AI sessions analytics: `Organization.sessionAnalytics` over the last 90 days of 2 million sessions (two
years, one organization, 400 users, about 4 million usage lines), every section selected, side by side with
one straightforward SQL statement per section computing the same figures.

"ours" is measured in-process: the operation runs through the GraphQL schema (parse, validation, permission
classes, resolvers, loaders, serialization, with the app's executor) against a real Context on the pool,
so the figure is server time without HTTP. "our SQL" times our query functions alone (summary, byAgent,
costBreakdown(USER) and users share one statement, `facts`, so their rows time the same statement), and the
baseline its straightforward statements, one after the other on one connection. Every figure is the median of
`--runs` runs after two warm-ups; the load average is printed because other work on the machine shows
up in every column.

The data is generated in SQL (generate_series) in the database usagegraph_sessions_bench of the embedded
server under .usagegraph-bench; generation is skipped when a dataset of the same scale is present.

Run: .venv/bin/python -m bench.sessions_bench [--scale 1.0] [--runs 15] [--force]
     [--zones America/New_York,Asia/Kolkata,Asia/Kathmandu] [--zone-runs 7] [--zones-only]

Then the zone table (bench/zones.py): every section (timeseries by local day) and every section with the
users' series, over the same 90 local days, in UTC and in each of --zones, interleaved, with the ratio to
UTC.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from graphql import execute, parse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bench import zones as z
from usagegraph.auth.principal import Principal
from usagegraph.db import migrate
from usagegraph.db.database import Database
from usagegraph.db.embedded import start_embedded
from usagegraph.db.engine import create_engine
from usagegraph.db.queries import sessions as q
from usagegraph.execution.compiled import CompiledExecutor
from usagegraph.execution.context import Context
from usagegraph.execution.loaders import Loaders
from usagegraph.schema import builders
from usagegraph.schema.schema import build_schema
from usagegraph.settings import Settings

DATA_DIR = Path(".usagegraph-bench")
DATABASE = "usagegraph_sessions_bench"
END = datetime(2026, 1, 1, tzinfo=UTC)
START = END - timedelta(days=90)
ORG = uuid.UUID("5e551055-0000-4000-8000-000000000001")
VIEWER = uuid.UUID("5e551055-0000-4000-8000-000000000002")
MEMBER = uuid.UUID(hashlib.md5(b"user-1").hexdigest())
AGENTS = [
    "claude-code",
    "claude-code",
    "claude-code",
    "cursor",
    "cursor",
    "codex",
    "aider",
    "copilot",
    "gemini-cli",
    "amp",
]
MODELS = [
    # model, USD per million input, output, cache-read, cache-write tokens
    ("claude-sonnet-4", 3, 15, 0.3, 3.75),
    ("claude-opus-4", 15, 75, 1.5, 18.75),
    ("claude-haiku-4", 1, 5, 0.1, 1.25),
    ("gpt-5", 1.25, 10, 0.125, 0),
    ("gpt-5-mini", 0.25, 2, 0.025, 0),
    ("gemini-2.5-pro", 1.25, 10, 0.31, 0),
]

GENERATE: list[tuple[str, str]] = [
    (
        "organization",
        "INSERT INTO organizations (id, name, created_at) VALUES (:org, 'bench', CAST(:end AS timestamptz) - interval '800 days')",
    ),
    (
        "users",
        """INSERT INTO users (id, username, name, email, created_at, site_roles)
        SELECT CASE WHEN g = 0 THEN CAST(:viewer AS uuid) ELSE CAST(md5('user-' || g) AS uuid) END,
               'user' || g, 'User ' || g, 'user' || g || '@example.com', CAST(:end AS timestamptz) - interval '800 days', '{}'
        FROM generate_series(0, :users - 1) g""",
    ),
    (
        "memberships",
        """INSERT INTO memberships (organization_id, user_id, roles)
        SELECT :org, id, CASE WHEN id = :viewer THEN ARRAY['owner'] ELSE ARRAY['member'] END FROM users""",
    ),
    (
        "projects",
        """INSERT INTO projects (organization_id, id, name)
        SELECT :org, CAST(md5('project-' || g) AS uuid), 'project-' || g FROM generate_series(0, 39) g""",
    ),
    (
        "sessions (staging)",
        """CREATE UNLOGGED TABLE bench_s AS
        SELECT g, CAST(md5('session-' || g) AS uuid) AS id,
               CASE WHEN u = 0 THEN CAST(:viewer AS uuid) ELSE CAST(md5('user-' || u) AS uuid) END AS user_id,
               p, CASE WHEN p IS NULL THEN NULL ELSE CAST(md5('project-' || p) AS uuid) END AS project_id,
               CASE WHEN p IS NULL THEN NULL ELSE 'org/repo-' || (p * 3 + g % 3) END AS repository,
               (CAST(:agents AS text[]))[1 + floor(random() * 10)::int] AS agent,
               CAST(:end AS timestamptz) - interval '730 days' + (g + random()) * (interval '730 days' / :sessions) AS started_at,
               CASE WHEN random() < 0.02 THEN NULL
                    ELSE make_interval(secs => 10 + floor(9000 * power(random(), 3))) END AS duration
        FROM (SELECT g, floor(:users * power(random(), 2))::int AS u,
                     CASE WHEN random() < 0.08 THEN NULL ELSE floor(random() * 40)::int END AS p
              FROM generate_series(0, :sessions - 1) g) AS r""",
    ),
    (
        "usage lines (staging)",
        """CREATE UNLOGGED TABLE bench_l AS
        SELECT s.g, m.model, l.i, l.o, l.cr, l.cw, l.unpriced,
               CASE WHEN l.unpriced THEN 0
                    ELSE round((l.i * m.pi + l.o * m.po + l.cr * m.pcr + l.cw * m.pcw) / 1000000, 6) END AS cost
        FROM bench_s s
        CROSS JOIN LATERAL generate_series(1, 1 + s.g % 3) AS k
        CROSS JOIN LATERAL (SELECT floor(random() * 20000)::bigint AS i, floor(random() * 4000)::bigint AS o,
                                   floor(random() * 50000)::bigint AS cr, floor(random() * 5000)::bigint AS cw,
                                   random() < 0.003 AS unpriced) AS l
        JOIN unnest(CAST(:models AS text[]), CAST(:pi AS numeric[]), CAST(:po AS numeric[]),
                    CAST(:pcr AS numeric[]), CAST(:pcw AS numeric[])) WITH ORDINALITY AS m(model, pi, po, pcr, pcw, n)
          ON m.n = 1 + (s.g + k) % 6""",
    ),
    (
        "ai_sessions",
        """INSERT INTO ai_sessions (organization_id, id, user_id, project_id, repository, agent, started_at, ended_at,
            cost, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, unpriced)
        SELECT :org, s.id, s.user_id, s.project_id, s.repository, s.agent, s.started_at, s.started_at + s.duration,
               t.cost, t.i, t.o, t.cr, t.cw, t.unpriced
        FROM bench_s s
        JOIN (SELECT g, sum(cost) AS cost, sum(i) AS i, sum(o) AS o, sum(cr) AS cr, sum(cw) AS cw,
                     bool_or(unpriced) AS unpriced FROM bench_l GROUP BY g) AS t ON t.g = s.g
        ORDER BY s.g""",
    ),
    (
        "ai_session_usage",
        """INSERT INTO ai_session_usage (organization_id, session_id, model, input_tokens, output_tokens,
            cache_read_tokens, cache_write_tokens, cost, priced)
        SELECT :org, s.id, l.model, l.i, l.o, l.cr, l.cw, l.cost, NOT l.unpriced
        FROM bench_l l JOIN bench_s s ON s.g = l.g ORDER BY l.g""",
    ),
    ("staging", "DROP TABLE bench_s, bench_l"),
    ("marker", "CREATE TABLE IF NOT EXISTS bench_sessions_dataset (scale float8 NOT NULL)"),
    ("marker", "INSERT INTO bench_sessions_dataset VALUES (:scale)"),
]
LOADED = ["ai_sessions", "ai_session_usage"]


async def _present(conn: AsyncConnection) -> float | None:
    if not (
        await conn.execute(text("SELECT to_regclass('bench_sessions_dataset') IS NOT NULL"))
    ).scalar_one():
        return None
    return (await conn.execute(text("SELECT max(scale) FROM bench_sessions_dataset"))).scalar()


async def generate(engine: AsyncEngine, scale: float, force: bool) -> None:
    """Loads the dataset with the secondary indexes dropped, then rebuilds them and vacuums, as a bulk
    load would; the indexes are whatever the migrations define."""
    await migrate.upgrade(engine)
    async with engine.connect() as conn:
        present = await _present(conn)
    if present == scale and not force:
        print(f"dataset of scale {scale} present; skipping generation")
        async with engine.connect() as conn:
            # a migration may have rewritten the tables: index-only scans need a fresh visibility map
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
                text(f"VACUUM (ANALYZE) {', '.join(LOADED)}")
            )
        return
    sessions = max(1000, round(2_000_000 * scale))
    params: dict[str, Any] = {
        "org": ORG, "viewer": VIEWER, "end": END, "scale": scale, "sessions": sessions,
        "users": max(20, round(400 * min(1.0, scale * 10))), "agents": AGENTS,
        "models": [m[0] for m in MODELS], "pi": [m[1] for m in MODELS], "po": [m[2] for m in MODELS],
        "pcr": [m[3] for m in MODELS], "pcw": [m[4] for m in MODELS],
    }  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS bench_sessions_dataset, bench_s, bench_l"))
        await conn.execute(
            text(
                "TRUNCATE ai_session_usage, ai_sessions, projects, memberships, api_tokens, users, organizations CASCADE"
            )
        )
        indexes = (
            await conn.execute(
                text(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
                    "AND i.tablename = ANY(:tables) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
                ),
                {"tables": LOADED},
            )
        ).all()
        for index in indexes:
            await conn.execute(text(f'DROP INDEX "{index.indexname}"'))
        for name, sql in GENERATE:
            started = time.perf_counter()
            used = {k: v for k, v in params.items() if f":{k}" in sql}
            await conn.execute(text(sql), used)
            print(f"  {name:<24} {time.perf_counter() - started:7.1f} s")
        for index in indexes:
            started = time.perf_counter()
            await conn.execute(text(index.indexdef))
            print(f"  index {index.indexname:<18} {time.perf_counter() - started:7.1f} s")
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM (ANALYZE) ai_sessions, ai_session_usage, users, projects"))
    print(f"generated {sessions} sessions")


SECTIONS: dict[str, str] = {
    "summary": """summary { totalSessions totalCost totalTokens inputTokens outputTokens cacheReadTokens
        cacheWriteTokens averageDurationSeconds averageCostPerSession uniqueUsers unpricedSessions }""",
    "timeseries": "timeseries(interval: DAY) { start end sessions cost tokens }",
    "byAgent": "byAgent { agent sessions users totalCost averageCost averageDurationSeconds tokens }",
    "costBreakdown(MODEL)": "byModel: costBreakdown(by: MODEL) { key label cost share sessions tokens }",
    "costBreakdown(PROJECT)": "byProject: costBreakdown(by: PROJECT) { key label cost share sessions tokens }",
    "costBreakdown(USER)": "byUser: costBreakdown(by: USER) { key label cost share sessions tokens }",
    "users": """users { user { id username } sessions cost tokens averageDurationSeconds favoriteAgent
        agents { agent sessions } durationHistogram { le count } }""",
    "users.timeseries": "users { user { id } timeseries(interval: DAY) { start sessions cost tokens } }",
}
OPERATION = (
    "query($org: ID!, $f: SessionFilter) { organization(id: $org) { sessionAnalytics(filter: $f) { %s } } }"
)

WHERE = "organization_id = :org AND started_at >= :start AND started_at < :end"
BASELINE: dict[str, str] = {
    "summary": f"""SELECT count(*) AS sessions, sum(cost) AS cost, sum(input_tokens + output_tokens) AS tokens,
        count(DISTINCT user_id) AS users, count(*) FILTER (WHERE unpriced) AS unpriced,
        avg(extract(epoch FROM ended_at - started_at)) AS avg_duration
        FROM ai_sessions WHERE {WHERE}""",
    "timeseries": f"""SELECT date_trunc('day', started_at AT TIME ZONE 'UTC') AS day, count(*) AS sessions,
        sum(cost) AS cost, sum(input_tokens + output_tokens) AS tokens
        FROM ai_sessions WHERE {WHERE} GROUP BY 1 ORDER BY 1""",
    "byAgent": f"""SELECT agent, count(*) AS sessions, count(DISTINCT user_id) AS users, sum(cost) AS cost,
        avg(cost) AS avg_cost, avg(extract(epoch FROM ended_at - started_at)) AS avg_duration,
        sum(input_tokens + output_tokens) AS tokens
        FROM ai_sessions WHERE {WHERE} GROUP BY agent ORDER BY sessions DESC, agent""",
    "costBreakdown(MODEL)": f"""SELECT u.model, sum(u.cost) AS cost, count(*) AS sessions,
        sum(u.input_tokens + u.output_tokens) AS tokens
        FROM ai_session_usage u JOIN ai_sessions s ON s.organization_id = u.organization_id AND s.id = u.session_id
        WHERE s.{WHERE.replace(" AND ", " AND s.")} GROUP BY u.model ORDER BY cost DESC""",
    "costBreakdown(PROJECT)": f"""SELECT p.name, sum(s.cost) AS cost, count(*) AS sessions,
        sum(s.input_tokens + s.output_tokens) AS tokens
        FROM ai_sessions s LEFT JOIN projects p ON p.organization_id = s.organization_id AND p.id = s.project_id
        WHERE s.{WHERE.replace(" AND ", " AND s.")} GROUP BY p.name ORDER BY cost DESC""",
    "costBreakdown(USER)": f"""SELECT u.username, sum(s.cost) AS cost, count(*) AS sessions,
        sum(s.input_tokens + s.output_tokens) AS tokens
        FROM ai_sessions s JOIN users u ON u.id = s.user_id
        WHERE s.{WHERE.replace(" AND ", " AND s.")} GROUP BY u.username ORDER BY cost DESC""",
    "users": f"""SELECT user_id, count(*) AS sessions, sum(cost) AS cost, sum(input_tokens + output_tokens) AS tokens,
        avg(extract(epoch FROM ended_at - started_at)) AS avg_duration, mode() WITHIN GROUP (ORDER BY agent) AS favorite,
        count(*) FILTER (WHERE ended_at - started_at <= interval '60 seconds') AS h60,
        count(*) FILTER (WHERE ended_at - started_at > interval '7200 seconds') AS hinf
        FROM ai_sessions WHERE {WHERE} GROUP BY user_id ORDER BY cost DESC, user_id""",
    "users.timeseries": f"""SELECT user_id, date_trunc('day', started_at AT TIME ZONE 'UTC') AS day,
        count(*) AS sessions, sum(cost) AS cost, sum(input_tokens + output_tokens) AS tokens
        FROM ai_sessions WHERE {WHERE} GROUP BY 1, 2 ORDER BY 1, 2""",
}


async def median_ms(runs: int, action: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    result = None
    for _ in range(2):
        result = await action()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


class Ours:
    """The operation through the schema with the app's executor and a fresh Context per execution."""

    def __init__(self, engine: AsyncEngine, settings: Settings, member: bool = False) -> None:
        self.schema = build_schema()._schema
        self.db = Database(engine=engine, read_engine=engine)
        self.settings = settings
        self.principal = Principal(
            user_id=MEMBER if member else VIEWER,
            username="bench-member" if member else "bench-owner",
            site_roles=(),
            org_roles={ORG: ("member",) if member else ("owner",)},
        )

    async def run(self, selection: str, zone: str | None = None) -> dict[str, Any]:
        """The operation over START..END, or with `zone` over the same local dates, series by local day."""
        variables: dict[str, Any] = {"org": str(ORG), "f": {"start": iso(START), "end": iso(END)}}
        operation = OPERATION % selection
        if zone is not None:
            variables["tz"] = zone
            variables["f"] = {"start": iso(z.local(START, zone)), "end": iso(z.local(END, zone))}
            operation = operation.replace("$f: SessionFilter)", "$f: SessionFilter, $tz: String!)").replace(
                "timeseries(interval: DAY)", "timeseries(interval: DAY, timezone: $tz)"
            )
        context = Context(
            settings=self.settings,
            db=self.db,
            principal=self.principal,
            request_id=uuid.uuid4().hex,
            loaders=Loaders(self.db, builders),
        )
        result = await execute(  # type: ignore[misc]
            self.schema,
            parse(operation),
            context_value=context,
            variable_values=variables,
            executor_class=CompiledExecutor,
        )
        context.release()  # as the server does after each execution
        if result.errors:
            raise RuntimeError(result.errors)
        data: dict[str, Any] = result.data["organization"]["sessionAnalytics"]
        return data


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


SPEC = q.SessionSpec(organization_id=ORG, start=START, end=END)
UTC_DAYS = q.Buckets(unit="day", days=1, timezone="UTC")
QUERIES: dict[str, Callable[[AsyncConnection], Awaitable[Any]]] = {
    "summary": lambda conn: q.facts(conn, SPEC),
    "timeseries": lambda conn: q.timeseries(conn, SPEC, UTC_DAYS),
    "byAgent": lambda conn: q.facts(conn, SPEC),
    "costBreakdown(MODEL)": lambda conn: q.cost_breakdown(conn, SPEC, "MODEL"),
    "costBreakdown(PROJECT)": lambda conn: q.cost_breakdown(conn, SPEC, "PROJECT"),
    "costBreakdown(USER)": lambda conn: q.facts(conn, SPEC),
    "users": lambda conn: q.facts(conn, SPEC),
    "users.timeseries": lambda conn: q.user_timeseries(conn, SPEC, UTC_DAYS),
}


async def our_sql(conn: AsyncConnection, section: str) -> Any:
    """Our query function alone, in a transaction of its own as the resolver runs it."""
    try:
        return await QUERIES[section](conn)
    finally:
        await conn.rollback()


async def baseline(conn: AsyncConnection, sql: str) -> list[Any]:
    params = {"org": ORG, "start": START, "end": END}
    return list((await conn.execute(text(sql), params)).all())


def figures(section: str, ours: dict[str, Any], base: list[Any]) -> tuple[str, str]:
    """One line of figures per section from each side, so a reader sees they agree."""
    if section == "summary":
        s = ours["summary"]
        row = base[0]
        return (
            f"{s['totalSessions']} sessions, ${s['totalCost']}, {s['totalTokens']} tokens, {s['uniqueUsers']} users",
            f"{row.sessions} sessions, ${row.cost}, {row.tokens} tokens, {row.users} users",
        )
    if section == "timeseries":
        points = ours["timeseries"]
        return (
            f"{len(points)} days, {sum(p['sessions'] for p in points)} sessions, max {max(p['sessions'] for p in points)}",
            f"{len(base)} days, {sum(r.sessions for r in base)} sessions, max {max(r.sessions for r in base)}",
        )
    if section == "byAgent":
        a = ours["byAgent"][0]
        return (
            f"{len(ours['byAgent'])} agents, top {a['agent']} {a['sessions']} / ${a['totalCost']}",
            f"{len(base)} agents, top {base[0].agent} {base[0].sessions} / ${base[0].cost}",
        )
    if section.startswith("costBreakdown"):
        key = {"MODEL": "byModel", "PROJECT": "byProject", "USER": "byUser"}[section[14:-1]]
        top = ours[key][0]
        return (
            f"{len(ours[key])} slices, top {top['label']} ${top['cost']} ({top['sessions']} sessions)",
            f"{len(base)} slices, top {base[0][0]} ${base[0].cost} ({base[0].sessions} sessions)",
        )
    if section == "users":
        u = ours["users"][0]
        return (
            f"{len(ours['users'])} users, top ${u['cost']} {u['sessions']} sessions, fav {u['favoriteAgent']}",
            f"{len(base)} users, top ${base[0].cost} {base[0].sessions} sessions, fav {base[0].favorite}",
        )
    points = sum(len(u["timeseries"]) for u in ours["users"])
    nonempty = sum(1 for u in ours["users"] for p in u["timeseries"] if p["sessions"])
    return f"{points} points, {nonempty} non-empty", f"{len(base)} non-empty rows"


async def zone_table(ours: Ours, zones: list[str], runs: int) -> None:
    every = " ".join(v for k, v in SECTIONS.items() if k != "users.timeseries")
    with_series = every + " " + SECTIONS["users.timeseries"].replace("users {", "us: users {")
    await z.table(
        [
            ("sessionAnalytics, every section", lambda zone: lambda: ours.run(every, zone)),
            ("sessionAnalytics, every section + users.ts", lambda zone: lambda: ours.run(with_series, zone)),
        ],
        zones,
        runs,
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


async def main(
    scale: float, runs: int, force: bool, zones: list[str], zone_runs: int, zones_only: bool
) -> None:
    url = start_embedded(DATA_DIR, database=DATABASE)
    settings = Settings(database_url=url)
    loader = create_async_engine(url, connect_args={"command_timeout": 7200})
    await generate(loader, scale, force)
    await loader.dispose()
    engine = create_engine(settings)
    ours = Ours(engine, settings)
    gc.collect()
    gc.freeze()  # as the server does after startup (usagegraph/app.py)
    if zones_only:
        await zone_table(ours, zones, zone_runs)
        await engine.dispose()
        return
    print(f"\nrange {iso(START)} .. {iso(END)}, median of {runs} runs after 2 warm-ups")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs\n")
    header = (
        f"{'section':<24} {'ours ms':>9} {'our SQL ms':>11} {'baseline ms':>12}   figures (ours | baseline)"
    )
    print(header)
    print("-" * len(header))
    baseline_total = sql_total = 0.0
    async with engine.connect() as conn:
        for section, selection in SECTIONS.items():
            ours_ms, our_result = await median_ms(runs, lambda s=selection: ours.run(s))
            sql_ms, _ = await median_ms(runs, lambda s=section: our_sql(conn, s))
            base_ms, base_result = await median_ms(runs, lambda b=BASELINE[section]: baseline(conn, b))
            if section != "users.timeseries":
                sql_total += sql_ms
                baseline_total += base_ms
            mine, theirs = figures(section, our_result, base_result)
            print(f"{section:<24} {ours_ms:>9.1f} {sql_ms:>11.1f} {base_ms:>12.1f}   {mine} | {theirs}")
    all_sections = " ".join(v for k, v in SECTIONS.items() if k != "users.timeseries")
    every_ms, _ = await median_ms(runs, lambda: ours.run(all_sections))
    with_series = all_sections + " " + SECTIONS["users.timeseries"].replace("users {", "us: users {")
    series_ms, _ = await median_ms(runs, lambda: ours.run(with_series))
    print("-" * len(header))
    print(
        f"{'every section':<24} {every_ms:>9.1f} {sql_total:>11.1f} {baseline_total:>12.1f}"
        "   (ours: one operation, sections concurrent; SQL columns: sum of the statements run one by one)"
    )
    print(f"{'every section + users.ts':<24} {series_ms:>9.1f}")
    member = Ours(engine, settings, member=True)
    self_ms, mine = await median_ms(runs, lambda: member.run(all_sections))
    print(
        f"{'every section, SELF':<24} {self_ms:>9.1f}   (a member: {mine['summary']['totalSessions']} own sessions)"
    )
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    await zone_table(ours, zones, zone_runs)
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 2 million sessions")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--force", action="store_true", help="regenerate the dataset")
    parser.add_argument("--zones", type=z.zones_argument, default=list(z.ZONES), help="'' for no zone table")
    parser.add_argument("--zone-runs", type=int, default=7)
    parser.add_argument("--zones-only", action="store_true", help="only the zone table")
    args = parser.parse_args()
    asyncio.run(main(args.scale, args.runs, args.force, args.zones, args.zone_runs, args.zones_only))
