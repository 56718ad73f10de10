"""Tokens, roles and grants."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class TokenOwner:
    token_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    site_roles: tuple[str, ...]
    org_roles: dict[uuid.UUID, tuple[str, ...]]


_PRINCIPAL = text(
    """
    SELECT t.id AS token_id, u.id AS user_id, u.username, u.site_roles,
           coalesce(array_agg(m.organization_id) FILTER (WHERE m.organization_id IS NOT NULL), '{}') AS orgs,
           coalesce(array_agg(array_to_string(m.roles, ',')) FILTER (WHERE m.organization_id IS NOT NULL),
                    '{}') AS roles
    FROM api_tokens t
    JOIN users u ON u.id = t.user_id
    LEFT JOIN memberships m ON m.user_id = u.id
    WHERE t.token_hash = :digest AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
    GROUP BY t.id, u.id
    """
)


async def token_owner(conn: AsyncConnection, digest: bytes) -> TokenOwner | None:
    row = (await conn.execute(_PRINCIPAL, {"digest": digest})).one_or_none()
    if row is None:
        return None
    org_roles = {
        org: tuple(r for r in roles.split(",") if r) for org, roles in zip(row.orgs, row.roles, strict=True)
    }
    return TokenOwner(row.token_id, row.user_id, row.username, tuple(row.site_roles), org_roles)


async def insert_token(
    conn: AsyncConnection, user_id: uuid.UUID, name: str, digest: bytes, expires_at: datetime | None
) -> uuid.UUID:
    token_id = uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) "
            "VALUES (:id, :user_id, :name, :digest, now(), :expires_at)"
        ),
        {"id": token_id, "user_id": user_id, "name": name, "digest": digest, "expires_at": expires_at},
    )
    return token_id


async def token_user(conn: AsyncConnection, token_id: uuid.UUID) -> uuid.UUID | None:
    row = (
        await conn.execute(text("SELECT user_id FROM api_tokens WHERE id = :id"), {"id": token_id})
    ).first()
    return row.user_id if row else None


async def revoke_token(conn: AsyncConnection, token_id: uuid.UUID) -> bool:
    result = await conn.execute(
        text("UPDATE api_tokens SET revoked_at = now() WHERE id = :id AND revoked_at IS NULL"),
        {"id": token_id},
    )
    return bool(result.rowcount)


async def user_id_by_username(conn: AsyncConnection, username: str) -> uuid.UUID | None:
    row = (await conn.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username})).first()
    return row.id if row else None


async def create_owner(conn: AsyncConnection, username: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO users (id, username, name, created_at, site_roles) "
            "VALUES (:id, :u, :u, now(), ARRAY['owner'])"
        ),
        {"id": user_id, "u": username},
    )
    return user_id


async def user_org_ids(conn: AsyncConnection, user_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.execute(
        text("SELECT organization_id FROM memberships WHERE user_id = :u"), {"u": user_id}
    )
    return [row.organization_id for row in rows]


async def set_site_roles(conn: AsyncConnection, user_id: uuid.UUID, roles: list[str]) -> bool:
    result = await conn.execute(
        text("UPDATE users SET site_roles = :roles WHERE id = :id"), {"roles": roles, "id": user_id}
    )
    return bool(result.rowcount)


async def set_membership_roles(
    conn: AsyncConnection, user_id: uuid.UUID, organization_id: uuid.UUID, roles: list[str]
) -> None:
    await conn.execute(
        text(
            "INSERT INTO memberships (organization_id, user_id, roles) VALUES (:org, :user, :roles) "
            "ON CONFLICT (organization_id, user_id) DO UPDATE SET roles = excluded.roles"
        ),
        {"org": organization_id, "user": user_id, "roles": roles},
    )


async def template_org(conn: AsyncConnection, template_id: uuid.UUID) -> uuid.UUID | None:
    row = (
        await conn.execute(text("SELECT organization_id FROM templates WHERE id = :id"), {"id": template_id})
    ).first()
    return row.organization_id if row else None


async def grant_insights(
    conn: AsyncConnection, org: uuid.UUID, template_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    result = await conn.execute(
        text(
            "INSERT INTO insights_grants (organization_id, template_id, user_id) VALUES (:org, :t, :u) "
            "ON CONFLICT DO NOTHING"
        ),
        {"org": org, "t": template_id, "u": user_id},
    )
    return bool(result.rowcount)


async def revoke_insights(conn: AsyncConnection, template_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    result = await conn.execute(
        text("DELETE FROM insights_grants WHERE template_id = :t AND user_id = :u"),
        {"t": template_id, "u": user_id},
    )
    return bool(result.rowcount)


async def insights_grants(conn: AsyncConnection, user_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID]:
    """template id -> organization id of every per-template insights grant of the user."""
    rows = await conn.execute(
        text("SELECT template_id, organization_id FROM insights_grants WHERE user_id = :u"), {"u": user_id}
    )
    return {row.template_id: row.organization_id for row in rows}


async def user_exists(conn: AsyncConnection, user_id: uuid.UUID) -> bool:
    return bool((await conn.execute(text("SELECT 1 FROM users WHERE id = :id"), {"id": user_id})).first())


async def organization_exists(conn: AsyncConnection, org_id: uuid.UUID) -> bool:
    return bool(
        (await conn.execute(text("SELECT 1 FROM organizations WHERE id = :id"), {"id": org_id})).first()
    )
