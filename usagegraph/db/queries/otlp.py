"""SQL of the OpenTelemetry intake: the organizations' users and projects the events name, the event ledger
(migration 0021) and the per-session aggregates the AI session rows are recomputed from."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries.compose import as_columns

_MEMBERS = text(
    """
    SELECT m.organization_id, u.id, lower(u.email) AS email
    FROM memberships m JOIN users u ON u.id = m.user_id
    WHERE m.organization_id = ANY(CAST(:orgs AS uuid[]))
      AND (u.id = ANY(CAST(:ids AS uuid[])) OR lower(u.email) = ANY(CAST(:emails AS text[])))
    """
)

_PROJECTS = text(
    """
    SELECT organization_id, id, name FROM projects
    WHERE organization_id = ANY(CAST(:orgs AS uuid[]))
      AND (id = ANY(CAST(:ids AS uuid[])) OR name = ANY(CAST(:names AS text[])))
    """
)

_LOCK = text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS t(k, n)"
)

_STORED = text(
    """
    SELECT a.organization_id, a.id, a.user_id, a.agent, a.project_id, a.repository, a.started_at, a.ended_at
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])) AS k(org, id)
    JOIN ai_sessions a ON a.organization_id = k.org AND a.id = k.id
    """
)

_INSERT = text(
    """
    INSERT INTO otlp_events (organization_id, event_id, session_id, name, occurred_at, model, input_tokens,
                             output_tokens, cache_read_tokens, cache_write_tokens, cost)
    SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:events AS uuid[]), CAST(:sessions AS uuid[]),
                         CAST(:names AS text[]), CAST(:times AS timestamptz[]), CAST(:models AS text[]),
                         CAST(:inputs AS bigint[]), CAST(:outputs AS bigint[]), CAST(:cache_reads AS bigint[]),
                         CAST(:cache_writes AS bigint[]), CAST(:costs AS numeric[]))
    ON CONFLICT (organization_id, event_id) DO NOTHING
    RETURNING organization_id, event_id
    """
)

_SPANS = text(
    """
    SELECT e.organization_id, e.session_id, min(e.occurred_at) AS first, max(e.occurred_at) AS last
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])) AS k(org, id)
    JOIN otlp_events e ON e.organization_id = k.org AND e.session_id = k.id
    GROUP BY e.organization_id, e.session_id
    """
)

_USAGE = text(
    """
    SELECT e.organization_id, e.session_id, e.model,
           sum(e.input_tokens) AS input_tokens, sum(e.output_tokens) AS output_tokens,
           sum(e.cache_read_tokens) AS cache_read_tokens, sum(e.cache_write_tokens) AS cache_write_tokens,
           sum(e.cost) AS cost, count(*) FILTER (WHERE e.cost IS NULL) AS uncosted,
           sum(e.input_tokens) FILTER (WHERE e.cost IS NULL) AS uncosted_input,
           sum(e.output_tokens) FILTER (WHERE e.cost IS NULL) AS uncosted_output,
           sum(e.cache_read_tokens) FILTER (WHERE e.cost IS NULL) AS uncosted_cache_read,
           sum(e.cache_write_tokens) FILTER (WHERE e.cost IS NULL) AS uncosted_cache_write
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])) AS k(org, id)
    JOIN otlp_events e ON e.organization_id = k.org AND e.session_id = k.id
    WHERE e.model IS NOT NULL
    GROUP BY e.organization_id, e.session_id, e.model
    ORDER BY e.organization_id, e.session_id, e.model
    """
)

_FORGET = text(
    """
    DELETE FROM otlp_events e
    USING unnest(CAST(:orgs AS uuid[]), CAST(:events AS uuid[])) AS k(org, id)
    WHERE e.organization_id = k.org AND e.event_id = k.id
    """
)

EVENT_COLUMNS = (
    "orgs",
    "events",
    "sessions",
    "names",
    "times",
    "models",
    "inputs",
    "outputs",
    "cache_reads",
    "cache_writes",
    "costs",
)


async def members(
    conn: AsyncConnection, orgs: Iterable[uuid.UUID], ids: Iterable[uuid.UUID], emails: Iterable[str]
) -> Sequence[Row[Any]]:
    """Members of these organizations whose id is one of ``ids`` or whose email (lower case) is one of
    ``emails``."""
    params = {"orgs": list(set(orgs)), "ids": list(set(ids)), "emails": list(set(emails))}
    return (await conn.execute(_MEMBERS, params)).all()


async def projects(
    conn: AsyncConnection, orgs: Iterable[uuid.UUID], ids: Iterable[uuid.UUID], names: Iterable[str]
) -> Sequence[Row[Any]]:
    params = {"orgs": list(set(orgs)), "ids": list(set(ids)), "names": list(set(names))}
    return (await conn.execute(_PROJECTS, params)).all()


async def lock_sessions(conn: AsyncConnection, keys: Iterable[int]) -> None:
    """Transaction-scoped advisory locks on the sessions a batch touches, taken in one order so that two
    batches of the same sessions queue instead of deadlocking, and the second recomputes a session from
    a ledger that holds the first one's events."""
    await conn.execute(_LOCK, {"keys": sorted(set(keys))})


def _pairs(keys: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> dict[str, list[uuid.UUID]]:
    unique = sorted(set(keys))
    return {"orgs": [k[0] for k in unique], "ids": [k[1] for k in unique]}


async def stored_sessions(
    conn: AsyncConnection, keys: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> Sequence[Row[Any]]:
    return (await conn.execute(_STORED, _pairs(keys))).all()


async def insert_events(
    conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """The (organization, event) keys that were new; the others were already in the ledger."""
    if not rows:
        return set()
    result = await conn.execute(_INSERT, as_columns(rows, EVENT_COLUMNS))
    return {(row.organization_id, row.event_id) for row in result}


async def session_spans(
    conn: AsyncConnection, keys: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> Sequence[Row[Any]]:
    return (await conn.execute(_SPANS, _pairs(keys))).all()


async def session_usage(
    conn: AsyncConnection, keys: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> Sequence[Row[Any]]:
    return (await conn.execute(_USAGE, _pairs(keys))).all()


async def forget_events(conn: AsyncConnection, keys: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> None:
    pairs = sorted(set(keys))
    if pairs:
        await conn.execute(_FORGET, {"orgs": [k[0] for k in pairs], "events": [k[1] for k in pairs]})
