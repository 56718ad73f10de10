"""In-process GraphQL execution for the command line: `import` and `demo-data` send their records through
the same `ingest` mutation, validation and transaction as HTTP clients do."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from graphql import execute, parse
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.utils.await_maybe import await_maybe

from usagegraph.auth.principal import Principal
from usagegraph.db import migrate
from usagegraph.db.database import Database
from usagegraph.db.engine import create_engine, resolve_database_url
from usagegraph.errors import UsageGraphError
from usagegraph.execution.context import Context
from usagegraph.execution.loaders import Loaders
from usagegraph.schema import builders
from usagegraph.schema.schema import build_schema
from usagegraph.settings import Settings

SYSTEM = Principal(user_id=uuid.UUID(int=0), username="system", site_roles=("owner",), org_roles={})

INGEST = parse(
    """
    mutation Ingest($batch: IngestBatch!) {
      ingest(batch: $batch) { accepted duplicates rejected { kind index code message } }
    }
    """
)


class LocalError(Exception):
    pass


class Local:
    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.db = Database(engine=engine, read_engine=engine)
        self.schema = build_schema()._schema

    async def ingest(self, batch: dict[str, Any]) -> dict[str, Any]:
        context = Context(
            settings=self.settings,
            db=self.db,
            principal=SYSTEM,
            request_id=uuid.uuid4().hex,
            loaders=Loaders(self.db, builders),
        )
        result = await await_maybe(
            execute(self.schema, INGEST, context_value=context, variable_values={"batch": batch})
        )
        if result.errors:
            error = result.errors[0]
            original = error.original_error
            if isinstance(original, UsageGraphError):
                raise LocalError(original.message)
            raise LocalError(error.message) from original
        assert result.data is not None
        outcome: dict[str, Any] = result.data["ingest"]
        return outcome


@asynccontextmanager
async def local(settings: Settings, *, migrate_first: bool = True) -> AsyncIterator[Local]:
    engine = create_engine(settings, resolve_database_url(settings))
    try:
        if migrate_first:
            await migrate.upgrade(engine)
        yield Local(settings, engine)
    finally:
        await engine.dispose()
