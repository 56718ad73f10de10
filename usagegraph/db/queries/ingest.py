"""SQL of the ingest path. Every statement takes whole arrays (unnest) or a list of parameter sets
(executemany), so a batch costs a handful of round trips whatever its size. Statements run inside the
caller's transaction and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries.compose import sql as compose_sql


async def _rows(conn: AsyncConnection, sql: str, **params: Any) -> Sequence[Row[Any]]:
    return (await conn.execute(text(sql), params)).all()


async def _many(conn: AsyncConnection, sql: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(text(sql), rows)


def _ids(values: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    return list(set(values))


# --- references -----------------------------------------------------------------------------------


async def existing_organizations(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    rows = await _rows(
        conn, "SELECT id FROM organizations WHERE id = ANY(CAST(:ids AS uuid[]))", ids=_ids(ids)
    )
    return {row.id for row in rows}


async def existing_users(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    rows = await _rows(conn, "SELECT id FROM users WHERE id = ANY(CAST(:ids AS uuid[]))", ids=_ids(ids))
    return {row.id for row in rows}


async def template_orgs(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    rows = await _rows(
        conn, "SELECT id, organization_id FROM templates WHERE id = ANY(CAST(:ids AS uuid[]))", ids=_ids(ids)
    )
    return {row.id: row.organization_id for row in rows}


async def workspace_refs(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
    """id -> (organization_id, template_id) of the workspaces among ids."""
    rows = await _rows(
        conn,
        "SELECT id, organization_id, template_id FROM workspaces WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=_ids(ids),
    )
    return {row.id: row for row in rows}


async def project_orgs(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    rows = await _rows(
        conn, "SELECT id, organization_id FROM projects WHERE id = ANY(CAST(:ids AS uuid[]))", ids=_ids(ids)
    )
    return {row.id: row.organization_id for row in rows}


async def user_memberships(
    conn: AsyncConnection, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    rows = await _rows(
        conn,
        "SELECT user_id, organization_id FROM memberships WHERE user_id = ANY(CAST(:ids AS uuid[]))",
        ids=_ids(ids),
    )
    out: dict[uuid.UUID, set[uuid.UUID]] = {}
    for row in rows:
        out.setdefault(row.user_id, set()).add(row.organization_id)
    return out


# --- entities ---------------------------------------------------------------------------------------


async def organizations(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> Sequence[Row[Any]]:
    return await _rows(
        conn,
        "SELECT id, name, created_at FROM organizations WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=_ids(ids),
    )


async def upsert_organizations(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await _many(
        conn,
        "INSERT INTO organizations (id, name, created_at) VALUES (:id, :name, :created_at) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, created_at = excluded.created_at",
        rows,
    )


async def users(
    conn: AsyncConnection, ids: Iterable[uuid.UUID], usernames: Iterable[str]
) -> Sequence[Row[Any]]:
    return await _rows(
        conn,
        "SELECT id, username, name, email, created_at, site_roles FROM users "
        "WHERE id = ANY(CAST(:ids AS uuid[])) OR username = ANY(CAST(:names AS text[]))",
        ids=_ids(ids),
        names=list(set(usernames)),
    )


async def upsert_users(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await _many(
        conn,
        "INSERT INTO users (id, username, name, email, created_at, site_roles) "
        "VALUES (:id, :username, :name, :email, :created_at, :site_roles) "
        "ON CONFLICT (id) DO UPDATE SET username = excluded.username, name = excluded.name, "
        "email = excluded.email, created_at = excluded.created_at, site_roles = excluded.site_roles",
        rows,
    )


async def memberships(
    conn: AsyncConnection, keys: Iterable[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], list[str]]:
    pairs = list(set(keys))
    rows = await _rows(
        conn,
        "SELECT organization_id, user_id, roles FROM memberships WHERE (organization_id, user_id) IN "
        "(SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:users AS uuid[])))",
        orgs=[p[0] for p in pairs],
        users=[p[1] for p in pairs],
    )
    return {(row.organization_id, row.user_id): list(row.roles) for row in rows}


async def upsert_memberships(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await _many(
        conn,
        "INSERT INTO memberships (organization_id, user_id, roles) VALUES (:organization_id, :user_id, :roles) "
        "ON CONFLICT (organization_id, user_id) DO UPDATE SET roles = excluded.roles",
        rows,
    )


async def templates(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> Sequence[Row[Any]]:
    return await _rows(
        conn,
        "SELECT organization_id, id, name, display_name, created_at FROM templates "
        "WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=_ids(ids),
    )


async def template_parameters(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> Sequence[Row[Any]]:
    return await _rows(
        conn,
        "SELECT template_id, name, display_name, type, default_value, options FROM template_parameters "
        "WHERE template_id = ANY(CAST(:ids AS uuid[])) ORDER BY template_id, position",
        ids=_ids(ids),
    )


async def upsert_templates(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await _many(
        conn,
        "INSERT INTO templates (organization_id, id, name, display_name, created_at) "
        "VALUES (:organization_id, :id, :name, :display_name, :created_at) "
        "ON CONFLICT (organization_id, id) DO UPDATE SET name = excluded.name, "
        "display_name = excluded.display_name, created_at = excluded.created_at",
        rows,
    )


async def _replace_children(
    conn: AsyncConnection,
    table: str,
    parent: str,
    keys: list[tuple[uuid.UUID, uuid.UUID]],
    insert: str,
    rows: list[dict[str, Any]],
) -> None:
    """Replaces every row of `table` belonging to these (organization_id, parent id) keys by `rows`."""
    if not keys:
        return
    await conn.execute(
        compose_sql(
            "DELETE FROM $TABLE WHERE (organization_id, $PARENT) IN "
            "(SELECT * FROM unnest(CAST(:orgs AS uuid[]), CAST(:ids AS uuid[])))",
            TABLE=table,
            PARENT=parent,
        ),
        {"orgs": [k[0] for k in keys], "ids": [k[1] for k in keys]},
    )
    await _many(conn, insert, rows)


async def replace_template_parameters(
    conn: AsyncConnection, keys: list[tuple[uuid.UUID, uuid.UUID]], rows: list[dict[str, Any]]
) -> None:
    """Replaces the whole parameter list of these (organization_id, template_id) templates."""
    await _replace_children(
        conn,
        "template_parameters",
        "template_id",
        keys,
        "INSERT INTO template_parameters (organization_id, template_id, name, position, display_name, type, "
        "default_value, options) VALUES (:organization_id, :template_id, :name, :position, :display_name, "
        ":type, :default_value, CAST(:options AS jsonb))",
        rows,
    )


async def workspaces(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> Sequence[Row[Any]]:
    return await _rows(
        conn,
        "SELECT organization_id, id, template_id, owner_id, name, created_at, deleted_at FROM workspaces "
        "WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=_ids(ids),
    )


async def workspace_parameters(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> Sequence[Row[Any]]:
    return await _rows(
        conn,
        "SELECT workspace_id, name, value FROM workspace_parameters WHERE workspace_id = ANY(CAST(:ids AS uuid[]))",
        ids=_ids(ids),
    )


async def upsert_workspaces(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await _many(
        conn,
        "INSERT INTO workspaces (organization_id, id, template_id, owner_id, name, created_at, deleted_at) "
        "VALUES (:organization_id, :id, :template_id, :owner_id, :name, :created_at, :deleted_at) "
        "ON CONFLICT (organization_id, id) DO UPDATE SET name = excluded.name, "
        "created_at = excluded.created_at, deleted_at = excluded.deleted_at",
        rows,
    )


async def replace_workspace_parameters(
    conn: AsyncConnection, keys: list[tuple[uuid.UUID, uuid.UUID]], rows: list[dict[str, Any]]
) -> None:
    await _replace_children(
        conn,
        "workspace_parameters",
        "workspace_id",
        keys,
        "INSERT INTO workspace_parameters (organization_id, workspace_id, name, value) "
        "VALUES (:organization_id, :workspace_id, :name, :value)",
        rows,
    )


async def projects(conn: AsyncConnection, ids: Iterable[uuid.UUID]) -> Sequence[Row[Any]]:
    return await _rows(
        conn,
        "SELECT organization_id, id, name FROM projects WHERE id = ANY(CAST(:ids AS uuid[]))",
        ids=_ids(ids),
    )


async def upsert_projects(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await _many(
        conn,
        "INSERT INTO projects (organization_id, id, name) VALUES (:organization_id, :id, :name) "
        "ON CONFLICT (organization_id, id) DO UPDATE SET name = excluded.name",
        rows,
    )
