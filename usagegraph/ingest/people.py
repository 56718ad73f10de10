"""Organizations, users and memberships: the shared, slowly changing entities of a batch. Who may create
or change them is decided by ``Scope`` (see its docstring)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import ingest as q
from usagegraph.ingest.outcome import (
    FORBIDDEN,
    NOT_FOUND,
    Outcome,
    Rejected,
    Scope,
    bad,
    canonical_roles,
    parse_uuid,
    required_text,
)
from usagegraph.ingest.table import Row, Table, anyone, parsed_records


async def organizations(conn: AsyncConnection, records: list[Any], scope: Scope, out: Outcome) -> None:
    kind = "organizations"
    parsed = parsed_records(
        kind, records, out, lambda r: (parse_uuid(r.id, "id"), required_text(r.name, "name"))
    )
    stored = await q.organizations(conn, (p[0] for _, _, p in parsed))
    table = Table(kind, out, {row.id: row._asdict() for row in stored})

    def authorize(current: Row | None, new: Row) -> None:
        if current is None and not scope.site_wide:
            raise Rejected(FORBIDDEN, "creating an organization requires site-wide ingest:write")
        scope.require_named_org(new["id"])

    for index, record, (org_id, name) in parsed:

        def build(
            current: Row | None, org_id: uuid.UUID = org_id, name: str = name, record: Any = record
        ) -> Row:
            created = record.created_at or (current["created_at"] if current else scope.now)
            return {"id": org_id, "name": name, "created_at": created}

        table.offer(index, org_id, build, authorize)
    await q.upsert_organizations(conn, table.changed())


async def users(conn: AsyncConnection, records: list[Any], scope: Scope, out: Outcome) -> None:
    kind = "users"

    def parse(r: Any) -> tuple[uuid.UUID, str, list[str] | None]:
        site_roles = None if r.site_roles is None else canonical_roles(r.site_roles, "siteRoles")
        return parse_uuid(r.id, "id"), required_text(r.username, "username"), site_roles

    parsed = parsed_records(kind, records, out, parse)
    stored = await q.users(conn, (p[0] for _, _, p in parsed), (p[1] for _, _, p in parsed))
    usernames = {row.username: row.id for row in stored}
    by_id = {row.id: {**row._asdict(), "site_roles": list(row.site_roles)} for row in stored}
    ids = {p[0] for _, _, p in parsed}
    table = Table(kind, out, {key: value for key, value in by_id.items() if key in ids})
    member_of = await q.user_memberships(conn, ids) if not scope.site_wide else {}

    def authorize(current: Row | None, new: Row) -> None:
        if new["site_roles"] != (current["site_roles"] if current else []) and not scope.site_wide:
            raise Rejected(FORBIDDEN, "setting site roles requires site-wide ingest:write")
        if current is not None and not scope.site_wide:
            if not any(scope.can_write(org) for org in member_of.get(new["id"], ())):
                raise Rejected(
                    FORBIDDEN,
                    "changing a user outside the caller's organizations requires site-wide ingest:write",
                )
        if current is not None and current["username"] != new["username"]:
            usernames.pop(current["username"], None)
        usernames[new["username"]] = new["id"]

    for index, record, (user_id, username, site_roles) in parsed:

        def build(
            current: Row | None,
            user_id: uuid.UUID = user_id,
            username: str = username,
            site_roles: list[str] | None = site_roles,
            r: Any = record,
        ) -> Row:
            owner = usernames.get(username)
            if owner is not None and owner != user_id:
                raise bad(f"username {username!r} belongs to another user")
            keep = current or {"name": username, "email": None, "created_at": scope.now, "site_roles": []}
            return {
                "id": user_id,
                "username": username,
                "name": r.name if r.name is not None else keep["name"],
                "email": r.email if r.email is not None else keep["email"],
                "created_at": r.created_at or keep["created_at"],
                "site_roles": site_roles if site_roles is not None else keep["site_roles"],
            }

        table.offer(index, user_id, build, authorize)
    await q.upsert_users(conn, table.changed())


async def memberships(conn: AsyncConnection, records: list[Any], scope: Scope, out: Outcome) -> None:
    kind = "memberships"

    def parse(r: Any) -> tuple[uuid.UUID, uuid.UUID, list[str]]:
        return (
            parse_uuid(r.organization_id, "organizationId"),
            parse_uuid(r.user_id, "userId"),
            canonical_roles(r.roles, "roles"),
        )

    parsed = parsed_records(kind, records, out, parse)
    orgs = await q.existing_organizations(conn, (p[0] for _, _, p in parsed))
    users_found = await q.existing_users(conn, (p[1] for _, _, p in parsed))
    stored = await q.memberships(conn, ((p[0], p[1]) for _, _, p in parsed))
    table = Table(kind, out, {key: {"roles": value} for key, value in stored.items()})
    for index, _, (org_id, user_id, role_names) in parsed:

        def build(
            current: Row | None,
            org_id: uuid.UUID = org_id,
            user_id: uuid.UUID = user_id,
            role_names: list[str] = role_names,
        ) -> Row:
            scope.require_named_org(org_id)
            if org_id not in orgs:
                raise Rejected(NOT_FOUND, f"unknown organization {org_id}")
            if user_id not in users_found:
                raise Rejected(NOT_FOUND, f"unknown user {user_id}")
            return {"roles": role_names}

        table.offer(index, (org_id, user_id), build, anyone)
    await q.upsert_memberships(
        conn,
        [{"organization_id": key[0], "user_id": key[1], **table.rows[key]} for key in table.dirty],  # type: ignore[index]
    )
