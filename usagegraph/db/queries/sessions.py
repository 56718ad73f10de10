"""AI coding sessions analytics in SQL (API.md 5.5).

Every statement reads the sessions selected by one `SessionSpec`: the filter and the caller's scope become
WHERE predicates built only from the fragments below (values are always bound parameters), so each
section scans just the organization's sessions in range and nothing of another tenant or user is read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

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


async def _roomy(conn: AsyncConnection) -> None:
    """Aggregates grouped by user and something else have groups the planner cannot count in advance;
    with the default work_mem it plans them as sorts that spill to disk. This transaction gets room to
    hash them in memory."""
    await conn.execute(text("SELECT set_config('work_mem', '64MB', true)"))


async def _rows(conn: AsyncConnection, template: str, spec: SessionSpec, **extra: Any) -> Sequence[Row[Any]]:
    """Runs a statement whose `{where}` is the spec's predicate, composed from the constant fragments above."""
    where, params = _filter(spec)
    sql = template.replace("{where}", where)
    return (await conn.execute(text(sql), {**params, **extra})).all()


SUMMARY = """
    SELECT count(*) AS users,
           coalesce(sum(g.sessions), 0) AS sessions,
           coalesce(sum(g.cost), 0) AS cost,
           coalesce(sum(g.input_tokens), 0) AS input_tokens,
           coalesce(sum(g.output_tokens), 0) AS output_tokens,
           coalesce(sum(g.cache_read_tokens), 0) AS cache_read_tokens,
           coalesce(sum(g.cache_write_tokens), 0) AS cache_write_tokens,
           sum(g.duration_sum) / nullif(sum(g.ended), 0) AS average_duration,
           round(sum(g.cost) / nullif(sum(g.sessions), 0), 6) AS average_cost,
           coalesce(sum(g.unpriced), 0) AS unpriced
    FROM (SELECT s.user_id, count(*) AS sessions, sum(s.cost) AS cost,
                 sum(s.input_tokens) AS input_tokens, sum(s.output_tokens) AS output_tokens,
                 sum(s.cache_read_tokens) AS cache_read_tokens, sum(s.cache_write_tokens) AS cache_write_tokens,
                 sum(date_part('epoch', s.ended_at - s.started_at)) AS duration_sum, count(s.ended_at) AS ended,
                 count(*) FILTER (WHERE s.unpriced) AS unpriced
          FROM ai_sessions s WHERE {where}
          GROUP BY s.user_id) AS g
"""


async def summary(conn: AsyncConnection, spec: SessionSpec) -> Row[Any]:
    return (await _rows(conn, SUMMARY, spec))[0]


BY_AGENT = """
    SELECT g.agent,
           sum(g.sessions) AS sessions,
           count(*) AS users,
           sum(g.cost) AS total_cost,
           round(sum(g.cost) / sum(g.sessions), 6) AS average_cost,
           sum(g.duration_sum) / nullif(sum(g.ended), 0) AS average_duration,
           sum(g.tokens) AS tokens
    FROM (SELECT s.agent, s.user_id, count(*) AS sessions, sum(s.cost) AS cost,
                 sum(s.input_tokens + s.output_tokens) AS tokens,
                 sum(date_part('epoch', s.ended_at - s.started_at)) AS duration_sum, count(s.ended_at) AS ended
          FROM ai_sessions s WHERE {where}
          GROUP BY s.agent, s.user_id) AS g
    GROUP BY g.agent
    ORDER BY sessions DESC, g.agent
"""


async def by_agent(conn: AsyncConnection, spec: SessionSpec) -> Sequence[Row[Any]]:
    return await _rows(conn, BY_AGENT, spec)


_SLICES_BY_MODEL = """
    SELECT u.model AS key, u.model AS label, sum(u.cost) AS cost, count(*) AS sessions,
           sum(u.input_tokens + u.output_tokens) AS tokens
    FROM ai_session_usage u
    WHERE u.organization_id = :org AND u.started_at >= :start AND u.started_at < :end
    GROUP BY u.model
"""
_SLICES_BY_MODEL_FILTERED = """
    SELECT u.model AS key, u.model AS label, sum(u.cost) AS cost, count(*) AS sessions,
           sum(u.input_tokens + u.output_tokens) AS tokens
    FROM ai_session_usage u
    JOIN ai_sessions s ON s.organization_id = u.organization_id AND s.id = u.session_id
    WHERE u.organization_id = :org AND u.started_at >= :start AND u.started_at < :end AND {where}
    GROUP BY u.model
"""
_SLICES_BY_PROJECT = """
    SELECT coalesce(CAST(g.project_id AS text), '') AS key,
           CASE WHEN g.project_id IS NULL THEN '(none)' ELSE coalesce(p.name, CAST(g.project_id AS text)) END
               AS label,
           g.cost, g.sessions, g.tokens
    FROM (SELECT s.project_id, sum(s.cost) AS cost, count(*) AS sessions,
                 sum(s.input_tokens + s.output_tokens) AS tokens
          FROM ai_sessions s WHERE {where} GROUP BY s.project_id) AS g
    LEFT JOIN projects p ON p.organization_id = :org AND p.id = g.project_id
"""
_SLICES_BY_USER = """
    SELECT CAST(g.user_id AS text) AS key, coalesce(u.username, CAST(g.user_id AS text)) AS label,
           g.cost, g.sessions, g.tokens
    FROM (SELECT s.user_id, sum(s.cost) AS cost, count(*) AS sessions,
                 sum(s.input_tokens + s.output_tokens) AS tokens
          FROM ai_sessions s WHERE {where} GROUP BY s.user_id) AS g
    LEFT JOIN users u ON u.id = g.user_id
"""
SLICES = {"MODEL": _SLICES_BY_MODEL, "PROJECT": _SLICES_BY_PROJECT, "USER": _SLICES_BY_USER}

_BREAKDOWN = """
    WITH slices AS ({slices})
    SELECT key, label, cost, sessions, tokens,
           CASE WHEN sum(cost) OVER () = 0 THEN 0
                ELSE CAST(cost / sum(cost) OVER () AS float8) END AS share
    FROM slices
    ORDER BY cost DESC, key
"""


async def cost_breakdown(conn: AsyncConnection, spec: SessionSpec, dimension: str) -> Sequence[Row[Any]]:
    """`dimension` is MODEL, PROJECT or USER. Model slices come from the usage lines, so a session that
    used two models counts in both slices; the lines carry their session's start, so without other
    predicates they are read alone from their own time index."""
    slices = SLICES[dimension]
    if dimension == "MODEL" and spec.narrowed:
        slices = _SLICES_BY_MODEL_FILTERED
    return await _rows(conn, _BREAKDOWN.replace("{slices}", slices), spec)


USERS = """
    WITH g AS (
        SELECT f.user_id, f.agent, count(*) AS sessions, sum(f.cost) AS cost, sum(f.tokens) AS tokens,
               sum(f.duration) AS duration_sum, count(f.duration) AS ended,
               count(*) FILTER (WHERE f.bucket = 0) AS h0, count(*) FILTER (WHERE f.bucket = 1) AS h1,
               count(*) FILTER (WHERE f.bucket = 2) AS h2, count(*) FILTER (WHERE f.bucket = 3) AS h3,
               count(*) FILTER (WHERE f.bucket = 4) AS h4, count(*) FILTER (WHERE f.bucket = 5) AS h5,
               count(*) FILTER (WHERE f.bucket = 6) AS h6
        FROM (
            SELECT s.user_id, s.agent, s.cost, s.input_tokens + s.output_tokens AS tokens,
                   date_part('epoch', s.ended_at - s.started_at) AS duration,
                   CASE WHEN s.ended_at - s.started_at <= interval '60 seconds' THEN 0
                        WHEN s.ended_at - s.started_at <= interval '300 seconds' THEN 1
                        WHEN s.ended_at - s.started_at <= interval '900 seconds' THEN 2
                        WHEN s.ended_at - s.started_at <= interval '1800 seconds' THEN 3
                        WHEN s.ended_at - s.started_at <= interval '3600 seconds' THEN 4
                        WHEN s.ended_at - s.started_at <= interval '7200 seconds' THEN 5
                        WHEN s.ended_at IS NOT NULL THEN 6 END AS bucket
            FROM ai_sessions s WHERE {where}
            OFFSET 0
        ) AS f
        GROUP BY f.user_id, f.agent
    )
    SELECT user_id,
           sum(sessions) AS sessions,
           sum(cost) AS cost,
           sum(tokens) AS tokens,
           sum(duration_sum) / nullif(sum(ended), 0) AS average_duration,
           array_agg(agent ORDER BY sessions DESC, agent) AS agents,
           array_agg(sessions ORDER BY sessions DESC, agent) AS agent_sessions,
           CAST(ARRAY[sum(h0), sum(h1), sum(h2), sum(h3), sum(h4), sum(h5), sum(h6)] AS bigint[]) AS histogram
    FROM g
    GROUP BY user_id
    ORDER BY cost DESC, user_id
"""


async def users(conn: AsyncConnection, spec: SessionSpec) -> Sequence[Row[Any]]:
    """One row per user with sessions: totals, agents by sessions desc then name, and the duration
    histogram of ended sessions (counts per bound of HISTOGRAM_BOUNDS, then the unbounded rest).
    OFFSET 0 keeps the inner select from being merged into the aggregate, so each session's duration
    is classified once instead of once per histogram column."""
    await _roomy(conn)
    return await _rows(conn, USERS, spec)


TIMESERIES = """
    WITH
    bounds AS (
        SELECT date_trunc(:unit, CAST(:start AS timestamptz) AT TIME ZONE :tz) AS first_local,
               date_trunc(:unit, (CAST(:end AS timestamptz) - interval '1 microsecond') AT TIME ZONE :tz)
                   AS last_local
    ),
    buckets AS (
        SELECT k, first_local + k * make_interval(days => :days) AS local_start
        FROM bounds,
             generate_series(0, (CAST(last_local AS date) - CAST(first_local AS date)) / :days) AS k
    ),
    agg AS (
        SELECT date_trunc(:unit, s.started_at AT TIME ZONE :tz) AS local_start, count(*) AS sessions,
               sum(s.cost) AS cost, sum(s.input_tokens + s.output_tokens) AS tokens
        FROM ai_sessions s WHERE {where}
        GROUP BY 1
    )
    SELECT greatest(b.local_start AT TIME ZONE :tz, CAST(:start AS timestamptz)) AS bucket_start,
           least((b.local_start + make_interval(days => :days)) AT TIME ZONE :tz, CAST(:end AS timestamptz))
               AS bucket_end,
           coalesce(a.sessions, 0) AS sessions, coalesce(a.cost, 0) AS cost, coalesce(a.tokens, 0) AS tokens
    FROM buckets b LEFT JOIN agg a ON a.local_start = b.local_start
    ORDER BY b.k
"""

USER_TIMESERIES = """
    WITH
    bounds AS (
        SELECT date_trunc(:unit, CAST(:start AS timestamptz) AT TIME ZONE :tz) AS first_local,
               date_trunc(:unit, (CAST(:end AS timestamptz) - interval '1 microsecond') AT TIME ZONE :tz)
                   AS last_local
    ),
    buckets AS (
        SELECT k, first_local + k * make_interval(days => :days) AS local_start
        FROM bounds,
             generate_series(0, (CAST(last_local AS date) - CAST(first_local AS date)) / :days) AS k
    ),
    agg AS (
        SELECT s.user_id, date_trunc(:unit, s.started_at AT TIME ZONE :tz) AS local_start, count(*) AS sessions,
               sum(s.cost) AS cost, sum(s.input_tokens + s.output_tokens) AS tokens
        FROM ai_sessions s WHERE {where}
        GROUP BY 1, 2
    )
    SELECT u.user_id,
           greatest(b.local_start AT TIME ZONE :tz, CAST(:start AS timestamptz)) AS bucket_start,
           least((b.local_start + make_interval(days => :days)) AT TIME ZONE :tz, CAST(:end AS timestamptz))
               AS bucket_end,
           coalesce(a.sessions, 0) AS sessions, coalesce(a.cost, 0) AS cost, coalesce(a.tokens, 0) AS tokens
    FROM (SELECT DISTINCT user_id FROM agg) AS u
    CROSS JOIN buckets b
    LEFT JOIN agg a ON a.user_id = u.user_id AND a.local_start = b.local_start
    ORDER BY u.user_id, b.k
"""


async def timeseries(conn: AsyncConnection, spec: SessionSpec, buckets: Buckets) -> Sequence[Row[Any]]:
    """Every local bucket from the one holding `start` to the one holding the last instant before `end`,
    empty ones included; the first and last are cut at the range so each point says what it covers."""
    return await _rows(conn, TIMESERIES, spec, unit=buckets.unit, days=buckets.days, tz=buckets.timezone)


async def user_timeseries(conn: AsyncConnection, spec: SessionSpec, buckets: Buckets) -> Sequence[Row[Any]]:
    """The same buckets for every user with sessions in the spec, in one statement, by user then bucket."""
    await _roomy(conn)
    return await _rows(
        conn,
        USER_TIMESERIES,
        spec,
        unit=buckets.unit,
        days=buckets.days,
        tz=buckets.timezone,
    )


PAGE = """
    SELECT s.id, s.user_id, s.project_id, p.name AS project_name, s.repository, s.agent, s.started_at,
           s.ended_at, date_part('epoch', s.ended_at - s.started_at) AS duration, s.cost,
           s.input_tokens + s.output_tokens AS tokens
    FROM ai_sessions s
    LEFT JOIN projects p ON p.organization_id = s.organization_id AND p.id = s.project_id
    WHERE {where} {after}
    ORDER BY s.started_at DESC, s.id DESC
    LIMIT :limit
"""
_AFTER = "AND (s.started_at, s.id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))"
COUNT = "SELECT count(*) AS total FROM ai_sessions s WHERE {where}"
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
        return await _rows(conn, PAGE.replace("{after}", ""), spec, limit=limit)
    return await _rows(
        conn, PAGE.replace("{after}", _AFTER), spec, limit=limit, after_at=after[0], after_id=after[1]
    )


async def count(conn: AsyncConnection, spec: SessionSpec) -> int:
    return int((await _rows(conn, COUNT, spec))[0].total)


async def models(
    conn: AsyncConnection, organization_id: uuid.UUID, ids: list[uuid.UUID]
) -> Sequence[Row[Any]]:
    """Usage lines of a page of sessions in one statement."""
    return (await conn.execute(text(MODELS), {"org": organization_id, "ids": ids})).all()
