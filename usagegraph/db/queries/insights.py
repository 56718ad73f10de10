"""Template Insights SQL (docs/api.md 5.4).

Durations and active users come from the minute rollup (activity_minutes): one bigint per user, UTC
hour, workspace, category and app, bit k = minute k. A range or bucket that starts or ends inside an
hour masks the bits outside it, so results are exact to the minute in every zone. For one template or
every template of an organization, the range's whole UTC days come from per-day rows instead
(usagegraph.db.queries.app_days, activity_day_vectors) and only the rest from the minute rollup
(day_sections). timesUsed counts sessions: per day and template from insights_app_session_days, the rest
from the sessions themselves (day_app_sessions).

Every statement is scoped by organization_id first and by the selected template ids, which the indexes
lead with."""

from __future__ import annotations

import bisect
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import app_days, day_vectors
from usagegraph.db.queries.buckets import step_cap
from usagegraph.db.queries.compose import sql


@dataclass(frozen=True)
class Scope:
    organization_id: uuid.UUID
    template_ids: list[uuid.UUID]
    start: datetime
    end: datetime

    def params(self) -> dict[str, Any]:
        return {"org": self.organization_id, "tpls": self.template_ids, "start": self.start, "end": self.end}


def _mask(hour: str, lo: str, hi: str) -> str:
    """Bits of the minutes of `hour` that lie in [lo, hi), both whole minutes."""
    low = "least(60, greatest(0, (extract(epoch FROM " + lo + " - " + hour + ") / 60)::int))"
    high = "least(60, greatest(0, (extract(epoch FROM " + hi + " - " + hour + ") / 60)::int))"
    return "(((CAST(1 AS bigint) << " + high + ") - 1) # ((CAST(1 AS bigint) << " + low + ") - 1))"


_START = "CAST(:start AS timestamptz)"
_END = "CAST(:end AS timestamptz)"
_STARTS = "(CAST(:starts AS timestamptz[]))"

_FRAGMENTS = {
    "START": _START,
    "END": _END,
    "STARTS": _STARTS,
    "IN_RANGE": (
        "CASE WHEN a.hour >= " + _START + " AND a.hour + interval '1 hour' <= " + _END + " THEN a.minutes "
        "ELSE a.minutes & " + _mask("a.hour", _START, _END) + " END"
    ),
    "ROLLUP_SCOPE": (
        "a.organization_id = :org AND a.template_id = ANY(CAST(:tpls AS uuid[])) AND a.category <> 'LOGIN' "
        "AND a.hour >= date_trunc('hour', " + _START + ") AND a.hour < " + _END
    ),
    "BUCKET_MASK": _mask("r.hour", _STARTS + "[i]", "coalesce(" + _STARTS + "[i + 1], " + _END + ")"),
    "BITS": "bit_count(CAST(bits AS bit(64)))",
    "HOUR_BUCKETS": """
        SELECT user_id, hour, bits, width_bucket(hour, $STARTS) AS first_bucket,
               width_bucket(hour + interval '59 minutes', $STARTS) AS last_bucket
        FROM user_hours WHERE CAST(:want_series AS boolean)
    """,
    "SPREAD": """
        SELECT h.last_bucket AS i, h.user_id FROM hour_buckets h
        WHERE h.first_bucket = h.last_bucket AND h.bits <> 0
      UNION ALL
        SELECT i, r.user_id
        FROM hour_buckets r
        CROSS JOIN LATERAL generate_series(greatest(1, r.first_bucket), r.last_bucket) AS i
        WHERE r.first_bucket <> r.last_bucket AND r.bits & $BUCKET_MASK <> 0
    """,
    "PART_MASK": _mask("a.hour", "p.lo", "p.hi"),
    "PIECE_MASK": _mask("a.hour", "m.lo", "m.hi"),
    "PARTS": "SELECT lo, hi FROM unnest(CAST(:los AS timestamptz[]), CAST(:his AS timestamptz[])) AS p(lo, hi)",
    "LOOKBACK": """
        SELECT coalesce(max(longest.length), interval '0') AS length
        FROM unnest(CAST(:tpls AS uuid[])) AS t(id)
        CROSS JOIN LATERAL (
            SELECT s.ended_at - s.started_at AS length
            FROM activity_sessions s
            WHERE s.organization_id = :org AND s.template_id = t.id AND s.ended_at IS NOT NULL
            ORDER BY s.ended_at - s.started_at DESC
            LIMIT 1
        ) AS longest
    """,
    "APP_SESSION": "s.category <> 'LOGIN' AND s.app IS NOT NULL AND s.app <> ''",
    "CANDIDATES": """
        SELECT c.day, EXISTS (
                   SELECT 1 FROM insights_dirty_days m WHERE m.organization_id = :org AND m.day = c.day
               ) AS marked
        FROM unnest(CAST(:candidates AS date[])) AS c(day)
    """,
    "SPLIT_PARTS": """
        SELECT lo, hi FROM unnest(CAST(:los AS timestamptz[]), CAST(:his AS timestamptz[])) AS p(lo, hi)
      UNION ALL
        SELECT CAST(day AS timestamp) AT TIME ZONE 'UTC', CAST(day + 1 AS timestamp) AT TIME ZONE 'UTC'
        FROM candidates WHERE marked
    """,
    "CLEAN": "(SELECT day FROM candidates WHERE NOT marked)",
    "TRAILING_HOURS": """
        SELECT a.organization_id, a.template_id, a.app, a.user_id, a.hour, bit_or($IN_RANGE) AS bits
        FROM organizations o
        CROSS JOIN LATERAL (
            SELECT * FROM activity_minutes a
            WHERE a.organization_id = o.id AND a.hour >= date_trunc('hour', $START) AND a.hour < $END
              AND a.category <> 'LOGIN' AND a.template_id IS NOT NULL
        ) AS a
        GROUP BY a.organization_id, a.template_id, a.app, a.user_id, a.hour
    """,
}


def _sql(statement: str) -> TextClause:
    """A statement with the shared fragments above spliced in by name (usagegraph.db.queries.compose)."""
    return sql(statement, **_FRAGMENTS)


async def bucket_starts(
    conn: AsyncConnection, start: datetime, end: datetime, step: timedelta, timezone: str, limit: int
) -> list[datetime]:
    """start + k*step in the zone (one step from start, PostgreSQL calendar rules) for every bucket that
    starts before end (step in days: calendar days in the zone), followed by where the last bucket would end uncut; at most limit + 2 values, so
    that the caller can tell when there are too many buckets."""
    sql = _sql(
        """
        SELECT usagegraph_date_add($START, k * CAST(:step AS interval), :tz) AS bound
        FROM generate_series(0, :limit + 1) AS k
        WHERE k = 0 OR usagegraph_date_add($START, (k - 1) * CAST(:step AS interval), :tz) < $END
        ORDER BY k
        """
    )
    limit = step_cap(start, end, step, limit)
    rows = await conn.execute(sql, {"start": start, "end": end, "step": step, "tz": timezone, "limit": limit})
    return [row.bound for row in rows]


@dataclass(frozen=True)
class AppMinutes:
    app: str
    minutes: int
    users: int


@dataclass(frozen=True)
class UserMinutes:
    user_id: uuid.UUID
    minutes: int


@dataclass(frozen=True)
class RollupSections:
    users: Sequence[Row[Any] | UserMinutes]
    """(user_id, minutes): distinct active minutes per user over every app and template, ordered as
    userActivity is (minutes desc, then username) when the sections asked include "ordered"; else in any
    order (a count needs no order, and ordering by username costs day_sections a statement)."""
    series: dict[int, int]
    """distinct active users per bucket, keyed by the 1-based bucket index"""
    apps: Sequence[Row[Any] | AppMinutes]
    """(app, minutes, users): per app slug, the sum over users of each user's distinct minutes in it"""


_SECTIONS = ("users", "series", "apps")

_ROLLUP_SECTIONS = _sql(
    """
    WITH cells AS MATERIALIZED (
        SELECT a.user_id, a.hour, a.app, bit_or($IN_RANGE) AS bits
        FROM activity_minutes a
        WHERE $ROLLUP_SCOPE
        GROUP BY a.user_id, a.hour, a.app
    ), user_hours AS MATERIALIZED (
        SELECT user_id, hour, bit_or(bits) AS bits FROM cells GROUP BY user_id, hour
    ), hour_buckets AS ($HOUR_BUCKETS)
    SELECT * FROM (
        SELECT 'users' AS section, p.user_id, NULL AS app, p.minutes, NULL::bigint AS users, u.username
        FROM (SELECT user_id, sum($BITS)::bigint AS minutes FROM user_hours GROUP BY user_id) p
        JOIN users u ON u.id = p.user_id
        WHERE p.minutes > 0 AND CAST(:want_users AS boolean)
      UNION ALL
        SELECT 'series', NULL, NULL, i, count(*), NULL
        FROM (SELECT DISTINCT i, user_id FROM ($SPREAD) AS spread) AS d
        GROUP BY i
      UNION ALL
        SELECT 'apps', NULL, app, sum(minutes)::bigint, count(*), NULL
        FROM (
            SELECT app, user_id, sum($BITS) AS minutes
            FROM cells WHERE app <> '' AND CAST(:want_apps AS boolean) GROUP BY app, user_id
        ) AS d
        WHERE minutes > 0
        GROUP BY app
    ) AS s
    ORDER BY section, minutes DESC, username, user_id, app
    """
)


async def rollup_sections(
    conn: AsyncConnection, scope: Scope, starts: list[datetime], sections: set[str]
) -> RollupSections:
    """userActivity/activeUsers ("users"), activeUsersSeries ("series") and appUsage minutes ("apps")
    from one read of the rollup: cells of (user, hour, app) masked to the range, then their union per
    (user, hour), from which every section is an aggregate. A bucket of the series takes the minutes of
    an hour that fall in it; width_bucket finds the buckets of an hour's first and last minute by binary
    search, so the join never scans every bucket."""
    if not sections & set(_SECTIONS):
        return RollupSections((), {}, ())
    flags = {f"want_{name}": name in sections for name in _SECTIONS}
    rows = (await conn.execute(_ROLLUP_SECTIONS, {**scope.params(), "starts": starts, **flags})).all()
    return RollupSections(
        users=[row for row in rows if row.section == "users"],
        series={row.minutes: row.users for row in rows if row.section == "series"},
        apps=[row for row in rows if row.section == "apps"],
    )


_PIECES_EVERY_TEMPLATE = """
    SELECT 'piece', NULL, NULL, CAST(m.piece AS int), NULL, array_agg(r.user_id), NULL, NULL, NULL
    FROM unnest(CAST(:piece_days AS date[]), CAST(:piece_los AS int[]), CAST(:piece_his AS int[]))
        WITH ORDINALITY AS m(day, lo, hi, piece)
    JOIN activity_user_days r ON r.organization_id = :org AND r.day = m.day
    WHERE m.day IN $CLEAN AND bit_count(substring(r.minutes FROM m.lo - r.lo + 1 FOR m.hi - m.lo)) > 0
    GROUP BY m.piece
"""
"""The users of every template active in each piece: the piece's substring of their user-day's minutes."""

_PIECES_ONE_TEMPLATE = """
    SELECT 'piece', NULL, NULL, CAST(piece AS int), NULL, array_agg(user_id), NULL, NULL, NULL
    FROM (
        SELECT DISTINCT m.piece, a.user_id
        FROM (
            SELECT day, piece, CAST(day AS timestamp) AT TIME ZONE 'UTC' + lo * interval '1 minute' AS lo,
                   CAST(day AS timestamp) AT TIME ZONE 'UTC' + hi * interval '1 minute' AS hi
            FROM unnest(CAST(:piece_days AS date[]), CAST(:piece_los AS int[]), CAST(:piece_his AS int[]))
                WITH ORDINALITY AS m(day, lo, hi, piece)
        ) AS m
        JOIN activity_minutes a
          ON a.organization_id = :org AND a.template_id = ANY(CAST(:tpls AS uuid[])) AND a.category <> 'LOGIN'
         AND a.hour >= date_trunc('hour', m.lo) AND a.hour < m.hi
        WHERE m.day IN $CLEAN
          AND CASE WHEN a.hour >= m.lo AND a.hour + interval '1 hour' <= m.hi THEN a.minutes <> 0
                   ELSE a.minutes & $PIECE_MASK <> 0 END
    ) AS d
    GROUP BY piece
"""
"""The template's users active in each piece: the minute rollup's hour rows of the piece, masked to it (the
whole day's users and minutes come from the template's day row)."""

_DAY_SECTIONS_SQL = """
    WITH candidates AS MATERIALIZED ($CANDIDATES), parts AS (
        SELECT lo, hi, true AS whole FROM ($SPLIT_PARTS) AS p
      UNION ALL
        SELECT lo, hi, false FROM unnest(CAST(:app_los AS timestamptz[]), CAST(:app_his AS timestamptz[])) AS p(lo, hi)
    ), cells AS MATERIALIZED (
        SELECT a.user_id, a.hour, a.app, p.whole,
               bit_or(CASE WHEN a.hour >= p.lo AND a.hour + interval '1 hour' <= p.hi THEN a.minutes
                           ELSE a.minutes & $PART_MASK END) AS bits
        FROM parts p
        JOIN activity_minutes a
          ON a.organization_id = :org AND a.template_id = ANY(CAST(:tpls AS uuid[])) AND a.category <> 'LOGIN'
         AND a.hour >= date_trunc('hour', p.lo) AND a.hour < p.hi
        GROUP BY a.user_id, a.hour, a.app, p.whole
    ), user_hours AS MATERIALIZED (
        SELECT user_id, hour, bit_or(bits) AS bits FROM cells WHERE whole GROUP BY user_id, hour
    ), hour_buckets AS ($HOUR_BUCKETS)
    SELECT 'users' AS section, CAST(NULL AS text) AS app, CAST(NULL AS bigint) AS minutes,
           CAST(NULL AS int) AS i, CAST(NULL AS date) AS day, array_agg(user_id) AS user_ids,
           array_agg(minutes) AS numbers, CAST(NULL AS varbit[]) AS bits, CAST(NULL AS bytea) AS vector
    FROM (
        SELECT user_id, CAST(sum($BITS) AS int) AS minutes FROM user_hours
        WHERE CAST(:want_users AS boolean) GROUP BY user_id HAVING sum($BITS) > 0
    ) AS u
    HAVING count(*) > 0
  UNION ALL
    SELECT 'series', NULL, NULL, i, NULL, array_agg(user_id), NULL, NULL, NULL
    FROM (SELECT DISTINCT i, user_id FROM ($SPREAD) AS spread) AS d
    GROUP BY i
  UNION ALL
    SELECT 'apps', app, CAST(sum(minutes) AS bigint), NULL, NULL, array_agg(user_id), NULL, NULL, NULL
    FROM (
        SELECT app, user_id, sum($BITS) AS minutes
        FROM cells WHERE app <> '' AND CAST(:want_apps AS boolean) GROUP BY app, user_id HAVING sum($BITS) > 0
    ) AS d
    GROUP BY app
  UNION ALL
    SELECT 'marked', NULL, NULL, NULL, day, NULL, NULL, NULL, NULL FROM candidates WHERE marked
  UNION ALL
    $PIECES
  UNION ALL
    SELECT 'edge_users', NULL, NULL, NULL, NULL, array_agg(user_id), array_agg(minutes), NULL, NULL
    FROM (
        SELECT r.user_id, CAST(sum(bit_count(substring(r.minutes FROM m.lo - r.lo + 1 FOR m.hi - m.lo))) AS int)
                   AS minutes
        FROM unnest(CAST(:edge_days AS date[]), CAST(:edge_los AS int[]), CAST(:edge_his AS int[])) AS m(day, lo, hi)
        JOIN activity_user_days r ON r.organization_id = :org AND r.day = m.day
        WHERE CAST(:want_users AS boolean)
        GROUP BY r.user_id
    ) AS e
    WHERE minutes > 0
    HAVING count(*) > 0
  UNION ALL
    SELECT 'edge_piece', NULL, NULL, CAST(m.piece AS int), NULL, array_agg(r.user_id), NULL, NULL, NULL
    FROM unnest(CAST(:edge_days AS date[]), CAST(:edge_los AS int[]), CAST(:edge_his AS int[]))
        WITH ORDINALITY AS m(day, lo, hi, piece)
    JOIN activity_user_days r ON r.organization_id = :org AND r.day = m.day
    WHERE CAST(:want_series AS boolean) AND bit_count(substring(r.minutes FROM m.lo - r.lo + 1 FOR m.hi - m.lo)) > 0
    GROUP BY m.piece
  UNION ALL
    SELECT 'vector', NULL, NULL, NULL, day, NULL, NULL, NULL, minutes FROM activity_day_vectors
    WHERE CAST(:want_vectors AS boolean) AND organization_id = :org AND day IN $CLEAN
  UNION ALL
    SELECT 'day', NULL, NULL, NULL, day, user_ids, minutes, NULL, NULL FROM insights_template_days
    WHERE CAST(:want_template_days AS boolean) AND organization_id = :org AND template_id = :template
      AND day IN $CLEAN
  UNION ALL
    SELECT 'day_apps', app, CAST(sum(minutes) AS bigint), NULL, NULL, NULL, NULL, array_agg(users), NULL
    FROM insights_app_days
    WHERE CAST(:want_apps AS boolean) AND organization_id = :org AND template_id = :template AND day IN $CLEAN
    GROUP BY app
  UNION ALL
    SELECT 'numbering', NULL, NULL, NULL, NULL, array_agg(user_id ORDER BY idx), array_agg(idx ORDER BY idx),
           NULL, NULL
    FROM activity_user_bits WHERE CAST(:want_numbering AS boolean) AND organization_id = :org
    HAVING count(*) > 0
    """
_DAY_SECTIONS = {
    True: sql(_DAY_SECTIONS_SQL, PIECES=_PIECES_EVERY_TEMPLATE, **_FRAGMENTS),
    False: sql(_DAY_SECTIONS_SQL, PIECES=_PIECES_ONE_TEMPLATE, **_FRAGMENTS),
}
"""Everything day_sections reads (for every template: True; for one: False), in one statement (so in one snapshot, without a transaction block), by
section:

- "marked": the candidate whole days that ingest has marked since their rows were computed; the others
  (CLEAN) are read from per-day rows, the marked ones join the parts;
- "users", "series", "apps": _ROLLUP_SECTIONS over the disjoint parts of the range outside the clean days
  (each hour in at most one part), as arrays to add to the clean days': the users and their minutes (one
  row), each bucket i's users, each app's minutes and users;
- "piece": the users active in each piece [lo, hi) (minutes of the day) of the clean days that bucket
  boundaries cut: every template together from activity_user_days (bit i of `minutes` is minute lo + i
  of the day), one template from the minute rollup's hour rows of the piece; i is the piece's position
  in the :piece_* arrays, 1-based;
- "vector": every template's users' minutes of a clean day (activity_day_vectors, packed by number);
- "day": one template's clean day (insights_template_days): the day's users and their minutes;
- "day_apps": per app, the clean days' minutes and users' bit strings (insights_app_days) of the template
  or of ALL_TEMPLATES;
- "numbering": the organization's user numbering (user_ids[k] has number numbers[k]) that names the
  vectors' elements and those bits."""

_ORDERED_USERS = text(
    """
    SELECT u.id AS user_id, t.minutes
    FROM unnest(CAST(:ids AS uuid[]), CAST(:minutes AS bigint[])) AS t(id, minutes)
    JOIN users u ON u.id = t.id
    ORDER BY t.minutes DESC, u.username, u.id
    """
)


def _whole_days(start: datetime, end: datetime, cuts: Sequence[datetime]) -> list[date]:
    """The UTC days wholly inside [start, end) that no cut falls strictly inside."""
    first = (start + timedelta(days=1) - timedelta(microseconds=1)).astimezone(UTC).date()
    last = end.astimezone(UTC).date()
    cut = {moment.astimezone(UTC).date() for moment in cuts if _midnight(moment) != moment}
    return [
        first + timedelta(days=k) for k in range((last - first).days) if first + timedelta(days=k) not in cut
    ]


def _pieces(days: Sequence[date], starts: Sequence[datetime]) -> dict[date, list[tuple[int, int, int]]]:
    """The days that bucket boundaries (starts[1:]) cut: each day's pieces as (first minute, minute after
    the last, bucket) when every boundary in it falls on a whole minute, else no pieces (the day is read
    from the minute rollup)."""
    found: dict[date, list[tuple[int, int, int]]] = {}
    for day in days:
        midnight = datetime.combine(day, time(), UTC)
        first = max(1, bisect.bisect_right(starts, midnight))
        inside = starts[first : bisect.bisect_left(starts, midnight + timedelta(days=1))]
        if not inside:
            continue
        if any(b.second or b.microsecond for b in inside):
            found[day] = []
            continue
        edges = [0, *((b - midnight) // timedelta(minutes=1) for b in inside), 1440]
        found[day] = [
            (lo, hi, bisect.bisect_right(starts, midnight + timedelta(minutes=lo)))
            for lo, hi in itertools.pairwise(edges)
        ]
    return found


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time(), UTC)


def _parts(start: datetime, end: datetime, days: Sequence[date]) -> dict[str, list[datetime]]:
    """[start, end) without the given whole days, as the bounds of disjoint intervals [los[k], his[k])
    (the parameters of $PARTS)."""
    los: list[datetime] = []
    his: list[datetime] = []
    at = start
    for day in days:
        lo = datetime.combine(day, time(), UTC)
        if lo > at:
            los.append(at)
            his.append(lo)
        at = lo + timedelta(days=1)
    if end > at:
        los.append(at)
        his.append(end)
    return {"los": los, "his": his}


def _edges(
    start: datetime, end: datetime, starts: Sequence[datetime]
) -> tuple[datetime, datetime, list[tuple[datetime, datetime]], list[tuple[date, int, int, int]]] | None:
    """For a range whose ends and bucket boundaries inside the UTC days its ends cut all fall on whole
    minutes: the whole UTC days between those cut days (inner start, inner end), the cut days' intervals
    of the range, and their pieces (day, first minute, minute after the last, bucket) split at the bucket
    boundaries. None otherwise."""
    if any(at.second or at.microsecond for at in (start, end)):
        return None
    inner_start = start if _midnight(start) == start else min(end, _midnight(start) + timedelta(days=1))
    inner_end = max(inner_start, _midnight(end))
    edges = [(lo, hi) for lo, hi in ((start, inner_start), (inner_end, end)) if lo < hi]
    pieces: list[tuple[date, int, int, int]] = []
    for lo, hi in edges:
        inside = [b for b in starts[1:] if lo < b < hi]
        if any(b.second or b.microsecond for b in inside):
            return None
        midnight = _midnight(lo)
        pieces.extend(
            (
                midnight.date(),
                (a - midnight) // timedelta(minutes=1),
                (b - midnight) // timedelta(minutes=1),
                bisect.bisect_right(starts, a),
            )
            for a, b in itertools.pairwise([lo, *inside, hi])
        )
    return inner_start, inner_end, edges, pieces


async def day_sections(
    conn: AsyncConnection, scope: Scope, starts: list[datetime], sections: set[str], template_id: uuid.UUID
) -> RollupSections:
    """rollup_sections for one template, or (template_id ALL_TEMPLATES) for every template of the scope's
    organization: the range's whole UTC days (those no bucket boundary cuts and no ingest has marked since
    their rows were computed) from per-day rows, the rest of the range from the minute rollup. One
    template's users and series come from insights_template_days; every template's from
    activity_day_vectors (activity_user_days counts exactly the non-LOGIN minutes, and every non-LOGIN
    session has its workspace's template); apps from insights_app_days. Minutes in disjoint parts add up;
    users and a bucket's users are the union of the parts'. One statement (_DAY_SECTIONS), and one more
    when userActivity needs the users ordered by name."""
    if not sections & set(_SECTIONS):
        return RollupSections((), {}, ())
    every = template_id == app_days.ALL_TEMPLATES
    # A day that bucket boundaries cut at whole minutes still counts as whole (its users, minutes and apps
    # from the per-day rows); only its series users are read per piece.
    candidates = _whole_days(scope.start, scope.end, ())
    pieces = _pieces(candidates, starts)
    candidates = [day for day in candidates if day not in pieces or pieces[day]]
    cut = (
        [(day, piece) for day in candidates for piece in pieces.get(day, ())] if "series" in sections else []
    )
    # Every template: the two UTC days that the range's ends cut take their users, minutes and series
    # users from the user-days' minute bits too; only their apps are read from the minute rollup.
    inner_start, inner_end = scope.start, scope.end
    edges: list[tuple[datetime, datetime]] = []
    edge: list[tuple[date, int, int, int]] = []
    found = _edges(scope.start, scope.end, starts) if every else None
    if found is not None:
        inner_start, inner_end, edges, edge = found
    params = {
        **scope.params(),
        **_parts(inner_start, inner_end, candidates),
        "app_los": [lo for lo, _ in edges],
        "app_his": [hi for _, hi in edges],
        "edge_days": [piece[0] for piece in edge],
        "edge_los": [piece[1] for piece in edge],
        "edge_his": [piece[2] for piece in edge],
        **{f"want_{name}": name in sections for name in _SECTIONS},
        "starts": starts,
        "candidates": candidates,
        "template": template_id,
        "piece_days": [day for day, _ in cut],
        "piece_los": [piece[0] for _, piece in cut],
        "piece_his": [piece[1] for _, piece in cut],
        "want_vectors": every and bool(sections & {"users", "series"}),
        "want_template_days": not every and bool(sections & {"users", "series"}),
        "want_numbering": every or "apps" in sections,
    }
    rows = (await conn.execute(_DAY_SECTIONS[every], params)).all()
    marked = {row.day for row in rows if row.section == "marked"}
    days = [day for day in candidates if day not in marked]
    bucket_of = {
        day: bisect.bisect_right(starts, datetime.combine(day, time(), UTC))
        for day in days
        if day not in pieces
    }
    minutes_by_user: dict[uuid.UUID, int] = {}
    bucket_users: dict[int, set[uuid.UUID]] = {}
    app_minutes: dict[str, int] = {}
    app_users: dict[str, set[uuid.UUID]] = {}
    org = scope.organization_id
    numbering = next(((row.numbers, row.user_ids) for row in rows if row.section == "numbering"), None)
    vectors = day_vectors.unpack(
        [org],
        days,
        {org: numbering} if numbering is not None else {},
        [(org, row.day, row.vector, None, None) for row in rows if row.section == "vector"],
    )
    if params["want_vectors"]:
        _add_vectors(
            vectors, [bucket_of.get(day, 0) for day in days], sections, minutes_by_user, bucket_users
        )
    for row in rows:
        if row.section == "users":
            for user, used in zip(row.user_ids, row.numbers, strict=True):
                minutes_by_user[user] = minutes_by_user.get(user, 0) + used
        elif row.section == "series":
            bucket_users.setdefault(row.i, set()).update(row.user_ids)
        elif row.section == "apps":
            app_minutes[row.app] = app_minutes.get(row.app, 0) + row.minutes
            app_users.setdefault(row.app, set()).update(row.user_ids)
        elif row.section == "piece":
            bucket_users.setdefault(cut[row.i - 1][1][2], set()).update(row.user_ids)
        elif row.section == "edge_users":
            for user, used in zip(row.user_ids, row.numbers, strict=True):
                minutes_by_user[user] = minutes_by_user.get(user, 0) + used
        elif row.section == "edge_piece":
            bucket_users.setdefault(edge[row.i - 1][3], set()).update(row.user_ids)
        elif row.section == "day":
            if "users" in sections:
                for user, used in zip(row.user_ids, row.numbers, strict=True):
                    minutes_by_user[user] = minutes_by_user.get(user, 0) + used
            if "series" in sections and row.day in bucket_of:  # a cut day's users come per piece
                bucket_users.setdefault(bucket_of[row.day], set()).update(row.user_ids)
        elif row.section == "day_apps":
            app_minutes[row.app] = app_minutes.get(row.app, 0) + row.minutes
            app_users.setdefault(row.app, set()).update(app_days.bit_users(row.bits, vectors.user_ids))
    users: Sequence[Row[Any] | UserMinutes] = [UserMinutes(*item) for item in minutes_by_user.items()]
    if users and "ordered" in sections:
        ordered = {"ids": list(minutes_by_user), "minutes": list(minutes_by_user.values())}
        users = (await conn.execute(_ORDERED_USERS, ordered)).all()
    return RollupSections(
        users=users,
        series={i: len(found) for i, found in bucket_users.items() if found},
        apps=[AppMinutes(app, app_minutes[app], len(app_users.get(app, ()))) for app in app_minutes],
    )


def _add_vectors(
    vectors: day_vectors.Vectors,
    buckets: list[int],
    sections: set[str],
    minutes_by_user: dict[uuid.UUID, int],
    bucket_users: dict[int, set[uuid.UUID]],
) -> None:
    """Every template's users' minutes and each bucket's users over the vectors' days (added up in numpy),
    `buckets` giving each day's bucket; bucket 0 stands for a day cut into pieces (its users are read per
    piece)."""
    if not vectors.user_ids:
        return
    minutes = vectors.minutes
    if "users" in sections:
        totals = minutes.sum(axis=0, dtype=np.int64)
        for idx in np.flatnonzero(totals).tolist():
            minutes_by_user[vectors.user_ids[idx]] = int(totals[idx])
    if "series" in sections:
        active = minutes > 0
        for i in sorted(set(buckets) - {0}):
            inside = [k for k, bucket in enumerate(buckets) if bucket == i]
            found = np.flatnonzero(active[inside].any(axis=0)).tolist()
            bucket_users.setdefault(i, set()).update(vectors.user_ids[idx] for idx in found)


_DAY_APP_SESSIONS = _sql(
    """
    WITH candidates AS MATERIALIZED ($CANDIDATES), lookback AS MATERIALIZED ($LOOKBACK), parts AS ($SPLIT_PARTS)
    SELECT app, category, CAST(sum(sessions) AS bigint) AS sessions
    FROM (
        SELECT d.app, d.category, d.sessions
        FROM insights_app_session_days d
        WHERE d.organization_id = :org AND d.template_id = ANY(CAST(:tpls AS uuid[])) AND d.day IN $CLEAN
      UNION ALL
        SELECT s.app, s.category, 1
        FROM parts p
        JOIN activity_sessions s
          ON s.organization_id = :org AND s.template_id = ANY(CAST(:tpls AS uuid[]))
         AND s.started_at >= p.lo AND s.started_at < p.hi
        WHERE $APP_SESSION
      UNION ALL
        SELECT s.app, s.category, 1
        FROM activity_sessions s, lookback
        WHERE s.organization_id = :org AND s.template_id = ANY(CAST(:tpls AS uuid[]))
          AND s.started_at >= $START - lookback.length AND s.started_at < $START AND s.ended_at > $START
          AND $APP_SESSION
    ) AS x
    GROUP BY app, category
    """
)
"""Sessions per (app, category) in one statement: those starting in the range's clean whole UTC days from
insights_app_session_days, those starting in the rest of the range (the parts, marked days included) and
those started before the range and still open at its start from the sessions (a session overlaps [start,
end) iff it starts before end and either starts at or after start or ends after it, docs/api.md 5.1). The
selected templates' longest session bounds how far before start an open one can begin. The bound is
MATERIALIZED: inlined, a planner that believes a template has one session (rows written since the last
ANALYZE) re-ran it for every session in range, quadratic in the template's sessions (3.4 s for 3,400)."""


@dataclass(frozen=True)
class AppSessions:
    app: str
    sessions: int
    category: str


async def day_app_sessions(conn: AsyncConnection, scope: Scope) -> list[AppSessions]:
    """app_sessions from per-day rows where they are current (a session belongs to one template, so any
    selection adds up), the rest from the sessions. An app's category is its most frequent one, the first
    in order among equally frequent ones (as mode() picks it)."""
    candidates = _whole_days(scope.start, scope.end, ())
    params = {**scope.params(), **_parts(scope.start, scope.end, candidates), "candidates": candidates}
    per_app: dict[str, dict[str, int]] = {}
    for row in await conn.execute(_DAY_APP_SESSIONS, params):
        per_app.setdefault(row.app, {})[row.category] = row.sessions
    return [
        AppSessions(app, sum(by.values()), min(by, key=lambda category: (-by[category], category)))
        for app, by in sorted(per_app.items())
    ]


async def user_latency(conn: AsyncConnection, scope: Scope) -> Sequence[Row[Any]]:
    """Exact continuous percentiles over every sample in range, per user, p95 desc."""
    sql = _sql(
        """
        WITH per_user AS (
            SELECT l.user_id,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY l.latency_ms) AS p50,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY l.latency_ms) AS p95,
                   count(*) AS samples
            FROM latency_samples l
            WHERE l.organization_id = :org AND l.template_id = ANY(CAST(:tpls AS uuid[]))
              AND l.at >= $START AND l.at < $END
            GROUP BY l.user_id
        )
        SELECT p.user_id, p.p50, p.p95, p.samples
        FROM per_user p JOIN users u ON u.id = p.user_id
        ORDER BY p.p95 DESC, u.username, u.id
        """
    )
    return (await conn.execute(sql, scope.params())).all()


async def parameter_usage(conn: AsyncConnection, scope: Scope) -> Sequence[Row[Any]]:
    """One row per (parameter name, value): every defined option of the name in any selected template
        and every value a workspace of those templates holds, with the number of such workspaces that
        existed at some time in [start, end). A name defined by several templates takes its display name and
    type from the first of them in the selection. Rows come ordered for the response."""
    sql = _sql(
        """
        WITH defs AS (
            SELECT tp.name,
                   (array_agg(tp.display_name ORDER BY array_position(CAST(:tpls AS uuid[]), tp.template_id)))[1]
                       AS display_name,
                   (array_agg(tp.type ORDER BY array_position(CAST(:tpls AS uuid[]), tp.template_id)))[1] AS type,
                   min(tp.position) AS position
            FROM template_parameters tp
            WHERE tp.organization_id = :org AND tp.template_id = ANY(CAST(:tpls AS uuid[]))
            GROUP BY tp.name
        ), options AS (
            SELECT DISTINCT tp.name, o.value ->> 'value' AS value
            FROM template_parameters tp
            CROSS JOIN LATERAL jsonb_array_elements(tp.options) AS o(value)
            WHERE tp.organization_id = :org AND tp.template_id = ANY(CAST(:tpls AS uuid[]))
        ), counts AS (
            SELECT p.name, p.value, count(*) AS workspaces
            FROM workspaces w
            JOIN workspace_parameters p ON p.organization_id = w.organization_id AND p.workspace_id = w.id
            WHERE w.organization_id = :org AND w.template_id = ANY(CAST(:tpls AS uuid[]))
              AND w.created_at < $END AND (w.deleted_at IS NULL OR w.deleted_at >= $START)
              AND p.name IN (SELECT name FROM defs)
            GROUP BY p.name, p.value
        ), vals AS (
            SELECT name, value FROM options UNION SELECT name, value FROM counts
        )
        SELECT d.name, d.display_name, d.type, v.value, coalesce(c.workspaces, 0) AS workspaces
        FROM defs d
        LEFT JOIN vals v ON v.name = d.name
        LEFT JOIN counts c ON c.name = v.name AND c.value = v.value
        ORDER BY d.position, d.name, coalesce(c.workspaces, 0) DESC, v.value
        """
    )
    return (await conn.execute(sql, scope.params())).all()


async def trailing_template_usage(
    conn: AsyncConnection, start: datetime, end: datetime
) -> tuple[Sequence[Row[Any]], Sequence[Row[Any]]]:
    """For the Prometheus gauges: active users of every template, and usage minutes per template and
    app, over [start, end). Each organization's rollup is read through its (organization_id, hour) key."""
    active = _sql(
        """
        WITH per_hour AS ($TRAILING_HOURS), users AS (
            SELECT organization_id, template_id, count(DISTINCT user_id) AS users
            FROM per_hour WHERE bits <> 0 GROUP BY organization_id, template_id
        )
        SELECT t.organization_id, t.id AS template_id, t.name AS template_name, coalesce(u.users, 0) AS users
        FROM templates t
        LEFT JOIN users u ON u.organization_id = t.organization_id AND u.template_id = t.id
        ORDER BY t.organization_id, t.name, t.id
        """
    )
    apps = _sql(
        """
        WITH per_hour AS ($TRAILING_HOURS)
        SELECT t.organization_id, t.id AS template_id, t.name AS template_name, p.app,
               sum($BITS)::bigint AS minutes
        FROM per_hour p
        JOIN templates t ON t.organization_id = p.organization_id AND t.id = p.template_id
        WHERE p.app <> ''
        GROUP BY t.organization_id, t.id, t.name, p.app
        HAVING sum($BITS) > 0
        ORDER BY t.organization_id, t.name, t.id, p.app
        """
    )
    params = {"start": start, "end": end}
    return (await conn.execute(active, params)).all(), (await conn.execute(apps, params)).all()
