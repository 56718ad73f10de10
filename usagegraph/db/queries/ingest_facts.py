"""SQL of the ingest path for facts (activity sessions, samples, AI sessions): whole columns as arrays
through unnest, so that 10,000 events are one INSERT. Conflicting keys are skipped in SQL (ON CONFLICT DO
NOTHING) and reported by the returned keys, so a concurrent writer of the same record never fails a batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries.compose import as_columns

_ACTIVITY_WRITE = text(
    """
    WITH inserted AS (
        INSERT INTO activity_sessions
            (organization_id, id, user_id, workspace_id, template_id, category, app, started_at, ended_at)
        SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[]), CAST(:users AS uuid[]),
                             CAST(:workspaces AS uuid[]), CAST(:templates AS uuid[]), CAST(:categories AS text[]),
                             CAST(:apps AS text[]), CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]))
        ON CONFLICT (organization_id, id) DO NOTHING
        RETURNING organization_id, id, true AS inserted
    ), extended AS (
        UPDATE activity_sessions AS a SET ended_at = u.ended_at
        FROM unnest(CAST(:ext_orgs AS uuid[]), CAST(:ext_ids AS uuid[]), CAST(:ext_ends AS timestamptz[]))
            AS u(organization_id, id, ended_at)
        WHERE a.organization_id = u.organization_id AND a.id = u.id AND a.ended_at < u.ended_at
        RETURNING a.organization_id, a.id, false AS inserted
    )
    SELECT * FROM inserted UNION ALL SELECT * FROM extended
    """
)

_LATENCY_INSERT = text(
    """
    INSERT INTO latency_samples (organization_id, workspace_id, user_id, at, template_id, latency_ms)
    SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:workspaces AS uuid[]), CAST(:users AS uuid[]),
                         CAST(:ats AS timestamptz[]), CAST(:templates AS uuid[]), CAST(:values AS float8[]))
    ON CONFLICT DO NOTHING
    RETURNING 1
    """
)

_RESOURCES_INSERT = text(
    """
    INSERT INTO resource_samples (organization_id, workspace_id, at, node, cpu_used_cores, cpu_limit_cores,
                                  memory_used_bytes, memory_limit_bytes)
    SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:workspaces AS uuid[]), CAST(:ats AS timestamptz[]),
                         CAST(:nodes AS text[]), CAST(:cpu AS float8[]), CAST(:cpu_limit AS float8[]),
                         CAST(:mem AS float8[]), CAST(:mem_limit AS float8[]))
    ON CONFLICT DO NOTHING
    RETURNING 1
    """
)

_NODES_INSERT = text(
    """
    INSERT INTO node_samples (node, at, cpu_used_cores, cpu_capacity_cores, memory_used_bytes,
                              memory_capacity_bytes)
    SELECT * FROM unnest(CAST(:nodes AS text[]), CAST(:ats AS timestamptz[]), CAST(:cpu AS float8[]),
                         CAST(:cpu_cap AS float8[]), CAST(:mem AS float8[]), CAST(:mem_cap AS float8[]))
    ON CONFLICT DO NOTHING
    RETURNING 1
    """
)

_AI_UPSERT = text(
    """
    INSERT INTO ai_sessions AS a (organization_id, id, user_id, project_id, repository, agent, started_at,
                                  ended_at, cost, input_tokens, output_tokens, cache_read_tokens,
                                  cache_write_tokens, unpriced)
    SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[]), CAST(:users AS uuid[]),
                         CAST(:projects AS uuid[]), CAST(:repositories AS text[]), CAST(:agents AS text[]),
                         CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]), CAST(:costs AS numeric[]),
                         CAST(:inputs AS bigint[]), CAST(:outputs AS bigint[]), CAST(:cache_reads AS bigint[]),
                         CAST(:cache_writes AS bigint[]), CAST(:unpriced AS boolean[]))
    ON CONFLICT (organization_id, id) DO UPDATE SET
        project_id = excluded.project_id, repository = excluded.repository, ended_at = excluded.ended_at,
        cost = excluded.cost, input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
        cache_read_tokens = excluded.cache_read_tokens, cache_write_tokens = excluded.cache_write_tokens,
        unpriced = excluded.unpriced
    """
)

_AI_USAGE_DELETE = text(
    """
    DELETE FROM ai_session_usage WHERE (organization_id, session_id) IN
        (SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])))
    """
)

_AI_USAGE_INSERT = text(
    """
    INSERT INTO ai_session_usage (organization_id, session_id, model, input_tokens, output_tokens,
                                  cache_read_tokens, cache_write_tokens, cost, priced)
    SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[]), CAST(:models AS text[]),
                         CAST(:inputs AS bigint[]), CAST(:outputs AS bigint[]), CAST(:cache_reads AS bigint[]),
                         CAST(:cache_writes AS bigint[]), CAST(:costs AS numeric[]), CAST(:priced AS boolean[]))
    """
)


ACTIVITY_COLUMNS = ("orgs", "ids", "users", "workspaces", "templates", "categories", "apps", "starts", "ends")


async def activity_sessions(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> Sequence[Row[Any]]:
    return (
        await conn.execute(
            text(
                "SELECT organization_id, id, user_id, workspace_id, category, app, started_at, ended_at "
                "FROM activity_sessions WHERE id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": list(set(ids))},
        )
    ).all()


async def write_activity(
    conn: AsyncConnection, new: Sequence[tuple[Any, ...]], extended: Sequence[tuple[Any, ...]]
) -> tuple[list[tuple[uuid.UUID, uuid.UUID]], int]:
    """Inserts new sessions (org, id, user, workspace, template, category, app, start, end) and moves the
    end of (org, id, end) sessions later (never earlier), in one statement. Returns the (org, id) keys of
    every row written, for the rollup, and how many of them were inserted (a concurrent writer of the
    same id makes that fewer than offered)."""
    if not new and not extended:
        return [], 0
    params: dict[str, Any] = as_columns(new, ACTIVITY_COLUMNS)
    params.update({f"ext_{k}": v for k, v in as_columns(extended, ("orgs", "ids", "ends")).items()})
    rows = (await conn.execute(_ACTIVITY_WRITE, params)).all()
    return [(row.organization_id, row.id) for row in rows], sum(1 for row in rows if row.inserted)


async def insert_latency(conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    columns = as_columns(rows, ("orgs", "workspaces", "users", "ats", "templates", "values"))
    return len((await conn.execute(_LATENCY_INSERT, columns)).all())


async def insert_resources(conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    columns = as_columns(rows, ("orgs", "workspaces", "ats", "nodes", "cpu", "cpu_limit", "mem", "mem_limit"))
    return len((await conn.execute(_RESOURCES_INSERT, columns)).all())


async def insert_nodes(conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    columns = as_columns(rows, ("nodes", "ats", "cpu", "cpu_cap", "mem", "mem_cap"))
    return len((await conn.execute(_NODES_INSERT, columns)).all())


async def ai_sessions(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> Sequence[Row[Any]]:
    return (
        await conn.execute(
            text(
                "SELECT organization_id, id, user_id, project_id, repository, agent, started_at, ended_at "
                "FROM ai_sessions WHERE id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": list(set(ids))},
        )
    ).all()


async def ai_usage(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> Sequence[Row[Any]]:
    return (
        await conn.execute(
            text(
                "SELECT session_id, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
                "cost, priced FROM ai_session_usage WHERE session_id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": list(set(ids))},
        )
    ).all()


AI_SESSION_COLUMNS = (
    "orgs",
    "ids",
    "users",
    "projects",
    "repositories",
    "agents",
    "starts",
    "ends",
    "costs",
    "inputs",
    "outputs",
    "cache_reads",
    "cache_writes",
    "unpriced",
)
AI_USAGE_COLUMNS = (
    "orgs",
    "ids",
    "models",
    "inputs",
    "outputs",
    "cache_reads",
    "cache_writes",
    "costs",
    "priced",
)


async def write_ai_sessions(
    conn: AsyncConnection, sessions: Sequence[tuple[Any, ...]], usage: Sequence[tuple[Any, ...]]
) -> None:
    """Upserts whole sessions: their row with its totals, and their usage lines replaced."""
    if not sessions:
        return
    columns = as_columns(sessions, AI_SESSION_COLUMNS)
    await conn.execute(_AI_UPSERT, columns)
    await conn.execute(_AI_USAGE_DELETE, {"orgs": columns["orgs"], "ids": columns["ids"]})
    if usage:
        await conn.execute(_AI_USAGE_INSERT, as_columns(usage, AI_USAGE_COLUMNS))
