"""AI coding sessions analytics in SQL (docs/api.md 5.5).

Every statement reads the sessions selected by one `SessionSpec`: the filter and the caller's scope become
WHERE predicates built only from the fragments below and spliced in as $WHERE (usagegraph.db.queries.compose;
values are always bound parameters), so each
section scans just the organization's sessions in range and nothing of another tenant or user is read."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries.compose import splice, sql

HISTOGRAM_BOUNDS: tuple[int, ...] = (60, 300, 900, 1800, 3600, 7200)


@dataclass(frozen=True)
class SessionSpec:
    """Which sessions an analytics field reads. `only_user` is the SELF scope; `None` lists mean no
    filter on that column, an empty tuple matches nothing (an OR over no values)."""

    organization_id: uuid.UUID
    start: datetime
    end: datetime
    project_ids: tuple[uuid.UUID, ...] | None = None
    repositories: tuple[str, ...] | None = None
    agents: tuple[str, ...] | None = None
    user_ids: tuple[uuid.UUID, ...] | None = None
    only_user: uuid.UUID | None = None

    @property
    def narrowed(self) -> bool:
        """Whether anything but the organization and the time range selects sessions."""
        return any(getattr(self, name) is not None for name in _PREDICATES)


@dataclass(frozen=True)
class Buckets:
    """Local calendar buckets: `unit` is a date_trunc field ('day' or 'week'), `days` its length."""

    unit: str
    days: int
    timezone: str


_PREDICATES: dict[str, str] = {
    "project_ids": "s.project_id = ANY(CAST(:project_ids AS uuid[]))",
    "repositories": "s.repository = ANY(CAST(:repositories AS text[]))",
    "agents": "s.agent = ANY(CAST(:agents AS text[]))",
    "user_ids": "s.user_id = ANY(CAST(:user_ids AS uuid[]))",
    "only_user": "s.user_id = CAST(:only_user AS uuid)",
}
_BASE = "s.organization_id = :org AND s.started_at >= :start AND s.started_at < :end"


def _filter(spec: SessionSpec) -> tuple[str, dict[str, Any]]:
    clauses = [_BASE]
    params: dict[str, Any] = {"org": spec.organization_id, "start": spec.start, "end": spec.end}
    for name, predicate in _PREDICATES.items():
        value = getattr(spec, name)
        if value is not None:
            clauses.append(predicate)
            params[name] = list(value) if isinstance(value, tuple) else value
    return " AND ".join(clauses), params


@functools.lru_cache(maxsize=256)
def _statement(template: str, where: str) -> TextClause:
    """A statement with the spec's predicate as its $WHERE (a few dozen combinations of the predicates)."""
    return sql(template, WHERE=where)


async def _rows(conn: AsyncConnection, template: str, spec: SessionSpec, **extra: Any) -> Sequence[Row[Any]]:
    """Runs a statement whose `$WHERE` is the spec's predicate, composed from the constant fragments above."""
    where, params = _filter(spec)
    return (await conn.execute(_statement(template, where), {**params, **extra})).all()


WEEK_SUMS = (
    "sessions",
    "cost_micros",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "duration_us",
    "ended",
    "unpriced",
    *(f"le{k}" for k in range(len(HISTOGRAM_BOUNDS))),
)
"""The sums of the facts read, in the column order of ai_session_user_weeks (migration 0017)."""

# One session's contribution to every sum of the facts read, also what the weekly rollup adds up per
# session: durations in whole microseconds, so that sums are exact and independent of their order, and
# le<k> = 1 when an ended session lasted at most HISTOGRAM_BOUNDS[k] seconds.
SESSION_FACTS = """s.user_id, s.agent, 1 AS sessions, s.cost_micros, s.input_tokens, s.output_tokens,
           s.cache_read_tokens, s.cache_write_tokens,
           coalesce(CAST(round(s.duration_seconds * 1000000) AS bigint), 0) AS duration_us,
           CAST(s.duration_seconds IS NOT NULL AS int) AS ended, CAST(s.unpriced AS int) AS unpriced, """ + ", ".join(
    f"coalesce(CAST(s.duration_seconds <= {bound} AS int), 0) AS le{k}"
    for k, bound in enumerate(HISTOGRAM_BOUNDS)
)
_FACT_SUMS = "user_id, agent, " + ", ".join(f"CAST(sum({name}) AS bigint) AS {name}" for name in WEEK_SUMS)

_FACTS_RAW = """
    WITH g AS MATERIALIZED (
        SELECT $FACT_SUMS
        FROM (SELECT $SESSION_FACTS FROM ai_sessions s WHERE $WHERE) AS x
        GROUP BY user_id, agent
"""
_FACTS_ROLLUP = """
    WITH b AS MATERIALIZED (
        SELECT CAST(date_trunc('week', CAST(:start AS timestamptz), 'UTC')
                    + CASE WHEN date_trunc('week', CAST(:start AS timestamptz), 'UTC') < CAST(:start AS timestamptz)
                           THEN interval '1 week' ELSE interval '0' END AS timestamptz) AS inner_start,
               date_trunc('week', CAST(:end AS timestamptz), 'UTC') AS inner_end
    ), g AS MATERIALIZED (
        SELECT $FACT_SUMS
        FROM (
            SELECT w.user_id, w.agent, $WEEK_COLUMNS
            FROM b JOIN ai_session_user_weeks w
              ON w.organization_id = :org AND w.week >= CAST(b.inner_start AT TIME ZONE 'UTC' AS date)
             AND w.week < CAST(b.inner_end AT TIME ZONE 'UTC' AS date)
          UNION ALL
            SELECT $SESSION_FACTS
            FROM b JOIN ai_sessions s ON $WHERE AND s.started_at < least(b.inner_start, CAST(:end AS timestamptz))
          UNION ALL
            SELECT $SESSION_FACTS
            FROM b JOIN ai_sessions s ON $WHERE AND s.started_at >= greatest(b.inner_start, b.inner_end)
        ) AS x
        GROUP BY user_id, agent
        HAVING sum(sessions) <> 0
"""
_FACTS_LEVELS = """    ), levels AS (
        SELECT CASE WHEN GROUPING(user_id) = 0 THEN 'user' WHEN GROUPING(agent) = 0 THEN 'agent' ELSE 'total' END
                   AS level,
               user_id, agent,
               CAST(coalesce(sum(sessions), 0) AS bigint) AS sessions,
               coalesce(sum(cost_micros), 0) * 0.000001 AS cost,
               coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
               coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens,
               coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
               sum(duration_us) / nullif(sum(ended), 0) / 1000000.0 AS average_duration,
               round(sum(cost_micros) * 0.000001 / nullif(sum(sessions), 0), 6) AS average_cost,
               count(g.user_id) AS users,
               coalesce(sum(unpriced), 0) AS unpriced,
               array_agg(agent ORDER BY sessions DESC, agent) AS agents,
               array_agg(sessions ORDER BY sessions DESC, agent) AS agent_sessions,
               CAST(ARRAY[sum(le0), sum(le1) - sum(le0), sum(le2) - sum(le1), sum(le3) - sum(le2),
                          sum(le4) - sum(le3), sum(le5) - sum(le4), sum(ended) - sum(le5)] AS bigint[])
                   AS histogram
        FROM g
        GROUP BY GROUPING SETS ((user_id), (agent), ())
    )
    SELECT l.*,
           CASE WHEN max(l.cost) FILTER (WHERE l.level = 'total') OVER () = 0 THEN 0
                ELSE CAST(l.cost / max(l.cost) FILTER (WHERE l.level = 'total') OVER () AS float8) END AS share
    FROM levels l
    ORDER BY l.level, CASE WHEN l.level = 'agent' THEN l.sessions END DESC, l.agent, l.cost DESC, l.user_id
"""
_FACT_PARTS = {
    "FACT_SUMS": _FACT_SUMS,
    "SESSION_FACTS": SESSION_FACTS,
    "WEEK_COLUMNS": ", ".join(f"w.{name}" for name in WEEK_SUMS),
}
FACTS = splice(_FACTS_RAW + _FACTS_LEVELS, **_FACT_PARTS)
FACTS_ROLLUP = splice(_FACTS_ROLLUP + _FACTS_LEVELS, **_FACT_PARTS)
"""The same without filters: the range's whole UTC weeks from ai_session_user_weeks, the sessions of its
partial weeks at the edges."""


@dataclass(frozen=True)
class Facts:
    """summary, byAgent, the cost by user and the users section of one spec."""

    total: Row[Any]
    agents: list[Row[Any]]
    """by sessions desc, then agent"""
    users: list[Row[Any]]
    """by cost desc, then user id (the order of both the users section and the cost by user)"""


async def facts(conn: AsyncConnection, spec: SessionSpec) -> Facts:
    """One grouped read of the spec's sessions by (user, agent), a few thousand rows where the sessions
    are hundreds of thousands, summed again by user, by agent and in total: every figure of summary,
    byAgent, costBreakdown(by: USER) and users. Costs are summed as micro-dollars and come back as exact
    decimals; a user's histogram counts the ended sessions per bound of HISTOGRAM_BOUNDS, then the
    unbounded rest; `users` of an agent row counts its users."""
    rows = await _rows(conn, FACTS if spec.narrowed else FACTS_ROLLUP, spec)
    return Facts(
        total=next(r for r in rows if r.level == "total"),
        agents=[r for r in rows if r.level == "agent"],
        users=[r for r in rows if r.level == "user"],
    )


_INNER = """
    SELECT c.*,
           date_trunc('$UNIT', c.bucket_start, 'UTC')
               + CASE WHEN date_trunc('$UNIT', c.bucket_start, 'UTC') < c.bucket_start THEN interval '1 $UNIT'
                      ELSE interval '0' END AS inner_start,
           date_trunc('$UNIT', c.bucket_end, 'UTC') AS inner_end
    FROM $CUTS AS c
"""
_HOURS = splice(_INNER, UNIT="hour")
"""Splits each [bucket_start, bucket_end) into the whole UTC hours inside it, [inner_start, inner_end),
read from an hourly rollup, and the partial hours at its edges, [bucket_start, min(inner_start,
bucket_end)) and [max(inner_start, inner_end), bucket_end), read raw: together exactly the bucket."""

_HEAD = "$TIME >= c.bucket_start AND $TIME < least(c.inner_start, c.bucket_end)"
_TAIL = "$TIME >= greatest(c.inner_start, c.inner_end) AND $TIME < c.bucket_end"
"""The partial hours at the start and at the end of a bucket: two ranges of a time index, read apart
(one range with an OR would scan the whole bucket)."""

_RANGE = "(SELECT CAST(:start AS timestamptz) AS bucket_start, CAST(:end AS timestamptz) AS bucket_end)"
"""The whole range as one cut, for _INNER."""

_SLICES_BY_MODEL = splice(
    """
    WITH c AS MATERIALIZED ($HOURS)
    SELECT x.model AS key, x.model AS label, sum(x.cost_micros) * 0.000001 AS cost,
           CAST(sum(x.lines) AS bigint) AS sessions, sum(x.tokens) AS tokens
    FROM (
        SELECT h.model, h.lines, h.cost_micros, h.tokens
        FROM c JOIN ai_usage_hours h
          ON h.organization_id = :org AND h.hour >= c.inner_start AND h.hour < c.inner_end
      UNION ALL
        SELECT u.model, 1, u.cost_micros, u.input_tokens + u.output_tokens
        FROM c JOIN ai_session_usage u ON u.organization_id = :org AND $USAGE_HEAD
      UNION ALL
        SELECT u.model, 1, u.cost_micros, u.input_tokens + u.output_tokens
        FROM c JOIN ai_session_usage u ON u.organization_id = :org AND $USAGE_TAIL
    ) AS x
    GROUP BY x.model
    HAVING sum(x.lines) <> 0
""",
    HOURS=splice(_HOURS, CUTS=_RANGE),
    USAGE_HEAD=splice(_HEAD, TIME="u.started_at"),
    USAGE_TAIL=splice(_TAIL, TIME="u.started_at"),
)
"""Without filters the lines in range are summed per model from the hourly rollup plus the lines of the
partial hours at both ends."""
_SLICES_BY_MODEL_FILTERED = """
    SELECT u.model AS key, u.model AS label, sum(u.cost_micros) * 0.000001 AS cost, count(*) AS sessions,
           sum(u.input_tokens + u.output_tokens) AS tokens
    FROM ai_session_usage u
    JOIN ai_sessions s ON s.organization_id = u.organization_id AND s.id = u.session_id
    WHERE u.organization_id = :org AND u.started_at >= :start AND u.started_at < :end AND $WHERE
    GROUP BY u.model
"""
_PROJECT_LABELS = """
    SELECT coalesce(CAST(g.project_id AS text), '') AS key,
           CASE WHEN g.project_id IS NULL THEN '(none)' ELSE coalesce(p.name, CAST(g.project_id AS text)) END
               AS label,
           g.cost, g.sessions, g.tokens
    FROM ($GROUPED) AS g
    LEFT JOIN projects p ON p.organization_id = :org AND p.id = g.project_id
"""
_SLICES_BY_PROJECT = splice(
    _PROJECT_LABELS,
    GROUPED="""SELECT s.project_id, sum(s.cost_micros) * 0.000001 AS cost, count(*) AS sessions,
              sum(s.input_tokens + s.output_tokens) AS tokens
       FROM ai_sessions s WHERE $WHERE GROUP BY s.project_id""",
)
_SLICES_BY_PROJECT_ROLLUP = splice(
    _PROJECT_LABELS,
    GROUPED="""
    WITH c AS MATERIALIZED ($DAYS)
    SELECT x.project_id, sum(x.cost_micros) * 0.000001 AS cost, CAST(sum(x.sessions) AS bigint) AS sessions,
           sum(x.tokens) AS tokens
    FROM (
        SELECT CASE WHEN d.no_project THEN NULL ELSE d.project_key END AS project_id, d.sessions,
               d.cost_micros, d.tokens
        FROM c
        JOIN ai_session_project_days d
          ON d.organization_id = :org AND d.day >= CAST(c.inner_start AT TIME ZONE 'UTC' AS date)
         AND d.day < CAST(c.inner_end AT TIME ZONE 'UTC' AS date)
      UNION ALL
        SELECT s.project_id, 1, s.cost_micros, s.input_tokens + s.output_tokens
        FROM c JOIN ai_sessions s ON $WHERE AND $HEAD
      UNION ALL
        SELECT s.project_id, 1, s.cost_micros, s.input_tokens + s.output_tokens
        FROM c JOIN ai_sessions s ON $WHERE AND $TAIL
    ) AS x
    GROUP BY x.project_id
    HAVING sum(x.sessions) <> 0""",
    DAYS=splice(_INNER, UNIT="day", CUTS=_RANGE),
    HEAD=splice(_HEAD, TIME="s.started_at"),
    TAIL=splice(_TAIL, TIME="s.started_at"),
)
"""Without filters the sessions in range are summed per project from the per project and day rollup
(migration 0018) plus the sessions of the partial days at both ends."""
SLICES = {
    ("MODEL", False): _SLICES_BY_MODEL,
    ("MODEL", True): _SLICES_BY_MODEL_FILTERED,
    ("PROJECT", False): _SLICES_BY_PROJECT_ROLLUP,
    ("PROJECT", True): _SLICES_BY_PROJECT,
}
"""The slices of a dimension, by whether the spec is narrowed by a filter or scope."""

_BREAKDOWN = """
    WITH slices AS ($SLICES)
    SELECT key, label, cost, sessions, tokens,
           CASE WHEN sum(cost) OVER () = 0 THEN 0
                ELSE CAST(cost / sum(cost) OVER () AS float8) END AS share
    FROM slices
    ORDER BY cost DESC, key
"""


_BREAKDOWNS = {key: splice(_BREAKDOWN, SLICES=slices) for key, slices in SLICES.items()}


async def cost_breakdown(conn: AsyncConnection, spec: SessionSpec, dimension: str) -> Sequence[Row[Any]]:
    """`dimension` is MODEL or PROJECT (slices by user come from `facts`). Model slices come from the
    usage lines, so a session that used two models counts in both slices; the lines carry their
    session's start, so without other predicates they are summed from the hourly rollup and the lines
    of the partial hours at the ends of the range; project slices likewise from the daily rollup and the
    sessions of the partial days."""
    return await _rows(conn, _BREAKDOWNS[dimension, spec.narrowed], spec)


_BUCKETS = """
    bounds AS (
        SELECT date_trunc(:unit, CAST(:start AS timestamptz) AT TIME ZONE :tz) AS first_local,
               date_trunc(:unit, (CAST(:end AS timestamptz) - interval '1 microsecond') AT TIME ZONE :tz)
                   AS last_local
    ),
    buckets AS (
        SELECT k, greatest(local_start AT TIME ZONE :tz, CAST(:start AS timestamptz)) AS bucket_start,
               least((local_start + make_interval(days => :days)) AT TIME ZONE :tz, CAST(:end AS timestamptz))
                   AS bucket_end
        FROM bounds,
             generate_series(0, (CAST(last_local AS date) - CAST(first_local AS date)) / :days) AS k,
             LATERAL (SELECT first_local + k * make_interval(days => :days) AS local_start) AS l
    )"""
"""Local calendar buckets, each cut at the range: [bucket_start, bucket_end) in UTC instants."""

_IN_BUCKET = "$WHERE AND s.started_at >= b.bucket_start AND s.started_at < b.bucket_end"

TIMESERIES = splice(
    """
    WITH $BUCKETS
    SELECT b.bucket_start, b.bucket_end, a.sessions, a.cost, a.tokens
    FROM buckets b
    CROSS JOIN LATERAL (
        SELECT count(*) AS sessions, coalesce(sum(s.cost_micros), 0) * 0.000001 AS cost,
               coalesce(sum(s.input_tokens + s.output_tokens), 0) AS tokens
        FROM ai_sessions s WHERE $IN_BUCKET
    ) AS a
    ORDER BY b.k
""",
    BUCKETS=_BUCKETS,
    IN_BUCKET=_IN_BUCKET,
)

TIMESERIES_ROLLUP = splice(
    """
    WITH $BUCKETS, c AS MATERIALIZED ($HOURS)
    SELECT c.bucket_start, c.bucket_end, CAST(r.sessions + e.sessions AS bigint) AS sessions,
           (r.cost_micros + e.cost_micros) * 0.000001 AS cost, r.tokens + e.tokens AS tokens
    FROM c
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(h.sessions), 0) AS sessions, coalesce(sum(h.cost_micros), 0) AS cost_micros,
               coalesce(sum(h.tokens), 0) AS tokens
        FROM ai_session_hours h
        WHERE h.organization_id = :org AND h.hour >= c.inner_start AND h.hour < c.inner_end
    ) AS r
    CROSS JOIN LATERAL (
        SELECT count(*) AS sessions, coalesce(sum(x.cost_micros), 0) AS cost_micros,
               coalesce(sum(x.tokens), 0) AS tokens
        FROM (
            SELECT s.cost_micros, s.input_tokens + s.output_tokens AS tokens
            FROM ai_sessions s WHERE $WHERE AND $HEAD
          UNION ALL
            SELECT s.cost_micros, s.input_tokens + s.output_tokens AS tokens
            FROM ai_sessions s WHERE $WHERE AND $TAIL
        ) AS x
    ) AS e
    ORDER BY c.k
""",
    BUCKETS=_BUCKETS,
    HOURS=splice(_HOURS, CUTS="buckets"),
    HEAD=splice(_HEAD, TIME="s.started_at"),
    TAIL=splice(_TAIL, TIME="s.started_at"),
)
"""The same points without filters: each bucket's whole UTC hours from the hourly rollup, its partial
hours from the sessions."""


BUCKETS = sql(
    """
    WITH $BUCKETS
    SELECT b.k, b.bucket_start, b.bucket_end FROM buckets b ORDER BY b.k
""",
    BUCKETS=_BUCKETS,
)

_AS_ARRAYS = """
    u AS (
        SELECT user_id, CAST(row_number() OVER () AS int) - 1 AS i FROM (SELECT DISTINCT user_id FROM x) d
    )
    SELECT coalesce((SELECT array_agg(user_id ORDER BY i) FROM u), '{}') AS users,
           coalesce(array_agg(u.i), '{}') AS idx, coalesce(array_agg(x.k), '{}') AS ks,
           coalesce(array_agg(x.sessions), '{}') AS sessions, coalesce(array_agg(x.cost_micros), '{}') AS costs,
           coalesce(array_agg(x.tokens), '{}') AS tokens
    FROM x JOIN u ON u.user_id = x.user_id
"""
"""The entries x (k, user_id, sessions, cost_micros, tokens) as parallel arrays, users numbered in the
statement: one row however many users and buckets."""

USER_BUCKETS = splice(
    """
    WITH $BUCKETS, x AS (
        SELECT b.k, a.user_id, a.sessions, a.cost_micros, a.tokens
        FROM buckets b
        CROSS JOIN LATERAL (
            SELECT s.user_id, count(*) AS sessions, CAST(sum(s.cost_micros) AS bigint) AS cost_micros,
                   CAST(sum(s.input_tokens + s.output_tokens) AS bigint) AS tokens
            FROM ai_sessions s WHERE $IN_BUCKET
            GROUP BY s.user_id
        ) AS a
    ), $AS_ARRAYS
""",
    BUCKETS=_BUCKETS,
    IN_BUCKET=_IN_BUCKET,
    AS_ARRAYS=_AS_ARRAYS,
)
"""Sessions, micro-dollars and tokens per user and bucket, one entry per non-empty cell."""


_DAYS = splice(_INNER, UNIT="day", CUTS="buckets")
"""_HOURS by UTC day: each bucket's whole UTC days [inner_start, inner_end), and its partial days at the
edges (_HEAD, _TAIL)."""

USER_CELLS_ROLLUP = splice(
    """
    WITH $BUCKETS, c AS MATERIALIZED ($DAYS), x AS (
        SELECT k, user_id, CAST(sum(sessions) AS bigint) AS sessions,
               CAST(sum(cost_micros) AS bigint) AS cost_micros, CAST(sum(tokens) AS bigint) AS tokens
        FROM (
            SELECT c.k, d.user_id, d.sessions, d.cost_micros, d.tokens
            FROM c
            JOIN ai_session_user_days d
              ON d.organization_id = :org AND d.day >= CAST(c.inner_start AT TIME ZONE 'UTC' AS date)
             AND d.day < CAST(c.inner_end AT TIME ZONE 'UTC' AS date)
          UNION ALL
            SELECT c.k, s.user_id, 1, s.cost_micros, s.input_tokens + s.output_tokens
            FROM c JOIN ai_sessions s ON $WHERE AND $HEAD
          UNION ALL
            SELECT c.k, s.user_id, 1, s.cost_micros, s.input_tokens + s.output_tokens
            FROM c JOIN ai_sessions s ON $WHERE AND $TAIL
        ) AS e
        GROUP BY k, user_id
    ), $AS_ARRAYS
""",
    BUCKETS=_BUCKETS,
    DAYS=_DAYS,
    HEAD=splice(_HEAD, TIME="s.started_at"),
    TAIL=splice(_TAIL, TIME="s.started_at"),
    AS_ARRAYS=_AS_ARRAYS,
)
"""USER_BUCKETS without filters: each bucket's whole UTC days from the per user and day rollup (its delta
rows included), its partial days from the sessions, added up per cell in the statement (a bucket of a
local day holds no whole UTC day: every session of it is read, and sending one entry per session made
the report twice as slow as in UTC)."""


@dataclass(frozen=True)
class UserGrid:
    """Every user with sessions in the spec against every bucket: sessions, micro-dollars and tokens as
    exact int64 arrays of shape (users, buckets), empty cells 0."""

    buckets: Sequence[Row[Any]]
    """(k, bucket_start, bucket_end) of every bucket, as `timeseries` cuts them"""
    users: list[uuid.UUID]
    sessions: np.ndarray[Any, np.dtype[np.int64]]
    cost_micros: np.ndarray[Any, np.dtype[np.int64]]
    tokens: np.ndarray[Any, np.dtype[np.int64]]


def _grid(buckets: Sequence[Row[Any]], found: Row[Any]) -> UserGrid:
    """The entries of USER_BUCKETS or USER_CELLS_ROLLUP (one per non-empty cell, exact int64) placed in
    their cells. No user-by-bucket grid is built in SQL."""
    shape = (len(found.users), len(buckets))
    cells = np.array(found.idx, dtype=np.int64) * shape[1] + np.array(found.ks, dtype=np.int64)
    sums = []
    for values in (found.sessions, found.costs, found.tokens):
        grid = np.zeros(shape[0] * shape[1], dtype=np.int64)
        grid[cells] = np.array(values, dtype=np.int64)
        sums.append(grid.reshape(shape))
    return UserGrid(buckets, list(found.users), *sums)


async def timeseries(conn: AsyncConnection, spec: SessionSpec, buckets: Buckets) -> Sequence[Row[Any]]:
    """Every local bucket from the one holding `start` to the one holding the last instant before `end`,
    empty ones included; the first and last are cut at the range so each point says what it covers. Each
    bucket sums its own slice of the time index: no per-session time zone arithmetic, no hashing."""
    statement = TIMESERIES if spec.narrowed else TIMESERIES_ROLLUP
    return await _rows(conn, statement, spec, unit=buckets.unit, days=buckets.days, tz=buckets.timezone)


async def user_timeseries(conn: AsyncConnection, spec: SessionSpec, buckets: Buckets) -> UserGrid:
    """The buckets and every user's cells (one statement each). Without filters, whole UTC days come from
    ai_session_user_days."""
    extra = {"unit": buckets.unit, "days": buckets.days, "tz": buckets.timezone}
    bounds = (await conn.execute(BUCKETS, {"start": spec.start, "end": spec.end, **extra})).all()
    statement = USER_BUCKETS if spec.narrowed else USER_CELLS_ROLLUP
    return _grid(bounds, (await _rows(conn, statement, spec, **extra))[0])


PAGE = """
    SELECT s.id, s.user_id, s.project_id, p.name AS project_name, s.repository, s.agent, s.started_at,
           s.ended_at, date_part('epoch', s.ended_at - s.started_at) AS duration, s.cost,
           s.input_tokens + s.output_tokens AS tokens
    FROM ai_sessions s
    LEFT JOIN projects p ON p.organization_id = s.organization_id AND p.id = s.project_id
    WHERE $WHERE $AFTER
    ORDER BY s.started_at DESC, s.id DESC
    LIMIT :limit
"""
_AFTER = "AND (s.started_at, s.id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))"
_PAGE_FIRST = splice(PAGE, AFTER="")
_PAGE_AFTER = splice(PAGE, AFTER=_AFTER)
COUNT = "SELECT count(*) AS total FROM ai_sessions s WHERE $WHERE"
MODELS = """
    SELECT session_id, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost
    FROM ai_session_usage
    WHERE organization_id = :org AND session_id = ANY(CAST(:ids AS uuid[]))
    ORDER BY session_id, cost DESC, model
"""


async def page(
    conn: AsyncConnection, spec: SessionSpec, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> Sequence[Row[Any]]:
    """Up to `limit` sessions after the keyset cursor, newest first: (startedAt, id) descending, so
    sessions ingested while a client pages never shift the pages it has not read yet."""
    if after is None:
        return await _rows(conn, _PAGE_FIRST, spec, limit=limit)
    return await _rows(conn, _PAGE_AFTER, spec, limit=limit, after_at=after[0], after_id=after[1])


async def count(conn: AsyncConnection, spec: SessionSpec) -> int:
    return int((await _rows(conn, COUNT, spec))[0].total)


async def models(
    conn: AsyncConnection, organization_id: uuid.UUID, ids: list[uuid.UUID]
) -> Sequence[Row[Any]]:
    """Usage lines of a page of sessions in one statement."""
    return (await conn.execute(text(MODELS), {"org": organization_id, "ids": ids})).all()


_ROLLUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ai_session_hours": (("organization_id", "hour"), ("sessions", "cost_micros", "tokens")),
    "ai_usage_hours": (("organization_id", "hour", "model"), ("lines", "cost_micros", "tokens")),
    "ai_session_user_days": (("organization_id", "day", "user_id"), ("sessions", "cost_micros", "tokens")),
    "ai_session_user_weeks": (("organization_id", "week", "user_id", "agent"), WEEK_SUMS),
    "ai_session_project_days": (
        ("organization_id", "day", "project_key", "no_project"),
        ("sessions", "cost_micros", "tokens"),
    ),
}
_COMPACT = """
    WITH crowded AS (
        SELECT $KEYS FROM $TABLE GROUP BY $KEYS HAVING count(*) > 1 LIMIT :limit
    ), gone AS (
        DELETE FROM $TABLE t USING crowded c WHERE ($T_KEYS) = ($C_KEYS) RETURNING t.*
    ), folded AS (
        INSERT INTO $TABLE ($KEYS, $SUMS)
        SELECT $KEYS, $SUM_SUMS FROM gone GROUP BY $KEYS HAVING $NONZERO
    )
    SELECT count(*) AS groups FROM crowded
"""


async def compact_rollups(conn: AsyncConnection, limit: int = 10_000) -> int:
    """Folds the delta rows the triggers of migration 0009 append into one row per key (dropping keys
    whose sums are all zero), at most `limit` keys per rollup; returns how many keys were folded. Sums
    are unchanged, so it is safe at any time and alongside writers: a row appended meanwhile is simply
    not deleted, and two compactions never fold the same row twice (the second skips deleted rows)."""
    folded = 0
    for table, (keys, sums) in _ROLLUPS.items():
        statement = sql(
            _COMPACT,
            TABLE=table,
            KEYS=", ".join(keys),
            SUMS=", ".join(sums),
            T_KEYS=", ".join(f"t.{k}" for k in keys),
            C_KEYS=", ".join(f"c.{k}" for k in keys),
            SUM_SUMS=", ".join(f"sum({s})" for s in sums),
            NONZERO=" OR ".join(f"sum({s}) <> 0" for s in sums),
        )
        folded += (await conn.execute(statement, {"limit": limit})).scalar_one()
    return folded
