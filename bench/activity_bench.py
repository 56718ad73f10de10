"""Activity report and DAU/WAU/MAU: the rollup-backed queries of usagegraph against straightforward SQL
over raw sessions, side by side, on the shared benchmark dataset (bench/dataset.py).

What is timed: the query functions the resolvers call (usagegraph.db.queries.activity / usage_metrics),
in-process over the embedded server's Unix socket, from sending the statement to having every row
decoded; the baseline is one statement over activity_sessions that expands sessions into minutes with
generate_series. usageMetrics: CALENDAR, FORWARD, dau + wau + mau, UTC, the 731 days ending the day
before the dataset's end (periodLength 730 on that day); a workspace has no LOGINs (they belong to the
organization), so (b) counts every category. Median of --runs runs each (the baseline runs fewer times when one run is slow, and is
cut at --raw-timeout seconds).

Usage: python -m bench.activity_bench [--scale 1.0] [--runs 5] [--raw-timeout 120] [--database usagegraph_bench]
       [--only a,b] [--zones America/New_York,Asia/Kolkata,Asia/Kathmandu] [--zone-runs 7] [--zones-only]

Then the zone table (bench/zones.py): (a), (a'), (b), (c) and (d) over the same local dates in UTC and in
each of --zones, interleaved, with the ratio to UTC.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bench import zones as z
from bench.dataset import DATABASE, END, generate, make_engine
from usagegraph.db.queries import activity as q
from usagegraph.db.queries import usage_metrics as mq
from usagegraph.db.queries.compose import splice

RAW_METRICS = """
WITH days AS (
    SELECT CAST(d AS date) AS day
    FROM generate_series(CAST(:first_day AS timestamp), CAST(:last_day AS timestamp), interval '1 day') d
), sessions AS (
    SELECT user_id, date_trunc('minute', started_at) AS first_minute,
           date_trunc('minute', CASE WHEN category = 'LOGIN' OR ended_at IS NULL THEN started_at
                                     ELSE greatest(ended_at - interval '1 microsecond', started_at) END) AS last_minute
    FROM activity_sessions
    WHERE organization_id = :org $SCOPE
      AND started_at < CAST(:last_day AS timestamp) AT TIME ZONE 'UTC' + interval '1 day'
      AND coalesce(ended_at, started_at)
          >= CAST(date_trunc('month', CAST(:first_day AS timestamp)) AS timestamp) AT TIME ZONE 'UTC'
), user_days AS (
    SELECT DISTINCT s.user_id, CAST(d AS date) AS day
    FROM sessions s
    CROSS JOIN LATERAL generate_series(CAST(s.first_minute AT TIME ZONE 'UTC' AS date),
                                       CAST(s.last_minute AT TIME ZONE 'UTC' AS date), interval '1 day') AS d
)
SELECT d.day,
       count(DISTINCT u.user_id) FILTER (WHERE u.day = d.day) AS dau,
       count(DISTINCT u.user_id) FILTER (WHERE u.day >= CAST(date_trunc('week', CAST(d.day AS timestamp)) AS date))
           AS wau,
       count(DISTINCT u.user_id) AS mau
FROM days d
LEFT JOIN user_days u ON u.day BETWEEN CAST(date_trunc('month', CAST(d.day AS timestamp)) AS date) AND d.day
GROUP BY d.day ORDER BY d.day
"""

RAW_REPORT = """
WITH buckets AS (
    SELECT k, bs, be FROM unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]))
        WITH ORDINALITY AS b(bs, be, k)
), sessions AS MATERIALIZED (
    SELECT user_id, category, date_trunc('minute', started_at) AS first_minute,
           date_trunc('minute', CASE WHEN category = 'LOGIN' OR ended_at IS NULL THEN started_at
                                     ELSE greatest(ended_at - interval '1 microsecond', started_at) END) AS last_minute
    FROM activity_sessions
    WHERE started_at < :end AND coalesce(ended_at, started_at) >= :start
), minutes AS (
    SELECT s.user_id, m.minute
    FROM sessions s CROSS JOIN LATERAL generate_series(s.first_minute, s.last_minute, interval '1 minute') AS m(minute)
    WHERE s.category <> 'LOGIN'
), durations AS (
    SELECT b.k, m.user_id, count(DISTINCT m.minute) AS minutes
    FROM minutes m JOIN buckets b ON m.minute >= b.bs AND m.minute < b.be
    GROUP BY b.k, m.user_id
), counts AS (
    SELECT b.k, s.user_id, count(*) AS sessions
    FROM sessions s JOIN buckets b ON s.first_minute < b.be AND s.last_minute >= b.bs
    GROUP BY b.k, s.user_id
)
SELECT c.k, c.user_id, c.sessions, coalesce(d.minutes, 0) AS minutes
FROM counts c LEFT JOIN durations d USING (k, user_id)
UNION ALL
SELECT NULL, user_id, count(*), 0 FROM sessions WHERE last_minute >= :start GROUP BY user_id
"""


async def timed(
    engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[Any]], runs: int, limit: float
) -> tuple[float | None, int]:
    """Median milliseconds over runs (None when cut by the limit) and the row count of the last run."""
    times: list[float] = []
    rows = 0
    for _ in range(runs):
        async with engine.connect() as conn:
            await conn.execute(text(f"SET statement_timeout = {int(limit * 1000)}"))
            began = time.perf_counter()
            try:
                result = await work(conn)
            except Exception as error:  # noqa: BLE001  (a cut baseline is a figure, not a failure)
                if "statement timeout" not in str(error) and "canceling statement" not in str(error):
                    raise
                return None, 0
            times.append((time.perf_counter() - began) * 1000)
            rows = len(result)
        if times[-1] > 20_000:
            break
    return statistics.median(times), rows


async def _pick(engine: AsyncEngine) -> tuple[uuid.UUID, uuid.UUID]:
    async with engine.connect() as conn:
        org = (await conn.execute(text("SELECT id FROM organizations ORDER BY name LIMIT 1"))).scalar_one()
        ws = (
            await conn.execute(
                text("SELECT id FROM workspaces WHERE organization_id = :org ORDER BY name LIMIT 1"),
                {"org": org},
            )
        ).scalar_one()
    return org, ws


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--raw-timeout", type=float, default=120.0)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument(
        "--only", default="", help="comma-separated case letters to run, e.g. a,b (default: all)"
    )
    parser.add_argument("--zones", type=z.zones_argument, default=list(z.ZONES), help="'' for no zone table")
    parser.add_argument("--zone-runs", type=int, default=7)
    parser.add_argument("--zones-only", action="store_true", help="only the zone table")
    args = parser.parse_args()
    engine = make_engine(args.database)
    await generate(engine, args.scale)
    org, ws = await _pick(engine)
    last_day = (END - timedelta(days=1)).date()
    first_day = last_day - timedelta(days=730)

    def metrics(
        workspace: uuid.UUID | None, category: str | None, zone: str = "UTC"
    ) -> Callable[[AsyncConnection], Awaitable[Any]]:
        spec = mq.MetricsSpec(org, workspace, first_day, last_day, zone, category, True, True, False, True)
        return lambda conn: mq.usage_rows(conn, spec)

    def raw_metrics(
        workspace: uuid.UUID | None, category: str | None
    ) -> Callable[[AsyncConnection], Awaitable[Any]]:
        scope = ("AND workspace_id = :ws " if workspace else "") + (
            "AND category = :category" if category else ""
        )
        sql = splice(RAW_METRICS, SCOPE=scope)
        params: dict[str, Any] = {"org": org, "first_day": first_day, "last_day": last_day}
        if workspace:
            params["ws"] = workspace
        if category:
            params["category"] = category

        async def run(conn: AsyncConnection) -> Any:
            return (await conn.execute(text(sql), params)).all()

        return run

    def report(
        start: datetime, end: datetime, interval: str, raw: bool, zone: str = "UTC"
    ) -> Callable[[AsyncConnection], Awaitable[Any]]:
        async def run(conn: AsyncConnection) -> Any:
            starts = await q.bucket_starts(conn, start, end, interval, zone)
            ends = [*starts[1:], end]
            if raw:
                params = {"starts": starts, "ends": ends, "start": start, "end": end}
                return (await conn.execute(text(RAW_REPORT), params)).all()
            orgs = await q.organization_ids(conn)
            result = await q.report_rows(conn, q.ReportSpec(orgs, starts, ends, None))
            return range(sum(len(row.user_ids) for row in result))  # as many as (bucket, user) rows

        return run

    end = END
    cases: list[tuple[str, Callable[[AsyncConnection], Awaitable[Any]], Any, int]] = [
        (
            "(a) usageMetrics 730 days, organization, LOGIN",
            metrics(None, "LOGIN"),
            raw_metrics(None, "LOGIN"),
            100,
        ),
        ("(a') usageMetrics 730 days, organization, ANY", metrics(None, None), raw_metrics(None, None), 100),
        ("(b) usageMetrics 730 days, one workspace, ANY", metrics(ws, None), raw_metrics(ws, None), 100),
        (
            "(c) activity 30 days by 1 day, ANY, all users",
            report(end - timedelta(days=30), end, "1 days", False),
            report(end - timedelta(days=30), end, "1 days", True),
            300,
        ),
        (
            "(d) activity 1 year by 1 week, ANY, all users",
            report(end - timedelta(days=364), end, "7 days", False),
            report(end - timedelta(days=364), end, "7 days", True),
            500,
        ),
    ]
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'case':<50} {'rollup ms':>10} {'raw ms':>10} {'speed-up':>9} {'target ms':>10} {'rows':>8}")
    wanted = {f"({letter.strip()})" for letter in args.only.split(",") if letter.strip()}
    for label, ours, baseline, target in cases:
        if args.zones_only or (wanted and label.split()[0] not in wanted):
            continue
        mine, rows = await timed(engine, ours, args.runs, 600)
        if baseline is None:
            print(f"{label:<50} {mine:10.1f} {'-':>10} {'-':>9} {target:>10} {rows:>8}", flush=True)
            continue
        theirs, _ = await timed(engine, baseline, max(1, args.runs // 2), args.raw_timeout)
        raw_text = f"{theirs:10.1f}" if theirs is not None else f">{args.raw_timeout * 1000:9.0f}"
        ratio = (
            f"{theirs / mine:8.1f}x"
            if theirs is not None and mine
            else f">{args.raw_timeout * 1000 / mine:7.1f}x"
        )
        print(f"{label:<50} {mine:10.1f} {raw_text} {ratio:>9} {target:>10} {rows:>8}", flush=True)

    def on_engine(work: Callable[[AsyncConnection], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            async with engine.connect() as conn:
                return await work(conn)

        return run

    def local_report(days: int, interval: str) -> Callable[[str], Callable[[], Awaitable[Any]]]:
        return lambda zone: on_engine(
            report(z.local(end - timedelta(days=days), zone), z.local(end, zone), interval, False, zone)
        )

    zone_cases: list[tuple[str, Callable[[str], Callable[[], Awaitable[Any]]]]] = [
        (
            "(a) usageMetrics 730 days, organization, LOGIN",
            lambda zone: on_engine(metrics(None, "LOGIN", zone)),
        ),
        ("(a') usageMetrics 730 days, organization, ANY", lambda zone: on_engine(metrics(None, None, zone))),
        ("(b) usageMetrics 730 days, one workspace, ANY", lambda zone: on_engine(metrics(ws, None, zone))),
        ("(c) activity 30 days by 1 day, ANY, all users", local_report(30, "1 days")),
        ("(d) activity 1 year by 1 week, ANY, all users", local_report(364, "7 days")),
    ]
    await z.table(
        [case for case in zone_cases if not wanted or case[0].split()[0] in wanted],
        args.zones,
        args.zone_runs,
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
