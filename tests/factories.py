"""Entity factories that write straight to the database, for arranging a test's world quickly.
Facts (activity, samples, AI sessions) go through the ingest mutation in the tests themselves."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from usagegraph.auth.tokens import new_token, token_digest
from usagegraph.db.queries.rollup import merge_sessions

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


class Factory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.counter = 0

    def _n(self) -> int:
        self.counter += 1
        return self.counter

    async def _exec(self, sql: str, params: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text(sql), params)

    async def organization(self, name: str | None = None, created_at: datetime = EPOCH) -> uuid.UUID:
        org_id = uuid.uuid4()
        await self._exec(
            "INSERT INTO organizations (id, name, created_at) VALUES (:id, :name, :at)",
            {"id": org_id, "name": name or f"org-{self._n()}", "at": created_at},
        )
        return org_id

    async def user(
        self,
        username: str | None = None,
        *,
        site_roles: list[str] | None = None,
        orgs: dict[uuid.UUID, list[str]] | None = None,
        email: str | None = None,
        name: str | None = None,
    ) -> uuid.UUID:
        user_id = uuid.uuid4()
        username = username or f"user-{self._n()}"
        await self._exec(
            "INSERT INTO users (id, username, name, email, created_at, site_roles) "
            "VALUES (:id, :u, :name, :email, :at, :roles)",
            {
                "id": user_id,
                "u": username,
                "name": name or username.title(),
                "email": email if email is not None else f"{username}@example.com",
                "at": EPOCH,
                "roles": site_roles or [],
            },
        )
        for org, roles in (orgs or {}).items():
            await self.membership(user_id, org, roles)
        return user_id

    async def membership(self, user_id: uuid.UUID, org_id: uuid.UUID, roles: list[str]) -> None:
        await self._exec(
            "INSERT INTO memberships (organization_id, user_id, roles) VALUES (:org, :user, :roles)",
            {"org": org_id, "user": user_id, "roles": roles},
        )

    async def token(self, user_id: uuid.UUID, *, expires_at: datetime | None = None) -> str:
        token = new_token()
        await self._exec(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) "
            "VALUES (:id, :user, 'test', :digest, now(), :expires)",
            {"id": uuid.uuid4(), "user": user_id, "digest": token_digest(token), "expires": expires_at},
        )
        return token

    async def template(
        self,
        org_id: uuid.UUID,
        name: str | None = None,
        *,
        created_at: datetime = EPOCH,
        parameters: list[dict[str, Any]] | None = None,
    ) -> uuid.UUID:
        template_id = uuid.uuid4()
        name = name or f"template-{self._n()}"
        await self._exec(
            "INSERT INTO templates (organization_id, id, name, display_name, created_at) "
            "VALUES (:org, :id, :name, :display, :at)",
            {"org": org_id, "id": template_id, "name": name, "display": name.title(), "at": created_at},
        )
        for position, param in enumerate(parameters or []):
            await self._exec(
                "INSERT INTO template_parameters (organization_id, template_id, name, position, display_name, type, "
                "default_value, options) VALUES (:org, :t, :name, :pos, :display, :type, :default, CAST(:options AS jsonb))",
                {
                    "org": org_id,
                    "t": template_id,
                    "name": param["name"],
                    "pos": position,
                    "display": param.get("displayName", param["name"]),
                    "type": param.get("type", "string"),
                    "default": param.get("defaultValue"),
                    "options": json.dumps(param.get("options", [])),
                },
            )
        return template_id

    async def workspace(
        self,
        org_id: uuid.UUID,
        template_id: uuid.UUID,
        owner_id: uuid.UUID,
        name: str | None = None,
        *,
        created_at: datetime = EPOCH,
        deleted_at: datetime | None = None,
        parameters: dict[str, str] | None = None,
    ) -> uuid.UUID:
        ws_id = uuid.uuid4()
        await self._exec(
            "INSERT INTO workspaces (organization_id, id, template_id, owner_id, name, created_at, deleted_at) "
            "VALUES (:org, :id, :t, :owner, :name, :at, :deleted)",
            {
                "org": org_id,
                "id": ws_id,
                "t": template_id,
                "owner": owner_id,
                "name": name or f"ws-{self._n()}",
                "at": created_at,
                "deleted": deleted_at,
            },
        )
        for key, value in (parameters or {}).items():
            await self._exec(
                "INSERT INTO workspace_parameters (organization_id, workspace_id, name, value) "
                "VALUES (:org, :ws, :name, :value)",
                {"org": org_id, "ws": ws_id, "name": key, "value": value},
            )
        return ws_id

    async def project(self, org_id: uuid.UUID, name: str | None = None) -> uuid.UUID:
        project_id = uuid.uuid4()
        await self._exec(
            "INSERT INTO projects (organization_id, id, name) VALUES (:org, :id, :name)",
            {"org": org_id, "id": project_id, "name": name or f"project-{self._n()}"},
        )
        return project_id

    async def activity(
        self,
        org_id: uuid.UUID,
        user_id: uuid.UUID,
        category: str,
        started_at: datetime,
        ended_at: datetime | None = None,
        *,
        workspace_id: uuid.UUID | None = None,
        template_id: uuid.UUID | None = None,
        app: str | None = None,
    ) -> uuid.UUID:
        """A session written as ingest writes it (raw row plus rollup), for analytics tests that arrange
        many facts; ingest itself is tested through the mutation."""
        session_id = uuid.uuid4()
        async with self.engine.begin() as conn:
            if workspace_id is not None and template_id is None:
                template_id = (
                    await conn.execute(
                        text("SELECT template_id FROM workspaces WHERE id = :id"), {"id": workspace_id}
                    )
                ).scalar_one()
            await conn.execute(
                text(
                    "INSERT INTO activity_sessions (organization_id, id, user_id, workspace_id, template_id, category, "
                    "app, started_at, ended_at) VALUES (:org, :id, :user, :ws, :t, :cat, :app, :start, :end)"
                ),
                {
                    "org": org_id,
                    "id": session_id,
                    "user": user_id,
                    "ws": workspace_id,
                    "t": template_id,
                    "cat": category,
                    "app": app,
                    "start": started_at,
                    "end": ended_at,
                },
            )
            await merge_sessions(conn, [(org_id, session_id)])
        return session_id
