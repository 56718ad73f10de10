"""SQL of the OpenTelemetry intake: the organizations' users and projects the events name, the event ledger
(migration 0021) and the per-session aggregates the AI session rows are recomputed from."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

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
    SELECT organization_id, id, user_id, agent, project_id, repository, started_at, ended_at
    FROM ai_sessions
    WHERE (organization_id, id) IN (SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])))
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
    SELECT organization_id, session_id, min(occurred_at) AS first, max(occurred_at) AS last
    FROM otlp_events
    WHERE (organization_id, session_id) IN (SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])))
    GROUP BY organization_id, session_id
    """
)

_USAGE = text(
    """
    SELECT organization_id, session_id, model,
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
           sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
           sum(cost) AS cost, count(*) FILTER (WHERE cost IS NULL) AS uncosted,
           sum(input_tokens) FILTER (WHERE cost IS NULL) AS uncosted_input,
           sum(output_tokens) FILTER (WHERE cost IS NULL) AS uncosted_output,
           sum(cache_read_tokens) FILTER (WHERE cost IS NULL) AS uncosted_cache_read,
           sum(cache_write_tokens) FILTER (WHERE cost IS NULL) AS uncosted_cache_write
    FROM otlp_events
    WHERE model IS NOT NULL
      AND (organization_id, session_id) IN (SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])))
    GROUP BY organization_id, session_id, model
    ORDER BY organization_id, session_id, model
    """
)

_FORGET = text(
    """
    DELETE FROM otlp_events
    WHERE (organization_id, event_id) IN (SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:events AS uuid[])))
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


def _columns(rows: Sequence[tuple[Any, ...]], names: Sequence[str]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in names}
    lists = list(columns.values())
    for row in rows:
        for column, value in zip(lists, row, strict=True):
            column.append(value)
    return columns


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
    result = await conn.execute(_INSERT, _columns(rows, EVENT_COLUMNS))
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
