"""usagegraph.db.tables tells the truth: the SQLModel models describe the schema the migrations build.

Two checks against a fresh database migrated to head (the session's test database):
- Alembic's autogenerate comparison finds no difference (tables, columns, types, nullability, server
  defaults, unique constraints, foreign keys, index names, key columns and expressions), and raises none
  of its warnings (a generated column whose expression differs only warns).
- What Alembic does not compare (an index's INCLUDE columns and WHERE predicate, primary keys) is checked
  by building a second database from the models with create_all and comparing both catalogs: every
  table column's type, nullability, default and generation expression, every constraint and every index
  definition as PostgreSQL prints them. Views and materialized views are not tables and are not compared;
  functions, triggers and storage settings, which the models do not describe, are not either."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import usagegraph.db.tables  # noqa: F401  (registers the tables on the metadata)


def _include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    # alembic_version is Alembic's own bookkeeping, created by the migration runner, not by a migration.
    return not (type_ == "table" and name == "alembic_version")


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            # Reliable on PostgreSQL: Alembic asks the database whether the two default expressions are equal.
            "compare_server_default": True,
            "include_name": _include_name,
        },
    )
    with warnings.catch_warnings():
        # Alembic only warns when a generated column's expression differs ("Computed default on ... cannot
        # be modified") or when it cannot reflect something; either means the models are not the truth.
        warnings.simplefilter("error")
        return list(compare_metadata(context, SQLModel.metadata))


async def test_models_match_migrated_database(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


CATALOG = {
    "column": """
        SELECT c.relname || '.' || a.attname,
               format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
               || coalesce(CASE WHEN a.attgenerated = 's' THEN ' GENERATED ' ELSE ' DEFAULT ' END
                           || pg_get_expr(d.adbin, d.adrelid), '')
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "constraint": """
        SELECT c.relname || '.' || k.conname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'
    """,
    "index": """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class c ON c.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'
    """,
}


async def _catalog(url: str) -> dict[str, str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            facts: dict[str, str] = {}
            for kind, query in CATALOG.items():
                for name, definition in await connection.execute(text(query)):
                    if not name.startswith("alembic_version"):
                        facts[f"{kind} {name}"] = definition
            return facts
    finally:
        await engine.dispose()


@pytest.fixture
async def models_database_url(database_url: str) -> AsyncIterator[str]:
    """A database on the same server built by SQLModel.metadata.create_all instead of the migrations."""
    url = make_url(database_url)
    name = f"{url.database}_models_{uuid.uuid4().hex[:6]}"
    admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    built = url.set(database=name).render_as_string(hide_password=False)
    try:
        engine = create_async_engine(built)
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)
        await engine.dispose()
        yield built
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_models_build_the_migrated_catalog(database_url: str, models_database_url: str) -> None:
    migrated = await _catalog(database_url)
    modelled = await _catalog(models_database_url)
    # The catalog queries see every table of the models (and so compare something).
    assert {key.split()[1].split(".")[0] for key in migrated if key.startswith("column ")} == set(
        SQLModel.metadata.tables
    )
    only_migrated = {k: v for k, v in migrated.items() if modelled.get(k) != v}
    only_modelled = {k: v for k, v in modelled.items() if migrated.get(k) != v}
    assert (only_migrated, only_modelled) == ({}, {})
