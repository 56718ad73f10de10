"""The bulk path of `usagegraph import` against the per-batch path (the ingest mutation): on one generated
history with every kind of record, duplicates, re-sent sessions with later ends and bad records, both give
the same rejections (line, kind, code, message), the same rows in every table and rollup, and the same
analytics answers; importing a file twice stores nothing twice."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.import_world import records, write
from usagegraph import cli
from usagegraph.settings import Settings

# Rollup tables whose bit strings number users (activity_user_bits): the numbering depends on the order in
# which users were first merged, so they are compared as sets of users.
_USER_BITS = {
    "activity_quarter_users": ("organization_id, category, quarter", "users"),
    "activity_hour_users": ("organization_id, category, hour", "users"),
    "insights_app_days": ("organization_id, day, template_id, app, minutes", "users"),
}
# Not compared row by row: the numbering itself, the per-day user vectors indexed by it (their answers are
# compared through the activity report, which reads them), and API tokens.
_SKIPPED = {"activity_user_bits", "activity_day_vectors", "api_tokens", "alembic_version"}


async def _tables(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        names = (
            await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"))
        ).scalars()
        for name in list(names):
            if name in _SKIPPED:
                continue
            if name in _USER_BITS:
                keys, column = _USER_BITS[name]
                sql = (
                    f"SELECT {keys}, (SELECT array_agg(b.user_id ORDER BY b.user_id) FROM activity_user_bits b "  # noqa: S608
                    f"WHERE b.organization_id = t.organization_id AND b.idx < length(t.{column}) "
                    f"AND get_bit(t.{column}, b.idx) = 1) FROM {name} t ORDER BY {keys}"
                )
            else:
                sql = f"SELECT * FROM {name} ORDER BY {name}::text"  # noqa: S608
            out[name] = [tuple(row) for row in await conn.execute(text(sql))]
    return out


ACTIVITY = """
query($start: DateTime!, $end: DateTime!, $interval: Interval!, $category: ActivityCategory!, $tz: String!) {
  activity(start: $start, end: $end, interval: $interval, category: $category, timezone: $tz) {
    buckets { start durationSeconds activeUsers userActivity { user { id } durationSeconds count } }
    users { user { id } totalDurationSeconds totalCount }
  }
}
"""
INSIGHTS = """
query($org: ID!, $start: DateTime!, $end: DateTime!) {
  templateInsights(organizationId: $org, start: $start, end: $end, interval: WEEK) {
    activeUsers
    activeUsersSeries { start activeUsers complete }
    appUsage { slug category seconds users timesUsed }
    userLatency { user { id } samples }
    userActivity { user { id } seconds }
    parameters { name }
  }
}
"""


async def _answers(gql: GraphQL, token: str, orgs: list[str]) -> list[Any]:
    answers = []
    for variables in (
        {
            "start": "2024-01-01T00:00:00Z",
            "end": "2026-01-01T00:00:00Z",
            "interval": "1 month",
            "category": "ANY",
            "tz": "UTC",
        },
        {
            "start": "2025-03-01T00:00:00Z",
            "end": "2025-06-01T00:00:00Z",
            "interval": "7 days",
            "category": "IDE",
            "tz": "America/New_York",
        },
        {
            "start": "2025-11-02T05:00:00Z",
            "end": "2025-11-05T17:00:00Z",
            "interval": "1 hour",
            "category": "LOGIN",
            "tz": "Asia/Kolkata",
        },
    ):
        body = await gql(ACTIVITY, variables, token=token)
        assert "errors" not in body, body
        answers.append(body["data"])
    for org in orgs:
        body = await gql(
            INSIGHTS,
            {"org": org, "start": "2024-06-03T00:00:00Z", "end": "2025-12-29T00:00:00Z"},
            token=token,
        )
        assert "errors" not in body, body
        answers.append(body["data"])
    return answers


async def _truncate(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        names = (
            await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
        ).scalars()
        await conn.execute(text(f"TRUNCATE {', '.join(names)} CASCADE"))


async def _import(
    settings: Settings, path: Path, monkeypatch: pytest.MonkeyPatch, *, per_batch: bool, size: int
) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    rejections: list[tuple[Any, ...]] = []
    monkeypatch.setattr(cli, "_print_rejection", lambda *r: rejections.append(r))
    totals = await cli._import(settings, path, size, per_batch)
    return totals, rejections


async def test_bulk_and_per_batch_imports_agree(
    settings: Settings,
    engine: AsyncEngine,
    gql: GraphQL,
    factory: Factory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "history.ndjson"
    write(path, 4000, seed=3)
    first = list(records(4000, seed=3))
    orgs = [r["id"] for r in first if r["kind"] == "organizations"][:3]
    owner = next(r["id"] for r in first if r["kind"] == "users")

    per_batch, per_batch_rejections = await _import(settings, path, monkeypatch, per_batch=True, size=700)
    per_batch_tables = await _tables(engine)
    token = await factory.token(uuid.UUID(owner))
    per_batch_answers = await _answers(gql, token, orgs)
    await _truncate(engine)

    monkeypatch.setattr("usagegraph.ingest.bulk.MERGE_CHUNK", 500)
    bulk, bulk_rejections = await _import(settings, path, monkeypatch, per_batch=False, size=900)
    bulk_tables = await _tables(engine)
    token = await factory.token(uuid.UUID(owner))
    bulk_answers = await _answers(gql, token, orgs)

    codes = {r[2] for r in bulk_rejections}
    assert {"BAD_USER_INPUT", "NOT_FOUND"} <= codes
    assert per_batch["duplicates"] > 50 and per_batch["rejected"] > 8
    assert bulk == per_batch
    assert sorted(bulk_rejections) == sorted(per_batch_rejections)  # reported chunk by chunk, kind by kind
    assert bulk_tables["activity_sessions"] and bulk_tables["activity_quarter_users"]
    for name, rows in per_batch_tables.items():
        assert bulk_tables[name] == rows, name
    assert bulk_answers == per_batch_answers
    assert any(b["activeUsers"] for b in bulk_answers[0]["activity"]["buckets"])


async def test_importing_twice_stores_nothing_twice(
    settings: Settings, engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.ndjson"
    write(path, 1500, seed=5)
    first, _ = await _import(settings, path, monkeypatch, per_batch=False, size=400)
    tables = await _tables(engine)
    again, rejections = await _import(settings, path, monkeypatch, per_batch=False, size=10_000)
    assert again["accepted"] == 0
    # every record is a duplicate now, or rejected (an original re-sent after its session was extended)
    assert again["duplicates"] + again["rejected"] == sum(first.values())
    assert again["duplicates"] >= first["accepted"] + first["duplicates"] - 50
    assert await _tables(engine) == tables
    assert rejections


async def test_a_line_that_does_not_fit_its_type_stops_the_import_and_stores_nothing(
    settings: Settings, engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bad.ndjson"
    write(path, 200, seed=2, bad=False)
    with path.open("ab") as out:
        out.write(
            b'{"kind": "latency", "workspaceId": "x", "userId": "y", "at": "yesterday", "latencyMs": 1}\n'
        )
    lines = path.read_bytes().count(b"\n")
    with pytest.raises(
        SystemExit, match=f"line {lines}: latency record does not fit its input type: at: DateTime"
    ):
        await _import(settings, path, monkeypatch, per_batch=False, size=50)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM organizations"))).scalar_one() == 0


async def test_a_second_file_extending_stored_sessions_gives_the_same_rollups(
    settings: Settings, engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions stored before the import and extended by it are recomputed after every new session of the
    import is in the rollups, so their user-days end up as the per-batch path leaves them."""
    first = tmp_path / "first.ndjson"
    write(first, 1200, seed=11, bad=False)
    later = tmp_path / "later.ndjson"
    with later.open("wb") as out:
        for record in records(1200, seed=11, bad=False):
            if record["kind"] == "activity" and record.get("endedAt"):
                ended = datetime.fromisoformat(record["endedAt"]) + timedelta(hours=5)
                out.write(
                    orjson.dumps({**record, "endedAt": ended.isoformat().replace("+00:00", "Z")}) + b"\n"
                )
                start = datetime.fromisoformat(record["startedAt"]) + timedelta(hours=1)
                out.write(
                    orjson.dumps(
                        {
                            **record,
                            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, record["id"])),
                            "startedAt": start.isoformat().replace("+00:00", "Z"),
                            "endedAt": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
                        }
                    )
                    + b"\n"
                )
    monkeypatch.setattr("usagegraph.ingest.bulk.MERGE_CHUNK", 200)  # several merge rounds of each kind
    outcomes = {}
    tables = {}
    for per_batch in (True, False):
        await _truncate(engine)
        await _import(settings, first, monkeypatch, per_batch=per_batch, size=300)
        outcomes[per_batch] = await _import(settings, later, monkeypatch, per_batch=per_batch, size=250)
        tables[per_batch] = await _tables(engine)
    assert outcomes[True] == outcomes[False]
    assert outcomes[False][0]["accepted"] > 500
    for name, rows in tables[True].items():
        assert tables[False][name] == rows, name
