"""The bulk path of `usagegraph import` (docs/ingest.md): the same validation, de-duplication and rollups as
the `ingest` mutation, without its per-batch costs.

Where an import through the mutation spends its time (measured on a two-year history, docs/benchmarks.md):
in the process, GraphQL's coercion of the batch variable, field by field through graphql-core; in the
database, the activity rollups, which every batch merges again: a batch of sessions spread over two years
touches nearly every quarter-hour row, user-day and per-day user vector of the organization, so each batch
rewrites most of the rollup rows the batches before it wrote.

The bulk path keeps everything that decides what is stored and removes those two costs:

- Each NDJSON record is coerced by a converter compiled once from the schema's own input types: the
  scalars' and enums' parse functions of the schema, its required fields and defaults, then the same
  input objects as the mutation builds (``IngestBatch``'s compiled conversion). A record that does not fit
  its input type stops the import with its line number, as a line that is not JSON does.
- Chunks of records go through ``pipeline.run``, the mutation's own validation and writes: every rule,
  every rejection (kind, index, code, message) and every de-duplication decision is the mutation's. The
  rejection's index maps back to its NDJSON line.
- While the chunks are written, the activity rollup merge is deferred (``rollup.deferred``): the keys of
  the sessions each chunk inserted or extended are copied (COPY) into a staging table. After the last
  chunk, the staged sessions are read back from activity_sessions in start order and merged in chunks by
  the same ``merge_rows``: each rollup row is written about once instead of once per batch. Sessions
  inserted by this import go through its "add" statements first; sessions stored before it and extended
  by it are recomputed last, from the stored sessions, when every new session is already in the rollups.
- Everything happens in one transaction: an import that stops (a bad line, an error, an interrupt)
  stores nothing, and re-running it is safe (importing the same file twice stores nothing twice).

The process holds at most two chunks of records (the one being written, the next one being read) and one
chunk of sessions to merge, whatever the size of the file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types.arguments import InputContext

from usagegraph.db.queries import rollup
from usagegraph.ingest import pipeline
from usagegraph.ingest.outcome import Outcome, Scope
from usagegraph.pricing import load_price_table
from usagegraph.upkeep.retention import ingest_cutoffs

KINDS = tuple(kind for kind in pipeline.KINDS if kind != "workspaceParameters")
DEFAULT_CHUNK = 25_000
MERGE_CHUNK = 50_000
"""Sessions per rollup merge statement at the end of an import."""

Convert = Callable[[Any], Any]
Report = Callable[[int | str, str, str, str], None]
"""Called for each rejected record with its line number, kind, code and message."""


class LineError(Exception):
    """A line the import cannot go on from (not JSON, no kind, a record that does not fit its type)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def parse_line(number: int, raw: bytes) -> tuple[str, dict[str, Any]] | None:
    """The (kind, record) of one NDJSON line, None for a blank line."""
    if not raw.strip():
        return None
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise LineError(number, f"not JSON ({error})") from None
    kind = record.pop("kind", None) if isinstance(record, dict) else None
    if kind not in KINDS:
        raise LineError(number, f"'kind' must be one of {', '.join(KINDS)}")
    return kind, record


# --- coercion ---------------------------------------------------------------------------------------


class CoercionError(Exception):
    pass


def _compile(type_: Any, compiled: dict[str, Convert]) -> Convert:
    """A converter of a JSON value to what graphql-core's input coercion gives for `type_`: leaves through
    the type's own parse_value, input objects as dicts of their GraphQL field names with defaults filled
    in, a single value where a list is expected taken as a list of one."""
    if isinstance(type_, GraphQLNonNull):
        inner = _compile(type_.of_type, compiled)
        shown = str(type_)

        def non_null(value: Any) -> Any:
            if value is None:
                raise CoercionError(f"expected non-nullable type {shown}, got null")
            return inner(value)

        return non_null
    if isinstance(type_, GraphQLList):
        item = _compile(type_.of_type, compiled)

        def as_list(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, list):
                return [item(v) for v in value]
            return [item(value)]

        return as_list
    if isinstance(type_, GraphQLInputObjectType):
        return _compile_object(type_, compiled)
    if isinstance(type_, (GraphQLScalarType, GraphQLEnumType)):
        parse = type_.parse_value
        name = type_.name

        def leaf(value: Any) -> Any:
            if value is None:
                return None
            try:
                parsed = parse(value)
            except Exception as error:  # noqa: BLE001  (any parse error is the value's)
                raise CoercionError(f"{name} cannot represent {str(value)[:60]!r}: {error}") from None
            if parsed is Undefined:
                raise CoercionError(f"{name} cannot represent {str(value)[:60]!r}")
            return parsed

        return leaf
    raise TypeError(f"unexpected input type {type_}")


def _compile_object(type_: GraphQLInputObjectType, compiled: dict[str, Convert]) -> Convert:
    if type_.name in compiled:
        return compiled[type_.name]
    fields: list[tuple[str, Convert, Any, bool]] = []
    names: set[str] = set()
    name = type_.name

    def convert(value: Any) -> Any:
        if not isinstance(value, dict):
            raise CoercionError(f"expected an object of type {name}")
        out: dict[str, Any] = {}
        for field_name, coerce, default, required in fields:
            if field_name in value:
                try:
                    out[field_name] = coerce(value[field_name])
                except CoercionError as error:
                    raise CoercionError(f"{field_name}: {error}") from None
            elif default is not Undefined:
                out[field_name] = default
            elif required:
                raise CoercionError(f"field {field_name} of {name} is required")
        if not names.issuperset(value):
            unknown = sorted(set(value) - names)
            raise CoercionError(f"field {unknown[0]!r} is not defined by type {name}")
        return out

    compiled[type_.name] = convert
    for field_name, input_field in type_.fields.items():
        names.add(field_name)
        fields.append(
            (
                field_name,
                _compile(input_field.type, compiled),
                input_field.default_value,
                isinstance(input_field.type, GraphQLNonNull),
            )
        )
    return convert


class Coercer:
    """Record dicts of one kind to the input objects ``pipeline.run`` takes, as the mutation builds them."""

    def __init__(self) -> None:
        from usagegraph.schema.ingest import IngestBatch
        from usagegraph.schema.schema import build_schema

        schema = build_schema()
        graphql_schema: GraphQLSchema = schema._schema
        batch_type = graphql_schema.type_map["IngestBatch"]
        assert isinstance(batch_type, GraphQLInputObjectType)
        compiled: dict[str, Convert] = {}
        self.records: dict[str, Convert] = {}
        for kind in KINDS:
            list_type = batch_type.fields[kind].type
            assert isinstance(list_type, GraphQLList) and isinstance(list_type.of_type, GraphQLNonNull)
            self.records[kind] = _compile(list_type.of_type.of_type, compiled)
        self._batch_class = IngestBatch
        self._context = InputContext(
            info=None, config=schema.config, scalar_registry=schema.schema_converter.scalar_registry, path=()
        )

    def record(self, kind: str, line: int, value: Any) -> Any:
        try:
            return self.records[kind](value)
        except CoercionError as error:
            raise LineError(line, f"{kind} record does not fit its input type: {error}") from None

    def batch(self, coerced: dict[str, list[Any]]) -> Any:
        definition = self._batch_class.__strawberry_definition__  # type: ignore[attr-defined]
        return definition.from_input(self._batch_class, coerced, self._context)


# --- staging of the sessions whose rollups are deferred ------------------------------------------------

_STAGE = text(
    "CREATE TEMP TABLE bulk_rollup_sessions (organization_id uuid NOT NULL, id uuid NOT NULL, "
    "added boolean NOT NULL) ON COMMIT DROP"
)

_STAGED = text(
    """
    CREATE TEMP TABLE bulk_rollup_order ON COMMIT DROP AS
    SELECT row_number() OVER (ORDER BY a.started_at, a.organization_id, a.id) AS n,
           a.organization_id, a.id, a.user_id, a.workspace_id, a.template_id, a.category, a.app, a.started_at,
           a.ended_at, k.added
    FROM (SELECT organization_id, id, bool_or(added) AS added FROM bulk_rollup_sessions
          GROUP BY organization_id, id) k
    JOIN activity_sessions a ON a.organization_id = k.organization_id AND a.id = k.id
    """
)

_CHUNK = text(
    """
    SELECT n, organization_id, id, user_id, workspace_id, template_id, category, app, started_at, ended_at
    FROM bulk_rollup_order WHERE added = :added AND n > :after ORDER BY n LIMIT :limit
    """
)


async def _copy(
    conn: AsyncConnection, table: str, columns: list[str], records: Iterable[tuple[Any, ...]]
) -> None:
    raw = await conn.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(table, records=records, columns=columns)  # type: ignore[union-attr]


async def _stage(conn: AsyncConnection, added: Any, extended: Any) -> None:
    rows = [(row[0], row[1], True) for row in added] + [(row[0], row[1], False) for row in extended]
    if rows:
        await _copy(conn, "bulk_rollup_sessions", ["organization_id", "id", "added"], rows)


async def _merge_staged(conn: AsyncConnection, chunk: int) -> int:
    """Merges every staged session into the rollups: the ones this import inserted first, in start order,
    then the ones it extended (recomputed from the stored sessions). Returns how many were merged."""
    await conn.execute(_STAGED)
    await conn.execute(text("CREATE INDEX ON bulk_rollup_order (added, n)"))
    await conn.execute(text("ANALYZE bulk_rollup_order"))
    merged = 0
    for added in (True, False):
        after = 0
        while True:
            rows = (await conn.execute(_CHUNK, {"added": added, "after": after, "limit": chunk})).all()
            if not rows:
                break
            sessions = [tuple(row)[1:] for row in rows]
            if added:
                await rollup.merge_rows(conn, sessions, ())
            else:
                await rollup.merge_rows(conn, (), sessions)
            merged += len(sessions)
            after = int(rows[-1][0])
    return merged


# --- the import ---------------------------------------------------------------------------------------


def _chunks(
    lines: Iterable[tuple[int, bytes]], coercer: Coercer, chunk_size: int
) -> Iterator[tuple[Any, dict[str, list[int]]]]:
    """(input batch, line numbers by kind) of each chunk of `chunk_size` records."""
    records: dict[str, list[Any]] = {}
    numbers: dict[str, list[int]] = {}
    count = 0
    for number, raw in lines:
        parsed = parse_line(number, raw)
        if parsed is None:
            continue
        kind, record = parsed
        records.setdefault(kind, []).append(coercer.record(kind, number, record))
        numbers.setdefault(kind, []).append(number)
        count += 1
        if count >= chunk_size:
            yield coercer.batch(records), numbers
            records, numbers, count = {}, {}, 0
    if count:
        yield coercer.batch(records), numbers


@dataclass
class Totals:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def report_outcome(out: Outcome, lines: dict[str, list[int]], totals: Totals, report: Report) -> None:
    """Adds a batch's outcome to the totals and reports its rejections with their NDJSON line numbers
    (a ``workspaceParameters`` rejection is the line of its workspace)."""
    totals.accepted += sum(out.accepted.values())
    totals.duplicates += sum(out.duplicates.values())
    totals.rejected += len(out.rejected)
    for r in out.rejected:
        kind_lines = lines.get("workspaces" if r.kind == "workspaceParameters" else r.kind)
        line: int | str = kind_lines[r.index] if kind_lines is not None else "?"
        report(line, r.kind, r.code, r.message)


async def import_lines(
    conn: AsyncConnection,
    lines: Iterable[tuple[int, bytes]],
    *,
    settings: Any,
    principal: Any,
    report: Report,
    chunk_size: int = DEFAULT_CHUNK,
    merge_chunk: int | None = None,
) -> Totals:
    """Imports numbered NDJSON lines in the caller's transaction (which it should commit only when this
    returns). Raises LineError for a line the import cannot go on from."""
    now = datetime.now(UTC)
    scope = Scope(principal, now, settings.disable_template_insights, ingest_cutoffs(settings, now))
    prices = load_price_table(settings.price_table)
    coercer = Coercer()
    totals = Totals()
    # The rollup statements are large plans; on a server built with JIT (not the embedded one) compiling
    # them took about 3 s per statement on 2 loaded cores, longer than running them.
    await conn.execute(text("SET LOCAL jit = off"))
    await conn.execute(_STAGE)

    chunks = _chunks(lines, coercer, chunk_size)
    # The next chunk is read, parsed and converted in a worker thread while this one is written: the
    # process's work overlaps the database's instead of adding to it. At most two chunks are held.
    pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
    try:
        with rollup.deferred(_stage):
            while (chunk := await pending) is not None:
                pending = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
                batch, numbers = chunk
                out = await pipeline.run(conn, batch, scope, prices)
                report_outcome(out, numbers, totals, report)
    finally:
        if not pending.done():
            await asyncio.wait([pending])  # the worker still reads the file: let it finish its chunk
        if not pending.cancelled():
            pending.exception()  # retrieved: the error that stopped the import is the one raised
    await _merge_staged(conn, merge_chunk or MERGE_CHUNK)
    return totals
