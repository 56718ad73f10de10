"""SQL of DAU / WAU / MAU (API.md 5.3).

An organization reads activity_quarter_users: one bit string of users per UTC quarter-hour and category
('*' for ANY).
Every zone offset in use is a multiple of 15 minutes, so each quarter-hour lies in one local day; the
users of a day are the OR of its quarters, dau their bit count, and wau / mau the bit count of the OR over
the window's days (a running OR over the week or month for CALENDAR, the last 7 or 30 days for ROLLING).
The work grows with the number of quarter-hours in the range, not with the number of user-days.

A workspace (small by nature) needs the distinct (user, local day) pairs. Every category together (ANY)
takes them from activity_workspace_days (the first and last active minute per user and UTC day; see
usagegraph.db.queries.workspace_days) for the UTC days in which the zone offset does not change, and
from the per-hour minute rows (covering index) for the others and for one category: a UTC hour belongs to
one local day, or to two when a local midnight falls inside it, in which case the hour's bits before and
after that midnight decide. Python counts the pairs per day (dau), keeps a running set per calendar week
or month, or a count per user over the last 7 or 30 days (ROLLING), and applies the fill.

Only the selected metrics are computed: for an organization, a query for dau alone has no window in its
statement; for a workspace, no running set or count."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class MetricsSpec:
    organization_id: uuid.UUID
    workspace_id: uuid.UUID | None
    first_day: date
    last_day: date
    zone: str
    category: str | None
    """None = every category (LOGIN included)."""
    wau: bool
    mau: bool
    rolling: bool
    forward_fill: bool


def first_needed_day(spec: MetricsSpec) -> date:
    """The first local day whose activity can matter to the first row."""
    if spec.rolling:
        return spec.first_day - timedelta(days=29 if spec.mau else 6 if spec.wau else 0)
    needed = spec.first_day
    if spec.mau:
        needed = min(needed, needed.replace(day=1))
    if spec.wau:
        needed = min(needed, spec.first_day - timedelta(days=spec.first_day.weekday()))
    return needed


_ALL_DAYS = """
    WITH all_days AS (
        SELECT CAST(d AS date) AS day
        FROM generate_series(CAST(:from_day AS timestamp), CAST(:last_day AS timestamp), interval '1 day') AS d
    )"""


def _bitmap_series(spec: MetricsSpec) -> str:
    category = "AND q.category = :category" if spec.category is not None else "AND q.category = '*'"
    sql = f"""
    , capacity AS (
        SELECT 1024 * ((coalesce(max(idx), 0) + 1024) / 1024) AS n FROM activity_user_bits
        WHERE organization_id = :org
    ), padding AS MATERIALIZED (
        SELECT n, CAST(repeat('0', n) AS bit varying) AS zeros FROM capacity
    ), day_users AS (
        SELECT CAST(q.quarter AT TIME ZONE :zone AS date) AS day,
               bit_or(substring(q.users || p.zeros FROM 1 FOR p.n)) AS users
        FROM activity_quarter_users q CROSS JOIN padding p
        WHERE q.organization_id = :org {category} AND q.quarter >= :lo AND q.quarter < :hi
        GROUP BY 1
    ), days AS (
        SELECT d.day, u.users FROM all_days d LEFT JOIN day_users u ON u.day = d.day
    )"""  # noqa: S608  (constant fragments; values are bound parameters)
    columns = ["day", "coalesce(bit_count(users), 0)::int AS dau"]
    for name, wanted, days, unit in (("wau", spec.wau, 7, "week"), ("mau", spec.mau, 30, "month")):
        if not wanted:
            continue
        if spec.rolling:
            frame = f"ORDER BY day ROWS BETWEEN {days - 1} PRECEDING AND CURRENT ROW"
        else:
            frame = f"PARTITION BY date_trunc('{unit}', CAST(day AS timestamp)) ORDER BY day"
        columns.append(f"coalesce(bit_count(bit_or(users) OVER ({frame})), 0)::int AS {name}")
    series = f"\n    , series AS (SELECT {', '.join(columns)} FROM days)"  # noqa: S608
    return sql + series


def build_sql(spec: MetricsSpec) -> str:
    """The statement of an organization's series."""
    sql = _ALL_DAYS + _bitmap_series(spec)
    names = ["day", "dau"] + [name for name, wanted in (("wau", spec.wau), ("mau", spec.mau)) if wanted]
    rows = f"SELECT {', '.join(names)} FROM series WHERE day >= :first_day"  # noqa: S608
    if not spec.forward_fill:
        return sql + f"\n{rows}\nORDER BY day"
    carried = [
        f"CASE WHEN r.dau > 0 THEN r.{name} WHEN r.grp = 0 THEN NULL "
        f"ELSE first_value(r.{name}) OVER (PARTITION BY r.grp ORDER BY r.day) END AS {name}"
        for name in names[2:]
    ]
    fill = f"""
    , requested AS ({rows})
    SELECT r.day, nullif(r.dau, 0) AS dau{"".join(", " + c for c in carried)}
    FROM (SELECT q.*, count(*) FILTER (WHERE q.dau > 0) OVER (ORDER BY q.day) AS grp FROM requested q) r
    ORDER BY r.day"""  # noqa: S608
    return sql + fill


# The distinct (user, local day) pairs of a workspace. `utc_days` classifies each UTC day of the range:
# `steady` when the zone offset at its first and last minute is the same (then it holds at most one local
# midnight, `midnight` minutes into it); ANY reads those days from activity_workspace_days and the others,
# or every day for a category ({hours_for}), from the per-hour minute rows, where an hour that a local
# midnight cuts is decided by its bits before and after it.
_WORKSPACE_PAIRS = """
WITH utc_days AS (
    SELECT day, t0, d0, d1,
           (t0 AT TIME ZONE :zone) - t = ((t0 + interval '1439 minutes') AT TIME ZONE :zone) - (t + interval '1439 minutes')
               AS steady,
           extract(epoch FROM (CAST(d1 AS timestamp) AT TIME ZONE :zone) - t0)::int / 60 AS midnight
    FROM (SELECT CAST(:lo_day AS date) + k AS day FROM generate_series(0, CAST(:days AS int) - 1) AS k) u
    CROSS JOIN LATERAL (SELECT CAST(day AS timestamp) AS t, CAST(day AS timestamp) AT TIME ZONE 'UTC' AS t0) z
    CROSS JOIN LATERAL (SELECT CAST(t0 AT TIME ZONE :zone AS date) AS d0,
                               CAST((t0 + interval '1439 minutes') AT TIME ZONE :zone AS date) AS d1) l
), rows AS (
    SELECT w.user_id, d.d0, d.d1, w.first_minute < d.midnight AS before, w.last_minute >= d.midnight AS after
    FROM activity_workspace_days w JOIN utc_days d ON d.day = w.day AND d.steady
    WHERE {by_day} AND w.organization_id = :org AND w.workspace_id = :workspace
      AND w.day >= CAST(:lo_day AS date) AND w.day < CAST(:lo_day AS date) + CAST(:days AS int)
), cells AS (
    SELECT m.user_id, m.hour, bit_or(m.minutes) AS minutes
    FROM utc_days d
    JOIN activity_minutes m ON m.organization_id = :org AND m.workspace_id = :workspace {category}
                           AND m.hour >= d.t0 AND m.hour < d.t0 + interval '1 day'
    WHERE {hours_for}
    GROUP BY m.user_id, m.hour
), local AS (
    SELECT user_id, hour, minutes, CAST(hour AT TIME ZONE :zone AS date) AS d0,
           CAST((hour + interval '59 minutes') AT TIME ZONE :zone AS date) AS d1
    FROM cells
), split AS (
    SELECT user_id, d0, d1, minutes,
           (CAST(1 AS bigint) << (extract(epoch FROM CAST(d1 AS timestamp) AT TIME ZONE :zone - hour) / 60)::int) - 1
               AS before_midnight
    FROM local WHERE d0 <> d1
), pairs AS (
    SELECT user_id, d0 AS day FROM rows WHERE d0 = d1 OR before
    UNION ALL
    SELECT user_id, d1 FROM rows WHERE d0 <> d1 AND after
    UNION ALL
    SELECT user_id, d0 FROM local WHERE d0 = d1
    UNION ALL
    SELECT user_id, d0 FROM split WHERE minutes & before_midnight <> 0
    UNION ALL
    SELECT user_id, d1 FROM split WHERE minutes & ~before_midnight <> 0
)
SELECT coalesce(array_agg(user_id), '{{}}') AS users, coalesce(array_agg(day), '{{}}') AS days
FROM (SELECT DISTINCT user_id, day FROM pairs WHERE day BETWEEN :from_day AND :last_day) p
"""


@dataclass(frozen=True)
class MetricsRow:
    day: date
    dau: int | None
    wau: int | None
    mau: int | None


def _series(spec: MetricsSpec, from_day: date, pairs: Sequence[tuple[object, date]]) -> list[MetricsRow]:
    """The usage_rows answer from the distinct (user, local day) pairs of [from_day, last_day]: a running
    set per calendar week (month), or a count per user over the last 7 (30) days for ROLLING."""
    active: dict[date, list[object]] = {}
    for user, day in pairs:
        active.setdefault(day, []).append(user)
    windows = [(name, days) for name, wanted, days in (("wau", spec.wau, 7), ("mau", spec.mau, 30)) if wanted]
    running: dict[str, set[object]] = {name: set() for name, _ in windows}
    inside: dict[str, dict[object, int]] = {name: {} for name, _ in windows}
    rows: list[MetricsRow] = []
    last: dict[str, int | None] = {name: None for name, _ in windows}
    nothing: list[object] = []
    day = from_day
    one = timedelta(days=1)
    while day <= spec.last_day:
        users = active.get(day, nothing)
        values: dict[str, int | None] = {}
        for name, days in windows:
            if spec.rolling:
                counts = inside[name]
                for user in users:
                    counts[user] = counts.get(user, 0) + 1
                for user in active.get(day - timedelta(days=days), nothing):
                    counts[user] -= 1
                    if not counts[user]:
                        del counts[user]
                values[name] = len(counts)
            else:
                current = running[name]
                if (day.weekday() == 0) if name == "wau" else (day.day == 1):
                    current.clear()
                current.update(users)
                values[name] = len(current)
        if day >= spec.first_day:
            if not spec.forward_fill:
                rows.append(MetricsRow(day, len(users), values.get("wau"), values.get("mau")))
            elif users:
                last = values
                rows.append(MetricsRow(day, len(users), values.get("wau"), values.get("mau")))
            else:
                rows.append(MetricsRow(day, None, last.get("wau"), last.get("mau")))
        day += one
    return rows


async def usage_rows(conn: AsyncConnection, spec: MetricsSpec) -> Sequence[Row[object] | MetricsRow]:
    """One row per requested day, oldest first: day, dau and the selected windows."""
    from_day = first_needed_day(spec)
    params: dict[str, object] = {
        "org": spec.organization_id,
        "from_day": from_day,
        "first_day": spec.first_day,
        "last_day": spec.last_day,
        "zone": spec.zone,
        "lo": datetime.combine(from_day - timedelta(days=1), time(), UTC),
        "hi": datetime.combine(spec.last_day + timedelta(days=2), time(), UTC),
    }
    if spec.category is not None:
        params["category"] = spec.category
    if spec.workspace_id is not None:
        params["workspace"] = spec.workspace_id
        params["lo_day"] = from_day - timedelta(days=1)
        params["days"] = (spec.last_day - from_day).days + 3
        by_category = spec.category is not None
        sql = _WORKSPACE_PAIRS.format(
            category="AND m.category = :category" if by_category else "",
            by_day="false" if by_category else "true",
            hours_for="true" if by_category else "NOT d.steady",
        )
        pairs = (await conn.execute(text(sql), params)).one()
        return _series(spec, from_day, list(zip(pairs.users, pairs.days, strict=True)))
    await conn.execute(text("SELECT set_config('work_mem', '256MB', true)"))
    return (await conn.execute(text(build_sql(spec)), params)).all()
