"""Administration: tokens, roles and per-template insights grants (users:admin)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from usagegraph.auth import roles
from usagegraph.auth.permissions import as_uuid, principal_of
from usagegraph.auth.tokens import new_token, token_digest
from usagegraph.db.queries import auth as q
from usagegraph.errors import BadUserInput, Forbidden, NotFound
from usagegraph.schema.entities import User
from usagegraph.schema.ingest import CreatedToken


async def _require_admin_over_user(info: Info, conn: Any, user_id: uuid.UUID) -> None:
    """users:admin site-wide, or in EVERY organization the target user belongs to: a token carries all of
    its user's roles, so an organization admin must not mint or revoke one for a user who also holds roles
    in organizations that admin does not administer."""
    principal = principal_of(info)
    if principal.has(roles.USERS_ADMIN):
        return
    orgs = await q.user_org_ids(conn, user_id)
    if not any(principal.sees_org(org) for org in orgs) and user_id != principal.user_id:
        raise NotFound("user not found")
    if not orgs or not all(principal.has(roles.USERS_ADMIN, org) for org in orgs):
        raise Forbidden("requires users:admin in every organization of this user, or site-wide")


async def create_token(info: Info, user_id: Any, name: str, expires_at: datetime | None) -> CreatedToken:
    target = as_uuid(user_id, "userId")
    if not name.strip():
        raise BadUserInput("name must not be empty", argument="name")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise BadUserInput("expiresAt must be in the future", argument="expiresAt")
    async with info.context.db.write() as conn:
        if not await q.user_exists(conn, target):
            raise NotFound("user not found")
        await _require_admin_over_user(info, conn, target)
        token = new_token()
        token_id = await q.insert_token(conn, target, name.strip(), token_digest(token), expires_at)
    return CreatedToken(id=strawberry.ID(str(token_id)), token=token, expires_at=expires_at)


async def revoke_token(info: Info, id: Any) -> bool:
    token_id = as_uuid(id, "id")
    async with info.context.db.write() as conn:
        owner = await q.token_user(conn, token_id)
        if owner is None:
            raise NotFound("token not found")
        await _require_admin_over_user(info, conn, owner)
        return await q.revoke_token(conn, token_id)


def _canonical_roles(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        canonical = roles.canonical_role(name)
        if canonical is None:
            raise BadUserInput(
                f"unknown role {name!r}; known roles: {', '.join(roles.role_names())}", argument="roles"
            )
        if canonical not in out:
            out.append(canonical)
    return out


async def set_roles(info: Info, user_id: Any, organization_id: Any, role_names: list[str]) -> User:
    target = as_uuid(user_id, "userId")
    canonical = _canonical_roles(role_names)
    principal = principal_of(info)
    async with info.context.db.write() as conn:
        if not await q.user_exists(conn, target):
            raise NotFound("user not found")
        if organization_id is None:
            if not principal.has(roles.USERS_ADMIN):
                raise Forbidden("site-wide roles require a site-wide users:admin")
            await q.set_site_roles(conn, target, canonical)
        else:
            org = as_uuid(organization_id, "organizationId")
            if not await q.organization_exists(conn, org) or not principal.sees_org(org):
                raise NotFound("organization not found")
            if not principal.has(roles.USERS_ADMIN, org):
                raise Forbidden("requires users:admin in this organization")
            if not principal.has(roles.USERS_ADMIN) and org not in await q.user_org_ids(conn, target):
                raise Forbidden(
                    "only a site-wide users:admin can add a user to an organization they are not in"
                )
            await q.set_membership_roles(conn, target, org, canonical)
    info.context.loaders.user.clear(target)
    user: User = await info.context.loaders.user.load(target)
    return user


async def _grant_target(
    info: Info, conn: Any, template_id: Any, user_id: Any
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    template = as_uuid(template_id, "templateId")
    target = as_uuid(user_id, "userId")
    principal = principal_of(info)
    org = await q.template_org(conn, template)
    if org is None or not principal.sees_org(org):
        raise NotFound("template not found")
    if not principal.has(roles.USERS_ADMIN, org):
        raise Forbidden("requires users:admin in the template's organization")
    if not await q.user_exists(conn, target):
        raise NotFound("user not found")
    return org, template, target


async def grant_template_insights(info: Info, template_id: Any, user_id: Any) -> bool:
    async with info.context.db.write() as conn:
        org, template, target = await _grant_target(info, conn, template_id, user_id)
        await q.grant_insights(conn, org, template, target)
    return True


async def revoke_template_insights(info: Info, template_id: Any, user_id: Any) -> bool:
    async with info.context.db.write() as conn:
        _, template, target = await _grant_target(info, conn, template_id, user_id)
        return await q.revoke_insights(conn, template, target)
