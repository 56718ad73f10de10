"""SQL of the activity report (API.md 5.1-5.2).

Buckets are computed once, in the requested zone, as `usagegraph_date_add(start, k * interval, zone)` (one step
from start, so month ends clamp), and handed to the report query as arrays.

Durations come from the minute rollup: the masks of a user's rows in one UTC hour are OR-ed (a minute
counts once whatever the app, workspace or category), then AND-ed with the minutes of that hour that
belong to the bucket. The hour -> (bucket, minute mask) map is built from the buckets themselves, so the
rollup rows meet it through a hash join on `hour` and no row needs a time zone conversion; buckets that
start inside an hour (half- and quarter-hour zones, starts at any whole minute) split its mask.

Counts need sessions, which the rollup merges. A session overlaps [start, end) iff its first minute is
before end and its last minute is at or after start. activity_session_spans keeps the longest span of
each organization, so the scan is the index range started_at in [start - longest span, end) on the
covering index activity_sessions_span; each session then finds its first and last bucket by binary
search over the bucket starts (width_bucket)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

MAX_BUCKETS = 1000


async def bucket_starts(
    conn: AsyncConnection, start: datetime, end: datetime, interval: str, zone: str
) -> list[datetime]:
    """Starts of the buckets in [start, end), at most MAX_BUCKETS + 1 of them (one more means too many)."""
    rows = await conn.execute(
        text(
            """
            SELECT b FROM (
                SELECT usagegraph_date_add(:start, k * CAST(CAST(:interval AS text) AS interval), :zone) AS b
                FROM generate_series(0, :limit) AS k
            ) s
            WHERE b < :end
            ORDER BY b
            """
        ),
        {"start": start, "end": end, "interval": interval, "zone": zone, "limit": MAX_BUCKETS},
    )
    return [row.b for row in rows]


async def organization_ids(conn: AsyncConnection) -> list[uuid.UUID]:
    return list((await conn.execute(text("SELECT id FROM organizations ORDER BY id"))).scalars())


@dataclass(frozen=True)
class ReportSpec:
    organization_ids: Sequence[uuid.UUID]
    starts: Sequence[datetime]
    ends: Sequence[datetime]
    category: str | None
    """None = every category."""


_REPORT = """
WITH buckets AS (
    SELECT k::int AS k, bs, be FROM unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]))
        WITH ORDINALITY AS b(bs, be, k)
), hour_map AS (
    SELECT b.k, h.hour,
           ((CAST(1 AS bigint) << least(60, greatest(0, (extract(epoch FROM b.be - h.hour) / 60)::int))) - 1)
           # ((CAST(1 AS bigint) << least(60, greatest(0, (extract(epoch FROM b.bs - h.hour) / 60)::int))) - 1)
               AS mask
    FROM buckets b
    CROSS JOIN LATERAL generate_series(
        date_trunc('hour', b.bs, 'UTC'), date_trunc('hour', b.be - interval '1 minute', 'UTC'), interval '1 hour'
    ) AS h(hour)
), user_hours AS (
    SELECT hour, user_id, bit_or(minutes) AS minutes
    FROM activity_minutes
    WHERE organization_id = ANY(CAST(:orgs AS uuid[]))
      AND hour >= date_trunc('hour', CAST(:start AS timestamptz), 'UTC') AND hour < :end
      AND category <> 'LOGIN' {minute_category}
    GROUP BY hour, user_id
), durations AS (
    SELECT m.k, u.user_id, sum(bit_count((u.minutes & m.mask)::bit(64)))::bigint AS minutes
    FROM user_hours u JOIN hour_map m ON m.hour = u.hour
    GROUP BY m.k, u.user_id
), sessions AS MATERIALIZED (
    SELECT user_id,
           greatest(1, width_bucket(first_minute, CAST(:starts AS timestamptz[]))) AS k1,
           width_bucket(last_minute, CAST(:starts AS timestamptz[])) AS k2,
           count(*) AS n
    FROM (
        SELECT user_id, date_trunc('minute', started_at) AS first_minute,
               date_trunc('minute', CASE WHEN category = 'LOGIN' OR ended_at IS NULL THEN started_at
                                         ELSE greatest(ended_at - interval '1 microsecond', started_at) END)
                   AS last_minute
        FROM activity_sessions
        WHERE organization_id = ANY(CAST(:orgs AS uuid[]))
          AND started_at >= :lookback AND started_at < :end {session_category}
    ) s
    WHERE last_minute >= :start
    GROUP BY 1, 2, 3
), counts AS (
    SELECT k, user_id, sum(n)::bigint AS sessions
    FROM sessions CROSS JOIN LATERAL generate_series(k1, k2) AS k
    GROUP BY k, user_id
)
SELECT * FROM (
    SELECT c.k, c.user_id, c.sessions, coalesce(d.minutes, 0) AS minutes
    FROM counts c LEFT JOIN durations d ON d.k = c.k AND d.user_id = c.user_id
    UNION ALL
    SELECT NULL, t.user_id, t.sessions, coalesce(m.minutes, 0)
    FROM (SELECT user_id, sum(n)::bigint AS sessions FROM sessions GROUP BY user_id) t
    LEFT JOIN (SELECT user_id, sum(minutes)::bigint AS minutes FROM durations GROUP BY user_id) m
        ON m.user_id = t.user_id
) r
ORDER BY k NULLS LAST, minutes DESC, user_id
"""


async def report_rows(conn: AsyncConnection, spec: ReportSpec) -> Sequence[Row[object]]:
    """(k, user_id, sessions, minutes) per bucket k (1-based) and user with sessions overlapping it, then
    (NULL, user_id, sessions, minutes) per user over the whole range; each part by minutes desc, then
    user id (the order of the report)."""
    sql = _REPORT.format(
        minute_category="AND category = :category" if spec.category else "",
        session_category="AND category = :category" if spec.category else "",
    )
    await conn.execute(text("SELECT set_config('work_mem', '256MB', true)"))
    longest = (
        await conn.execute(
            text(
                "SELECT coalesce(max(max_minutes), 0) FROM activity_session_spans "
                "WHERE organization_id = ANY(CAST(:orgs AS uuid[]))"
            ),
            {"orgs": list(spec.organization_ids)},
        )
    ).scalar_one()
    params: dict[str, object] = {
        "lookback": spec.starts[0] - timedelta(minutes=longest),
        "starts": list(spec.starts),
        "ends": list(spec.ends),
        "start": spec.starts[0],
        "end": spec.ends[-1],
        "orgs": list(spec.organization_ids),
    }
    if spec.category:
        params["category"] = spec.category
    return (await conn.execute(text(sql), params)).all()
