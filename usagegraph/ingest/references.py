"""Lookups of what facts refer to, shared by the fact kinds of one batch: each id is fetched once, in one
statement per kind, after the batch's entities are written (so they are found)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import ingest as q


class References:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._users: dict[uuid.UUID, bool] = {}
        self._orgs: dict[uuid.UUID, bool] = {}
        self._workspaces: dict[uuid.UUID, Any] = {}
        self._projects: dict[uuid.UUID, uuid.UUID | None] = {}

    async def users(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, bool]:
        missing = {i for i in ids if i not in self._users}
        if missing:
            found = await q.existing_users(self.conn, missing)
            self._users.update({i: i in found for i in missing})
        return self._users

    async def organizations(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, bool]:
        missing = {i for i in ids if i not in self._orgs}
        if missing:
            found = await q.existing_organizations(self.conn, missing)
            self._orgs.update({i: i in found for i in missing})
        return self._orgs

    async def workspaces(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """id -> row with organization_id and template_id, or None when unknown."""
        missing = {i for i in ids if i not in self._workspaces}
        if missing:
            found = await q.workspace_refs(self.conn, missing)
            self._workspaces.update({i: found.get(i) for i in missing})
        return self._workspaces

    async def projects(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID | None]:
        """id -> organization_id, or None when unknown."""
        missing = {i for i in ids if i not in self._projects}
        if missing:
            found = await q.project_orgs(self.conn, missing)
            self._projects.update({i: found.get(i) for i in missing})
        return self._projects
