"""Maintenance of the activity minute rollup (activity_minutes).

A session's active minutes run from floor_minute(started_at) through
floor_minute(max(ended_at - 1 microsecond, started_at)) (API.md 5.1). They are written as one row per
UTC hour with a bigint mask, bit k = minute k, merged with bit_or so that re-sending or extending a
session is idempotent. A LOGIN sets the bit of its instant.

activity_quarter_users keeps, per organization, category (and '*' for every category) and UTC
quarter-hour, a bit string of the users active in it (bit i = the user numbered i in
activity_user_bits), also merged with OR. A user seen for the first time is numbered under a transaction-scoped advisory lock on the organization, so that concurrent
ingests never give two users the same bit; known users take no lock.

activity_session_spans keeps the longest span (last minute - first minute) of the organization's
sessions, so that "sessions overlapping a range" is a bounded range scan on started_at; it is written
(and its row locked) only when a longer session arrives. Quarter rows are merged in key order so that
concurrent ingests lock them in the same order."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

NIL = uuid.UUID(int=0)

_MERGE = text(
    """
    WITH s AS (
        SELECT organization_id, user_id, coalesce(workspace_id, CAST(:nil AS uuid)) AS workspace_id,
               category, coalesce(app, '') AS app, template_id,
               date_trunc('minute', started_at) AS first_minute,
               date_trunc('minute', CASE WHEN category = 'LOGIN' OR ended_at IS NULL THEN started_at
                                         ELSE greatest(ended_at - interval '1 microsecond', started_at) END)
                   AS last_minute
        FROM activity_sessions
        WHERE (organization_id, id) IN (
            SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[]))
        )
    ), hours AS (
        SELECT s.*, h.hour,
               CASE WHEN h.hour = date_trunc('hour', s.first_minute)
                    THEN extract(minute FROM s.first_minute)::int ELSE 0 END AS lo,
               CASE WHEN h.hour = date_trunc('hour', s.last_minute)
                    THEN extract(minute FROM s.last_minute)::int ELSE 59 END AS hi
        FROM s
        CROSS JOIN LATERAL generate_series(date_trunc('hour', s.first_minute), date_trunc('hour', s.last_minute),
                                           interval '1 hour') AS h(hour)
    )
    INSERT INTO activity_minutes AS a
        (organization_id, hour, user_id, workspace_id, category, app, template_id, minutes)
    SELECT organization_id, hour, user_id, workspace_id, category, app, max(template_id::text)::uuid,
           bit_or(((CAST(1 AS bigint) << (hi + 1)) - 1) # ((CAST(1 AS bigint) << lo) - 1))
    FROM hours
    GROUP BY organization_id, hour, user_id, workspace_id, category, app
    ON CONFLICT (organization_id, hour, user_id, workspace_id, category, app)
    DO UPDATE SET minutes = a.minutes | excluded.minutes
    """
)


_SPANS = text(
    """
    INSERT INTO activity_session_spans AS a (organization_id, max_minutes)
    SELECT organization_id,
           max(extract(epoch FROM date_trunc('minute', greatest(ended_at - interval '1 microsecond', started_at))
               - date_trunc('minute', started_at))::integer / 60)
    FROM activity_sessions
    WHERE (organization_id, id) IN (SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])))
      AND category <> 'LOGIN' AND ended_at IS NOT NULL
    GROUP BY organization_id
    HAVING max(extract(epoch FROM date_trunc('minute', greatest(ended_at - interval '1 microsecond', started_at))
               - date_trunc('minute', started_at))::integer / 60)
           > coalesce((SELECT sp.max_minutes FROM activity_session_spans sp
                       WHERE sp.organization_id = activity_sessions.organization_id), -1)
    ON CONFLICT (organization_id) DO UPDATE SET max_minutes = excluded.max_minutes
    WHERE excluded.max_minutes > a.max_minutes
    """
)


_LOCK_NUMBERING = text(
    """
    SELECT pg_advisory_xact_lock(hashtextextended('activity_user_bits:' || o::text, 0))
    FROM (SELECT DISTINCT o FROM unnest(CAST(:orgs AS uuid[])) AS o ORDER BY o) orgs
    """
)

_UNNUMBERED = """
    SELECT DISTINCT s.organization_id, s.user_id FROM activity_sessions s
    WHERE (s.organization_id, s.id) IN (SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])))
      AND NOT EXISTS (
          SELECT 1 FROM activity_user_bits b WHERE b.organization_id = s.organization_id AND b.user_id = s.user_id
      )
"""

_ANY_UNNUMBERED = text(f"SELECT EXISTS ({_UNNUMBERED})")  # noqa: S608  (constant fragment)

_NUMBER_USERS = text(
    f"""
    INSERT INTO activity_user_bits (organization_id, user_id, idx)
    SELECT u.organization_id, u.user_id,
           (coalesce((SELECT max(b.idx) FROM activity_user_bits b WHERE b.organization_id = u.organization_id), -1)
            + row_number() OVER (PARTITION BY u.organization_id ORDER BY u.user_id))::int
    FROM ({_UNNUMBERED}) u
    """  # noqa: S608
)

_MERGE_QUARTERS = text(
    """
    WITH s AS (
        SELECT a.organization_id, a.category, b.idx,
               date_bin('15 minutes', a.started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS first_quarter,
               date_bin('15 minutes', CASE WHEN a.category = 'LOGIN' OR a.ended_at IS NULL THEN a.started_at
                                           ELSE greatest(a.ended_at - interval '1 microsecond', a.started_at) END,
                        TIMESTAMPTZ '2000-01-01 00:00:00+00') AS last_quarter
        FROM activity_sessions a
        JOIN activity_user_bits b ON b.organization_id = a.organization_id AND b.user_id = a.user_id
        WHERE (a.organization_id, a.id) IN (SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])))
    ), sized AS (
        SELECT s.*, CAST(repeat('0', 1024 * ((c.top + 1024) / 1024)) AS bit varying) AS zeros
        FROM s JOIN (
            SELECT organization_id, max(idx) AS top FROM activity_user_bits
            WHERE organization_id = ANY(CAST(:orgs AS uuid[])) GROUP BY organization_id
        ) c ON c.organization_id = s.organization_id
    )
    INSERT INTO activity_quarter_users AS q (organization_id, category, quarter, users)
    SELECT organization_id, c.category, quarter, bit_or(set_bit(zeros, idx, 1))
    FROM sized
    CROSS JOIN LATERAL (VALUES (sized.category), ('*')) AS c(category)
    CROSS JOIN LATERAL generate_series(first_quarter, last_quarter, interval '15 minutes') AS quarter
    GROUP BY organization_id, c.category, quarter
    ORDER BY organization_id, c.category, quarter
    ON CONFLICT (organization_id, category, quarter) DO UPDATE
    SET users = excluded.users
        | substring(q.users || (excluded.users # excluded.users) FROM 1 FOR length(excluded.users))
    """
)


async def merge_sessions(conn: AsyncConnection, keys: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Add the active minutes of these (organization_id, session id) sessions to the rollup."""
    if not keys:
        return
    orgs, ids = [k[0] for k in keys], [k[1] for k in keys]
    await conn.execute(_MERGE, {"nil": NIL, "orgs": orgs, "ids": ids})
    await conn.execute(_SPANS, {"orgs": orgs, "ids": ids})
    if (await conn.execute(_ANY_UNNUMBERED, {"orgs": orgs, "ids": ids})).scalar_one():
        await conn.execute(_LOCK_NUMBERING, {"orgs": orgs})
        await conn.execute(_NUMBER_USERS, {"orgs": orgs, "ids": ids})
    await conn.execute(_MERGE_QUARTERS, {"orgs": orgs, "ids": ids})
