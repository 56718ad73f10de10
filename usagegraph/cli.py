"""The `usagegraph` command (docs/api.md section 7)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from usagegraph.settings import Settings

if TYPE_CHECKING:
    from usagegraph.ingest.bulk import Totals
    from usagegraph.local import Local

err = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


async def _migrate(settings: Settings) -> None:
    from usagegraph.local import local

    async with local(settings):
        pass
    err.print("migrations applied")


async def _has_data(settings: Settings) -> bool:
    from sqlalchemy import text

    from usagegraph.local import local

    async with local(settings) as loc, loc.engine.connect() as conn:
        return bool((await conn.execute(text("SELECT EXISTS (SELECT 1 FROM organizations)"))).scalar_one())


def _bulk(settings: Settings) -> Settings:
    """Bulk loads from the command line run large transactions: give their statements ten minutes."""
    return settings.model_copy(update={"statement_timeout_ms": max(settings.statement_timeout_ms, 600_000)})


async def _settle(loc: Local) -> None:
    """After a bulk load, do now the upkeep a server would otherwise start with while it serves: the
    Template Insights day rows of every day the data touched, and the AI session rollups' delta rows. Then
    collect the tables' statistics and set their visibility maps (index-only scans read the heap for every
    page not marked all-visible), rather than leave it to autovacuum during the first minutes of serving."""
    from sqlalchemy import text

    from usagegraph.db.queries.sessions import compact_rollups
    from usagegraph.upkeep.periodic import refresh_insights_days

    await refresh_insights_days(loc.db)
    async with loc.db.write() as conn:
        while await compact_rollups(conn):  # a large load leaves more keys than one round folds
            pass
    async with loc.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM (ANALYZE)"))


async def _demo_data(settings: Settings, seed: int) -> dict[str, int]:
    from usagegraph import demo
    from usagegraph.local import local

    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    async with local(_bulk(settings)) as loc:
        with _progress() as progress:
            task = progress.add_task("demo data", total=demo.estimate_records())
            for batch in demo.generate(seed):
                outcome = await loc.ingest(batch)
                totals["accepted"] += outcome["accepted"]
                totals["duplicates"] += outcome["duplicates"]
                totals["rejected"] += len(outcome["rejected"])
                for rejection in outcome["rejected"][:3]:
                    err.print(f"[yellow]rejected[/] {rejection}")
                progress.advance(task, sum(len(records) for records in batch.values()))
            progress.update(task, total=progress.tasks[0].completed)
        await _settle(loc)
    return totals


def _print_rejection(line: int | str, kind: str, code: str, message: str) -> None:
    err.print(f"line {line}: {kind} rejected ({code}): {message}", markup=False, highlight=False)


async def _import(settings: Settings, path: Path, batch_size: int | None, per_batch: bool) -> dict[str, int]:
    from usagegraph.ingest import bulk
    from usagegraph.local import SYSTEM, local

    size = path.stat().st_size if str(path) != "-" else None  # noqa: ASYNC240  (a CLI reading its input between ingest calls)
    async with local(_bulk(settings)) as loc:
        stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
        with stream, _progress() as progress:
            task = progress.add_task(f"import {path.name}", total=size)

            def numbered() -> Iterator[tuple[int, bytes]]:
                read = 0  # bytes not yet shown: the bar moves every 4,096 lines, not every line
                for number, raw in enumerate(stream, start=1):
                    read += len(raw)
                    if number % 4096 == 0:
                        progress.advance(task, read)
                        read = 0
                    yield number, raw
                progress.advance(task, read)

            try:
                if per_batch:
                    totals = await _import_per_batch(loc, numbered(), batch_size or 5000)
                else:
                    async with loc.db.write() as conn:
                        totals = await bulk.import_lines(
                            conn,
                            numbered(),
                            settings=loc.settings,
                            principal=SYSTEM,
                            report=_print_rejection,
                            chunk_size=batch_size or bulk.DEFAULT_CHUNK,
                        )
            except bulk.LineError as error:
                stored = "earlier batches stay stored" if per_batch else "nothing was stored"
                raise SystemExit(f"{error} ({stored})") from None
        if totals.accepted:
            await _settle(loc)
    return totals.as_dict()


async def _import_per_batch(loc: Local, lines: Iterator[tuple[int, bytes]], batch_size: int) -> Totals:
    """The import through the ingest mutation, one transaction per batch of `batch_size` records."""
    from usagegraph.ingest import bulk
    from usagegraph.ingest.outcome import Outcome, Rejection

    totals = bulk.Totals()

    async def send(batch: dict[str, list[Any]], numbers: dict[str, list[int]]) -> None:
        outcome = await loc.ingest(batch)
        out = Outcome()
        out.accepted["all"] = outcome["accepted"]
        out.duplicates["all"] = outcome["duplicates"]
        out.rejected = [Rejection(**r) for r in outcome["rejected"]]
        bulk.report_outcome(out, numbers, totals, _print_rejection)

    batch: dict[str, list[Any]] = {}
    numbers: dict[str, list[int]] = {}
    count = 0
    for number, raw in lines:
        parsed = bulk.parse_line(number, raw)
        if parsed is None:
            continue
        kind, record = parsed
        batch.setdefault(kind, []).append(record)
        numbers.setdefault(kind, []).append(number)
        count += 1
        if count >= batch_size:
            await send(batch, numbers)
            batch, numbers, count = {}, {}, 0
    if count:
        await send(batch, numbers)
    return totals


async def _export(settings: Settings, path: Path, organization: str | None, since: str | None) -> int:
    import uuid

    from usagegraph.ingest import export
    from usagegraph.local import local
    from usagegraph.schema.scalars import parse_date, parse_datetime

    try:
        org_id = uuid.UUID(organization) if organization else None
    except ValueError:
        raise SystemExit(f"--organization: not an organization id: {organization!r}") from None
    start = None
    if since:
        try:
            start = (
                parse_datetime(since)
                if len(since) > 10
                else datetime.combine(parse_date(since), datetime.min.time(), UTC)
            )
        except ValueError as error:
            raise SystemExit(f"--since: {error}") from None
    written = 0
    async with local(_bulk(settings)) as loc, loc.engine.connect() as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        async with conn.begin():
            total = None if org_id or start else (await export.estimate(conn)) or None
            stream = sys.stdout.buffer if str(path) == "-" else path.open("wb")
            with stream, _progress() as progress:
                task = progress.add_task(f"export {path.name}", total=total)
                chunk: list[bytes] = []
                async for kind, record in export.records(conn, org_id, start):
                    chunk.append(export.line(kind, record))
                    if len(chunk) >= 1000:
                        stream.write(b"".join(chunk))
                        progress.advance(task, len(chunk))
                        written += len(chunk)
                        chunk.clear()
                stream.write(b"".join(chunk))
                written += len(chunk)
                progress.update(task, completed=written, total=written)
    return written


async def _token(
    settings: Settings, username: str, label: str, expires_in: str | None, create_owner: bool
) -> str:
    from usagegraph.auth.tokens import new_token, parse_duration, token_digest
    from usagegraph.db.queries import auth
    from usagegraph.local import local
    from usagegraph.schema.bounds import text_problem

    for option, value in (("--username", username), ("--name", label)):
        problem = text_problem(value) or ("must not be empty" if not value.strip() else None)
        if problem is not None:
            raise SystemExit(f"{option} {problem}")
    expires_at = datetime.now(UTC) + parse_duration(expires_in) if expires_in else None
    async with local(settings) as loc, loc.engine.begin() as conn:
        user_id = await auth.user_id_by_username(conn, username)
        if user_id is None:
            if not create_owner:
                raise SystemExit(
                    f"no user named {username!r} (use --create-owner to create a site-wide owner)"
                )
            user_id = await auth.create_owner(conn, username)
        token = new_token()
        await auth.insert_token(conn, user_id, label, token_digest(token), expires_at)
        return token


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from usagegraph.db.engine import resolve_database_url
    from usagegraph.http.workers import worker_board
    from usagegraph.monitoring.logging import configure_logging

    embedded = settings.database_url is None
    if embedded:
        url = resolve_database_url(settings)
        os.environ["USAGEGRAPH_DATABASE_URL"] = url
        settings = settings.model_copy(update={"database_url": url})
        asyncio.run(_migrate(settings))
    if args.demo:
        if not asyncio.run(_has_data(settings)):
            err.print("loading demo data (first start)")
            totals = asyncio.run(_demo_data(settings, seed=1))
            err.print(f"demo data: {totals['accepted']} records accepted, {totals['rejected']} rejected")
        admin = asyncio.run(_token(settings, "admin", "serve --demo", "30d", False))
        member = asyncio.run(_token(settings, "member", "serve --demo", "30d", False))
        base = f"http://{settings.host}:{settings.port}"
        print(f"dashboard:     {base}/ui/", flush=True)
        print(f"GraphiQL:      {base}/graphql", flush=True)
        print(f"admin token:   {admin}", flush=True)
        print(f"member token:  {member}", flush=True)
        print(f"Open {base}/ui/#token={admin} to sign in to the dashboard as admin.", flush=True)
    configure_logging(settings)
    with worker_board(settings.workers) if settings.workers > 1 else contextlib.nullcontext():
        uvicorn.run(
            "usagegraph.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers if settings.workers > 1 else None,
            log_config=None,
            access_log=False,
            proxy_headers=False,
        )


async def _purge(settings: Settings, dry_run: bool) -> int:
    """One retention purge round (or, dry, what it would delete), printed per table; 1 when another
    process holds the purge lock."""
    from usagegraph.local import local
    from usagegraph.upkeep import retention

    if not retention.enabled(settings):
        err.print("no USAGEGRAPH_RETENTION_*_DAYS is set: every record is kept")
        return 0
    async with local(settings) as loc:
        report = await retention.Purger(loc.db, settings).run(dry_run=dry_run)
    if report is None:
        err.print("another process is purging now (the purge lock is taken); nothing done")
        return 1
    verb = "would delete" if dry_run else "deleted"
    for kind in retention.KINDS:
        for table in kind.tables:
            if table not in report.rows:
                print(f"{table}: kept forever ({kind.variable} unset)")
                continue
            oldest = report.oldest.get(table)
            print(
                f"{table}: {verb} {report.rows[table]} rows older than "
                f"{report.cutoffs[table].isoformat(timespec='seconds')} ({kind.variable}="
                f"{retention.days(settings, kind)}); oldest record now "
                f"{oldest.isoformat(timespec='seconds') if oldest else 'none'}"
            )
    return 0


def _settings_from(args: argparse.Namespace) -> Settings:
    for flag, env in (("host", "HOST"), ("port", "PORT"), ("workers", "WORKERS")):
        value = getattr(args, flag, None)
        if value is not None:
            os.environ[f"USAGEGRAPH_{env}"] = str(value)
    if getattr(args, "disable_template_insights", False):
        os.environ["USAGEGRAPH_DISABLE_TEMPLATE_INSIGHTS"] = "true"
    return Settings()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="usagegraph", description="GraphQL server for usage analytics")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run the server (embedded PostgreSQL unless USAGEGRAPH_DATABASE_URL)"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument(
        "--demo", action="store_true", help="load demo data into an empty database, print tokens"
    )
    serve.add_argument("--disable-template-insights", action="store_true")
    commands.add_parser("migrate", help="apply pending migrations")
    demo = commands.add_parser("demo-data", help="load the deterministic demo data set through ingest")
    demo.add_argument("--seed", type=int, default=1)
    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="create a token and print it (shown once)")
    create.add_argument("--username", required=True)
    create.add_argument("--name", default="cli")
    create.add_argument("--expires-in")
    create.add_argument("--create-owner", action="store_true")
    importer = commands.add_parser(
        "import", help='NDJSON, one {"kind": ..., ...record} per line, with the validation of ingest'
    )
    importer.add_argument("file", type=Path)
    importer.add_argument(
        "--per-batch",
        action="store_true",
        help="send the records through the ingest mutation, one transaction per batch (the slower path)",
    )
    importer.add_argument(
        "--batch-size",
        type=int,
        help="records per chunk (bulk, default 25000) or per mutation call (--per-batch, default 5000)",
    )
    exporter = commands.add_parser(
        "export", help="every record as NDJSON in the format `import` reads (backup, move, split)"
    )
    exporter.add_argument("file", type=Path, help="output file, - for standard output")
    exporter.add_argument("--organization", help="only this organization's records (an organization id)")
    exporter.add_argument(
        "--since", help="only facts from this time on (RFC 3339 or YYYY-MM-DD, UTC); entities in full"
    )
    purge = commands.add_parser(
        "purge", help="delete the raw records older than the USAGEGRAPH_RETENTION_*_DAYS settings, now"
    )
    purge.add_argument("--dry-run", action="store_true", help="print what would be deleted, delete nothing")
    commands.add_parser("export-schema", help="print the GraphQL SDL")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "export-schema":
        from usagegraph.schema.schema import export_sdl

        sys.stdout.write(export_sdl())
        return
    settings = _settings_from(args)
    if args.command == "serve":
        _serve(settings, args)
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
    elif args.command == "demo-data":
        totals = asyncio.run(_demo_data(settings, args.seed))
        err.print(
            f"{totals['accepted']} accepted, {totals['duplicates']} duplicates, {totals['rejected']} rejected"
        )
    elif args.command == "token":
        print(asyncio.run(_token(settings, args.username, args.name, args.expires_in, args.create_owner)))
    elif args.command == "export":
        written = asyncio.run(_export(settings, args.file, args.organization, args.since))
        err.print(f"{written} records exported")
    elif args.command == "purge":
        if asyncio.run(_purge(settings, args.dry_run)):
            raise SystemExit(1)
    elif args.command == "import":
        totals = asyncio.run(_import(settings, args.file, args.batch_size, args.per_batch))
        err.print(
            f"{totals['accepted']} accepted, {totals['duplicates']} duplicates, {totals['rejected']} rejected"
        )
        if totals["rejected"]:
            raise SystemExit(1)
