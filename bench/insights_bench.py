"""Template Insights: usagegraph's templateInsights (per-day rows for the range's whole UTC days, the minute
rollup and the sessions for the rest) against the same answers computed from raw sessions and samples,
side by side, on the shared benchmark dataset (bench/dataset.py).

What is timed: (1) the whole GraphQL field, every section selected, executed server-side by the schema
in-process with the server's executor (permission check, the resolver's concurrent SQL, user loader batch,
compiled result building; no HTTP) over the embedded server's Unix socket, as a site-wide owner; (2) each section's query
alone, ours vs raw. Raw = one statement per section over activity_sessions that expands every session
overlapping the range into its minutes with generate_series (timesUsed: the overlap condition without a
lookback bound); latency and parameters already read raw samples and workspaces, so their baseline is the
same statement. Range: the 30 days ending at the dataset's end, UTC, default interval (WEEK: the templates
are two years old). Median of --runs runs; the answers of both are compared and the check printed.

Usage: python -m bench.insights_bench [--scale 1.0] [--runs 7] [--database usagegraph_bench]
       [--zones America/New_York,Asia/Kolkata,Asia/Kathmandu] [--zone-runs 7] [--zones-only]

Then the zone table (bench/zones.py): the whole field, every section, over the same 30 local days (from
the local midnight 30 days before the dataset's end to the local midnight at its end) with the default
interval, in UTC and in each of --zones, interleaved, with the ratio to UTC.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from graphql import execute, parse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench import zones as z
from bench.dataset import DATABASE, END, generate, make_engine
from usagegraph.auth.principal import Principal
from usagegraph.db.database import Database
from usagegraph.db.queries import insights as q
from usagegraph.db.queries.app_days import ALL_TEMPLATES
from usagegraph.execution.compiled import CompiledExecutor
from usagegraph.execution.context import Context
from usagegraph.execution.loaders import Loaders
from usagegraph.schema import builders
from usagegraph.schema.schema import build_schema
from usagegraph.settings import Settings

QUERY = """
query($org: ID!, $ids: [ID!], $start: DateTime!, $end: DateTime!) {
  templateInsights(organizationId: $org, templateIds: $ids, start: $start, end: $end) {
    start end interval activeUsers templates { id name }
    activeUsersSeries { start end activeUsers complete }
    userLatency { user { id username } p50 { ms band } p95 { ms band } samples }
    appUsage { slug displayName kind category seconds users timesUsed }
    userActivity { user { id username } seconds }
    parameters { name displayName type values { value count } }
  }
}
"""

ZONE_QUERY = QUERY.replace("$end: DateTime!)", "$end: DateTime!, $tz: String!)").replace(
    "start: $start, end: $end)", "start: $start, end: $end, timezone: $tz)"
)

SECTIONS = {"users", "series", "apps"}

RAW_SESSIONS = """
    WITH s AS MATERIALIZED (
        SELECT user_id, coalesce(app, '') AS app, date_trunc('minute', started_at) AS first_minute,
               date_trunc('minute', greatest(ended_at - interval '1 microsecond', started_at)) AS last_minute
        FROM activity_sessions
        WHERE organization_id = :org AND template_id = ANY(CAST(:tpls AS uuid[])) AND category <> 'LOGIN'
          AND started_at < :end AND (ended_at > :start OR started_at >= :start)
    ), m AS (
        SELECT s.user_id, s.app, g.minute
        FROM s CROSS JOIN LATERAL generate_series(greatest(s.first_minute, :start),
                                                  least(s.last_minute, :end - interval '1 minute'),
                                                  interval '1 minute') AS g(minute)
    )
"""

RAW = {
    "activeUsers + userActivity": RAW_SESSIONS
    + "SELECT user_id, count(DISTINCT minute) AS minutes FROM m GROUP BY user_id",
    "activeUsersSeries": RAW_SESSIONS
    + """, b AS (SELECT k, bs, lead(bs, 1, :end) OVER (ORDER BY k) AS be
                FROM unnest(CAST(:starts AS timestamptz[])) WITH ORDINALITY AS x(bs, k))
        SELECT b.k, count(DISTINCT m.user_id) AS users FROM m JOIN b ON m.minute >= b.bs AND m.minute < b.be
        GROUP BY b.k""",
    "appUsage (seconds, users)": RAW_SESSIONS
    + """SELECT app, count(*) AS minutes, count(DISTINCT user_id) AS users
        FROM (SELECT DISTINCT app, user_id, minute FROM m WHERE app <> '') d GROUP BY app""",
    "appUsage (timesUsed)": """
        SELECT app, count(*) AS sessions FROM activity_sessions
        WHERE organization_id = :org AND template_id = ANY(CAST(:tpls AS uuid[])) AND category <> 'LOGIN'
          AND app <> '' AND started_at < :end AND (ended_at > :start OR started_at >= :start)
        GROUP BY app""",
}


def principal() -> Principal:
    return Principal(user_id=uuid.uuid4(), username="bench", site_roles=("owner",), org_roles={})


async def timed(
    engine: AsyncEngine, run: Callable[[AsyncConnection], Awaitable[Any]], runs: int
) -> tuple[float, Any]:
    times: list[float] = []
    result: Any = None
    for _ in range(runs):
        async with engine.connect() as conn:
            began = time.perf_counter()
            result = await run(conn)
            times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), result


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--zones", type=z.zones_argument, default=list(z.ZONES), help="'' for no zone table")
    parser.add_argument("--zone-runs", type=int, default=7)
    parser.add_argument("--zones-only", action="store_true", help="only the zone table")
    args = parser.parse_args()
    engine = make_engine(args.database)
    await generate(engine, args.scale)
    async with engine.connect() as conn:
        org = (await conn.execute(text("SELECT id FROM organizations ORDER BY name LIMIT 1"))).scalar_one()
        templates = (
            (
                await conn.execute(
                    text("SELECT id FROM templates WHERE organization_id = :o ORDER BY name"), {"o": org}
                )
            )
            .scalars()
            .all()
        )
    schema = build_schema()._schema
    document = parse(QUERY)
    gc.collect()
    gc.freeze()  # as the server does after startup (usagegraph/app.py)
    settings = Settings(log_format="console")
    db = Database(engine=engine, read_engine=engine)
    end = END
    start = end - timedelta(days=30)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    cases = (("one template", [templates[0]]), (f"all {len(templates)} templates of an org", None))
    zone_document = parse(ZONE_QUERY)

    def in_zone(ids: list[Any] | None) -> Callable[[str], Callable[[], Awaitable[Any]]]:
        def make(zone: str) -> Callable[[], Awaitable[Any]]:
            variables = {
                "org": str(org),
                "ids": None if ids is None else [str(i) for i in ids],
                "start": z.local(start, zone).isoformat(),
                "end": z.local(end, zone).isoformat(),
                "tz": zone,
            }

            async def run() -> Any:
                context = Context(
                    settings=settings,
                    db=db,
                    principal=principal(),
                    request_id="bench",
                    loaders=Loaders(db, builders),
                )
                result = await execute(  # type: ignore[misc]
                    schema, zone_document, variable_values=variables, context_value=context,
                    executor_class=CompiledExecutor,
                )  # fmt: skip
                context.release()
                assert result.errors is None, result.errors
                return result.data

            return run

        return make

    for label, ids in cases:
        if args.zones_only:
            break
        variables = {
            "org": str(org),
            "ids": None if ids is None else [str(i) for i in ids],
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
        times: list[float] = []
        data: Any = None
        for _ in range(args.runs):
            context = Context(
                settings=settings,
                db=db,
                principal=principal(),
                request_id="bench",
                loaders=Loaders(db, builders),
            )
            began = time.perf_counter()
            result = await execute(  # type: ignore[misc]
                schema,
                document,
                variable_values=variables,
                context_value=context,
                executor_class=CompiledExecutor,
            )
            times.append((time.perf_counter() - began) * 1000)
            context.release()
            assert result.errors is None, result.errors
            data = result.data
        answer = data["templateInsights"]
        tpls = list(ids or templates)
        scope = q.Scope(org, tpls, start, end)
        async with engine.connect() as conn:
            bounds = await q.bucket_starts(conn, start, end, timedelta(days=7), "UTC", 1000)
        starts = bounds[:-1]
        params = {"org": org, "tpls": tpls, "start": start, "end": end, "starts": starts}
        # One template, or every template of the organization: whole UTC days from per-day rows, as the
        # resolver does.
        key = ALL_TEMPLATES if ids is None else ids[0]
        rollup_ms, rollup = await timed(
            engine, lambda c, s=scope, b=starts, k=key: q.day_sections(c, s, b, SECTIONS, k), args.runs
        )
        raw_results: dict[str, Any] = {}
        raw_ms: dict[str, float] = {}
        for section, sql in RAW.items():
            statement = text(sql)
            used = {k: v for k, v in params.items() if f":{k}" in sql}

            async def raw(conn: AsyncConnection, statement: Any = statement, used: Any = used) -> Any:
                return (await conn.execute(statement, used)).all()

            raw_ms[section], raw_results[section] = await timed(engine, raw, max(1, min(args.runs, 3)))
        sessions_ms, sessions = await timed(engine, lambda c, s=scope: q.day_app_sessions(c, s), args.runs)
        latency_ms, _ = await timed(engine, lambda c, s=scope: q.user_latency(c, s), args.runs)
        parameters_ms, _ = await timed(engine, lambda c, s=scope: q.parameter_usage(c, s), args.runs)
        print()
        print(f"templateInsights, {label}, 30 days, every section: median {statistics.median(times):.1f} ms "
              f"(min {min(times):.1f}, max {max(times):.1f}; target < 200 ms)")  # fmt: skip
        print(
            f"  {answer['activeUsers']} active users, {len(answer['userActivity'])} userActivity rows, "
            f"{len(answer['userLatency'])} userLatency rows, {len(answer['appUsage'])} apps, "
            f"{len(answer['activeUsersSeries'])} buckets"
        )
        print(f"  {'statement':<44} {'ours ms':>9} {'raw ms':>9} {'speed-up':>9}  same answer")
        minutes_raw = sum(raw_ms[k] for k in RAW if k != "appUsage (timesUsed)")
        checks = [
            compare("activeUsers + userActivity", rollup.users, raw_results["activeUsers + userActivity"]),
            compare("activeUsersSeries", rollup.series, raw_results["activeUsersSeries"]),
            compare("appUsage (seconds, users)", rollup.apps, raw_results["appUsage (seconds, users)"]),
        ]
        rows = [
            ("day rows + edges: users, series, app minutes", rollup_ms, minutes_raw, " / ".join(checks)),
            ("appUsage timesUsed (day rows + edges)", sessions_ms, raw_ms["appUsage (timesUsed)"],
             compare("appUsage (timesUsed)", sessions, raw_results["appUsage (timesUsed)"])),
        ]  # fmt: skip
        for name, mine, theirs, same in rows:
            print(f"  {name:<44} {mine:9.1f} {theirs:9.1f} {theirs / mine:8.1f}x  {same}")
        for name, mine in (
            ("userLatency (raw samples)", latency_ms),
            ("parameters (workspaces)", parameters_ms),
        ):
            print(f"  {name:<44} {mine:9.1f} {'(same)':>9} {'':>9}  reads raw rows already")
        print(f"  response vs raw: {compare_response(answer, raw_results)}")
    await zone_table(cases, in_zone, args)


async def zone_table(
    cases: Any, in_zone: Callable[[Any], Callable[[str], Callable[[], Awaitable[Any]]]], args: Any
) -> None:
    await z.table(
        [(f"templateInsights, {label.replace(' of an org', '')}", in_zone(ids)) for label, ids in cases],
        args.zones,
        args.zone_runs,
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def compare(section: str, ours: Any, raw: Any) -> str:
    if section == "activeUsersSeries":
        return yes(ours == {row.k: row.users for row in raw})
    if section == "activeUsers + userActivity":
        return yes({row.user_id: row.minutes for row in ours} == {row.user_id: row.minutes for row in raw})
    if section == "appUsage (seconds, users)":
        return yes({r.app: (r.minutes, r.users) for r in ours} == {r.app: (r.minutes, r.users) for r in raw})
    return yes({r.app: r.sessions for r in ours} == {r.app: r.sessions for r in raw})


def compare_response(answer: dict[str, Any], raw: dict[str, Any]) -> str:
    users = {str(r.user_id): 60.0 * r.minutes for r in raw["activeUsers + userActivity"]}
    got_users = {u["user"]["id"]: u["seconds"] for u in answer["userActivity"]}
    series = [raw_series for _, raw_series in sorted((r.k, r.users) for r in raw["activeUsersSeries"])]
    got_series = [b["activeUsers"] for b in answer["activeUsersSeries"] if b["activeUsers"]]
    minutes = {r.app: (60.0 * r.minutes, r.users) for r in raw["appUsage (seconds, users)"]}
    sessions = {r.app: r.sessions for r in raw["appUsage (timesUsed)"]}
    got_apps = {a["slug"]: (a["seconds"], a["users"]) for a in answer["appUsage"] if a["seconds"]}
    got_sessions = {a["slug"]: a["timesUsed"] for a in answer["appUsage"] if a["timesUsed"]}
    checks = {
        "activeUsers": answer["activeUsers"] == len(users),
        "userActivity": got_users == users,
        "activeUsersSeries": got_series == series,
        "appUsage": got_apps == minutes and got_sessions == sessions,
    }
    return ", ".join(f"{name} {yes(ok)}" for name, ok in checks.items())


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


if __name__ == "__main__":
    asyncio.run(main())
