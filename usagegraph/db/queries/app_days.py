"""Per UTC day rows of Template Insights, so that a range's whole days are a few hundred rows instead of
every (user, hour, app) minute cell and every session:

- insights_template_days: per organization, template and UTC day, the users active in the template that
  day (LOGINs are not template activity) and each one's distinct active minutes, as two aligned arrays.
  Minutes of one user in disjoint days add up; a user active in two templates at the same minute is not
  counted twice by the organization-wide totals, which come from activity_day_vectors instead.
- insights_app_days: per organization, UTC day, template and app slug, the sum over users of each user's
  distinct minutes in the app that day (whatever the workspace or category) and the bit string of those
  users (bit i = the user numbered i in activity_user_bits; strings written at different times may differ
  in length, missing bits are 0). Rows with the nil template (ALL_TEMPLATES) unite every template of the
  organization: a user's minute in two templates counts once there.
- insights_app_session_days: per organization, UTC day, template, app and category, the sessions (LOGINs
  aside) that start that day. Sessions belong to one template, so any selection of templates adds up.

The rows are derived from activity_minutes and activity_sessions, a whole (organization, day) at a time.
Ingest does not recompute them: it only records the days it touched in insights_dirty_days (one row per
batch and day, in its own transaction), and readers take a day from these rows only if no such mark is
visible to them; a marked day is read from the minute rollup and the sessions like the range's partial
days, so answers are exact at every moment. The server recomputes marked days in the background
(`refresh`): under a lock on the organization, one statement recomputes the marked days and deletes the
marks it saw, so a mark committed after that statement's snapshot stays for the next round. Activity only
grows (sessions are added or end later; a session's app, category and start never change), so a recompute
never has to remove a row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries.compose import splice, sql
from usagegraph.db.queries.user_days import LAST_AT, lock_organizations

ALL_TEMPLATES = uuid.UUID(int=0)
"""The template key of the rows that unite every template of the organization."""

_DAY = "a.hour >= CAST(d.day AS timestamp) AT TIME ZONE 'UTC' AND a.hour < CAST(d.day + 1 AS timestamp) AT TIME ZONE 'UTC'"

# insights_template_days rows of the (organization_id, day) pairs of `$DAYS`: each user's minutes per
# hour united across the template's workspaces, apps and categories, counted and summed per user.
TEMPLATE_ROWS = splice(
    """
SELECT d.organization_id, u.template_id, d.day, array_agg(u.user_id ORDER BY u.user_id) AS user_ids,
       array_agg(u.minutes ORDER BY u.user_id) AS minutes
FROM $DAYS d
CROSS JOIN LATERAL (
    SELECT h.template_id, h.user_id, CAST(sum(bit_count(CAST(h.bits AS bit(64)))) AS int) AS minutes
    FROM (
        SELECT a.template_id, a.user_id, a.hour, bit_or(a.minutes) AS bits
        FROM activity_minutes a
        WHERE a.organization_id = d.organization_id AND $DAY
          AND a.category <> 'LOGIN' AND a.template_id IS NOT NULL
        GROUP BY a.template_id, a.user_id, a.hour
    ) h
    GROUP BY h.template_id, h.user_id
    HAVING sum(bit_count(CAST(h.bits AS bit(64)))) > 0
) u
GROUP BY d.organization_id, u.template_id, d.day
""",
    DAY=_DAY,
)

# insights_app_days rows of the (organization_id, day) pairs of `$DAYS`: each user's minutes per hour and
# app united across workspaces and categories, per template and across templates, counted, summed per
# user, then per app.
APP_ROWS = splice(
    """
SELECT d.organization_id, d.day, c.template_id, c.app, CAST(sum(c.minutes) AS bigint) AS minutes,
       bit_or(set_bit(z.zeros, b.idx, 1)) AS users
FROM $DAYS d
CROSS JOIN LATERAL (
    SELECT coalesce(h.template_id, CAST('$ALL_TEMPLATES' AS uuid)) AS template_id, h.app, h.user_id,
           sum(bit_count(CAST(h.bits AS bit(64)))) AS minutes
    FROM (
        SELECT a.template_id, a.app, a.user_id, a.hour, bit_or(a.minutes) AS bits
        FROM activity_minutes a
        WHERE a.organization_id = d.organization_id AND $DAY
          AND a.category <> 'LOGIN' AND a.app <> '' AND a.template_id IS NOT NULL
        GROUP BY GROUPING SETS ((a.template_id, a.app, a.user_id, a.hour), (a.app, a.user_id, a.hour))
    ) h
    GROUP BY 1, 2, 3
) c
JOIN activity_user_bits b ON b.organization_id = d.organization_id AND b.user_id = c.user_id
JOIN (
    SELECT organization_id, CAST(repeat('0', 1024 * ((max(idx) + 1024) / 1024)) AS bit varying) AS zeros
    FROM activity_user_bits GROUP BY organization_id
) z ON z.organization_id = d.organization_id
WHERE c.minutes > 0
GROUP BY d.organization_id, d.day, c.template_id, c.app
""",
    DAY=_DAY,
    ALL_TEMPLATES=str(ALL_TEMPLATES),
)

# insights_app_session_days rows of the (organization_id, day) pairs of `$DAYS`, by the sessions' start.
SESSION_ROWS = """
SELECT d.organization_id, d.day, s.template_id, s.app, s.category, count(*) AS sessions
FROM $DAYS d
JOIN activity_sessions s
  ON s.organization_id = d.organization_id
 AND s.started_at >= CAST(d.day AS timestamp) AT TIME ZONE 'UTC'
 AND s.started_at < CAST(d.day + 1 AS timestamp) AT TIME ZONE 'UTC'
WHERE s.category <> 'LOGIN' AND s.app IS NOT NULL AND s.app <> '' AND s.template_id IS NOT NULL
GROUP BY d.organization_id, d.day, s.template_id, s.app, s.category
"""

# Every day with template activity, for the backfills.
_ALL_DAYS = """(
    SELECT o.id AS organization_id, CAST(h.hour AT TIME ZONE 'UTC' AS date) AS day
    FROM organizations o
    CROSS JOIN LATERAL (
        SELECT DISTINCT date_trunc('day', a.hour, 'UTC') AS hour FROM activity_minutes a
        WHERE a.organization_id = o.id AND a.category <> 'LOGIN' AND a.template_id IS NOT NULL
    ) h
)"""

TEMPLATE_COLUMNS = "organization_id, template_id, day, user_ids, minutes"
APP_COLUMNS = "organization_id, day, template_id, app, minutes, users"
SESSION_COLUMNS = "organization_id, day, template_id, app, category, sessions"

_ROW_PARTS = {
    "TEMPLATE_ROWS": TEMPLATE_ROWS,
    "APP_ROWS": APP_ROWS,
    "SESSION_ROWS": SESSION_ROWS,
    "TEMPLATE_COLUMNS": TEMPLATE_COLUMNS,
    "APP_COLUMNS": APP_COLUMNS,
    "SESSION_COLUMNS": SESSION_COLUMNS,
}

BACKFILLS = [
    splice(
        "INSERT INTO insights_template_days ($TEMPLATE_COLUMNS) $TEMPLATE_ROWS ORDER BY 1, 2, 3",
        **_ROW_PARTS,
        DAYS=_ALL_DAYS,
    ),
    splice(
        "INSERT INTO insights_app_days ($APP_COLUMNS) $APP_ROWS ORDER BY 1, 2, 3, 4",
        **_ROW_PARTS,
        DAYS=_ALL_DAYS,
    ),
    splice(
        "INSERT INTO insights_app_session_days ($SESSION_COLUMNS) $SESSION_ROWS ORDER BY 1, 2, 3, 4, 5",
        **_ROW_PARTS,
        DAYS=_ALL_DAYS,
    ),
]
"""Every row of the three tables from the stored minutes and sessions."""

_MARK = sql(
    """
    INSERT INTO insights_dirty_days (organization_id, day)
    SELECT DISTINCT b.organization_id, CAST(d AS date)
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]),
                CAST(:categories AS text[])) AS b(organization_id, started_at, ended_at, category)
    CROSS JOIN LATERAL generate_series(date_trunc('day', b.started_at AT TIME ZONE 'UTC'),
                                       date_trunc('day', ($LAST_AT) AT TIME ZONE 'UTC'),
                                       interval '1 day') AS d
    ORDER BY 1, 2
    """,
    LAST_AT=LAST_AT,
)


async def mark(conn: AsyncConnection, sessions: Sequence[Sequence[Any]]) -> None:
    """Record the days of these stored sessions (organization_id, id, user_id, workspace_id, template_id,
    category, app, started_at, ended_at) as needing a recompute, in the transaction that wrote them."""
    used = [row for row in sessions if row[5] != "LOGIN" and row[4] is not None]
    if not used:
        return
    await conn.execute(
        _MARK,
        {
            "orgs": [row[0] for row in used],
            "starts": [row[7] for row in used],
            "ends": [row[8] for row in used],
            "categories": [row[5] for row in used],
        },
    )


_REFRESH = sql(
    """
    WITH marked AS MATERIALIZED (
        SELECT DISTINCT organization_id, day FROM insights_dirty_days
        WHERE organization_id = :org ORDER BY day LIMIT :limit
    ), merged_templates AS (
        INSERT INTO insights_template_days AS q ($TEMPLATE_COLUMNS)
        $TEMPLATE_ROWS
        ORDER BY 1, 2, 3
        ON CONFLICT (organization_id, template_id, day) DO UPDATE
        SET user_ids = excluded.user_ids, minutes = excluded.minutes
        WHERE (q.user_ids, q.minutes) IS DISTINCT FROM (excluded.user_ids, excluded.minutes)
    ), merged_sessions AS (
        INSERT INTO insights_app_session_days AS q ($SESSION_COLUMNS)
        $SESSION_ROWS
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (organization_id, day, template_id, app, category) DO UPDATE SET sessions = excluded.sessions
        WHERE q.sessions <> excluded.sessions
    ), merged_apps AS (
        INSERT INTO insights_app_days AS q ($APP_COLUMNS)
        $APP_ROWS
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (organization_id, day, template_id, app) DO UPDATE
        SET minutes = excluded.minutes, users = excluded.users
        WHERE (q.minutes, q.users) IS DISTINCT FROM (excluded.minutes, excluded.users)
    ), cleared AS (
        DELETE FROM insights_dirty_days d USING marked m
        WHERE d.organization_id = m.organization_id AND d.day = m.day
    )
    SELECT count(*) AS days FROM marked
    """,
    **_ROW_PARTS,
    DAYS="marked",
)
_MARKED = text("SELECT DISTINCT organization_id FROM insights_dirty_days")


async def refresh(conn: AsyncConnection, organization_id: uuid.UUID, limit: int = 64) -> int:
    """Recompute up to `limit` marked days of the organization and clear their marks (in the caller's
    transaction, under the organization's lock, so that two servers never recompute it at once); returns
    how many days were recomputed."""
    await lock_organizations(conn, "insights_days", [organization_id])
    return int((await conn.execute(_REFRESH, {"org": organization_id, "limit": limit})).scalar_one())


async def marked_organizations(conn: AsyncConnection) -> list[uuid.UUID]:
    return list((await conn.execute(_MARKED)).scalars())


def bit_users(strings: Sequence[Any], users_by_number: Any) -> set[uuid.UUID]:
    """The users named by any of these bit strings (insights_app_days.users: bit i = the user numbered i;
    the strings may differ in length, PostgreSQL pads each with zero bits to a whole byte), ORed in numpy
    in one pass; `users_by_number` maps a number to its user."""
    width = max(len(bits.bytes) for bits in strings)
    joined = b"".join(bits.bytes.ljust(width, b"\0") for bits in strings)
    union = np.unpackbits(np.frombuffer(joined, dtype=np.uint8).reshape(len(strings), width), axis=1).any(
        axis=0
    )
    return {users_by_number[idx] for idx in np.flatnonzero(union).tolist()}
