"""The migrations as history: a database written at an early revision keeps its rows and rolls them up
correctly at head, every migration downgrades, and base -> head -> base -> head ends in the same schema.
Run on the suite's server (embedded by default) and on the PostgreSQL 15 server at 127.0.0.1:5432."""

from __future__ import annotations

import ast
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from usagegraph.db import migrate
from usagegraph.db.queries import app_days, day_vectors, part_vectors, rollup, user_days, workspace_days

VERSIONS = migrate.MIGRATIONS / "versions"
PG15 = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def test_migrations_import_nothing_from_the_package() -> None:
    """A migration that imports the package's queries changes when they do: a fresh database would get
    other tables than the ones production got at that revision."""
    offenders = []
    for path in sorted(VERSIONS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [f"{path.name}: {name}" for name in names if name.split(".")[0] == "usagegraph"]
    assert len(list(VERSIONS.glob("*.py"))) >= 20
    assert offenders == []


# --- one scratch database per test, on either server --------------------------------------------------


@pytest.fixture(params=["suite", "pg15"])
async def scratch_url(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[str]:
    if request.param == "suite":  # the server the rest of the suite runs on (embedded unless configured)
        server = make_url(database_url).set(database="postgres")
    else:
        server = make_url(PG15)
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, Exception) as exc:  # asyncpg raises OSError subclasses and its own errors
        await admin.dispose()
        if request.param == "pg15" and not os.environ.get("CI"):
            pytest.skip(f"PostgreSQL 15 at 127.0.0.1:5432 is unreachable ({exc!r}) and CI is not set")
        raise
    name = f"usagegraph_migrations_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def alembic(url: str, action: str, target: str) -> None:
    """Upgrade or downgrade the database to `target`, as the server's own migrate step does."""
    engine = create_async_engine(url)

    def run(connection: Connection) -> None:
        config = migrate.alembic_config(url)
        config.attributes["connection"] = connection
        getattr(command, action)(config, target)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def rows(conn: AsyncConnection, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in (await conn.execute(text(sql), params)).all()]


# --- a world written with plain SQL at revision 0005 --------------------------------------------------

ORG_A, ORG_B = uuid.UUID(int=0xA1), uuid.UUID(int=0xB1)
USERS = {name: uuid.UUID(int=0x100 + i) for i, name in enumerate(["ann", "bob", "cy", "dee"])}
TEMPLATE_A, TEMPLATE_B = uuid.UUID(int=0x201), uuid.UUID(int=0x202)
WS = {name: uuid.UUID(int=0x300 + i) for i, name in enumerate(["ann-dev", "bob-dev", "dee-dev"])}
PROJECT = uuid.UUID(int=0x401)
NIL = uuid.UUID(int=0)
T0 = datetime(2024, 3, 4, 22, 50, tzinfo=UTC)  # a Monday, late: sessions cross hours, days and a week


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# (org, id, user, workspace, template, category, app, started, ended)
ACTIVITY = [
    (ORG_A, 1, "ann", "ann-dev", TEMPLATE_A, "IDE", "vscode", at(0), at(95)),  # crosses midnight
    (ORG_A, 2, "ann", "ann-dev", TEMPLATE_A, "APP", "jupyter", at(30), at(31.5)),
    (ORG_A, 3, "ann", None, None, "LOGIN", None, at(5), None),
    (ORG_A, 4, "bob", "bob-dev", TEMPLATE_A, "WEB_TERMINAL", "", at(60 * 24 * 6), at(60 * 24 * 6 + 20)),
    (ORG_A, 5, "bob", "bob-dev", TEMPLATE_A, "TUNNEL", "ssh", at(1000), None),  # still open
    (ORG_A, 6, "cy", None, None, "LOGIN", None, at(2000), None),
    (ORG_B, 7, "dee", "dee-dev", TEMPLATE_B, "IDE", "vscode", at(10), at(10.25)),
    (ORG_B, 8, "dee", "dee-dev", TEMPLATE_B, "APP", "jupyter", at(60 * 24 * 8), at(60 * 24 * 8 + 300)),
]

# (org, id, user, project, agent, started, ended, cost, input, output, cache read, cache write, unpriced,
#  usage lines [(model, input, output, cost)])
AI = [
    (
        ORG_A,
        11,
        "ann",
        PROJECT,
        "claude-code",
        at(1),
        at(2),
        "0.250000",
        1000,
        200,
        50,
        5,
        False,
        [("sonnet", 600, 150, "0.200000"), ("haiku", 400, 50, "0.050000")],
    ),
    (
        ORG_A,
        12,
        "ann",
        None,
        "claude-code",
        at(70),
        at(70 + 20),
        "1.000001",
        5000,
        800,
        0,
        0,
        False,
        [("sonnet", 5000, 800, "1.000001")],
    ),
    (
        ORG_A,
        13,
        "bob",
        PROJECT,
        "codex",
        at(60 * 24 * 7 + 3),
        None,
        "0.000000",
        10,
        1,
        0,
        0,
        True,
        [("unknown", 10, 1, "0.000000")],
    ),
    (ORG_A, 14, "bob", None, "codex", at(200), at(200 + 90), "3.500000", 70000, 9000, 100, 10, False, []),
    (
        ORG_B,
        15,
        "dee",
        None,
        "claude-code",
        at(11),
        at(11 + 61),
        "0.125000",
        300,
        30,
        0,
        0,
        False,
        [("opus", 300, 30, "0.125000")],
    ),
]


def activity_minute_rows() -> list[dict[str, Any]]:
    """activity_minutes as ingest writes it: per UTC hour, user, workspace (nil for none), category and
    app ('' for none), bit k set for each active minute k of the hour."""
    cells: dict[tuple[Any, ...], int] = defaultdict(int)
    templates: dict[tuple[Any, ...], uuid.UUID | None] = {}
    for org, _, user, ws, template, category, app, started, ended in ACTIVITY:
        first = started.replace(second=0, microsecond=0)
        last_at = (
            started
            if category == "LOGIN" or ended is None
            else max(ended - timedelta(microseconds=1), started)
        )
        last = last_at.replace(second=0, microsecond=0)
        minute = first
        while minute <= last:
            key = (org, minute.replace(minute=0), USERS[user], WS[ws] if ws else NIL, category, app or "")
            cells[key] |= 1 << minute.minute
            templates[key] = template
            minute += timedelta(minutes=1)
    return [
        dict(
            org=k[0], hour=k[1], user=k[2], ws=k[3], category=k[4], app=k[5], template=templates[k], minutes=v
        )
        for k, v in cells.items()
    ]


async def write_world_at_0005(conn: AsyncConnection) -> None:
    created = datetime(2024, 1, 1, tzinfo=UTC)
    for org, name in ((ORG_A, "Acme"), (ORG_B, "Beta")):
        await conn.execute(
            text("INSERT INTO organizations VALUES (:id, :name, :at)"), dict(id=org, name=name, at=created)
        )
    for name, user in USERS.items():
        await conn.execute(
            text("INSERT INTO users (id, username, name, email, created_at) VALUES (:id, :u, :n, :e, :at)"),
            dict(id=user, u=name, n=name.title(), e=f"{name}@example.com", at=created),
        )
        org = ORG_B if name == "dee" else ORG_A
        await conn.execute(
            text("INSERT INTO memberships (organization_id, user_id) VALUES (:o, :u)"), dict(o=org, u=user)
        )
    for org, template, name in ((ORG_A, TEMPLATE_A, "docker"), (ORG_B, TEMPLATE_B, "k8s")):
        await conn.execute(
            text("INSERT INTO templates VALUES (:o, :id, :n, :n, :at)"),
            dict(o=org, id=template, n=name, at=created),
        )
    for name, ws in WS.items():
        org, template = (ORG_B, TEMPLATE_B) if name.startswith("dee") else (ORG_A, TEMPLATE_A)
        owner = USERS[name.split("-")[0]]
        await conn.execute(
            text("INSERT INTO workspaces VALUES (:o, :id, :t, :owner, :n, :at, NULL)"),
            dict(o=org, id=ws, t=template, owner=owner, n=name, at=created),
        )
    await conn.execute(text("INSERT INTO projects VALUES (:o, :id, 'billing')"), dict(o=ORG_A, id=PROJECT))
    for org, n, user, ws, template, category, app, started, ended in ACTIVITY:
        await conn.execute(
            text("INSERT INTO activity_sessions VALUES (:o, :id, :u, :ws, :t, :c, :app, :s, :e)"),
            dict(
                o=org,
                id=uuid.UUID(int=n),
                u=USERS[user],
                ws=WS[ws] if ws else None,
                t=template,
                c=category,
                app=app,
                s=started,
                e=ended,
            ),
        )
    for r in activity_minute_rows():
        await conn.execute(
            text(
                "INSERT INTO activity_minutes VALUES (:org, :hour, :user, :ws, :category, :app, :template, :minutes)"
            ),
            r,
        )
    await conn.execute(
        text(
            "INSERT INTO activity_session_spans (organization_id, max_minutes) "
            "SELECT organization_id, max(extract(epoch FROM date_trunc('minute', greatest(ended_at - interval "
            "'1 microsecond', started_at)) - date_trunc('minute', started_at))::integer / 60) "
            "FROM activity_sessions WHERE category <> 'LOGIN' AND ended_at IS NOT NULL GROUP BY organization_id"
        )
    )
    for org, n, user, project, agent, started, ended, cost, i, o, cr, cw, unpriced, lines in AI:
        await conn.execute(
            text(
                "INSERT INTO ai_sessions VALUES (:o, :id, :u, :p, 'acme/repo', :a, :s, :e, :c, :i, :out, :cr, :cw, :up)"
            ),
            dict(
                o=org,
                id=uuid.UUID(int=n),
                u=USERS[user],
                p=project,
                a=agent,
                s=started,
                e=ended,
                c=Decimal(cost),
                i=i,
                out=o,
                cr=cr,
                cw=cw,
                up=unpriced,
            ),
        )
        for model, li, lo, lc in lines:
            # started_at is set by the 0005 trigger from the session row
            await conn.execute(
                text(
                    "INSERT INTO ai_session_usage (organization_id, session_id, model, input_tokens, output_tokens, "
                    "cache_read_tokens, cache_write_tokens, cost, priced) VALUES (:o, :s, :m, :i, :out, 0, 0, :c, :p)"
                ),
                dict(o=org, s=uuid.UUID(int=n), m=model, i=li, out=lo, c=Decimal(lc), p=not unpriced),
            )


# --- what the rollups must hold at head, computed here from the rows ---------------------------------


def micros(cost: str) -> int:
    return int(Decimal(cost) * 1_000_000)


def expected_ai() -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
    out: dict[str, dict[tuple[Any, ...], list[int]]] = defaultdict(dict)

    def add(table: str, key: tuple[Any, ...], *values: int) -> None:
        acc = out[table].setdefault(key, [0] * len(values))
        for k, v in enumerate(values):
            acc[k] += v

    for org, _, user, project, agent, started, ended, cost, i, o, cr, cw, unpriced, lines in AI:
        hour = started.replace(minute=0, second=0, microsecond=0)
        day = started.date()
        tokens = i + o
        add("ai_session_hours", (org, hour), 1, micros(cost), tokens)
        add("ai_session_user_days", (org, day, USERS[user]), 1, micros(cost), tokens)
        add("ai_session_project_days", (org, day, project or NIL, project is None), 1, micros(cost), tokens)
        seconds = (ended - started).total_seconds() if ended else None
        buckets = [
            int(seconds is not None and seconds <= bound) for bound in (60, 300, 900, 1800, 3600, 7200)
        ]
        week = day - timedelta(days=day.weekday())
        add(
            "ai_session_user_weeks",
            (org, week, USERS[user], agent),
            1,
            micros(cost),
            i,
            o,
            cr,
            cw,
            round((seconds or 0) * 1_000_000),
            int(seconds is not None),
            int(unpriced),
            *buckets,
        )
        for model, li, lo, lc in lines:
            add("ai_usage_hours", (org, hour, model), 1, micros(lc), li + lo)
    return {table: {k: tuple(v) for k, v in keyed.items()} for table, keyed in out.items()}


AI_READS = {
    "ai_session_hours": "SELECT organization_id, hour, sum(sessions), sum(cost_micros), sum(tokens) "
    "FROM ai_session_hours GROUP BY 1, 2",
    "ai_usage_hours": "SELECT organization_id, hour, model, sum(lines), sum(cost_micros), sum(tokens) "
    "FROM ai_usage_hours GROUP BY 1, 2, 3",
    "ai_session_user_days": "SELECT organization_id, day, user_id, sum(sessions), sum(cost_micros), sum(tokens) "
    "FROM ai_session_user_days GROUP BY 1, 2, 3",
    "ai_session_project_days": "SELECT organization_id, day, project_key, no_project, sum(sessions), "
    "sum(cost_micros), sum(tokens) FROM ai_session_project_days GROUP BY 1, 2, 3, 4",
    "ai_session_user_weeks": "SELECT organization_id, week, user_id, agent, sum(sessions), sum(cost_micros), "
    "sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(duration_us), "
    "sum(ended), sum(unpriced), sum(le0), sum(le1), sum(le2), sum(le3), sum(le4), sum(le5) "
    "FROM ai_session_user_weeks GROUP BY 1, 2, 3, 4",
}
KEY_WIDTH = {
    "ai_session_hours": 2,
    "ai_usage_hours": 3,
    "ai_session_user_days": 3,
    "ai_session_project_days": 4,
    "ai_session_user_weeks": 4,
}


async def read_ai(conn: AsyncConnection) -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
    out = {}
    for table, sql in AI_READS.items():
        width = KEY_WIDTH[table]
        out[table] = {r[:width]: tuple(int(v) for v in r[width:]) for r in await rows(conn, sql)}
    return out


def expected_user_days() -> dict[tuple[Any, ...], tuple[int, int]]:
    """Per (organization, UTC day, user): distinct non-LOGIN active minutes, sessions started."""
    minutes: dict[tuple[Any, ...], set[datetime]] = defaultdict(set)
    starts: dict[tuple[Any, ...], int] = defaultdict(int)
    for org, _, user, _, _, category, _, started, ended in ACTIVITY:
        starts[(org, started.date(), USERS[user])] += 1
        minutes.setdefault((org, started.date(), USERS[user]), set())
        if category == "LOGIN":
            continue
        last_at = started if ended is None else max(ended - timedelta(microseconds=1), started)
        minute = started.replace(second=0, microsecond=0)
        while minute <= last_at.replace(second=0, microsecond=0):
            minutes[(org, minute.date(), USERS[user])].add(minute)
            minute += timedelta(minutes=1)
    return {key: (len(minutes[key]), starts.get(key, 0)) for key in minutes}


# Rollups of the activity tables, each with the live statement that rebuilds it from the raw rows.
ACTIVITY_ROLLUPS: list[tuple[str, list[str]]] = [
    ("activity_user_days", [user_days.BACKFILL]),
    ("activity_day_vectors", [day_vectors.BACKFILL]),
    ("activity_part_vectors", [part_vectors.BACKFILL]),
    ("activity_workspace_days", [workspace_days.BACKFILL]),
    ("activity_hour_users", [rollup.HOURS_BACKFILL]),
    ("insights_template_days", [app_days.BACKFILLS[0]]),
    ("insights_app_days", [app_days.BACKFILLS[1]]),
    ("insights_app_session_days", [app_days.BACKFILLS[2]]),
]


async def snapshot(conn: AsyncConnection, table: str) -> list[tuple[Any, ...]]:
    return sorted(await rows(conn, f"SELECT t::text FROM {table} t"))


async def test_rows_written_at_0005_survive_and_roll_up_at_head(scratch_url: str) -> None:
    await alembic(scratch_url, "upgrade", "0005")
    engine = create_async_engine(scratch_url)
    try:
        async with engine.begin() as conn:
            await write_world_at_0005(conn)
            raw_before = {
                table: await snapshot(conn, table)
                for table in (
                    "organizations",
                    "users",
                    "memberships",
                    "templates",
                    "workspaces",
                    "projects",
                    "activity_sessions",
                    "activity_minutes",
                )
            }
            ai_before = await rows(
                conn,
                "SELECT organization_id, id, user_id, project_id, agent, started_at, ended_at, cost, input_tokens, "
                "output_tokens, cache_read_tokens, cache_write_tokens, unpriced FROM ai_sessions ORDER BY id",
            )
            usage_before = await rows(
                conn,
                "SELECT organization_id, session_id, model, started_at, cost FROM ai_session_usage ORDER BY 2, 3",
            )
        await alembic(scratch_url, "upgrade", "head")
        async with engine.begin() as conn:
            assert (await rows(conn, "SELECT version_num FROM alembic_version")) == [
                (migrate.head_revision(),)
            ]
            # the rows survive, column for column
            for table, before in raw_before.items():
                assert await snapshot(conn, table) == before, table
            assert len(raw_before["activity_sessions"]) == len(ACTIVITY)
            assert ai_before == await rows(
                conn,
                "SELECT organization_id, id, user_id, project_id, agent, started_at, ended_at, cost, input_tokens, "
                "output_tokens, cache_read_tokens, cache_write_tokens, unpriced FROM ai_sessions ORDER BY id",
            )
            assert usage_before == await rows(
                conn,
                "SELECT organization_id, session_id, model, started_at, cost FROM ai_session_usage ORDER BY 2, 3",
            )
            assert len(ai_before) == len(AI) and len(usage_before) == sum(len(a[-1]) for a in AI)

            # the AI rollups the migrations backfilled hold the sums of the rows
            assert await read_ai(conn) == expected_ai()

            # activity: per user and day, the active minutes and the sessions started
            got = {
                r[:3]: (int(r[3]), int(r[4]))
                for r in await rows(
                    conn,
                    "SELECT organization_id, day, user_id, total, coalesce(cardinality(starts), 0) "
                    "FROM activity_user_days",
                )
            }
            assert got == expected_user_days()
            assert await rows(
                conn, "SELECT organization_id, max_minutes FROM activity_session_spans ORDER BY 1"
            ) == [(ORG_A, 94), (ORG_B, 299)]

            # every activity rollup backfilled by the migrations equals what the current code builds
            # from the same rows
            for table, statements in ACTIVITY_ROLLUPS:
                migrated = await snapshot(conn, table)
                assert migrated, f"{table} was not backfilled"
                await conn.execute(text(f"DELETE FROM {table}"))
                for statement in statements:
                    await conn.execute(text(statement))
                assert await snapshot(conn, table) == migrated, table

        # the triggers installed by the migrations keep the rollups at head
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO ai_sessions (organization_id, id, user_id, agent, started_at, ended_at, cost, "
                    "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, unpriced) "
                    "VALUES (:o, :id, :u, 'codex', :s, :e, 2, 7, 3, 0, 0, false)"
                ),
                dict(o=ORG_B, id=uuid.UUID(int=99), u=USERS["dee"], s=at(12), e=at(13)),
            )
            day = at(12).date()
            assert await rows(
                conn,
                "SELECT sum(sessions), sum(cost_micros), sum(tokens) FROM ai_session_user_days "
                "WHERE organization_id = :o AND day = :d AND user_id = :u",
                o=ORG_B,
                d=day,
                u=USERS["dee"],
            ) == [(2, 2_125_000, 340)]
    finally:
        await engine.dispose()


# --- downgrade to base and back ----------------------------------------------------------------------

SCHEMA_QUERIES = {
    "columns": "SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, "
    "is_generated, generation_expression, "
    "row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position) FROM information_schema.columns "
    "WHERE table_schema = 'public' ORDER BY 1, 2",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    "constraints": "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
    "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' ORDER BY 1, 2",
    "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
    "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND NOT tgisinternal ORDER BY 1, 2",
    "functions": "SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid) "
    "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1, 2",
    "storage": "SELECT c.relname, a.attname, a.attstorage FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' "
    "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 2",
}


async def schema(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            # Alembic's own version table comes and goes with the first revision
            return {
                name: [r for r in await rows(conn, sql) if r[0] != "alembic_version"]
                for name, sql in SCHEMA_QUERIES.items()
            }
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_upgrade_again_gives_the_same_schema(scratch_url: str) -> None:
    await alembic(scratch_url, "upgrade", "head")
    first = await schema(scratch_url)
    assert len(first["columns"]) > 100 and first["triggers"] and first["functions"]

    await alembic(scratch_url, "downgrade", "base")
    empty = await schema(scratch_url)
    # nothing of the migrations is left
    assert empty == {name: [] for name in SCHEMA_QUERIES}

    await alembic(scratch_url, "upgrade", "head")
    assert await schema(scratch_url) == first


async def test_each_migration_downgrades_to_the_schema_before_it(scratch_url: str) -> None:
    """Step by step: upgrading one revision and downgrading it again restores the previous schema."""
    revisions = [p.name.split("_")[0] for p in sorted(VERSIONS.glob("[0-9]*.py"))]
    previous = await schema(scratch_url)
    for revision in revisions:
        await alembic(scratch_url, "upgrade", revision)
        after = await schema(scratch_url)
        await alembic(scratch_url, "downgrade", "-1")
        assert await schema(scratch_url) == previous, f"downgrade of {revision}"
        await alembic(scratch_url, "upgrade", revision)
        assert await schema(scratch_url) == after, f"upgrade of {revision} after its downgrade"
        previous = after


def test_head_is_the_last_migration() -> None:
    assert migrate.head_revision() == sorted(p.name.split("_")[0] for p in VERSIONS.glob("[0-9]*.py"))[-1]
