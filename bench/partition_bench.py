"""Retention of resource samples: the batched DELETEs of today's purge on one table, against the same table
partitioned by range on `at` with the expired partitions detached and dropped, side by side in one run.

A database of its own (`usagegraph_partition_bench` on the embedded server under .usagegraph-bench), migrated
as the server migrates it, with one organization whose workspaces are sampled every hour for DAYS days ending
at today's UTC midnight (about --rows samples; written in time order, as ingest writes them). The same rows
are held by three tables, each named `resource_samples`, in its own schema, and every statement timed below is
the project's own, run with the variant's schema first on `search_path`:

    plain    public.resource_samples, the table of migration 0001 as it is
    daily    part_1d.resource_samples, the same columns, primary key and index, PARTITION BY RANGE (at),
             one partition per UTC day
    weekly   part_7d.resource_samples, the same with one partition per 7 days from the first sample

(--widths picks the partition widths.) Partitions exist from the first sample to 14 days after the last
(further when the timed inserts need it). Autovacuum is off for these tables, so that a figure holds only the work of its own step; VACUUM is run and
timed explicitly. A CHECKPOINT precedes each step whose WAL is counted, so that full-page images weigh alike.

Per variant, before and after the purge of everything older than KEEP days:
- rows, and MB on disk of the table with its indexes (every partition's, for a partitioned table); the rows
  after count the inserts made before;
- a typical read: the compute queries (usagegraph.db.queries.compute) over the last 28 days by the hour, one
  workspace's series (`workspace_series`, Workspace.utilization) and every workspace's statistics
  (`workspace_stats`, Organization.compute), median ms of --runs after one untimed run, variants interleaved;
  the answers must be the same for every variant;
- an ingest batch of 10,000 samples (`ingest_facts.insert_resources`, the ingest path's INSERT ... ON CONFLICT
  DO NOTHING, committed), median ms of --inserts batches, new rows after the last sample.
The purge: plain runs the retention purge itself (usagegraph.upkeep.retention.Purger with
RETENTION_RESOURCE_SAMPLES_DAYS=KEEP and batches of --batch rows), partitioned tables detach (CONCURRENTLY)
and drop every partition that ends at or before the cutoff; seconds, WAL bytes (pg_current_wal_insert_lsn
before and after), rows removed and rows older than the cutoff left; then VACUUM of the table, its seconds
and WAL bytes. The first purge catches up with DAYS - KEEP days at once (a retention newly set); the next
round, a day later, is the steady state's daily share of the work (the server's rounds are hourly, so it
spreads over 24 of them for the plain table).

Usage: python -m bench.partition_bench [--rows 5000000] [--days 180] [--keep 90] [--batch 5000] [--runs 11]
       [--inserts 3] [--widths 1,7]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bench.dataset import DATA_DIR
from usagegraph.db import migrate
from usagegraph.db.database import Database
from usagegraph.db.embedded import start_embedded
from usagegraph.db.queries import compute, ingest_facts
from usagegraph.settings import Settings
from usagegraph.upkeep import retention

DATABASE = "usagegraph_partition_bench"
ORG = uuid.UUID("00000000-0000-4000-8000-000000000001")
TEMPLATE = uuid.UUID("00000000-0000-4000-8000-000000000002")
AHEAD = timedelta(days=14)
CHUNK = timedelta(days=10)
READ_DAYS = 28
INSERT_ROWS = 10_000

SETUP = [
    "TRUNCATE organizations, users, templates, workspaces, resource_samples CASCADE",
    "INSERT INTO organizations (id, name, created_at) VALUES (:org, 'bench', CAST(:t0 AS timestamptz) - interval '1 day')",
    "INSERT INTO users (id, username, name, email, created_at, site_roles) "
    "SELECT md5('user' || g)::uuid, 'user' || g, 'User ' || g, 'user' || g || '@example.com', :t0, '{}' "
    "FROM generate_series(1, :workspaces) g",
    "INSERT INTO templates (organization_id, id, name, display_name, created_at) "
    "VALUES (:org, :tpl, 'python', 'Python', :t0)",
    "INSERT INTO workspaces (organization_id, id, template_id, owner_id, name, created_at) "
    "SELECT :org, md5('ws' || g)::uuid, :tpl, md5('user' || g)::uuid, 'ws-' || g, :t0 "
    "FROM generate_series(1, :workspaces) g",
    "ALTER TABLE public.resource_samples SET (autovacuum_enabled = false)",
]

# The table of migration 0001 (columns, primary key, index), partitioned; checked against public's below.
PARTITIONED = [
    "DROP SCHEMA IF EXISTS $SCHEMA CASCADE",
    "CREATE SCHEMA $SCHEMA",
    """
    CREATE TABLE $SCHEMA.resource_samples (
        organization_id uuid NOT NULL,
        workspace_id uuid NOT NULL,
        at timestamptz NOT NULL,
        node text,
        cpu_used_cores double precision NOT NULL,
        cpu_limit_cores double precision NOT NULL,
        memory_used_bytes double precision NOT NULL,
        memory_limit_bytes double precision NOT NULL,
        PRIMARY KEY (organization_id, workspace_id, at)
    ) PARTITION BY RANGE (at)
    """,
    "CREATE INDEX resource_samples_time ON $SCHEMA.resource_samples (organization_id, at)",
]

# Samples of [:lo, :hi) in time order, every workspace each hour.
FILL = """
    INSERT INTO public.resource_samples (organization_id, workspace_id, at, node, cpu_used_cores, cpu_limit_cores,
                                         memory_used_bytes, memory_limit_bytes)
    SELECT :org, w.id, t, 'node-' || (abs(hashtext(w.id::text)) % 10), random() * 2, 2, random() * 4e9, 4e9
    FROM generate_series(CAST(:lo AS timestamptz), CAST(:hi AS timestamptz) - interval '1 second',
                         interval '1 hour') t
    CROSS JOIN (SELECT id FROM workspaces WHERE organization_id = :org) w
    ORDER BY t, w.id
"""
COPY = """
    INSERT INTO $SCHEMA.resource_samples
    SELECT * FROM public.resource_samples
    WHERE organization_id = :org AND at >= :lo AND at < :hi
    ORDER BY at, workspace_id
"""

# Columns and indexes of a table, to check that the partitioned copies are the table of the migrations.
SHAPE_COLUMNS = """
    SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
    WHERE attrelid = CAST(:table AS regclass) AND attnum > 0 AND NOT attisdropped ORDER BY attnum
"""
SHAPE_INDEXES = """
    SELECT i.indisprimary, i.indisunique,
           ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns
    FROM pg_index i WHERE i.indrelid = CAST(:table AS regclass) ORDER BY 1 DESC, 3
"""

WAL = text("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')")


@dataclass(frozen=True)
class Partition:
    name: str
    lo: datetime
    hi: datetime


@dataclass
class Variant:
    name: str
    schema: str
    width: int
    """days per partition; 0 for the plain table"""
    engine: AsyncEngine
    partitions: list[Partition] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return f"{self.schema}.resource_samples"


def plan(width: int, t0: datetime, until: datetime) -> list[Partition]:
    """Partitions of `width` days from t0 until they cover `until`."""
    out = []
    lo = t0
    while lo < until:
        hi = lo + timedelta(days=width)
        out.append(Partition(f"resource_samples_{lo:%Y%m%d}", lo, hi))
        lo = hi
    return out


def spliced(statement: str, variant: Variant) -> str:
    return statement.replace("$SCHEMA", variant.schema)


async def autocommit(engine: AsyncEngine, *statements: str, params: dict[str, Any] | None = None) -> None:
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            await conn.execute(text(statement), params or {})


async def wal(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(WAL)).scalar_one())


async def size(variant: Variant) -> tuple[int, int]:
    """(rows, bytes of the table and its indexes, every partition's)."""
    async with variant.engine.connect() as conn:
        rows = (await conn.execute(text(f"SELECT count(*) FROM {variant.table}"))).scalar_one()
        measured = (
            "SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree(:table) WHERE isleaf"
            if variant.width
            else "SELECT pg_total_relation_size(:table)"
        )
        bytes_ = (await conn.execute(text(measured), {"table": variant.table})).scalar_one()
    return int(rows), int(bytes_)


async def shape(engine: AsyncEngine, table: str) -> tuple[list[Any], list[Any]]:
    async with engine.connect() as conn:
        columns = [tuple(row) for row in await conn.execute(text(SHAPE_COLUMNS), {"table": table})]
        indexes = [tuple(row) for row in await conn.execute(text(SHAPE_INDEXES), {"table": table})]
    return columns, indexes


async def build(variants: list[Variant], workspaces: int, t0: datetime, end: datetime) -> None:
    plain = variants[0]
    params: dict[str, Any] = {"org": ORG, "tpl": TEMPLATE, "workspaces": workspaces, "t0": t0}
    async with plain.engine.begin() as conn:
        for statement in SETUP:
            await conn.execute(text(statement), params)
    for variant in variants[1:]:
        async with plain.engine.begin() as conn:
            for statement in PARTITIONED:
                await conn.execute(text(spliced(statement, variant)))
            for p in variant.partitions:
                await conn.execute(
                    text(
                        f"CREATE TABLE {variant.schema}.{p.name} PARTITION OF {variant.table} "
                        f"FOR VALUES FROM ('{p.lo.isoformat()}') TO ('{p.hi.isoformat()}') "
                        "WITH (autovacuum_enabled = false)"
                    )
                )
        if await shape(plain.engine, variant.table) != await shape(plain.engine, plain.table):
            raise SystemExit(f"{variant.table} differs from {plain.table} in its columns or indexes")
    lo = t0
    while lo < end:
        hi = min(lo + CHUNK, end)
        async with plain.engine.begin() as conn:
            await conn.execute(text(FILL), {"org": ORG, "lo": lo, "hi": hi})
            for variant in variants[1:]:
                await conn.execute(text(spliced(COPY, variant)), {"org": ORG, "lo": lo, "hi": hi})
        lo = hi
    for variant in variants:
        await autocommit(plain.engine, f"VACUUM (ANALYZE) {variant.table}")


async def measure_sizes(variants: list[Variant], when: str) -> None:
    for variant in variants:
        rows, bytes_ = await size(variant)
        variant.figures[f"rows, {when}"] = f"{rows:,}"
        variant.figures[f"MB on disk (table + indexes), {when}"] = f"{bytes_ / 1e6:,.1f}"
        variant.figures[f"partitions, {when}"] = str(len(await _leaves(variant))) if variant.width else "-"


async def _leaves(variant: Variant) -> set[str]:
    async with variant.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT relid::regclass::text FROM pg_partition_tree(:table) WHERE isleaf"),
            {"table": variant.table},
        )
        return {name.rsplit(".", 1)[-1] for (name,) in rows}


Read = Callable[[AsyncConnection], Awaitable[Sequence[Any]]]


async def measure_reads(variants: list[Variant], reads: dict[str, Read], runs: int, when: str) -> None:
    """Median ms per read and variant; the variants take turns, and their answers must agree."""
    for label, read in reads.items():
        times: dict[str, list[float]] = {v.name: [] for v in variants}
        answers: dict[str, Sequence[Any]] = {}
        for run in range(runs + 1):
            for variant in variants:
                reader = variant.engine.execution_options(isolation_level="AUTOCOMMIT")
                async with reader.connect() as conn:
                    began = time.perf_counter()
                    answer = await read(conn)
                    elapsed = (time.perf_counter() - began) * 1000
                if run:
                    times[variant.name].append(elapsed)
                answers[variant.name] = answer
        first = answers[variants[0].name]
        for variant in variants[1:]:
            if not _same(first, answers[variant.name]):
                raise SystemExit(f"{label}: {variant.name} answers differently from {variants[0].name}")
        for variant in variants:
            variant.figures[f"{label} ({len(first)} rows, ms), {when}"] = (
                f"{statistics.median(times[variant.name]):,.1f}"
            )


def _same(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """Rows equal, floats to 1e-9 (sums of floats depend on the order rows are read in)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for u, v in zip(tuple(x), tuple(y), strict=True):
            if isinstance(u, float) and isinstance(v, float):
                if not math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-12):
                    return False
            elif u != v:
                return False
    return True


def batches(
    workspaces: list[uuid.UUID], start: datetime, first: int, count: int
) -> list[list[tuple[Any, ...]]]:
    """`count` batches of INSERT_ROWS new samples, the hours after `start` for every workspace in turn, from
    batch number `first` on; the same rows for every variant."""
    rng = random.Random(first)
    out = []
    for b in range(first, first + count):
        rows = []
        for k in range(b * INSERT_ROWS, (b + 1) * INSERT_ROWS):
            ws = workspaces[k % len(workspaces)]
            at = start + timedelta(hours=k // len(workspaces))
            node = f"node-{k % len(workspaces) % 10}"
            rows.append((ORG, ws, at, node, rng.random() * 2, 2.0, rng.random() * 4e9, 4e9))
        out.append(rows)
    return out


async def measure_inserts(variants: list[Variant], rows: list[list[tuple[Any, ...]]], when: str) -> None:
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    for batch in rows:
        for variant in variants:
            began = time.perf_counter()
            async with variant.engine.begin() as conn:
                inserted = await ingest_facts.insert_resources(conn, batch)
            times[variant.name].append((time.perf_counter() - began) * 1000)
            if inserted != len(batch):
                raise SystemExit(f"{variant.name}: {inserted} of {len(batch)} rows inserted")
    for variant in variants:
        variant.figures[f"insert of {INSERT_ROWS:,} samples (ms), {when}"] = (
            f"{statistics.median(times[variant.name]):,.1f}"
        )


async def purge(variant: Variant, settings: Settings, now: datetime, title: str) -> None:
    """A purge round at `now`, timed with the WAL it wrote; then VACUUM, timed with its WAL."""
    cutoff = now - timedelta(days=settings.retention_resource_samples_days)
    await autocommit(variant.engine, "CHECKPOINT")
    if variant.width:
        expired = [p for p in variant.partitions if p.hi <= cutoff]
        async with variant.engine.connect() as conn:
            removed = 0
            for p in expired:
                removed += (
                    await conn.execute(text(f"SELECT count(*) FROM {variant.schema}.{p.name}"))
                ).scalar_one()
        wal_before = await wal(variant.engine)
        began = time.perf_counter()
        async with variant.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            for p in expired:
                await conn.execute(
                    text(
                        f"ALTER TABLE {variant.table} DETACH PARTITION {variant.schema}.{p.name} CONCURRENTLY"
                    )
                )
                await conn.execute(text(f"DROP TABLE {variant.schema}.{p.name}"))
        variant.partitions = [p for p in variant.partitions if p not in expired]
        seconds = time.perf_counter() - began
        wal_after = await wal(variant.engine)
        how = f"{_count(len(expired), 'partition')} detached and dropped"
    else:
        db = Database(engine=variant.engine, read_engine=variant.engine)
        wal_before = await wal(variant.engine)
        began = time.perf_counter()
        report = await retention.Purger(db, settings).run(now=now)
        seconds = time.perf_counter() - began
        wal_after = await wal(variant.engine)
        assert report is not None
        removed = report.rows["resource_samples"]
        how = _count(math.ceil(removed / settings.retention_batch_rows), "DELETE batch")
    async with variant.engine.connect() as conn:
        left = (
            await conn.execute(
                text(f"SELECT count(*) FROM {variant.table} WHERE at < :cutoff"), {"cutoff": cutoff}
            )
        ).scalar_one()
    variant.figures[f"{title}: how"] = how
    variant.figures[f"{title}: rows removed"] = f"{removed:,}"
    variant.figures[f"{title}: rows older than the cutoff left"] = f"{left:,}"
    variant.figures[f"{title}: seconds"] = f"{seconds:,.2f}"
    variant.figures[f"{title}: WAL (MB)"] = f"{(wal_after - wal_before) / 1e6:,.2f}"

    await autocommit(variant.engine, "CHECKPOINT")
    wal_before = await wal(variant.engine)
    began = time.perf_counter()
    await autocommit(variant.engine, f"VACUUM {variant.table}")
    seconds = time.perf_counter() - began
    wal_after = await wal(variant.engine)
    variant.figures[f"{title}: VACUUM after it, seconds"] = f"{seconds:,.2f}"
    variant.figures[f"{title}: VACUUM after it, WAL (MB)"] = f"{(wal_after - wal_before) / 1e6:,.2f}"
    await autocommit(variant.engine, f"ANALYZE {variant.table}")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "es" if noun.endswith("ch") else "s")


def show(variants: list[Variant]) -> None:
    """One line per figure, a column per variant; each figure measured before and after the purge on two
    lines next to each other."""
    labels: list[str] = []
    for label in variants[0].figures:
        if label.endswith(", after"):
            continue
        labels.append(label)
        if label.endswith(", before"):
            labels.append(label.removesuffix("before") + "after")
    width = max(len(label) for label in labels)
    columns = [max(len(v.name), *(len(v.figures.get(label, "")) for label in labels)) for v in variants]
    print()
    print(f"{'':<{width}}  " + "  ".join(f"{v.name:>{c}}" for v, c in zip(variants, columns, strict=True)))
    for label in labels:
        cells = "  ".join(f"{v.figures.get(label, ''):>{c}}" for v, c in zip(variants, columns, strict=True))
        print(f"{label:<{width}}  {cells}")


async def run(
    rows: int, days: int, keep: int, batch: int, runs: int, inserts: int, widths: list[int]
) -> None:
    url = start_embedded(DATA_DIR, database=DATABASE)
    engines: list[AsyncEngine] = []

    def engine(schema: str) -> AsyncEngine:
        made = create_async_engine(
            url,
            connect_args={"command_timeout": 7200, "server_settings": {"search_path": f"{schema}, public"}},
        )
        engines.append(made)
        return made

    try:
        plain = Variant("plain", "public", 0, engine("public"))
        await migrate.upgrade(plain.engine)
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        t0 = end - timedelta(days=days)
        cutoff = end - timedelta(days=keep)
        workspaces = max(1, round(rows / (days * 24)))
        # Partitions exist ahead of the data: 14 days, or as far as the timed inserts write.
        until = max(end + AHEAD, end + timedelta(hours=2 * inserts * INSERT_ROWS // workspaces + 24))
        variants = [plain]
        for width in widths:
            name = "daily" if width == 1 else "weekly" if width == 7 else f"{width}-day"
            variant = Variant(name, f"part_{width}d", width, engine(f"part_{width}d"))
            variant.partitions = plan(width, t0, until)
            variants.append(variant)

        started = time.perf_counter()
        await build(variants, workspaces, t0, end)
        print(
            f"{workspaces:,} workspaces sampled hourly over {days} days ({workspaces * days * 24:,} rows per table), "
            f"ending {end:%Y-%m-%d} 00:00 UTC; {len(variants)} tables written in {time.perf_counter() - started:.0f} s"
        )
        async with plain.engine.connect() as conn:
            ids = [row[0] for row in await conn.execute(text("SELECT id FROM workspaces ORDER BY id"))]
            version = (await conn.execute(text("SHOW server_version"))).scalar_one()
        print(f"PostgreSQL {version}; purge of everything before {cutoff:%Y-%m-%d} (RETENTION = {keep} days)")

        span = compute.Range(
            start=end - timedelta(days=READ_DAYS),
            end=end,
            interval="1 hours",
            timezone="UTC",
            buckets=READ_DAYS * 24,
        )
        reads: dict[str, Read] = {
            f"read: one workspace, {READ_DAYS} days by 1 h": lambda c: compute.workspace_series(
                c, ORG, ids[0], span
            ),
            f"read: every workspace's stats, {READ_DAYS} days": lambda c: compute.workspace_stats(
                c, ORG, span
            ),
        }
        new_rows = batches(ids, end, 0, 2 * inserts)

        await measure_sizes(variants, "before")
        await measure_reads(variants, reads, runs, "before")
        await measure_inserts(variants, new_rows[:inserts], "before")

        settings = Settings().model_copy(
            update={
                **{kind.setting: 0 for kind in retention.KINDS},
                retention.RESOURCE_SAMPLES.setting: keep,
                "retention_batch_rows": batch,
            }
        )
        for variant in variants:
            await purge(variant, settings, end, f"purge of {days - keep} days")

        await measure_sizes(variants, "after")
        await measure_reads(variants, reads, runs, "after")
        await measure_inserts(variants, new_rows[inserts:], "after")
        for variant in variants:
            await purge(variant, settings, end + timedelta(days=1), "a day later, the next round")
        show(variants)
    finally:
        for made in engines:
            await made.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000, help="samples per table before the purge")
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--keep", type=int, default=90)
    parser.add_argument(
        "--batch", type=int, default=5000, help="RETENTION_BATCH_ROWS of the plain table's purge"
    )
    parser.add_argument("--runs", type=int, default=11, help="timed runs of each read")
    parser.add_argument("--inserts", type=int, default=3, help="timed insert batches before and after")
    parser.add_argument("--widths", default="1,7", help="days per partition, one partitioned table each")
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",") if w.strip()]
    asyncio.run(run(args.rows, args.days, args.keep, args.batch, args.runs, args.inserts, widths))


if __name__ == "__main__":
    main()
