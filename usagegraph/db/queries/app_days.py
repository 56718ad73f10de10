"""insights_app_days: per organization, UTC day and app slug, the app usage of every template of the
organization together, for Template Insights over all of an organization's templates.

- `minutes`: the sum over users of each user's distinct active minutes in the app that day, whatever the
  workspace, template or category (LOGINs are not app usage). A user's minutes in disjoint days add up,
  so a range's figure is the sum of its days.
- `users`: the users with any minute in the app that day, as a bit string (bit i = the user numbered i in
  activity_user_bits; strings written at different times may differ in length, missing bits are 0).

insights_app_session_days keeps per organization, UTC day, app and category the sessions (LOGINs aside)
that start that day: appUsage's timesUsed counts the sessions overlapping the range, which are those that
start in it and those open at its start.

The rows are derived from activity_minutes and activity_sessions and recomputed, a whole (organization,
day) at a time, for the days an ingest touches, after its minute rows are merged. A session's app,
category and start never change. Activity only grows (sessions are added or end
later), so a recompute never has to remove an app. Concurrent ingests of one organization recompute in
turn under the organization's lock on activity_user_days, which the same transaction already holds
(usagegraph.db.queries.user_days), and each recompute reads the committed minutes of the others."""

# ruff: noqa: S608  (SQL composed only from this module's constants)
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries.user_days import LAST_AT

# The rows of the (organization_id, day) pairs of `{days}`: each user's minutes per hour and app united
# across workspaces, templates and categories, counted, summed per user, then per app.
ROWS = """
SELECT d.organization_id, d.day, c.app, CAST(sum(c.minutes) AS bigint) AS minutes,
       bit_or(set_bit(z.zeros, b.idx, 1)) AS users
FROM {days} d
CROSS JOIN LATERAL (
    SELECT h.app, h.user_id, sum(bit_count(CAST(h.bits AS bit(64)))) AS minutes
    FROM (
        SELECT a.app, a.user_id, a.hour, bit_or(a.minutes) AS bits
        FROM activity_minutes a
        WHERE a.organization_id = d.organization_id
          AND a.hour >= CAST(d.day AS timestamp) AT TIME ZONE 'UTC'
          AND a.hour < CAST(d.day + 1 AS timestamp) AT TIME ZONE 'UTC'
          AND a.category <> 'LOGIN' AND a.app <> '' AND a.template_id IS NOT NULL
        GROUP BY a.app, a.user_id, a.hour
    ) h
    GROUP BY h.app, h.user_id
) c
JOIN activity_user_bits b ON b.organization_id = d.organization_id AND b.user_id = c.user_id
JOIN (
    SELECT organization_id, CAST(repeat('0', 1024 * ((max(idx) + 1024) / 1024)) AS bit varying) AS zeros
    FROM activity_user_bits GROUP BY organization_id
) z ON z.organization_id = d.organization_id
WHERE c.minutes > 0
GROUP BY d.organization_id, d.day, c.app
"""

# Sessions per app and category of the (organization_id, day) pairs of `{days}`, by their start.
SESSION_ROWS = """
SELECT d.organization_id, d.day, s.app, s.category, count(*) AS sessions
FROM {days} d
JOIN activity_sessions s
  ON s.organization_id = d.organization_id
 AND s.started_at >= CAST(d.day AS timestamp) AT TIME ZONE 'UTC'
 AND s.started_at < CAST(d.day + 1 AS timestamp) AT TIME ZONE 'UTC'
WHERE s.category <> 'LOGIN' AND s.app IS NOT NULL AND s.app <> '' AND s.template_id IS NOT NULL
GROUP BY d.organization_id, d.day, s.app, s.category
"""

SESSIONS_BACKFILL = """
INSERT INTO insights_app_session_days (organization_id, day, app, category, sessions)
SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date), app, category, count(*)
FROM activity_sessions
WHERE category <> 'LOGIN' AND app IS NOT NULL AND app <> '' AND template_id IS NOT NULL
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
"""

# Every day with app minutes, for a backfill.
BACKFILL = f"""
INSERT INTO insights_app_days (organization_id, day, app, minutes, users)
{
    ROWS.format(
        days='''(
    SELECT o.id AS organization_id, CAST(h.hour AT TIME ZONE 'UTC' AS date) AS day
    FROM organizations o
    CROSS JOIN LATERAL (
        SELECT DISTINCT date_trunc('day', a.hour, 'UTC') AS hour FROM activity_minutes a
        WHERE a.organization_id = o.id AND a.category <> 'LOGIN' AND a.app <> ''
    ) h
)'''
    )
}
ORDER BY 1, 2, 3
"""

_TOUCHED = f"""
    WITH touched AS (
        SELECT DISTINCT b.organization_id, CAST(d AS date) AS day
        FROM unnest(CAST(:orgs AS uuid[]), CAST(:categories AS text[]), CAST(:apps AS text[]),
                    CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]))
            AS b(organization_id, category, app, started_at, ended_at)
        CROSS JOIN LATERAL generate_series(date_trunc('day', b.started_at AT TIME ZONE 'UTC'),
                                           date_trunc('day', ({LAST_AT}) AT TIME ZONE 'UTC'),
                                           interval '1 day') AS d
        WHERE b.category <> 'LOGIN' AND coalesce(b.app, '') <> ''
    )
"""
_RECOMPUTE = text(
    f"""
    {_TOUCHED}, merged_sessions AS (
        INSERT INTO insights_app_session_days AS q (organization_id, day, app, category, sessions)
        {SESSION_ROWS.format(days="touched")}
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (organization_id, day, app, category) DO UPDATE SET sessions = excluded.sessions
        WHERE q.sessions <> excluded.sessions
    )
    INSERT INTO insights_app_days AS q (organization_id, day, app, minutes, users)
    {ROWS.format(days="touched")}
    ORDER BY 1, 2, 3
    ON CONFLICT (organization_id, day, app) DO UPDATE SET minutes = excluded.minutes, users = excluded.users
    WHERE (q.minutes, q.users) IS DISTINCT FROM (excluded.minutes, excluded.users)
    """
)


async def recompute(conn: AsyncConnection, sessions: Sequence[Sequence[Any]]) -> None:
    """Recompute the app days of these stored sessions (organization_id, id, user_id, workspace_id,
    template_id, category, app, started_at, ended_at), after their minutes were merged, with the
    organizations' activity_user_days lock held."""
    used = [row for row in sessions if row[5] != "LOGIN" and row[6]]
    if not used:
        return
    await conn.execute(
        _RECOMPUTE,
        {
            "orgs": [row[0] for row in used],
            "categories": [row[5] for row in used],
            "apps": [row[6] for row in used],
            "starts": [row[7] for row in used],
            "ends": [row[8] for row in used],
        },
    )


@dataclass(frozen=True)
class AppDays:
    """Apps over some whole days: per slug, the summed minutes and the users (numbers of
    activity_user_bits) with any minute."""

    minutes: dict[str, int]
    users: dict[str, np.ndarray[Any, np.dtype[np.intp]]]


_READ = (
    "SELECT app, sum(minutes) AS minutes, array_agg(users) AS users FROM insights_app_days "
    "WHERE organization_id = $1 AND day = ANY($2::date[]) GROUP BY app"
)


async def read(conn: AsyncConnection, organization_id: uuid.UUID, days: Sequence[date]) -> AppDays:
    """The days' rows summed per app; each app's bit strings OR-ed (padded to the longest) in numpy."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    minutes: dict[str, int] = {}
    users: dict[str, np.ndarray[Any, np.dtype[np.intp]]] = {}
    for row in await driver.fetch(_READ, organization_id, list(days)):
        width = max(len(bits) for bits in row["users"])
        union = np.zeros(width, dtype=bool)
        for bits in row["users"]:
            union[: len(bits)] |= np.unpackbits(np.frombuffer(bits.bytes, dtype=np.uint8))[
                : len(bits)
            ].astype(bool)
        minutes[row["app"]] = int(row["minutes"])
        users[row["app"]] = np.flatnonzero(union)
    return AppDays(minutes, users)


_READ_SESSIONS = (
    "SELECT app, category, sum(sessions) AS sessions FROM insights_app_session_days "
    "WHERE organization_id = $1 AND day = ANY($2::date[]) GROUP BY app, category"
)


async def read_sessions(
    conn: AsyncConnection, organization_id: uuid.UUID, days: Sequence[date]
) -> dict[tuple[str, str], int]:
    """Sessions starting in the given whole days, per (app, category)."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    rows = await driver.fetch(_READ_SESSIONS, organization_id, list(days))
    return {(row["app"], row["category"]): int(row["sessions"]) for row in rows}
