"""Maintenance of the rollups kept from activity sessions, in the transaction that writes them.

A session's active minutes run from floor_minute(started_at) through
floor_minute(max(ended_at - 1 microsecond, started_at)) (docs/api.md 5.1). activity_minutes holds them as one
row per UTC hour with a bigint mask, bit k = minute k, merged with bit_or so that re-sending or extending
a session is idempotent. A LOGIN sets the bit of its instant.

activity_quarter_users keeps, per organization, category (and '*' for every category) and UTC
quarter-hour, a bit string of the users active in it (bit i = the user numbered i in activity_user_bits),
also merged with OR; activity_hour_users the same per UTC hour, the OR of the hour's quarters. A user seen for the first time is numbered under a
transaction-scoped advisory lock on the organization, so that concurrent ingests never give two users
the same bit; known users take no lock.

activity_session_spans keeps the longest span (last minute - first minute) of the organization's
sessions, so that "sessions overlapping a range" is a bounded range scan on started_at; it is written
(and its row locked) only when a longer session arrives.

The three rollups are written by one statement from the session columns bound as arrays, so a batch is
sent once and activity_sessions is not read again. The user numbers travel with the sessions as one more
column (looked up once per distinct user): a join against activity_user_bits inside the statement is at
the mercy of row estimates, and after the tables were emptied a stale estimate turned it into a nested
loop over every session for every user. Quarter bit strings are aggregated per category first and the
'*' rows are the OR of those; a rollup row whose bits would not change is left alone, so re-sent
sessions lock their rollup rows but write no new row versions. Rollup rows are merged in
key order so that concurrent ingests lock them in the same order.

Bit strings are sized from the numbering this statement sees; a concurrent ingest that numbered a user
past that size may have committed a longer string to the same row meanwhile, so a merge keeps the longer
of the two lengths rather than cutting the other's bits off.

activity_workspace_days keeps per workspace, user and UTC day the first and last active minute
(usagegraph.db.queries.workspace_days), merged with least / greatest by the same statement.

activity_user_days is brought up to date last (usagegraph.db.queries.user_days), under a lock on the
organization taken before any rollup row (shared by ingests that only add sessions, exclusive for one that
recomputes extended ones), and the days of Template Insights' per-day rows are marked for a background
recompute (usagegraph.db.queries.app_days) before the merge too: an ingest calls merge_rows once, with
every session it wrote, and from its first rollup row on only writes rollup rows until it commits, so
that the rows every ingest of the organization needs are held for as few round trips as possible and no
two ingests each hold what the other waits for."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import app_days, user_days, workspace_days
from usagegraph.db.queries.compose import sql

NIL = uuid.UUID(int=0)

_READ = text(
    """
    SELECT organization_id, id, user_id, workspace_id, template_id, category, app, started_at, ended_at
    FROM activity_sessions
    WHERE (organization_id, id) IN (SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])))
    """
)


_USER_BITS = text(
    """
    SELECT u.organization_id, u.user_id, b.idx
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:users AS uuid[])) AS u(organization_id, user_id)
    LEFT JOIN activity_user_bits b ON b.organization_id = u.organization_id AND b.user_id = u.user_id
    """
)

_NUMBER_USERS = text(
    """
    INSERT INTO activity_user_bits (organization_id, user_id, idx)
    SELECT u.organization_id, u.user_id,
           (coalesce((SELECT max(b.idx) FROM activity_user_bits b WHERE b.organization_id = u.organization_id), -1)
            + row_number() OVER (PARTITION BY u.organization_id ORDER BY u.user_id))::int
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:users AS uuid[])) AS u(organization_id, user_id)
    WHERE NOT EXISTS (
        SELECT 1 FROM activity_user_bits b WHERE b.organization_id = u.organization_id AND b.user_id = u.user_id
    )
    """
)

# The merge of a user bitmap into a stored one (`q`): OR, keeping the longer length (the shorter is padded
# with zeros); a row whose bits would not change is not written.
_OR_USERS = """
    SET users = CASE WHEN length(q.users) = length(excluded.users) THEN q.users | excluded.users
                     ELSE substring(excluded.users || (q.users # q.users)
                                    FROM 1 FOR greatest(length(excluded.users), length(q.users)))
                          | substring(q.users || (excluded.users # excluded.users)
                                      FROM 1 FOR greatest(length(excluded.users), length(q.users))) END
    WHERE CASE WHEN length(q.users) = length(excluded.users) THEN q.users | excluded.users <> q.users ELSE true END
"""

# activity_hour_users from activity_quarter_users, for a backfill: each quarter padded to its
# organization's bitmap length, then OR-ed per hour.
HOURS_BACKFILL = """
INSERT INTO activity_hour_users (organization_id, category, hour, users)
SELECT q.organization_id, q.category, date_bin('1 hour', q.quarter, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
       bit_or(substring(q.users || c.zeros FROM 1 FOR c.n))
FROM activity_quarter_users q
JOIN (
    SELECT organization_id, n, CAST(repeat('0', n) AS bit varying) AS zeros
    FROM (SELECT organization_id, 1024 * ((max(idx) + 1024) / 1024) AS n FROM activity_user_bits
          GROUP BY organization_id) c
) c ON c.organization_id = q.organization_id
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""

# The sessions of the batch that have a workspace, for activity_workspace_days.
_WORKSPACE_SESSIONS = "(SELECT * FROM s WHERE workspace_id <> CAST(:nil AS uuid)) s"

_MERGE = sql(
    """
    WITH s AS (
        SELECT organization_id, user_id, coalesce(workspace_id, CAST(:nil AS uuid)) AS workspace_id,
               category, coalesce(app, '') AS app, template_id, started_at,
               CASE WHEN category = 'LOGIN' OR ended_at IS NULL THEN started_at
                    ELSE greatest(ended_at - interval '1 microsecond', started_at) END AS last_at,
               idx
        FROM unnest(CAST(:orgs AS uuid[]), CAST(:users AS uuid[]), CAST(:workspaces AS uuid[]),
                    CAST(:templates AS uuid[]), CAST(:categories AS text[]), CAST(:apps AS text[]),
                    CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]), CAST(:idxs AS integer[]))
            AS s(organization_id, user_id, workspace_id, template_id, category, app, started_at, ended_at, idx)
    ), minutes AS (
        SELECT s.organization_id, h.hour, s.user_id, s.workspace_id, s.category, s.app,
               max(s.template_id::text)::uuid AS template_id,
               bit_or(((CAST(1 AS bigint) << (CASE WHEN h.hour = date_trunc('hour', s.last_at)
                                                   THEN extract(minute FROM s.last_at)::int ELSE 59 END + 1)) - 1)
                      # ((CAST(1 AS bigint) << CASE WHEN h.hour = date_trunc('hour', s.started_at)
                                                   THEN extract(minute FROM s.started_at)::int ELSE 0 END) - 1))
                   AS minutes
        FROM s
        CROSS JOIN LATERAL generate_series(date_trunc('hour', s.started_at), date_trunc('hour', s.last_at),
                                           interval '1 hour') AS h(hour)
        GROUP BY s.organization_id, h.hour, s.user_id, s.workspace_id, s.category, s.app
        ORDER BY s.organization_id, h.hour, s.user_id, s.workspace_id, s.category, s.app
    ), merged_minutes AS (
        INSERT INTO activity_minutes AS a
            (organization_id, hour, user_id, workspace_id, category, app, template_id, minutes)
        SELECT * FROM minutes
        ON CONFLICT (organization_id, hour, user_id, workspace_id, category, app)
        DO UPDATE SET minutes = a.minutes | excluded.minutes
        WHERE a.minutes | excluded.minutes <> a.minutes
    ), merged_days AS ($MERGE_DAYS
    ), spans AS (
        SELECT organization_id,
               max(extract(epoch FROM date_trunc('minute', last_at) - date_trunc('minute', started_at))::integer
                   / 60) AS max_minutes
        FROM s WHERE category <> 'LOGIN'
        GROUP BY organization_id
    ), merged_spans AS (
        INSERT INTO activity_session_spans AS a (organization_id, max_minutes)
        SELECT sp.organization_id, sp.max_minutes FROM spans sp
        WHERE sp.max_minutes > coalesce((SELECT o.max_minutes FROM activity_session_spans o
                                         WHERE o.organization_id = sp.organization_id), -1)
        ORDER BY sp.organization_id
        ON CONFLICT (organization_id) DO UPDATE SET max_minutes = excluded.max_minutes
        WHERE excluded.max_minutes > a.max_minutes
    ), capacity AS MATERIALIZED (
        SELECT organization_id, 1024 * ((max(idx) + 1024) / 1024) AS n FROM activity_user_bits
        WHERE organization_id = ANY(CAST(:org_set AS uuid[]))
        GROUP BY organization_id
    ), zeros AS MATERIALIZED (
        SELECT organization_id, CAST(repeat('0', n) AS bit varying) AS zeros FROM capacity
    ), per_category AS (
        SELECT s.organization_id, s.category, q.quarter, bit_or(set_bit(z.zeros, s.idx, 1)) AS users
        FROM s
        JOIN zeros z ON z.organization_id = s.organization_id
        CROSS JOIN LATERAL generate_series(date_bin('15 minutes', s.started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                                           date_bin('15 minutes', s.last_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                                           interval '15 minutes') AS q(quarter)
        GROUP BY s.organization_id, s.category, q.quarter
    ), quarters AS (
        SELECT * FROM per_category
        UNION ALL
        SELECT organization_id, '*', quarter, bit_or(users) FROM per_category GROUP BY organization_id, quarter
    ), merged_hours AS (
        INSERT INTO activity_hour_users AS q (organization_id, category, hour, users)
        SELECT organization_id, category, date_bin('1 hour', quarter, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
               bit_or(users)
        FROM quarters
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
        ON CONFLICT (organization_id, category, hour) DO UPDATE $OR_USERS
    )
    INSERT INTO activity_quarter_users AS q (organization_id, category, quarter, users)
    SELECT * FROM quarters
    ORDER BY organization_id, category, quarter
    ON CONFLICT (organization_id, category, quarter) DO UPDATE $OR_USERS
    """,
    MERGE_DAYS=workspace_days.MERGE,
    SOURCE=_WORKSPACE_SESSIONS,
    OR_USERS=_OR_USERS,
)


Sink = Callable[[AsyncConnection, Sequence[Sequence[Any]], Sequence[Sequence[Any]]], Awaitable[None]]
_DEFERRED: ContextVar[Sink | None] = ContextVar("rollup_deferred", default=None)


@contextmanager
def deferred(sink: Sink) -> Iterator[None]:
    """Within this block, merge_rows hands its sessions to `sink` instead of merging them: a bulk load
    (usagegraph.ingest.bulk) collects what it wrote and merges it once, in its own transaction, at the end."""
    token = _DEFERRED.set(sink)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


async def merge_rows(
    conn: AsyncConnection, added: Sequence[Sequence[Any]], extended: Sequence[Sequence[Any]] = ()
) -> None:
    """Add these sessions, given as they are stored (organization_id, id, user_id, workspace_id,
    template_id, category, app, started_at, ended_at), to the rollups: `added` ones written for the first
    time, `extended` ones whose end moved later."""
    sink = _DEFERRED.get()
    if sink is not None:
        await sink(conn, added, extended)
        return
    rows = [*added, *extended]
    if not rows:
        return
    pairs = {(row[0], row[2]) for row in rows}
    numbering = {"orgs": [p[0] for p in pairs], "users": [p[1] for p in pairs]}
    bits = {(r.organization_id, r.user_id): r.idx for r in await conn.execute(_USER_BITS, numbering)}
    if None in bits.values():
        await user_days.lock_organizations(conn, "activity_user_bits", numbering["orgs"])
        await conn.execute(_NUMBER_USERS, numbering)
        bits = {(r.organization_id, r.user_id): r.idx for r in await conn.execute(_USER_BITS, numbering)}
    params: dict[str, Any] = {
        "nil": NIL,
        "org_set": list({p[0] for p in pairs}),
        "idxs": [bits[row[0], row[2]] for row in rows],
    }
    for name, k in (
        ("orgs", 0),
        ("users", 2),
        ("workspaces", 3),
        ("templates", 4),
        ("categories", 5),
        ("apps", 6),
        ("starts", 7),
        ("ends", 8),
    ):
        params[name] = [row[k] for row in rows]
    # Everything that waits or writes elsewhere first: from the merge on, this transaction holds rollup rows
    # that every concurrent ingest of the organization needs, until it commits.
    await user_days.lock(conn, added, extended)
    await app_days.mark(conn, rows)
    await conn.execute(_MERGE, params)
    await user_days.merge(conn, added, extended)


async def stored_sessions(
    conn: AsyncConnection, keys: list[tuple[uuid.UUID, uuid.UUID]]
) -> list[tuple[Any, ...]]:
    """The stored (organization_id, session id) sessions, in the shape merge_rows takes."""
    if not keys:
        return []
    found = await conn.execute(_READ, {"orgs": [k[0] for k in keys], "ids": [k[1] for k in keys]})
    return [tuple(row) for row in found]


async def merge_sessions(conn: AsyncConnection, keys: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Add the stored (organization_id, session id) sessions, written for the first time, to the rollups."""
    await merge_rows(conn, await stored_sessions(conn, keys))
