"""Entity reads: organizations, users, templates, workspaces, projects and their parameters.
Visibility (the organizations a caller may see) is applied here, in SQL; None means every organization."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries.compose import splice
from usagegraph.db.queries.compose import sql as compose_sql

Visible = list[uuid.UUID] | None

_VISIBLE = "(CAST(:visible AS uuid[]) IS NULL OR $COLUMN = ANY(CAST(:visible AS uuid[])))"
"""Rows whose $COLUMN is one of :visible, or every row when :visible is NULL."""

_ORGANIZATIONS = compose_sql(
    "SELECT id, name, created_at FROM organizations WHERE $VISIBLE ORDER BY name, id",
    VISIBLE=splice(_VISIBLE, COLUMN="id"),
)


async def organizations(conn: AsyncConnection, visible: Visible) -> Sequence[Row[Any]]:
    return (await conn.execute(_ORGANIZATIONS, {"visible": visible})).all()


async def organizations_by_id(conn: AsyncConnection, ids: list[uuid.UUID]) -> Sequence[Row[Any]]:
    sql = "SELECT id, name, created_at FROM organizations WHERE id = ANY(:ids)"
    return (await conn.execute(text(sql), {"ids": ids})).all()


async def users_by_id(conn: AsyncConnection, ids: list[uuid.UUID]) -> Sequence[Row[Any]]:
    sql = """
        SELECT u.id, u.username, u.name, u.email, u.created_at, u.site_roles,
               coalesce((SELECT array_agg(m.organization_id ORDER BY m.organization_id)
                         FROM memberships m WHERE m.user_id = u.id), '{}') AS org_ids
        FROM users u WHERE u.id = ANY(:ids)
    """
    return (await conn.execute(text(sql), {"ids": ids})).all()


async def memberships(conn: AsyncConnection, keys: list[tuple[uuid.UUID, uuid.UUID]]) -> Sequence[Row[Any]]:
    sql = """
        SELECT m.user_id, m.organization_id, m.roles FROM memberships m
        JOIN unnest(CAST(:users AS uuid[]), CAST(:orgs AS uuid[])) AS k(user_id, organization_id)
          ON k.user_id = m.user_id AND k.organization_id = m.organization_id
    """
    params = {"users": [k[0] for k in keys], "orgs": [k[1] for k in keys]}
    return (await conn.execute(text(sql), params)).all()


async def user_visible(conn: AsyncConnection, user_id: uuid.UUID, visible: Visible) -> bool:
    """A user is visible when they share an organization with the caller (site-wide: always)."""
    if visible is None:
        return bool((await conn.execute(text("SELECT 1 FROM users WHERE id = :id"), {"id": user_id})).first())
    sql = "SELECT 1 FROM memberships WHERE user_id = :id AND organization_id = ANY(CAST(:visible AS uuid[]))"
    return bool((await conn.execute(text(sql), {"id": user_id, "visible": visible})).first())


_MEMBERS_PAGE = """
        SELECT u.id, u.username FROM memberships m JOIN users u ON u.id = m.user_id
        WHERE m.organization_id = :org $CURSOR
        ORDER BY u.username, u.id LIMIT :limit
    """
_MEMBERS = {
    False: compose_sql(_MEMBERS_PAGE, CURSOR=""),
    True: compose_sql(_MEMBERS_PAGE, CURSOR="AND (u.username, u.id) > (:after_name, :after_id)"),
}
"""The first page of members (False) or the page after a cursor (True)."""


async def members_page(
    conn: AsyncConnection, organization_id: uuid.UUID, first: int, after: tuple[str, uuid.UUID] | None
) -> tuple[Sequence[Row[Any]], int]:
    params: dict[str, Any] = {"org": organization_id, "limit": first + 1}
    if after is not None:
        params.update(after_name=after[0], after_id=after[1])
    rows = (await conn.execute(_MEMBERS[after is not None], params)).all()
    total = (
        await conn.execute(
            text("SELECT count(*) FROM memberships WHERE organization_id = :org"), {"org": organization_id}
        )
    ).scalar_one()
    return rows, total


async def templates_of_orgs(conn: AsyncConnection, org_ids: list[uuid.UUID]) -> Sequence[Row[Any]]:
    sql = """
        SELECT organization_id, id, name, display_name, created_at FROM templates
        WHERE organization_id = ANY(:ids) ORDER BY organization_id, name, id
    """
    return (await conn.execute(text(sql), {"ids": org_ids})).all()


async def templates_by_id(conn: AsyncConnection, ids: list[uuid.UUID]) -> Sequence[Row[Any]]:
    sql = "SELECT organization_id, id, name, display_name, created_at FROM templates WHERE id = ANY(:ids)"
    return (await conn.execute(text(sql), {"ids": ids})).all()


async def template_parameters(conn: AsyncConnection, template_ids: list[uuid.UUID]) -> Sequence[Row[Any]]:
    sql = """
        SELECT template_id, name, display_name, type, default_value, options FROM template_parameters
        WHERE template_id = ANY(:ids) ORDER BY template_id, position, name
    """
    return (await conn.execute(text(sql), {"ids": template_ids})).all()


_WORKSPACE_COLUMNS = "w.organization_id, w.id, w.template_id, w.owner_id, w.name, w.created_at, w.deleted_at"


_WORKSPACES_BY_ID = compose_sql(
    "SELECT $COLUMNS FROM workspaces w WHERE w.id = ANY(:ids)", COLUMNS=_WORKSPACE_COLUMNS
)
_WORKSPACES_BY_OWNER = compose_sql(
    "SELECT $COLUMNS FROM workspaces w WHERE w.owner_id = ANY(:ids) ORDER BY w.name, w.id",
    COLUMNS=_WORKSPACE_COLUMNS,
)


async def workspaces_by_id(conn: AsyncConnection, ids: list[uuid.UUID]) -> Sequence[Row[Any]]:
    return (await conn.execute(_WORKSPACES_BY_ID, {"ids": ids})).all()


async def workspaces_by_owner(conn: AsyncConnection, owner_ids: list[uuid.UUID]) -> Sequence[Row[Any]]:
    return (await conn.execute(_WORKSPACES_BY_OWNER, {"ids": owner_ids})).all()


async def workspace_pages(
    conn: AsyncConnection, keys: list[tuple[uuid.UUID, uuid.UUID | None, int, tuple[str, uuid.UUID] | None]]
) -> tuple[Sequence[Row[Any]], Sequence[Row[Any]]]:
    """Pages of workspaces for many parents at once (an organization, or one template of it): one statement
    for the pages (a keyset LIMIT per key, rows tagged with the key's position) and one for the totals."""
    params = {
        "orgs": [k[0] for k in keys],
        "templates": [k[1] for k in keys],
        "limits": [k[2] + 1 for k in keys],
        "after_names": [k[3][0] if k[3] else None for k in keys],
        "after_ids": [k[3][1] if k[3] else None for k in keys],
    }
    page_rows = (await conn.execute(_WORKSPACE_PAGES, params)).all()
    total_rows = (
        await conn.execute(_WORKSPACE_TOTALS, {"orgs": params["orgs"], "templates": params["templates"]})
    ).all()
    return page_rows, total_rows


_WORKSPACE_PAGES = compose_sql(
    """
        SELECT k.idx, $COLUMNS
        FROM unnest(CAST(:orgs AS uuid[]), CAST(:templates AS uuid[]), CAST(:limits AS int[]),
                    CAST(:after_names AS text[]), CAST(:after_ids AS uuid[]))
             WITH ORDINALITY AS k(org, template, lim, after_name, after_id, idx)
        CROSS JOIN LATERAL (
            SELECT * FROM workspaces w
            WHERE w.organization_id = k.org AND (k.template IS NULL OR w.template_id = k.template)
              AND (k.after_name IS NULL OR (w.name, w.id) > (k.after_name, k.after_id))
            ORDER BY w.name, w.id LIMIT k.lim
        ) w
        ORDER BY k.idx, w.name, w.id
    """,
    COLUMNS=_WORKSPACE_COLUMNS,
)
_WORKSPACE_TOTALS = text(
    """
        SELECT k.idx, (SELECT count(*) FROM workspaces w
                       WHERE w.organization_id = k.org AND (k.template IS NULL OR w.template_id = k.template)) AS total
        FROM unnest(CAST(:orgs AS uuid[]), CAST(:templates AS uuid[])) WITH ORDINALITY AS k(org, template, idx)
    """
)


async def workspace_parameters(conn: AsyncConnection, workspace_ids: list[uuid.UUID]) -> Sequence[Row[Any]]:
    sql = """
        SELECT workspace_id, name, value FROM workspace_parameters
        WHERE workspace_id = ANY(:ids) ORDER BY workspace_id, name
    """
    return (await conn.execute(text(sql), {"ids": workspace_ids})).all()


async def projects_by_id(conn: AsyncConnection, ids: list[uuid.UUID]) -> Sequence[Row[Any]]:
    sql = "SELECT organization_id, id, name FROM projects WHERE id = ANY(:ids)"
    return (await conn.execute(text(sql), {"ids": ids})).all()
