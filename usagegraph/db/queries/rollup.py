"""Maintenance of the activity minute rollup (activity_minutes).

A session's active minutes run from floor_minute(started_at) through
floor_minute(max(ended_at - 1 microsecond, started_at)) (API.md 5.1). They are written as one row per
UTC hour with a bigint mask, bit k = minute k, merged with bit_or so that re-sending or extending a
session is idempotent. A LOGIN sets the bit of its instant."""

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


async def merge_sessions(conn: AsyncConnection, keys: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Add the active minutes of these (organization_id, session id) sessions to the rollup."""
    if not keys:
        return
    await conn.execute(
        _MERGE, {"nil": NIL, "orgs": [k[0] for k in keys], "ids": [k[1] for k in keys]}
    )
