"""SQL of the activity report (docs/api.md 5.1-5.2).

Buckets are computed once, in the requested zone, as `usagegraph_date_add(start, k * interval, zone)` (one step
from start, so month ends clamp), and handed to the report query as arrays.

Every category together (ANY, the common report): the UTC days wholly inside a bucket are added up with
numpy from activity_day_vectors (one row per organization and day: each numbered user's minutes, sessions
started and sessions carried in; usagegraph.db.queries.day_vectors). Of a day that bucket boundaries cut
and the report covers, the largest piece is that day's vector less the other pieces; those, and the pieces
of the range's first and last day, are read from activity_user_days (usagegraph.db.queries.user_days): a
substring of the day's minute bits and binary searches over its start and end minutes. A bucket's count is
the sessions starting in it plus those open at its first minute, so a session is never counted twice.
When every bucket boundary is a UTC quarter-hour (local days and weeks of any zone), the cut days are read
from the hour and quarter-hour part vectors instead (usagegraph.db.queries.activity_parts): a few
organization rows per local day rather than a row per active user and day.

One category reads the per-hour minute rollup and the sessions, as follows. Durations come from the minute
rollup: the masks of a user's rows in one UTC hour are OR-ed (a minute counts once whatever the app or
workspace), then AND-ed with the minutes of that hour that belong to the bucket. The hour -> (bucket,
minute mask) map is built from the buckets themselves, so the rollup rows meet it through a hash join on
`hour` and no row needs a time zone conversion; buckets that start inside an hour (half- and quarter-hour
zones, starts at any whole minute) split its mask.

Counts need sessions, which the rollup merges. A session overlaps [start, end) iff its first minute is
before end and its last minute is at or after start. activity_session_spans keeps the longest span of
each organization, so the scan is the index range started_at in [start - longest span, end) on the
covering index activity_sessions_span; each session then finds its first and last bucket by binary
search over the bucket starts (width_bucket)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import activity_parts, day_vectors, work_mem
from usagegraph.db.queries.buckets import MAX_BUCKETS, step_cap
from usagegraph.db.queries.compose import sql


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
        {
            "start": start,
            "end": end,
            "interval": interval,
            "zone": zone,
            "limit": step_cap(start, end, interval, MAX_BUCKETS),
        },
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
      AND category <> 'LOGIN' AND category = :category
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
          AND started_at >= :lookback AND started_at < :end AND category = :category
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
"""


# The pieces of days cut by a bucket boundary that are not derived from the day's totals, from
# activity_user_days: one entry per (piece, user-day) with anything in it, as parallel arrays (the piece's
# position in :map_*, organization position in :orgs, user number, minutes, sessions started, sessions open
# at the bucket's start when it starts in the piece, sessions whose last minute is in the piece).
_PARTIAL_DAYS = """
WITH day_map AS (
    SELECT * FROM unnest(CAST(:map_day AS date[]), CAST(:map_lo AS smallint[]), CAST(:map_hi AS smallint[]),
                         CAST(:map_opens AS boolean[])) WITH ORDINALITY AS m(day, lo, hi, opens, piece)
), orgs AS (
    SELECT * FROM unnest(CAST(:orgs AS uuid[])) WITH ORDINALITY AS o(organization_id, n)
), entries AS (
    SELECT m.piece::int AS piece, o.n::int AS org, b.idx,
           coalesce(bit_count(substring(r.minutes FROM m.lo - r.lo + 1 FOR m.hi - m.lo)), 0)::int AS minutes,
           coalesce(width_bucket(CAST(m.hi - 1 AS smallint), r.starts)
                    - width_bucket(CAST(m.lo - 1 AS smallint), r.starts), 0) AS started,
           CASE WHEN m.opens THEN r.carried + coalesce(width_bucket(CAST(m.lo - 1 AS smallint), r.starts), 0)
                                  - coalesce(width_bucket(m.lo, r.ends), 0)
                ELSE 0 END AS opened,
           coalesce(width_bucket(m.hi, r.ends) - width_bucket(m.lo, r.ends), 0) AS ended
    FROM activity_user_days r
    JOIN day_map m ON m.day = r.day
    JOIN orgs o ON o.organization_id = r.organization_id
    JOIN activity_user_bits b ON b.organization_id = r.organization_id AND b.user_id = r.user_id
    WHERE r.organization_id = ANY(CAST(:orgs AS uuid[])) AND r.day >= :first_day AND r.day <= :last_day
)
SELECT coalesce(array_agg(piece), '{}') AS pieces, coalesce(array_agg(org), '{}') AS orgs,
       coalesce(array_agg(idx), '{}') AS idxs, coalesce(array_agg(minutes), '{}') AS minutes,
       coalesce(array_agg(started), '{}') AS started, coalesce(array_agg(opened), '{}') AS opened,
       coalesce(array_agg(ended), '{}') AS ended
FROM entries
WHERE minutes <> 0 OR started <> 0 OR opened <> 0 OR ended <> 0
"""

# One row per bucket (k = NULL: the totals over the range) with its users in report order: minutes desc,
# then user id. Arrays decode in one piece, where a row per user and bucket costs a row each.
_AS_ARRAYS = """
SELECT k, array_agg(user_id ORDER BY minutes DESC, user_id) AS user_ids,
       array_agg(sessions ORDER BY minutes DESC, user_id) AS sessions,
       array_agg(minutes ORDER BY minutes DESC, user_id) AS minutes
FROM ($ROWS) r
GROUP BY k
ORDER BY k NULLS LAST
"""
_REPORT_ARRAYS = sql(_AS_ARRAYS, ROWS=_REPORT)


def _day_map(starts: Sequence[datetime], ends: Sequence[datetime]) -> dict[str, list[Any]]:
    """The UTC days of each bucket k (1-based): the minutes [lo, hi) of the day that belong to it, and
    whether it starts in that day, as the columns of the report's day map."""
    columns: dict[str, list[Any]] = {"map_k": [], "map_day": [], "map_lo": [], "map_hi": [], "map_opens": []}
    for k, (bucket_start, bucket_end) in enumerate(zip(starts, ends, strict=True), start=1):
        a, b = _epoch_minute(bucket_start), _epoch_minute(bucket_end)
        for day in range(a // 1440, (b - 1) // 1440 + 1):
            columns["map_k"].append(k)
            columns["map_day"].append(_EPOCH_DAY + timedelta(days=day))
            columns["map_lo"].append(max(a - day * 1440, 0))
            columns["map_hi"].append(min(b - day * 1440, 1440))
            columns["map_opens"].append(a >= day * 1440)
    return columns


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = _EPOCH.date()


def _epoch_minute(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(minutes=1)


@dataclass(frozen=True)
class ReportBucket:
    """Bucket k (1-based; None: the whole range) and its users in report order, with their sessions and
    minutes."""

    k: int | None
    user_ids: list[uuid.UUID]
    sessions: list[int]
    minutes: list[int]


@dataclass
class _Plan:
    """How the report's day pieces are read. `whole`: (bucket, day, add the carried sessions) taken from the
    day vectors; a day cut into pieces that cover it contributes its vector to its largest piece (the
    "derived" piece) and every other piece of that day is read and subtracted from it. `partial`: the
    pieces read from activity_user_days, with the bucket of the derived piece of their day (0: none) and
    whether they lie before a derived piece that opens its bucket (their starts less their ends are then
    sessions open at its start)."""

    whole: list[tuple[int, date, bool]]
    partial: list[int]
    derived_k: list[int]
    before_opening: list[bool]


def _plan(columns: dict[str, list[Any]]) -> _Plan:
    ks, days, los, his, opens = (columns[f"map_{name}"] for name in ("k", "day", "lo", "hi", "opens"))
    whole: list[tuple[int, date, bool]] = []
    cut: dict[date, list[int]] = {}
    for n, day in enumerate(days):
        if los[n] == 0 and his[n] == 1440:
            whole.append((ks[n], day, opens[n]))
        else:
            cut.setdefault(day, []).append(n)
    plan = _Plan(whole, [], [], [])
    for day, pieces in cut.items():
        star = max(pieces, key=lambda n: his[n] - los[n])
        covered = sum(his[n] - los[n] for n in pieces) == 1440
        if covered:
            whole.append((ks[star], day, opens[star]))
        for n in pieces:
            if covered and n == star:
                continue
            plan.partial.append(n)
            plan.derived_k.append(ks[star] if covered else 0)
            plan.before_opening.append(covered and opens[star] and los[star] > 0 and his[n] <= los[star])
    return plan


async def report_rows(conn: AsyncConnection, spec: ReportSpec) -> Sequence[ReportBucket | Row[Any]]:
    """Per bucket k (1-based) that has users, the users with sessions overlapping it, then (k = None) the
    users over the whole range; users ordered by minutes desc, then user id (the order of the report).

    Every category together (ANY): the days wholly inside a bucket are added up from activity_day_vectors
    (numpy, one row per organization and day); of a day that bucket boundaries cut, the largest piece is
    its day vector less the other pieces, which are read from activity_user_days (minute bits, binary
    searches over start and end minutes). One category reads the per-hour minute rollup and the sessions."""
    if spec.category is not None:
        async with work_mem(conn, "256MB"):
            return await _category_report_rows(conn, spec)
    columns = _day_map(spec.starts, spec.ends)
    plan = _plan(columns)
    orgs = list(spec.organization_ids)
    if plan.partial and activity_parts.applies(spec.starts, spec.ends):
        # Cut days, all at quarter-hours (local days of any zone): the hour and quarter-hour parts.
        sums = await activity_parts.sums(conn, orgs, spec.starts, spec.ends)
        return _finish(len(spec.starts), sums.user_ids, sums.minutes, sums.started, sums.opened)
    pieces = None
    if plan.partial:
        params: dict[str, object] = {
            f"map_{name}": [columns[f"map_{name}"][n] for n in plan.partial]
            for name in ("day", "lo", "hi", "opens")
        }
        days = [columns["map_day"][n] for n in plan.partial]
        params.update({"orgs": orgs, "first_day": min(days), "last_day": max(days)})
        pieces = (await conn.execute(text(_PARTIAL_DAYS), params)).one()
    # Read after the pieces: the numbering only grows, so it numbers every user the pieces name.
    whole_days = sorted({day for _, day, _ in plan.whole})
    vectors = await day_vectors.read(conn, orgs, whole_days)
    return _assemble(len(spec.starts), columns, plan, whole_days, vectors, pieces)


def _empty(rows: int, width: int, count: int) -> list[npt.NDArray[np.int32]]:
    return [np.zeros((rows, width), dtype=np.int32) for _ in range(count)]


def _assemble(
    buckets: int,
    columns: dict[str, list[Any]],
    plan: _Plan,
    whole_days: list[date],
    vectors: day_vectors.Vectors,
    pieces: Row[Any] | None,
) -> list[ReportBucket]:
    user_ids = vectors.user_ids
    minutes, started, opened = _empty(buckets + 1, len(user_ids), 3)
    if plan.whole:
        day_row = {day: i for i, day in enumerate(whole_days)}
        ks = np.array([k for k, _, _ in plan.whole])
        rows = np.array([day_row[day] for _, day, _ in plan.whole])
        np.add.at(minutes, ks, vectors.minutes[rows])
        np.add.at(started, ks, vectors.starts[rows])
        opens = np.array([carried for _, _, carried in plan.whole], dtype=bool)
        np.add.at(opened, ks[opens], vectors.carried[rows[opens]])
    if pieces is not None and pieces.pieces:
        at = np.array(pieces.pieces) - 1  # positions in plan.partial
        ks = np.array([columns["map_k"][n] for n in plan.partial])[at]
        derived = np.array(plan.derived_k)[at]  # 0: the dummy row, never read
        before = np.array(plan.before_opening, dtype=bool)[at]
        users = vectors.offsets[np.array(pieces.orgs) - 1] + np.array(pieces.idxs)
        piece_minutes, piece_started = np.array(pieces.minutes), np.array(pieces.started)
        np.add.at(minutes, (ks, users), piece_minutes)
        np.add.at(started, (ks, users), piece_started)
        np.add.at(opened, (ks, users), np.array(pieces.opened))
        np.subtract.at(minutes, (derived, users), piece_minutes)
        np.subtract.at(started, (derived, users), piece_started)
        still_open = piece_started - np.array(pieces.ended)
        np.add.at(opened, (derived[before], users[before]), still_open[before])
    return _finish(buckets, user_ids, minutes, started, opened)


def _finish(
    buckets: int,
    user_ids: list[uuid.UUID],
    minutes: npt.NDArray[np.int32],
    started: npt.NDArray[np.int32],
    opened: npt.NDArray[np.int32],
) -> list[ReportBucket]:
    rank = np.empty(len(user_ids), dtype=np.int64)
    rank[sorted(range(len(user_ids)), key=user_ids.__getitem__)] = np.arange(len(user_ids))
    counts = started + opened
    result = [
        _bucket(k, user_ids, rank, counts[k], minutes[k]) for k in range(1, buckets + 1) if counts[k].any()
    ]
    totals = started[1:].sum(axis=0) + opened[1]
    if totals.any():
        result.append(_bucket(None, user_ids, rank, totals, minutes[1:].sum(axis=0)))
    return result


def _bucket(
    k: int | None,
    user_ids: list[uuid.UUID],
    rank: npt.NDArray[np.int64],
    counts: npt.NDArray[np.integer[Any]],
    minutes: npt.NDArray[np.integer[Any]],
) -> ReportBucket:
    listed = np.nonzero(counts > 0)[0]
    order = listed[np.lexsort((rank[listed], -minutes[listed]))]
    return ReportBucket(
        k, [user_ids[i] for i in order.tolist()], counts[order].tolist(), minutes[order].tolist()
    )


async def _category_report_rows(conn: AsyncConnection, spec: ReportSpec) -> Sequence[Row[object]]:
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
        "category": spec.category,
    }
    return (await conn.execute(_REPORT_ARRAYS, params)).all()
