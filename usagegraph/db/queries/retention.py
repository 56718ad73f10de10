"""The retention purge's statements (usagegraph.upkeep.retention): counting, deleting in bounded batches and
finding the oldest row of each raw table whose rows the retention settings let go.

A table owned by organizations is read one organization at a time, so that each statement is a range scan
of an index that starts with organization_id (node_samples, shared by everyone, has its own index on `at`).
A batch locks its rows with SKIP LOCKED and deletes them by ctid in the same statement, so a purge never
waits for an ingest that holds some of them and an ingest never waits for more than one batch."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import TextClause
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries.compose import sql

# A session's last instant, as the analytics count it: a LOGIN and a session without an end are instants.
_ACTIVITY_END = "CASE WHEN category = 'LOGIN' OR ended_at IS NULL THEN started_at ELSE ended_at END"


# A ledger row's session is wholly past the cutoff: its latest event is older, and its row, if any, started
# before it. Scalar subqueries, so that each candidate row costs two index probes (the latest event is the
# top of otlp_events_session, migration 0024) whatever the planner thinks of the rest of the table.
_LEDGER_SESSION_OLD = """(
    SELECT max(later.occurred_at) FROM otlp_events later
    WHERE later.organization_id = $TABLE.organization_id AND later.session_id = $TABLE.session_id
) < :cutoff AND coalesce((
    SELECT max(s.started_at) FROM ai_sessions s
    WHERE s.organization_id = $TABLE.organization_id AND s.id = $TABLE.session_id
), '-infinity') < :cutoff"""


@dataclass(frozen=True)
class Table:
    name: str
    old: str
    """the predicate of a row older than :cutoff"""
    by_organization: bool = True
    oldest: str = ""
    """the expression whose minimum is the table's oldest record"""


TABLES = {
    "resource_samples": Table("resource_samples", "at < :cutoff", oldest="at"),
    "node_samples": Table("node_samples", "at < :cutoff", by_organization=False, oldest="at"),
    "latency_samples": Table("latency_samples", "at < :cutoff", oldest="at"),
    # Only sessions that ended before the cutoff go: a range after it still sees every session overlapping it.
    "activity_sessions": Table(
        "activity_sessions",
        f"started_at < :cutoff AND {_ACTIVITY_END} < :cutoff",
        oldest="started_at",
    ),
    "ai_sessions": Table("ai_sessions", "started_at < :cutoff", oldest="started_at"),
    # Usage lines carry their session's started_at (a trigger copies it), so they go with their sessions.
    "ai_session_usage": Table("ai_session_usage", "started_at < :cutoff", oldest="started_at"),
    # OTLP's event ledger (migration 0021) tells a retried event from a new one. An event goes only with its
    # whole session: when every event of the session is older than the cutoff and the session's row, if it
    # is still there, started before it. Until then a retried event is found in the ledger (a duplicate) and
    # a new one sees the session's start before the cutoff (refused); after, every event of the session is
    # refused by its own time (usagegraph.http.otlp), so none can be counted twice.
    "otlp_events": Table(
        "otlp_events", f"occurred_at < :cutoff AND {_LEDGER_SESSION_OLD}", oldest="occurred_at"
    ),
}

_SCOPE = "organization_id = :org AND $OLD"

_COUNT = "SELECT count(*) FROM $TABLE WHERE $WHERE"

_DELETE = """
WITH doomed AS (
    SELECT ctid FROM $TABLE WHERE $WHERE LIMIT :batch FOR UPDATE SKIP LOCKED
)
DELETE FROM $TABLE WHERE ctid = ANY(ARRAY(SELECT ctid FROM doomed))
"""

# AI sessions: their usage lines first (a foreign key), then the sessions, in one transaction.
_AI_BATCH = sql(
    "SELECT id FROM ai_sessions WHERE organization_id = :org AND started_at < :cutoff "
    "LIMIT :batch FOR UPDATE SKIP LOCKED"
)
_AI_USAGE_DELETE = sql(
    "DELETE FROM ai_session_usage WHERE organization_id = :org AND session_id = ANY(CAST(:ids AS uuid[]))"
)
_AI_SESSIONS_DELETE = sql(
    "DELETE FROM ai_sessions WHERE organization_id = :org AND id = ANY(CAST(:ids AS uuid[]))"
)
# The AI rollups' DELETE triggers stay quiet in this transaction (migration 0023): the rollups keep the sums.
_KEEP_ROLLUPS = sql("SELECT set_config('usagegraph.retention_purge', 'on', true)")

_OLDEST_BY_ORGANIZATION = """
SELECT min(x.m) FROM organizations o
CROSS JOIN LATERAL (SELECT min($COLUMN) AS m FROM $TABLE t WHERE t.organization_id = o.id) AS x
"""
_OLDEST = "SELECT min($COLUMN) FROM $TABLE"

_ORGANIZATIONS = sql("SELECT id FROM organizations ORDER BY id")

LOCK = sql("SELECT pg_try_advisory_lock(:class, :object)")
UNLOCK = sql("SELECT pg_advisory_unlock(:class, :object)")


def _statements(table: Table) -> tuple[TextClause, TextClause, TextClause]:
    where = _SCOPE if table.by_organization else "$OLD"
    oldest = _OLDEST_BY_ORGANIZATION if table.by_organization else _OLDEST
    return (
        sql(_COUNT, TABLE=table.name, WHERE=where, OLD=table.old),
        sql(_DELETE, TABLE=table.name, WHERE=where, OLD=table.old),
        sql(oldest, TABLE=table.name, COLUMN=table.oldest),
    )


_BY_TABLE = {name: _statements(table) for name, table in TABLES.items()}


async def organizations(conn: AsyncConnection) -> list[uuid.UUID]:
    return [row[0] for row in await conn.execute(_ORGANIZATIONS)]


async def count(conn: AsyncConnection, table: str, cutoff: datetime, org: uuid.UUID | None) -> int:
    """Rows of `table` (of organization `org`, None for node_samples) older than the cutoff."""
    return int((await conn.execute(_BY_TABLE[table][0], {"cutoff": cutoff, "org": org})).scalar_one())


async def delete_batch(
    conn: AsyncConnection, table: str, cutoff: datetime, org: uuid.UUID | None, batch: int
) -> int:
    """At most `batch` rows of a sample or activity session table, or of the OTLP event ledger, older than
    the cutoff deleted; how many."""
    result = await conn.execute(_BY_TABLE[table][1], {"cutoff": cutoff, "org": org, "batch": batch})
    return int(result.rowcount)


async def delete_ai_batch(
    conn: AsyncConnection, cutoff: datetime, org: uuid.UUID, batch: int
) -> tuple[int, int]:
    """At most `batch` AI sessions started before the cutoff deleted with their usage lines, the rollups
    untouched; (sessions, usage lines). Must run in a transaction of its own."""
    ids = [row[0] for row in await conn.execute(_AI_BATCH, {"org": org, "cutoff": cutoff, "batch": batch})]
    if not ids:
        return 0, 0
    await conn.execute(_KEEP_ROLLUPS)
    lines = await conn.execute(_AI_USAGE_DELETE, {"org": org, "ids": ids})
    sessions = await conn.execute(_AI_SESSIONS_DELETE, {"org": org, "ids": ids})
    return int(sessions.rowcount), int(lines.rowcount)


async def oldest(conn: AsyncConnection, table: str) -> datetime | None:
    """The oldest record of the table (None when it is empty)."""
    value: datetime | None = (await conn.execute(_BY_TABLE[table][2])).scalar_one()
    return value
