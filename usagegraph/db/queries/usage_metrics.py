"""SQL of DAU / WAU / MAU (docs/api.md 5.3).

An organization reads activity_hour_users: one bit string of users per UTC hour and category ('*' for
ANY). An hour whose first and last minute fall on the same local day belongs to that day; the quarters of
an hour that a local midnight cuts (zones whose offset is not a whole number of hours) are read from
activity_quarter_users: every zone offset in use is a multiple of 15 minutes, so each quarter-hour lies in
one local day. The users of a day are the OR of its hours and quarters, dau their bit count, and wau / mau
the bit count of the OR over the window's days (a running OR over the week or month for CALENDAR, the
last 7 or 30 days for ROLLING). The work grows with the number of hours in the range, not with the number
of user-days.

A workspace (small by nature) needs the distinct (user, local day) pairs. Every category together (ANY)
reads its rows of activity_workspace_days (the first and last active minute per user and UTC day; see
usagegraph.db.queries.workspace_days) as arrays and places them on local days with the zone's offset at
each UTC day's first and last minute (read from the server's time zone database once per zone and year);
a day whose offset changes within it, and every day for one category, is read from the per-hour minute
rows (covering index): a UTC hour belongs to one local day, or to two when a local midnight falls inside
it, in which case the hour's bits before and after that midnight decide. numpy then counts the users per
day (dau) and, per window, the users whose last active day is inside it, and applies the fill.

Only the selected metrics are computed: for an organization, a query for dau alone has no window in its
statement; for a workspace, no window is counted."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import work_mem
from usagegraph.db.queries.compose import splice, sql

Ints = npt.NDArray[np.int64]


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


# Whether an hour's first and last minute fall on the same local day.
_SAME_DAY = "$LOCAL_HOUR $OP $LOCAL_HOUR_END"
# The local date of an instant `$AT`: by the zone's rules, or, where the zone's offset is the same all over
# the range, by arithmetic on the epoch (`:offset` seconds east of UTC), which costs a fraction of a
# conversion per row.
_ZONED_DAY = "CAST($AT AT TIME ZONE :zone AS date)"
_FIXED_DAY = "(DATE '1970-01-01' + CAST(floor((date_part('epoch', $AT) + :offset) / 86400) AS integer))"
_WHOLE_HOUR = splice("AND $SAME_DAY", SAME_DAY=_SAME_DAY, OP="=")
# The quarters of the hours that a local midnight cuts (only in zones whose offset is not whole hours).
_CUT_HOURS = splice(
    """
          UNION ALL
            SELECT $LOCAL_QUARTER, x.users
            FROM activity_hour_users q
            JOIN activity_quarter_users x ON x.organization_id = q.organization_id AND x.category = q.category
                                         AND x.quarter >= q.hour AND x.quarter < q.hour + interval '1 hour'
            WHERE q.organization_id = :org $CATEGORY AND q.hour >= :lo AND q.hour < :hi
              AND $SAME_DAY""",
    SAME_DAY=_SAME_DAY,
    OP="<>",
)

# The same where the offset is fixed: the hours a local midnight cuts are computed beforehand
# (:cut_hours), so no hour row is read twice; an hour is whole when its local start is at most 23:00
# (the added multiple of a day keeps the remainder's operand positive from the year 1696 on).
_FIXED_WHOLE_HOUR = (
    "AND (CAST(date_part('epoch', q.hour) AS bigint) + CAST(:offset AS bigint) + 8640000000) % 86400 <= 82800"
)
_FIXED_CUT_HOURS = """
          UNION ALL
            SELECT $LOCAL_QUARTER, x.users
            FROM unnest(CAST(:cut_hours AS timestamptz[])) AS c(hour)
            CROSS JOIN LATERAL (
                SELECT x.quarter, x.users FROM activity_quarter_users x
                WHERE x.organization_id = :org AND $QUARTER_CATEGORY
                  AND x.quarter >= c.hour AND x.quarter < c.hour + interval '1 hour'
                OFFSET 0  -- an index range per cut hour, never a scan of the organization's quarters
            ) x"""


def cut_hours(lo: datetime, hi: datetime, offset: int) -> list[datetime]:
    """The UTC hours in [lo, hi) (lo a whole hour) that a local midnight cuts, in a zone `offset` seconds
    east of UTC all along, that offset not a whole number of hours."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    day = -(-(int((lo - epoch).total_seconds()) + offset) // 86400)
    hours = []
    while (midnight := epoch + timedelta(seconds=day * 86400 - offset)) < hi:
        hours.append(midnight.replace(minute=0, second=0, microsecond=0))
        day += 1
    return hours


def _bitmap_series(spec: MetricsSpec, whole_hours: bool, fixed: bool = False) -> str:
    """whole_hours: the zone's offset is a whole number of hours all over the range, so that no hour
    is cut by a local midnight; fixed: the offset is the same all over the range (given as :offset)."""
    category = "AND q.category = :category" if spec.category is not None else "AND q.category = '*'"
    statement = """
    , capacity AS (
        SELECT 1024 * ((coalesce(max(idx), 0) + 1024) / 1024) AS n FROM activity_user_bits
        WHERE organization_id = :org
    ), padding AS MATERIALIZED (
        SELECT n, CAST(repeat('0', n) AS bit varying) AS zeros FROM capacity
    ), day_users AS (
        SELECT day, bit_or(CASE WHEN length(users) = p.n THEN users ELSE substring(users || p.zeros FROM 1 FOR p.n) END)
                   AS users
        FROM (
            SELECT $LOCAL_HOUR AS day, q.users
            FROM activity_hour_users q
            WHERE q.organization_id = :org $CATEGORY AND q.hour >= :lo AND q.hour < :hi $WHOLE_HOUR
          $CUT_HOURS
        ) AS x
        CROSS JOIN padding p
        GROUP BY day
    ), days AS (
        SELECT d.day, u.users FROM all_days d LEFT JOIN day_users u ON u.day = d.day
    )
    , series AS (SELECT $COLUMNS FROM days)"""
    columns = ["day", "coalesce(bit_count(users), 0)::int AS dau"]
    for name, wanted, days, unit in (("wau", spec.wau, 7, "week"), ("mau", spec.mau, 30, "month")):
        if not wanted:
            continue
        if spec.rolling:
            frame = f"ORDER BY day ROWS BETWEEN {days - 1} PRECEDING AND CURRENT ROW"
        else:
            frame = f"PARTITION BY date_trunc('{unit}', CAST(day AS timestamp)) ORDER BY day"
        columns.append(f"coalesce(bit_count(bit_or(users) OVER ({frame})), 0)::int AS {name}")
    return splice(
        statement,
        CATEGORY=category,
        WHOLE_HOUR="" if whole_hours else _FIXED_WHOLE_HOUR if fixed else _WHOLE_HOUR,
        CUT_HOURS="" if whole_hours else _FIXED_CUT_HOURS if fixed else _CUT_HOURS,
        QUARTER_CATEGORY="x.category = :category" if spec.category is not None else "x.category = '*'",
        COLUMNS=", ".join(columns),
        **{
            name: splice(_FIXED_DAY if fixed else _ZONED_DAY, AT=at)
            for name, at in (
                ("LOCAL_HOUR", "q.hour"),
                ("LOCAL_HOUR_END", "(q.hour + interval '59 minutes')"),
                ("LOCAL_QUARTER", "x.quarter"),
            )
        },
    )


def build_sql(spec: MetricsSpec, whole_hours: bool, fixed: bool = False) -> str:
    """The statement of an organization's series."""
    names = ["day", "dau"] + [name for name, wanted in (("wau", spec.wau), ("mau", spec.mau)) if wanted]
    parts = {
        "ALL_DAYS": _ALL_DAYS,
        "SERIES": _bitmap_series(spec, whole_hours, fixed),
        "ROWS": splice("SELECT $NAMES FROM series WHERE day >= :first_day", NAMES=", ".join(names)),
    }
    if not spec.forward_fill:
        return splice("$ALL_DAYS$SERIES\n$ROWS\nORDER BY day", **parts)
    carried = [
        f"CASE WHEN r.dau > 0 THEN r.{name} WHEN r.grp = 0 THEN NULL "
        f"ELSE first_value(r.{name}) OVER (PARTITION BY r.grp ORDER BY r.day) END AS {name}"
        for name in names[2:]
    ]
    return splice(
        """$ALL_DAYS$SERIES
    , requested AS ($ROWS)
    SELECT r.day, nullif(r.dau, 0) AS dau$CARRIED
    FROM (SELECT q.*, count(*) FILTER (WHERE q.dau > 0) OVER (ORDER BY q.day) AS grp FROM requested q) r
    ORDER BY r.day""",
        **parts,
        CARRIED="".join(", " + c for c in carried),
    )


# A workspace's rows of activity_workspace_days in [lo_day, hi_day): user, UTC day number (days since
# 1970-01-01), first and last active minute of the day.
_WORKSPACE_DAYS = """
    SELECT coalesce(array_agg(user_id), '{}') AS users, coalesce(array_agg(day - DATE '1970-01-01'), '{}') AS days,
           coalesce(array_agg(first_minute), '{}') AS firsts, coalesce(array_agg(last_minute), '{}') AS lasts
    FROM activity_workspace_days
    WHERE organization_id = :org AND workspace_id = :workspace AND day >= :lo_day AND day < :hi_day
"""

# The distinct (user, local day number) pairs of a workspace's per-hour minute rows in the UTC spans
# [t0, t1): an hour belongs to one local day, or to two when a local midnight falls inside it, in which
# case its bits before and after that midnight decide.
_HOUR_PAIRS = """
WITH cells AS (
    SELECT m.user_id, m.hour, bit_or(m.minutes) AS minutes
    FROM unnest(CAST(:t0s AS timestamptz[]), CAST(:t1s AS timestamptz[])) AS h(t0, t1)
    JOIN activity_minutes m ON m.organization_id = :org AND m.workspace_id = :workspace $CATEGORY
                           AND m.hour >= h.t0 AND m.hour < h.t1
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
    SELECT user_id, d0 AS day FROM local WHERE d0 = d1
    UNION ALL
    SELECT user_id, d0 FROM split WHERE minutes & before_midnight <> 0
    UNION ALL
    SELECT user_id, d1 FROM split WHERE minutes & ~before_midnight <> 0
)
SELECT coalesce(array_agg(user_id), '{}') AS users, coalesce(array_agg(day - DATE '1970-01-01'), '{}') AS days
FROM (SELECT DISTINCT user_id, day FROM pairs) p
"""
_HOUR_PAIRS_ONE_CATEGORY = sql(_HOUR_PAIRS, CATEGORY="AND m.category = :category")

_WORKSPACE_DAYS_ONLY = sql(_WORKSPACE_DAYS)
# Every category in a zone whose offset changes within some UTC days of the range (DST): the steady days'
# rows and the pairs of the other days' hour rows in one round trip.
_WORKSPACE_DAYS_AND_HOURS = sql(
    """
    SELECT d.users, d.days, d.firsts, d.lasts, h.users AS hour_users, h.days AS hour_days
    FROM ($WORKSPACE_DAYS) d, ($HOUR_PAIRS) h
    """,
    WORKSPACE_DAYS=_WORKSPACE_DAYS,
    HOUR_PAIRS=_HOUR_PAIRS,
    CATEGORY="",
)

# The zone's offset (seconds east of UTC) at the first and at the last minute of every UTC day of a year,
# from the server's time zone database.
_OFFSETS_SQL = text(
    """
    SELECT array_agg(extract(epoch FROM (t AT TIME ZONE 'UTC') AT TIME ZONE :zone - t)::int ORDER BY t) AS first,
           array_agg(extract(epoch FROM ((t + interval '1439 minutes') AT TIME ZONE 'UTC') AT TIME ZONE :zone
                                        - (t + interval '1439 minutes'))::int ORDER BY t) AS last
    FROM generate_series(make_timestamp(:year, 1, 1, 0, 0, 0), make_timestamp(:year, 12, 31, 0, 0, 0),
                         interval '1 day') AS t
    """
)
_OFFSETS: dict[tuple[str, int], tuple[Ints, Ints]] = {}
_EPOCH = date(1970, 1, 1).toordinal()


async def _zone_offsets(conn: AsyncConnection, zone: str, first: date, last: date) -> tuple[Ints, Ints]:
    """The zone's offsets at the first and last minute of each UTC day first..last, kept per zone and year
    (the rules of a zone do not change while the server runs)."""
    firsts: list[Ints] = []
    lasts: list[Ints] = []
    for year in range(first.year, last.year + 1):
        if (zone, year) not in _OFFSETS:
            if len(_OFFSETS) >= 4096:
                _OFFSETS.clear()
            row = (await conn.execute(_OFFSETS_SQL, {"zone": zone, "year": year})).one()
            _OFFSETS[zone, year] = (np.array(row.first, dtype=np.int64), np.array(row.last, dtype=np.int64))
        firsts.append(_OFFSETS[zone, year][0])
        lasts.append(_OFFSETS[zone, year][1])
    skip = (first - date(first.year, 1, 1)).days
    n = (last - first).days + 1
    return np.concatenate(firsts)[skip : skip + n], np.concatenate(lasts)[skip : skip + n]


async def _workspace_pairs(
    conn: AsyncConnection, spec: MetricsSpec, params: dict[str, object], from_day: date
) -> tuple[Ints, Ints]:
    """The (local day index from from_day, user index) pairs of a workspace's active users, repeats
    allowed. Every category together (ANY): a row of activity_workspace_days lies in a UTC day whose
    zone offset is the same at its first and last minute (steady) holds at most one local midnight, m
    minutes into the day, and its first and last active minute tell on which side of it the user was
    active; the other days, and every day for one category, are read from the per-hour minute rows."""
    ids: dict[object, int] = {}
    days: list[Ints] = []
    users: list[Ints] = []
    lo_day, hi_day = from_day - timedelta(days=1), spec.last_day + timedelta(days=2)
    if spec.category is None:
        first_at, last_at = await _zone_offsets(conn, spec.zone, lo_day, hi_day - timedelta(days=1))
        steady_days = (first_at == last_at) & (first_at % 60 == 0)
        # The UTC days whose offset changes within them are known from the zone alone: their pairs come
        # from the hour rows in the same statement as the other days' rows.
        unsteady = np.flatnonzero(~steady_days).tolist()
        starts = [datetime.combine(lo_day + timedelta(days=d), time(), UTC) for d in unsteady]
        bounds = {**params, "lo_day": lo_day, "hi_day": hi_day}
        if starts:
            spans = {"t0s": starts, "t1s": [t + timedelta(days=1) for t in starts]}
            found = (await conn.execute(_WORKSPACE_DAYS_AND_HOURS, {**bounds, **spans})).one()
        else:
            found = (await conn.execute(_WORKSPACE_DAYS_ONLY, bounds)).one()
        user = np.fromiter((ids.setdefault(u, len(ids)) for u in found.users), np.int64, len(found.users))
        day = np.array(found.days, dtype=np.int64)
        at = day - (lo_day.toordinal() - _EPOCH)
        shift = first_at[at] // 60
        steady = steady_days[at]
        d0 = (day * 1440 + shift) // 1440
        d1 = (day * 1440 + 1439 + shift) // 1440
        midnight = d1 * 1440 - shift - day * 1440
        before = steady & ((d0 == d1) | (np.array(found.firsts) < midnight))
        after = steady & (d0 != d1) & (np.array(found.lasts) >= midnight)
        days += [d0[before], d1[after]]
        users += [user[before], user[after]]
        if starts:
            days.append(np.array(found.hour_days, dtype=np.int64))
            users.append(
                np.fromiter(
                    (ids.setdefault(u, len(ids)) for u in found.hour_users), np.int64, len(found.hour_users)
                )
            )
    else:
        spans = {
            "t0s": [datetime.combine(lo_day, time(), UTC)],
            "t1s": [datetime.combine(hi_day, time(), UTC)],
        }
        found = (await conn.execute(_HOUR_PAIRS_ONE_CATEGORY, {**params, **spans})).one()
        days.append(np.array(found.days, dtype=np.int64))
        users.append(
            np.fromiter((ids.setdefault(u, len(ids)) for u in found.users), np.int64, len(found.users))
        )
    return np.concatenate(days) - (from_day.toordinal() - _EPOCH), np.concatenate(users)


def _series(spec: MetricsSpec, from_day: date, day: Ints, user: Ints) -> list[tuple[Any, ...]]:
    """The usage_rows answer from (local day index, user index) pairs. A window's count on day d is the
    number of users whose last active day up to d is at or after the window's first day (its Monday or
    first of the month for CALENDAR, d - 6 or d - 29 for ROLLING); from_day is early enough for every
    window of the requested days, and pairs outside from_day..last_day are left out."""
    n = (spec.last_day - from_day).days + 1
    inside = (day >= 0) & (day < n)
    active = np.zeros((n, int(user.max(initial=0)) + 1), dtype=bool)
    active[day[inside], user[inside]] = True
    index = np.arange(n)
    last = np.maximum.accumulate(np.where(active, index[:, None], -1), axis=0)
    days = np.datetime64(from_day, "D") + index
    dau = active.sum(axis=1)
    windows: dict[str, Ints] = {}
    for name, wanted, length in (("wau", spec.wau, 7), ("mau", spec.mau, 30)):
        if not wanted:
            continue
        if spec.rolling:
            first = index - (length - 1)
        elif name == "wau":
            first = index - (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        else:
            first = index - (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
        windows[name] = (last >= np.maximum(first, 0)[:, None]).sum(axis=1)
    skip = (spec.first_day - from_day).days
    shown = slice(skip, n)
    nothing = [None] * (n - skip)
    if spec.forward_fill:
        # A day without activity shows the windows of the last requested day with activity, or nothing.
        lit = np.where(dau[shown] > 0, np.arange(n - skip), -1)
        source = np.maximum.accumulate(lit)
        columns = [[d or None for d in dau[shown].tolist()]]
        for name in ("wau", "mau"):
            values = windows[name][shown].tolist() if name in windows else nothing
            columns.append([None if k < 0 else values[k] for k in source.tolist()])
    else:
        columns = [
            dau[shown].tolist(),
            *(windows[name][shown].tolist() if name in windows else nothing for name in ("wau", "mau")),
        ]
    return list(zip(days[shown].tolist(), *columns, strict=True))


async def usage_rows(conn: AsyncConnection, spec: MetricsSpec) -> Sequence[Any]:
    """One row per requested day, oldest first: (day, dau, wau, mau), the windows not selected None."""
    from_day = first_needed_day(spec)
    params: dict[str, object] = {
        "org": spec.organization_id,
        "from_day": from_day,
        "first_day": spec.first_day,
        "last_day": spec.last_day,
        "zone": spec.zone,
    }
    if spec.category is not None:
        params["category"] = spec.category
    if spec.workspace_id is not None:
        params["workspace"] = spec.workspace_id
        day, user = await _workspace_pairs(conn, spec, params, from_day)
        return _series(spec, from_day, day, user)
    params["lo"] = datetime.combine(from_day - timedelta(days=1), time(), UTC)
    params["hi"] = datetime.combine(spec.last_day + timedelta(days=2), time(), UTC)
    first_at, last_at = await _zone_offsets(
        conn, spec.zone, from_day - timedelta(days=1), spec.last_day + timedelta(days=1)
    )
    whole_hours = not (first_at % 3600).any() and not (last_at % 3600).any()
    # Zones without DST (Asia/Kolkata, Asia/Kathmandu) have one offset over the range: local days by
    # arithmetic (checked at both ends of every UTC day of the range, where the offsets come from).
    fixed = bool((first_at == first_at[0]).all() and (last_at == first_at[0]).all())
    if fixed:
        params["offset"] = int(first_at[0])
        if not whole_hours:
            params["cut_hours"] = cut_hours(params["lo"], params["hi"], int(first_at[0]))  # type: ignore[arg-type]
    async with work_mem(conn, "256MB"):
        found = (await conn.execute(sql(build_sql(spec, whole_hours, fixed)), params)).mappings().all()
    return [(row["day"], row["dau"], row.get("wau"), row.get("mau")) for row in found]
