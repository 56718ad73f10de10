"""Entity fields: the caller's view of organizations, users, templates and workspaces."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from usagegraph.auth import roles
from usagegraph.auth.permissions import as_uuid
from usagegraph.db.queries import entities as q
from usagegraph.resolvers.pagination import decode_cursor, encode_cursor, page_size
from usagegraph.resolvers.selection import children, subfields
from usagegraph.schema import builders
from usagegraph.schema.common import PageInfo
from usagegraph.schema.entities import (
    Organization,
    Template,
    User,
    UserConnection,
    Workspace,
    WorkspaceConnection,
)


async def viewer(info: Info) -> User:
    user: User = await info.context.loaders.user.load(info.context.principal.user_id)
    return user


async def organizations(info: Info) -> list[Organization]:
    async with info.context.db.read() as conn:
        rows = await q.organizations(conn, info.context.principal.visible_orgs())
    return [builders.organization(row) for row in rows]


async def organization(info: Info, id: Any) -> Organization | None:
    org_id = as_uuid(id, "id")
    if not info.context.principal.sees_org(org_id):
        return None
    result: Organization | None = await info.context.loaders.organization.load(org_id)
    return result


async def user(info: Info, id: Any) -> User | None:
    user_id = as_uuid(id, "id")
    principal = info.context.principal
    if user_id != principal.user_id:
        async with info.context.db.read() as conn:
            if not await q.user_visible(conn, user_id, principal.visible_orgs()):
                return None
    result: User | None = await info.context.loaders.user.load(user_id)
    return result


async def template(info: Info, id: Any) -> Template | None:
    found: Template | None = await info.context.loaders.template.load(as_uuid(id, "id"))
    if found is None or not info.context.principal.sees_org(found.organization_id):
        return None
    return found


async def workspace(info: Info, id: Any) -> Workspace | None:
    found: Workspace | None = await info.context.loaders.workspace.load(as_uuid(id, "id"))
    if found is None or not info.context.principal.sees_org(found.organization_id):
        return None
    return found


async def members(
    info: Info, organization_id: uuid.UUID, first: int | None, after: str | None
) -> UserConnection:
    size = page_size(first)
    async with info.context.db.read() as conn:
        rows, total = await q.members_page(conn, organization_id, size, decode_cursor(after))
    page = rows[:size]
    users = await info.context.loaders.users([row.id for row in page])
    return UserConnection(
        nodes=[users[row.id] for row in page],
        page_info=PageInfo(
            has_next_page=len(rows) > size,
            end_cursor=encode_cursor(page[-1].username, page[-1].id) if page else None,
        ),
        total_count=total,
    )


async def workspaces(
    info: Info,
    organization_id: uuid.UUID,
    template_id: uuid.UUID | None,
    first: int | None,
    after: str | None,
) -> WorkspaceConnection:
    size = page_size(first)
    rows, total = await info.context.loaders.workspace_page.load(
        (organization_id, template_id, size, decode_cursor(after))
    )
    page = rows[:size]
    await _prefetch_links(info, page)
    return WorkspaceConnection(
        nodes=page,
        page_info=PageInfo(
            has_next_page=len(rows) > size,
            end_cursor=encode_cursor(page[-1].name, page[-1].uuid) if page else None,
        ),
        total_count=total,
    )


async def _prefetch_links(info: Info, page: list[Workspace]) -> None:
    """Look-ahead for a page of workspaces: when its nodes select their owner or their template, load
    them for the whole page at once and hand them to the nodes, whose fields then resolve without a task
    and a loader future per node and field (50 workspaces with both: 100 of each)."""
    wanted = {field.name for field in children([f for f in subfields(info) if f.name == "nodes"])}
    loaders = info.context.loaders
    owners, templates = await asyncio.gather(
        loaders.users([w.owner_id for w in page]) if "owner" in wanted and page else _nothing(),
        loaders.template.load_many([w.template_id for w in page])
        if "template" in wanted and page
        else _nothing(),
    )
    for workspace, template in zip(page, templates or [None] * len(page), strict=True):
        workspace.owner_row = (owners or {}).get(workspace.owner_id)
        workspace.template_row = template


async def _nothing() -> Any:
    return None


def user_email(info: Info, user: User) -> str | None:
    principal = info.context.principal
    if user.uuid == principal.user_id or principal.has(roles.USERS_ADMIN):
        return user.raw_email
    if any(principal.has(roles.USERS_ADMIN, org) for org in user.org_ids):
        return user.raw_email
    return None


def avatar_hash(email: str | None) -> str:
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()


async def user_roles(info: Info, user: User, organization_id: strawberry.ID | None) -> list[str]:
    if organization_id is None:
        return list(user.site_roles)
    org = as_uuid(organization_id, "organizationId")
    if not info.context.principal.sees_org(org):
        return []
    found = await info.context.loaders.membership_roles.load((user.uuid, org))
    return list(found or ())


async def user_organizations(info: Info, user: User) -> list[Organization]:
    principal = info.context.principal
    visible = [org for org in user.org_ids if principal.sees_org(org)]
    orgs = await info.context.loaders.organization.load_many(visible)
    return sorted((org for org in orgs if org is not None), key=lambda org: (org.name, org.id))


async def user_workspaces(info: Info, user: User) -> list[Workspace]:
    principal = info.context.principal
    found: list[Workspace] = await info.context.loaders.owner_workspaces.load(user.uuid)
    return [ws for ws in found if principal.sees_org(ws.organization_id)]
