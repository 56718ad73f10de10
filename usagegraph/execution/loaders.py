"""Per-request DataLoaders: one SQL statement per entity type per batch, whatever the row count.
Each batch takes its own connection from the pool.

The loaders read rows; what a row becomes is given to them (`Shapes`: usagegraph.schema.builders in the server),
so this layer knows the queries and the batching, not the GraphQL types, and each request caches one object per
row."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.database import Database
from usagegraph.db.queries import entities as q

K = TypeVar("K")
V = TypeVar("V")

PageKey = tuple[uuid.UUID, uuid.UUID | None, int, tuple[str, uuid.UUID] | None]
WorkspacePage = tuple[list[Any], int]


class Shapes(Protocol):
    """Row to object, per entity (usagegraph.schema.builders is one)."""

    def user(self, row: Row[Any], /) -> Any: ...
    def organization(self, row: Row[Any], /) -> Any: ...
    def template(self, row: Row[Any], /) -> Any: ...
    def template_parameter(self, row: Row[Any], /) -> Any: ...
    def workspace(self, row: Row[Any], /) -> Any: ...
    def workspace_parameter(self, row: Row[Any], /) -> Any: ...


Fetch = Callable[[AsyncConnection, list[Any]], Awaitable[Sequence[Row[Any]]]]


def _by_id(db: Database, fetch: Fetch, build: Callable[[Row[Any]], V]) -> DataLoader[Any, Any]:
    async def batch(keys: list[uuid.UUID]) -> list[V | None]:
        async with db.read() as conn:
            rows = await fetch(conn, list(set(keys)))
        found = {row.id: build(row) for row in rows}
        return [found.get(key) for key in keys]

    return DataLoader(batch)


def _grouped(db: Database, fetch: Fetch, key: str, build: Callable[[Row[Any]], V]) -> DataLoader[Any, Any]:
    async def batch(keys: list[uuid.UUID]) -> list[list[V]]:
        async with db.read() as conn:
            rows = await fetch(conn, list(set(keys)))
        groups: dict[uuid.UUID, list[V]] = defaultdict(list)
        for row in rows:
            groups[getattr(row, key)].append(build(row))
        return [groups.get(k, []) for k in keys]

    return DataLoader(batch)


class Loaders:
    def __init__(self, db: Database, builders: Shapes) -> None:
        # Users are read for whole analytics row lists at once (see users()); both ways share one cache, and
        # a user being read is not read again by a concurrent call.
        self._users: dict[uuid.UUID, Any] = {}
        self._reading: dict[uuid.UUID, Awaitable[None]] = {}

        async def user_batch(keys: list[uuid.UUID]) -> list[Any]:
            await self._read_users(keys)
            return [self._users.get(key) for key in keys]

        async def user_reads_batch(keys: list[tuple[uuid.UUID, ...]]) -> list[None]:
            """Reads every user the concurrent reads of one tick miss, in one statement."""
            wanted = [key for group in keys for key in group]
            try:
                async with db.read() as conn:
                    rows = await q.users_by_id(conn, list(set(wanted)))
                for row in rows:
                    self._users[row.id] = builders.user(row)
            finally:
                for key in wanted:
                    self._reading.pop(key, None)
            return [None] * len(keys)

        self.user: DataLoader[Any, Any] = DataLoader(user_batch)
        self._user_reads: DataLoader[Any, Any] = DataLoader(user_reads_batch, cache=False)
        self.organization: DataLoader[Any, Any] = _by_id(db, q.organizations_by_id, builders.organization)
        self.template: DataLoader[Any, Any] = _by_id(db, q.templates_by_id, builders.template)
        self.workspace: DataLoader[Any, Any] = _by_id(db, q.workspaces_by_id, builders.workspace)
        self.project_name: DataLoader[Any, Any] = _by_id(db, q.projects_by_id, lambda row: row.name)
        self.org_templates: DataLoader[Any, Any] = _grouped(
            db, q.templates_of_orgs, "organization_id", builders.template
        )
        self.template_parameters: DataLoader[Any, Any] = _grouped(
            db, q.template_parameters, "template_id", builders.template_parameter
        )
        self.workspace_parameters: DataLoader[Any, Any] = _grouped(
            db, q.workspace_parameters, "workspace_id", builders.workspace_parameter
        )
        self.owner_workspaces: DataLoader[Any, Any] = _grouped(
            db, q.workspaces_by_owner, "owner_id", builders.workspace
        )

        async def membership_batch(keys: list[tuple[uuid.UUID, uuid.UUID]]) -> list[tuple[str, ...] | None]:
            async with db.read() as conn:
                rows = await q.memberships(conn, list(set(keys)))
            found = {(row.user_id, row.organization_id): tuple(row.roles) for row in rows}
            return [found.get(key) for key in keys]

        self.membership_roles: DataLoader[Any, Any] = DataLoader(membership_batch)

        async def workspace_page_batch(keys: list[PageKey]) -> list[WorkspacePage]:
            async with db.read() as conn:
                rows, totals = await q.workspace_pages(conn, keys)
            pages: dict[int, list[Any]] = defaultdict(list)
            for row in rows:
                pages[row.idx].append(builders.workspace(row))
            counts = {row.idx: row.total for row in totals}
            return [(pages.get(i + 1, []), counts.get(i + 1, 0)) for i in range(len(keys))]

        self.workspace_page: DataLoader[Any, Any] = DataLoader(workspace_page_batch, cache=False)

    def clear(self) -> None:
        """Forgets every loaded value (see Context.release)."""
        for loader in vars(self).values():
            if isinstance(loader, DataLoader):
                loader.clear_all()
        self._users.clear()
        self._reading.clear()

    async def users(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
        """The users of many analytics rows at once, by id (unknown ids are left out): those this request
        has not read yet come in one statement, shared by the calls of the same tick, with one future per
        call (a DataLoader's load_many makes a future, a task callback and a gather entry per user)."""
        ids = list(ids)
        await self._read_users(ids)
        known = self._users
        return {key: known[key] for key in ids if key in known}

    async def _read_users(self, ids: Sequence[uuid.UUID]) -> None:
        """Waits until every one of these users this request has not read yet has been read."""
        known, reading = self._users, self._reading
        missing = tuple({key for key in ids if key not in known and key not in reading})
        waits = {id(w): w for w in (reading[key] for key in set(ids) if key in reading)}
        if missing:
            read = self._user_reads.load(missing)
            for key in missing:
                reading[key] = read
            waits[id(read)] = read
        if waits:
            # Shielded: the reads are shared, and a caller cancelled while it waits must not cancel them for
            # the others.
            await asyncio.gather(*(asyncio.shield(wait) for wait in waits.values()))
