"""Retention (docs/operations.md#retention): the purge deletes exactly the raw rows older than each kind's
cutoff, in batches, and nothing else (the rollups keep their rows, the AI rollups their sums; OTLP's event
ledger keeps every event of a session that is not wholly past the cutoff); a dry run deletes nothing; one
purger at a time; analytics of ranges after the cutoff are unchanged, rollup-served analytics of older
ranges too, and the others refuse a range that starts before the cutoff, naming the setting; ingest and
OTLP intake refuse records past the retention, so an export retried after the purge is not counted twice;
the metrics move."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.ingest.otlp_client import Event, Person, proto_logs
from tests.sessions_world import Usage, ai_session
from usagegraph.db.database import Database
from usagegraph.settings import Settings
from usagegraph.upkeep import retention

DAYS = 30
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
CUTOFF = NOW - timedelta(days=DAYS)
OLD = CUTOFF - timedelta(days=20)  # every old fact lies around here
NEW = NOW - timedelta(days=5)

RAW = (
    "resource_samples",
    "node_samples",
    "latency_samples",
    "activity_sessions",
    "ai_sessions",
    "ai_session_usage",
    "otlp_events",
)
ROLLUPS = (
    "activity_minutes",
    "activity_session_spans",
    "activity_user_bits",
    "activity_quarter_users",
    "activity_hour_users",
    "activity_user_days",
    "activity_day_vectors",
    "activity_workspace_days",
    "ai_session_hours",
    "ai_usage_hours",
    "ai_session_user_days",
    "ai_session_user_weeks",
    "ai_session_project_days",
)
# (table, column or expression) that identifies a row, to compare what is left with what should be
KEYS = {
    "resource_samples": "workspace_id::text || at::text",
    "node_samples": "node || at::text",
    "latency_samples": "workspace_id::text || at::text",
    "activity_sessions": "id::text",
    "ai_sessions": "id::text",
    "ai_session_usage": "session_id::text || model",
    "otlp_events": "event_id::text",
}

SESSION_QUERY = """
query($org: ID!, $filter: SessionFilter) {
  organization(id: $org) {
    sessionAnalytics(filter: $filter) {
      timeseries(interval: DAY, timezone: "UTC") { start sessions cost tokens }
      summary { totalSessions totalCost totalTokens }
    }
  }
}
"""
ACTIVITY_QUERY = """
query($start: DateTime!, $end: DateTime!, $org: ID, $category: ActivityCategory!) {
  activity(start: $start, end: $end, interval: "P1D", category: $category, organizationId: $org, timezone: "UTC") {
    buckets { start activeUsers userActivity { user { username } durationSeconds count } }
  }
}
"""
COMPUTE_QUERY = """
query ($org: ID!, $start: DateTime!, $end: DateTime!) {
  organization(id: $org) {
    compute(start: $start, end: $end, interval: "P1D", timezone: "UTC") { workspaces { samples cpu { average } } }
  }
}
"""


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def retained(settings: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {kind.setting: DAYS for kind in retention.KINDS}
    return settings.model_copy(update={**values, "retention_batch_rows": 5, **overrides})


async def _insert(engine: AsyncEngine, statement: str, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(statement), rows)


async def world(factory: Factory, engine: AsyncEngine) -> dict[str, Any]:
    """Old and new facts of every kind; returns the keys that must survive."""
    org = await factory.organization("acme")
    owner = await factory.user("owner", orgs={org: ["owner"]})
    tpl = await factory.template(org, "python")
    ws = await factory.workspace(org, tpl, owner)
    old_samples = [OLD + timedelta(minutes=7 * i) for i in range(13)]
    new_samples = [NEW + timedelta(minutes=7 * i) for i in range(7)]
    await _insert(
        engine,
        "INSERT INTO resource_samples (organization_id, workspace_id, at, node, cpu_used_cores, cpu_limit_cores, "
        "memory_used_bytes, memory_limit_bytes) VALUES (:org, :ws, :at, 'n1', 1, 2, 100, 1000)",
        [{"org": org, "ws": ws, "at": at} for at in old_samples + new_samples],
    )
    await _insert(
        engine,
        "INSERT INTO node_samples (node, at, cpu_used_cores, cpu_capacity_cores, memory_used_bytes, "
        "memory_capacity_bytes) VALUES ('n1', :at, 2, 8, 100, 4000)",
        [{"at": at} for at in old_samples + new_samples],
    )
    await _insert(
        engine,
        "INSERT INTO latency_samples (organization_id, workspace_id, user_id, at, template_id, latency_ms) "
        "VALUES (:org, :ws, :user, :at, :tpl, 42)",
        [{"org": org, "ws": ws, "user": owner, "tpl": tpl, "at": at} for at in old_samples + new_samples],
    )
    kept_activity = []
    for i in range(8):  # old sessions, ended before the cutoff: they go
        start = OLD + timedelta(hours=3 * i)
        await factory.activity(
            org, owner, "IDE", start, start + timedelta(minutes=40), workspace_id=ws, app="vscode"
        )
    await factory.activity(org, owner, "LOGIN", OLD, None)  # an old instant: goes
    # started before the cutoff, ended after it: a range after the cutoff still counts its minutes
    kept_activity.append(
        await factory.activity(
            org,
            owner,
            "IDE",
            CUTOFF - timedelta(hours=1),
            CUTOFF + timedelta(hours=1),
            workspace_id=ws,
            app="vscode",
        )
    )
    for i in range(3):
        start = NEW + timedelta(hours=2 * i)
        kept_activity.append(
            await factory.activity(
                org, owner, "IDE", start, start + timedelta(minutes=25), workspace_id=ws, app="vscode"
            )
        )
    kept_ai, old_ai = [], []
    two_lines: list[Usage] = [("sonnet", 10, 5, 0, 0, "0.001000"), ("opus", 3, 2, 1, 0, "0.020000")]
    for i in range(12):
        start = OLD + timedelta(hours=5 * i, minutes=13)
        old_ai.append(
            await ai_session(engine, org, owner, start, start + timedelta(minutes=9), usage=two_lines)
        )
    for i in range(4):
        start = NEW + timedelta(hours=5 * i, minutes=13)
        kept_ai.append(
            await ai_session(engine, org, owner, start, start + timedelta(minutes=9), usage=two_lines)
        )
    # OTLP's event ledger, (session, event times) by session
    old_ledger = [
        (s, [OLD + timedelta(hours=5 * i, minutes=13 + m) for m in (0, 3, 8)])
        for i, s in enumerate(old_ai[:4])
    ]
    kept_ledger = [
        # spans the cutoff: while one of its events is retained, a retried older one must still be known
        (
            uuid.uuid4(),
            [CUTOFF - timedelta(hours=2), CUTOFF - timedelta(hours=1), CUTOFF + timedelta(hours=1)],
        ),
        # every event old but the session's row started after the cutoff (it was also fed by `ingest`)
        (kept_ai[0], [OLD, OLD + timedelta(minutes=1)]),
        (kept_ai[1], [NEW + timedelta(hours=5, minutes=13), NEW + timedelta(hours=5, minutes=20)]),
    ]
    kept_events = await _ledger(engine, org, kept_ledger)
    await _ledger(engine, org, old_ledger)
    token = await factory.token(owner)
    return {
        "org": org,
        "token": token,
        "kept": {
            "resource_samples": {f"{ws}{_pg(at)}" for at in new_samples},
            "node_samples": {f"n1{_pg(at)}" for at in new_samples},
            "latency_samples": {f"{ws}{_pg(at)}" for at in new_samples},
            "activity_sessions": {str(s) for s in kept_activity},
            "ai_sessions": {str(s) for s in kept_ai},
            "ai_session_usage": {f"{s}{model}" for s in kept_ai for model in ("sonnet", "opus")},
            "otlp_events": {str(e) for e in kept_events},
        },
        "old": {
            "resource_samples": 13,
            "node_samples": 13,
            "latency_samples": 13,
            "activity_sessions": 9,
            "ai_sessions": 12,
            "ai_session_usage": 24,
            "otlp_events": 12,
        },
    }


async def _ledger(
    engine: AsyncEngine, org: uuid.UUID, sessions: list[tuple[uuid.UUID, list[datetime]]]
) -> list[uuid.UUID]:
    """Ledger rows as the OTLP intake writes them (an API request of one model each); their event ids."""
    rows = [
        {"org": org, "event": uuid.uuid4(), "session": session, "at": at}
        for session, times in sessions
        for at in times
    ]
    await _insert(
        engine,
        "INSERT INTO otlp_events (organization_id, event_id, session_id, name, occurred_at, model, input_tokens, "
        "output_tokens, cost) VALUES (:org, :event, :session, 'claude_code.api_request', :at, 'sonnet', 10, 5, 0.001)",
        rows,
    )
    return [row["event"] for row in rows]


def _pg(at: datetime) -> str:
    """A timestamptz as PostgreSQL prints it in a UTC session."""
    return at.strftime("%Y-%m-%d %H:%M:%S+00")


async def _keys(engine: AsyncEngine) -> dict[str, set[str]]:
    async with engine.connect() as conn:
        await conn.execute(text("SET TIME ZONE 'UTC'"))
        return {
            table: {row[0] for row in await conn.execute(text(f"SELECT {key} FROM {table}"))}
            for table, key in KEYS.items()
        }


async def _rollups(engine: AsyncEngine) -> dict[str, list[str]]:
    """Every rollup's content; the AI rollups as the sums a reader sees (the purge must not add deltas)."""
    async with engine.connect() as conn:
        out = {}
        for table in ROLLUPS:
            rows = await conn.execute(text(f"SELECT t::text FROM {table} t ORDER BY 1"))
            out[table] = [row[0] for row in rows]
        return out


async def _ai_sums(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT hour, sum(sessions), sum(cost_micros) FROM ai_session_hours GROUP BY hour ORDER BY hour"
            )
        )
        return [tuple(row) for row in rows]


async def test_purge_deletes_exactly_the_old_rows_in_batches(
    factory: Factory, engine: AsyncEngine, settings: Settings
) -> None:
    w = await world(factory, engine)
    before_keys = await _keys(engine)
    before_rollups = await _rollups(engine)
    sums = await _ai_sums(engine)
    assert sum(row[1] for row in sums) == 16
    calls: list[tuple[str, int]] = []
    oldest: dict[str, datetime | None] = {}
    purger = retention.Purger(
        Database(engine=engine, read_engine=engine),
        retained(settings),
        on_purged=lambda table, rows: calls.append((table, rows)),
        on_oldest=oldest.update,
    )
    report = await purger.run()
    assert report is not None
    assert report.rows == w["old"]
    assert await _keys(engine) == w["kept"]
    for table in RAW:
        assert w["kept"][table] < before_keys[table]
    # batches of at most five rows each, as many as the rows needed
    assert [rows for table, rows in calls if table == "resource_samples"] == [5, 5, 3]
    assert [rows for table, rows in calls if table == "ai_sessions"] == [5, 5, 2]
    assert [rows for table, rows in calls if table == "ai_session_usage"] == [10, 10, 4]
    assert [rows for table, rows in calls if table == "otlp_events"] == [5, 5, 2]
    # the rollups are untouched, row for row
    assert await _rollups(engine) == before_rollups
    assert await _ai_sums(engine) == sums
    # the oldest record per table is now at or after the cutoff (the session that spans the cutoff excepted)
    assert oldest["resource_samples"] == NEW
    assert oldest["ai_sessions"] == NEW + timedelta(minutes=13)
    assert oldest["activity_sessions"] == CUTOFF - timedelta(hours=1)
    assert oldest["otlp_events"] == OLD  # the events of the session whose row started after the cutoff
    # a second round finds nothing
    again = await purger.run()
    assert again is not None and set(again.rows.values()) == {0}
    # an ordinary DELETE still takes its session out of the rollups (the triggers are quiet only in the purge)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM ai_session_usage"))
        await conn.execute(text("DELETE FROM ai_sessions"))
    assert sum(row[1] for row in await _ai_sums(engine)) == 12


async def test_kinds_left_unset_are_kept(factory: Factory, engine: AsyncEngine, settings: Settings) -> None:
    w = await world(factory, engine)
    before = await _keys(engine)
    only_nodes = settings.model_copy(update={"retention_node_samples_days": DAYS})
    report = await retention.Purger(Database(engine=engine, read_engine=engine), only_nodes).run()
    assert report is not None and report.rows == {"node_samples": 13}
    after = await _keys(engine)
    assert after == {**before, "node_samples": w["kept"]["node_samples"]}


async def test_dry_run_changes_nothing(factory: Factory, engine: AsyncEngine, settings: Settings) -> None:
    w = await world(factory, engine)
    before_keys, before_rollups = await _keys(engine), await _rollups(engine)
    db = Database(engine=engine, read_engine=engine)
    dry = await retention.Purger(db, retained(settings)).run(dry_run=True)
    assert dry is not None and dry.dry_run
    assert dry.rows == w["old"]
    assert await _keys(engine) == before_keys
    assert await _rollups(engine) == before_rollups
    real = await retention.Purger(db, retained(settings)).run()
    assert real is not None and real.rows == dry.rows


async def test_one_purger_at_a_time(factory: Factory, engine: AsyncEngine, settings: Settings) -> None:
    await world(factory, engine)
    before = await _keys(engine)
    db = Database(engine=engine, read_engine=engine)
    key = {"c": retention.LOCK_KEY[0], "o": retention.LOCK_KEY[1]}
    async with engine.connect() as holder:  # another replica, purging
        assert (await holder.execute(text("SELECT pg_try_advisory_lock(:c, :o)"), key)).scalar_one()
        await holder.commit()
        assert await retention.Purger(db, retained(settings)).run() is None
        assert await _keys(engine) == before
        await holder.execute(text("SELECT pg_advisory_unlock(:c, :o)"), key)
        await holder.commit()
    # two at once: one purges, the other either finds the lock taken or (having come second) nothing left
    results = await asyncio.gather(*(retention.Purger(db, retained(settings)).run() for _ in range(2)))
    purged = [sum(r.rows.values()) for r in results if r is not None]
    assert sum(purged) == 96 and max(purged) == 96


async def test_analytics_after_the_cutoff_unchanged_and_older_ranges_refused(
    factory: Factory, engine: AsyncEngine, settings: Settings, make_client: Any
) -> None:
    w = await world(factory, engine)
    org, token = str(w["org"]), w["token"]
    recent = {"start": iso(CUTOFF + timedelta(minutes=30)), "end": iso(NOW)}
    old_range = {"start": iso(OLD - timedelta(days=1)), "end": iso(NEW)}
    reads: list[tuple[str, dict[str, Any]]] = [
        (SESSION_QUERY, {"org": org, "filter": recent}),
        (ACTIVITY_QUERY, {"org": org, "category": "IDE", **recent}),
        (ACTIVITY_QUERY, {"org": org, "category": "ANY", **recent}),
        (COMPUTE_QUERY, {"org": org, **recent}),
        # served wholly by rollups: exact for any range, also one older than the raw retention
        (ACTIVITY_QUERY, {"org": org, "category": "ANY", **old_range}),
    ]
    async for client in make_client(
        **retained(settings).model_dump(include={k.setting for k in retention.KINDS})
    ):
        gql = GraphQL(client)
        before = [await gql(query, variables, token=token) for query, variables in reads]
        for body in before:
            assert "errors" not in body, body
        assert before[0]["data"]["organization"]["sessionAnalytics"]["summary"]["totalSessions"] == 4
        assert any(b["activeUsers"] for b in before[4]["data"]["activity"]["buckets"][:25])
        report = await retention.Purger(Database(engine=engine, read_engine=engine), retained(settings)).run()
        assert report is not None and sum(report.rows.values()) == 96
        after = [await gql(query, variables, token=token) for query, variables in reads]
        assert after == before
        refusals: list[tuple[str, dict[str, Any], str, str]] = [
            (
                SESSION_QUERY,
                {"org": org, "filter": old_range},
                "USAGEGRAPH_RETENTION_AI_SESSIONS_DAYS",
                "filter",
            ),
            (
                ACTIVITY_QUERY,
                {"org": org, "category": "IDE", **old_range},
                "USAGEGRAPH_RETENTION_ACTIVITY_SESSIONS_DAYS",
                "start",
            ),
            (COMPUTE_QUERY, {"org": org, **old_range}, "USAGEGRAPH_RETENTION_RESOURCE_SAMPLES_DAYS", "start"),
        ]
        for query, variables, setting, argument in refusals:
            body = await gql(query, variables, token=token)
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT"
            assert error["extensions"]["retention"] == setting
            assert error["extensions"]["argument"] == argument
            assert setting in error["message"]
            assert body["data"] is None or all(v is None for v in (body["data"] or {}).values())


async def test_the_server_purges_in_the_background_and_reports_metrics(
    factory: Factory, engine: AsyncEngine, settings: Settings, make_client: Any
) -> None:
    w = await world(factory, engine)
    overrides = {kind.setting: DAYS for kind in retention.KINDS}
    async for client in make_client(**overrides, retention_purge_seconds=0.2, retention_batch_rows=5):
        for _ in range(100):
            metrics = (await client.get("/metrics")).text
            done = 'usagegraph_purged_records_total{kind="ai_session_usage"} 24.0' in metrics
            if done and "usagegraph_oldest_record_age_seconds{" in metrics:
                break
            await asyncio.sleep(0.1)
        for table, rows in w["old"].items():
            assert f'usagegraph_purged_records_total{{kind="{table}"}} {float(rows)}' in metrics
        ages = {
            line.split('"')[1]: float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("usagegraph_oldest_record_age_seconds{")
        }
        assert set(ages) == set(RAW)
        assert 5 * 86400 - 600 < ages["resource_samples"] < 5 * 86400 + 600
        assert ages["activity_sessions"] < DAYS * 86400 + 7200
        # what the stalled-purge alert compares those ages with (deploy/prometheus/rules.yml)
        kept = {
            line.split('"')[1]: float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("usagegraph_retention_seconds{")
        }
        assert kept == dict.fromkeys(RAW, DAYS * 86400.0)
        assert "\nusagegraph_retention_purge_interval_seconds 0.2\n" in metrics
    assert await _keys(engine) == w["kept"]


INSIGHTS_QUERY = """
query($org: ID!, $start: DateTime!, $end: DateTime!) {
  templateInsights(organizationId: $org, start: $start, end: $end) {
    activeUsers userActivity { seconds } $MORE
  }
}
"""


async def test_template_insights_refuse_only_the_fields_that_read_raw_rows(
    factory: Factory, engine: AsyncEngine, settings: Settings, make_client: Any
) -> None:
    w = await world(factory, engine)
    org, token = str(w["org"]), w["token"]
    old_range = {"org": org, "start": iso(OLD - timedelta(days=1)), "end": iso(CUTOFF - timedelta(days=1))}
    plain = INSIGHTS_QUERY.replace("$MORE", "")
    async for client in make_client(**{kind.setting: DAYS for kind in retention.KINDS}):
        gql = GraphQL(client)
        before = await gql(plain, old_range, token=token)
        assert "errors" not in before, before
        assert before["data"]["templateInsights"]["activeUsers"] == 1
        await retention.Purger(Database(engine=engine, read_engine=engine), retained(settings)).run()
        # the minute rollup and the per-day rows answer these exactly, however old the range
        assert await gql(plain, old_range, token=token) == before
        for field, setting in (
            ("appUsage { slug timesUsed }", "USAGEGRAPH_RETENTION_ACTIVITY_SESSIONS_DAYS"),
            ("userLatency { p50 { ms } }", "USAGEGRAPH_RETENTION_LATENCY_SAMPLES_DAYS"),
        ):
            body = await gql(INSIGHTS_QUERY.replace("$MORE", field), old_range, token=token)
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT"
            assert error["extensions"]["retention"] == setting


INGEST = "mutation($b: IngestBatch!) { ingest(batch: $b) { accepted rejected { kind index code message } } }"


async def test_ingest_refuses_facts_older_than_their_retention(
    factory: Factory, engine: AsyncEngine, settings: Settings, make_client: Any
) -> None:
    org = await factory.organization("acme")
    root = await factory.user("root", site_roles=["owner"])
    tpl = await factory.template(org, "python")
    ws = str(await factory.workspace(org, tpl, root))
    user = str(root)

    def facts(at: datetime) -> dict[str, Any]:
        stamp, later = iso(at), iso(at + timedelta(minutes=30))
        resource = {
            "workspaceId": ws,
            "at": stamp,
            "cpuUsedCores": 1.0,
            "cpuLimitCores": 2.0,
            "memoryUsedBytes": 5.0,
            "memoryLimitBytes": 10.0,
        }
        node = {
            "node": "n1",
            "at": stamp,
            "cpuUsedCores": 1.0,
            "cpuCapacityCores": 2.0,
            "memoryUsedBytes": 5.0,
            "memoryCapacityBytes": 10.0,
        }
        return {
            "activity": [
                {
                    "id": str(uuid.uuid4()),
                    "userId": user,
                    "workspaceId": ws,
                    "category": "IDE",
                    "app": "vscode",
                    "startedAt": stamp,
                    "endedAt": later,
                },
            ],  # fmt: skip
            "latency": [{"workspaceId": ws, "userId": user, "at": stamp, "latencyMs": 42.0}],
            "resources": [resource],
            "nodes": [node],
            "aiSessions": [
                {
                    "id": str(uuid.uuid4()),
                    "organizationId": str(org),
                    "userId": user,
                    "agent": "a",
                    "startedAt": stamp,
                    "endedAt": later,
                    "usage": [{"model": "m", "inputTokens": 1, "cost": "0.1"}],
                },
            ],  # fmt: skip
        }

    old, new = facts(OLD), facts(NEW)
    batch = {kind: old[kind] + new[kind] for kind in old}
    async for client in make_client(**{kind.setting: DAYS for kind in retention.KINDS}):
        body = await GraphQL(client)(INGEST, {"b": batch}, token=await factory.token(root))
        result = body["data"]["ingest"]
        assert result["accepted"] == 5
        assert sorted(r["kind"] for r in result["rejected"]) == sorted(old)
        for rejection in result["rejected"]:
            assert rejection["index"] == 0 and rejection["code"] == "BAD_USER_INPUT"
            assert "USAGEGRAPH_RETENTION_" in rejection["message"]
    # without retention the same old facts are accepted
    async for client in make_client():
        body = await GraphQL(client)(INGEST, {"b": facts(OLD)}, token=await factory.token(root))
        assert body["data"]["ingest"] == {"accepted": 5, "rejected": []}


async def test_purge_command_dry_run_then_purge(
    database_url: str, factory: Factory, engine: AsyncEngine
) -> None:
    org = await factory.organization("acme")
    owner = await factory.user("owner", orgs={org: ["owner"]})
    tpl = await factory.template(org, "python")
    ws = await factory.workspace(org, tpl, owner)
    await _insert(
        engine,
        "INSERT INTO resource_samples (organization_id, workspace_id, at, node, cpu_used_cores, "
        "cpu_limit_cores, memory_used_bytes, memory_limit_bytes) VALUES (:org, :ws, :at, 'n1', 1, 2, 1, 2)",
        [{"org": org, "ws": ws, "at": at} for at in (OLD, OLD + timedelta(hours=1), NEW)],
    )

    async def remaining() -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM resource_samples"))).scalar_one())

    env = {k: v for k, v in os.environ.items() if not k.startswith("USAGEGRAPH_")}
    env.update(USAGEGRAPH_DATABASE_URL=database_url, USAGEGRAPH_RETENTION_RESOURCE_SAMPLES_DAYS=str(DAYS))

    async def purge(*args: str) -> str:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "usagegraph", "purge", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout

    dry = await purge("--dry-run")
    assert "resource_samples: would delete 2 rows older than" in dry
    assert "ai_sessions: kept forever (USAGEGRAPH_RETENTION_AI_SESSIONS_DAYS unset)" in dry
    assert "otlp_events: kept forever (USAGEGRAPH_RETENTION_AI_SESSIONS_DAYS unset)" in dry
    assert await remaining() == 3
    assert "resource_samples: deleted 2 rows" in await purge()
    assert await remaining() == 1
    assert "resource_samples: deleted 0 rows" in await purge()


async def _lock_holders(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:  # any session, pooled or not
        held = await conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :c AND objid = :o"),
            {"c": retention.LOCK_KEY[0], "o": retention.LOCK_KEY[1]},
        )
        return int(held.scalar_one())


async def test_a_failed_or_cancelled_purge_releases_its_lock(
    factory: Factory, engine: AsyncEngine, settings: Settings
) -> None:
    w = await world(factory, engine)
    db = Database(engine=engine, read_engine=engine)
    one_row = retained(settings, retention_batch_rows=1)

    def fail(table: str, rows: int) -> None:
        raise RuntimeError("the round fails after its first batch")

    with pytest.raises(RuntimeError):
        await retention.Purger(db, one_row, on_purged=fail).run()
    assert await _lock_holders(engine) == 0

    started = asyncio.Event()
    purger = retention.Purger(db, one_row, on_purged=lambda _table, _rows: started.set())
    task = asyncio.create_task(purger.run())
    await started.wait()  # cancelled in the middle of the round, between two batches or inside one
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert await _lock_holders(engine) == 0
    report = await retention.Purger(db, retained(settings)).run()
    assert report is not None
    assert await _keys(engine) == w["kept"]


def _otlp_requests(factory: Factory) -> Any:
    """A collector's token and a function that exports Claude Code API request events of one developer
    over OTLP (protobuf) and returns the answer."""

    async def setup() -> tuple[uuid.UUID, Any, Any]:
        org = await factory.organization("acme")
        dev = await factory.user("dev", email="dev@acme.test", orgs={org: ["member"]})
        collector = await factory.user("collector", orgs={org: ["collector"]})
        token = await factory.token(collector)
        person = Person(dev, str(dev), "dev@acme.test")

        def events(session: str, *times: datetime) -> list[Event]:
            return [
                Event(session, person, "api_request", at, n, "claude-sonnet-4-5", (100, 50, 0, 0), 0.01)
                for n, at in enumerate(times)
            ]

        async def send(client: Any, batch: list[Event]) -> ExportLogsServiceResponse:
            response = await client.post(
                "/v1/logs",
                content=proto_logs(batch, {"service.name": "claude-code"}).SerializeToString(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"},
            )
            assert response.status_code == 200, response.text
            return ExportLogsServiceResponse.FromString(response.content)

        return org, events, send

    return setup()


async def _ledger_sessions(engine: AsyncEngine) -> dict[uuid.UUID, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT session_id, count(*) FROM otlp_events GROUP BY session_id"))
        return {row[0]: int(row[1]) for row in rows}


async def _ai_rows(engine: AsyncEngine) -> set[uuid.UUID]:
    async with engine.connect() as conn:
        return {row[0] for row in await conn.execute(text("SELECT id FROM ai_sessions"))}


async def test_otlp_intake_refuses_events_past_the_retention_and_a_retry_after_the_purge_counts_once(
    factory: Factory, engine: AsyncEngine, settings: Settings, make_client: Any
) -> None:
    _org, events, send = await _otlp_requests(factory)
    old, spanning, recent, fresh = (str(uuid.uuid4()) for _ in range(4))
    export = [
        *events(old, OLD, OLD + timedelta(minutes=5)),
        *events(
            spanning, CUTOFF - timedelta(hours=2), CUTOFF - timedelta(hours=1), CUTOFF + timedelta(hours=1)
        ),
        *events(recent, NEW, NEW + timedelta(minutes=10)),
    ]
    # The spanning session goes on after the retention was set: a new event, after the cutoff.
    (later,) = events(spanning, NOW - timedelta(hours=1))
    later.sequence = 10
    # Stored before any retention was set.
    async for client in make_client():
        answer = await send(client, export)
        assert not answer.HasField("partial_success")
    assert await _ai_rows(engine) == {uuid.UUID(s) for s in (old, spanning, recent)}

    keep = {"retention_ai_sessions_days": DAYS}
    async for client in make_client(**keep):
        # The same export retried: the events older than the cutoff are dropped, the others are duplicates.
        answer = await send(client, export)
        assert answer.partial_success.rejected_log_records == 4
        message = answer.partial_success.error_message
        assert message.startswith(
            "4 log records rejected: past_retention x4 (first: log record 0: the record's"
        )
        assert "USAGEGRAPH_RETENTION_AI_SESSIONS_DAYS=30" in message
        # A new event of a session that started before the cutoff is dropped as well; a new session is not.
        answer = await send(client, [later, *events(fresh, NOW - timedelta(hours=2))])
        assert answer.partial_success.rejected_log_records == 1
        assert f"past_retention x1 (first: log record 0: session {spanning} started at" in (
            answer.partial_success.error_message
        )
        ledger = await _ledger_sessions(engine)
        assert ledger == {
            uuid.UUID(old): 2,
            uuid.UUID(spanning): 3,
            uuid.UUID(recent): 2,
            uuid.UUID(fresh): 1,
        }
        counted = await _ai_sums(engine)
        assert sum(row[1] for row in counted) == 4

        report = await retention.Purger(
            Database(engine=engine, read_engine=engine), settings.model_copy(update=keep)
        ).run()
        assert report is not None
        assert (report.rows["ai_sessions"], report.rows["otlp_events"]) == (2, 2)
        # The spanning session's row is gone, its events are kept: one of them is after the cutoff.
        assert await _ai_rows(engine) == {uuid.UUID(recent), uuid.UUID(fresh)}
        assert await _ledger_sessions(engine) == {k: v for k, v in ledger.items() if k != uuid.UUID(old)}

        # Everything again after the purge: nothing is stored, nothing counted twice.
        answer = await send(client, [*export, later])
        assert answer.partial_success.rejected_log_records == 5
        assert "past_retention x5" in answer.partial_success.error_message
        assert await _ai_rows(engine) == {uuid.UUID(recent), uuid.UUID(fresh)}
        assert await _ai_sums(engine) == counted
        metrics = (await client.get("/metrics")).text
        assert 'usagegraph_otlp_rejected_total{reason="past_retention",signal="logs"} 10.0' in metrics
        assert 'usagegraph_otlp_records_total{outcome="duplicate",signal="logs"} 6.0' in metrics


async def test_the_ledger_purge_skips_the_rows_an_intake_holds(
    factory: Factory, engine: AsyncEngine, settings: Settings
) -> None:
    w = await world(factory, engine)
    db = Database(engine=engine, read_engine=engine)
    async with engine.connect() as intake:  # a transaction that holds one old ledger row
        held = (
            await intake.execute(
                text(
                    "SELECT event_id FROM otlp_events WHERE occurred_at < :before AND session_id <> ALL(:kept) "
                    "LIMIT 1 FOR UPDATE"
                ),
                {"before": OLD + timedelta(days=5), "kept": [uuid.UUID(s) for s in w["kept"]["ai_sessions"]]},
            )
        ).scalar_one()
        # a hang guard: a purge that waited for the lock would never return
        report = await asyncio.wait_for(retention.Purger(db, retained(settings)).run(), 120)
        assert report is not None and report.rows["otlp_events"] == 11
        assert (await _keys(engine))["otlp_events"] == w["kept"]["otlp_events"] | {str(held)}
        await intake.rollback()
    report = await retention.Purger(db, retained(settings)).run()
    assert report is not None and report.rows["otlp_events"] == 1
    assert await _keys(engine) == w["kept"]
