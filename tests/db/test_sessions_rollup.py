"""The hourly AI session rollups (migration 0009), the per user and day one (0015), the per user, agent
and week one (0017) and the per project and day one (0018): the timeseries, the cost by model and by
project, the users' own timeseries and the facts (summary, byAgent, users, cost by user) read without
filters (whole UTC hours, days or weeks from a rollup, partial ones raw) must equal the same figures read
with a filter that
selects every session (raw sessions only), in zones with whole, half and quarter-hour offsets, across DST,
for ranges cut at odd minutes, and they must stay equal after sessions are updated, moved, deleted, their
usage lines replaced, and the rollups compacted."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.sessions_world import ai_session
from usagegraph.db.queries.sessions import compact_rollups

AGENTS = ["claude-code", "cursor", "aider"]
MODELS = ["sonnet", "opus", "haiku"]
BASE = datetime(2024, 3, 7, tzinfo=UTC)
QUERY = """
query($org: ID!, $filter: SessionFilter, $interval: SessionInterval!, $tz: String!) {
  organization(id: $org) {
    sessionAnalytics(filter: $filter) {
      timeseries(interval: $interval, timezone: $tz) { start end sessions cost tokens }
      costBreakdown(by: MODEL) { key cost share sessions tokens }
      byProject: costBreakdown(by: PROJECT) { key label cost share sessions tokens }
      users {
        user { id } sessions cost tokens averageDurationSeconds favoriteAgent agents { agent sessions }
        durationHistogram { le count }
        timeseries(interval: $interval, timezone: $tz) { start end sessions cost tokens }
      }
      summary {
        totalSessions totalCost totalTokens inputTokens outputTokens cacheReadTokens cacheWriteTokens
        averageDurationSeconds averageCostPerSession uniqueUsers unpricedSessions
      }
      byAgent { agent sessions users totalCost averageCost averageDurationSeconds tokens }
      byUser: costBreakdown(by: USER) { key cost share sessions tokens }
    }
  }
}
"""
CASES = [
    ("2024-03-07T00:07:00Z", "2024-03-13T13:41:00Z", "DAY", "America/New_York"),  # DST on 03-10
    ("2024-03-06T18:15:00Z", "2024-03-12T05:45:00Z", "DAY", "Asia/Kathmandu"),  # +5:45
    ("2024-03-07T00:00:00Z", "2024-03-14T00:00:00Z", "WEEK", "Asia/Kolkata"),  # +5:30
    ("2024-03-08T03:00:00Z", "2024-03-08T03:40:00Z", "DAY", "UTC"),  # inside one hour
    ("2024-03-05T00:00:00Z", "2024-03-16T00:00:00Z", "DAY", "UTC"),  # whole hours only
    ("2024-02-26T00:00:00Z", "2024-03-25T00:00:00Z", "WEEK", "UTC"),  # whole weeks only
    ("2024-03-06T10:07:00Z", "2024-03-19T00:00:00Z", "DAY", "America/New_York"),  # a whole week and edges
]


async def _both(gql: GraphQL, org: uuid.UUID, token: str, case: tuple[str, str, str, str]) -> tuple[Any, Any]:
    start, end, interval, tz = case
    variables: dict[str, Any] = {"org": str(org), "interval": interval, "tz": tz}
    rolled = await gql(QUERY, {**variables, "filter": {"start": start, "end": end}}, token=token)
    everyone = {"start": start, "end": end, "agents": AGENTS}
    raw = await gql(QUERY, {**variables, "filter": everyone}, token=token)
    assert "errors" not in rolled, rolled
    assert "errors" not in raw, raw
    return rolled["data"], raw["data"]


async def _assert_equal(gql: GraphQL, org: uuid.UUID, token: str) -> int:
    """Every case read both ways; returns the sessions counted, so a test cannot pass on empty data."""
    counted = 0
    labels: set[str] = set()
    for case in CASES:
        rolled, raw = await _both(gql, org, token, case)
        assert rolled == raw, case
        counted += sum(p["sessions"] for p in rolled["organization"]["sessionAnalytics"]["timeseries"])
        labels.update(s["label"] for s in rolled["organization"]["sessionAnalytics"]["byProject"])
    assert labels == {"web", "api", "(none)"}
    return counted


async def test_rollup_reads_equal_raw_reads_through_writes_and_compaction(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    rng = random.Random(20241201)
    org = await factory.organization("acme")
    other = await factory.organization("globex")
    owner = await factory.user("mona", orgs={org: ["owner"]})
    outsider = await factory.user("olga", orgs={other: ["owner"]})
    token = await factory.token(owner)
    projects = [await factory.project(org, "web"), await factory.project(org, "api"), None]
    ids = []
    # random instants, plus whole hours and the exact edges of every case (the boundaries that matter)
    edges = [datetime.fromisoformat(moment) for case in CASES for moment in case[:2]]
    hours = [BASE + timedelta(hours=rng.randrange(-48, 240)) for _ in range(25)]
    moments = [BASE - timedelta(days=2) + timedelta(seconds=rng.randrange(12 * 86400)) for _ in range(150)]
    for started in moments + hours + edges + [edge - timedelta(microseconds=1) for edge in edges]:
        lines = [
            (
                model,
                rng.randrange(1, 5000),
                rng.randrange(1, 900),
                0,
                0,
                f"{rng.randrange(1, 2_000_000) / 1e6:.6f}",
            )
            for model in rng.sample(MODELS, rng.randrange(1, 3))
        ]
        ended = None if rng.random() < 0.1 else started + timedelta(seconds=rng.randrange(10, 9000))
        ids.append(
            await ai_session(
                engine,
                org,
                owner,
                started,
                ended,
                agent=rng.choice(AGENTS),
                project=rng.choice(projects),
                usage=lines,
            )
        )
    # another organization's sessions in the same hours never count
    for hour in range(0, 200, 7):
        await ai_session(engine, other, outsider, BASE + timedelta(hours=hour, minutes=13))
    first = await _assert_equal(gql, org, token)
    assert first > 100

    lines = "DELETE FROM ai_session_usage WHERE organization_id = :org AND session_id = ANY(:ids)"
    writes = [
        # endedAt extended and the totals changed (as a later usage snapshot does)
        (
            "UPDATE ai_sessions SET ended_at = started_at + interval '3 hours', cost = cost + 1, "
            "input_tokens = input_tokens + 7 WHERE organization_id = :org AND id = ANY(:ids)",
            ids[:30],
        ),
        # a session's start moved by 50 minutes: it changes hour, its usage lines follow (migration 0005)
        (
            "UPDATE ai_sessions SET started_at = started_at + interval '50 minutes' "
            "WHERE organization_id = :org AND id = ANY(:ids)",
            ids[30:50],
        ),
        # sessions moved to another project, or out of every project
        (
            "UPDATE ai_sessions SET project_id = CASE WHEN project_id IS NULL THEN CAST(:project AS uuid) END "
            "WHERE organization_id = :org AND id = ANY(:ids)",
            ids[40:60],
        ),
        # usage lines replaced, as ingest does for a later snapshot
        (lines, ids[50:70]),
        (
            "INSERT INTO ai_session_usage (organization_id, session_id, model, input_tokens, output_tokens, "
            "cache_read_tokens, cache_write_tokens, cost, priced) "
            "SELECT organization_id, id, 'gpt-5', 11, 3, 0, 0, 0.250000, true FROM ai_sessions "
            "WHERE organization_id = :org AND id = ANY(:ids)",
            ids[50:70],
        ),
        # sessions deleted with their lines
        (lines, ids[70:80]),
        ("DELETE FROM ai_sessions WHERE organization_id = :org AND id = ANY(:ids)", ids[70:80]),
    ]
    async with engine.begin() as conn:
        for sql, chosen in writes:
            await conn.execute(text(sql), {"org": org, "ids": chosen, "project": projects[0]})
    after_writes = await _assert_equal(gql, org, token)
    assert after_writes < first

    async with engine.begin() as conn:
        crowded = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM ai_session_hours GROUP BY organization_id, hour ORDER BY 1 DESC LIMIT 1"
                )
            )
        ).scalar_one()
        assert crowded > 1  # the writes above appended deltas to some hours
        assert await compact_rollups(conn) > 0
        for table, keys in (
            ("ai_session_hours", "organization_id, hour"),
            ("ai_usage_hours", "organization_id, hour, model"),
            ("ai_session_user_days", "organization_id, day, user_id"),
            ("ai_session_user_weeks", "organization_id, week, user_id, agent"),
            ("ai_session_project_days", "organization_id, day, project_key, no_project"),
        ):
            most = (
                await conn.execute(
                    text(
                        f"SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM {table} GROUP BY {keys}) c"
                    )
                )  # noqa: S608
            ).scalar_one()
            assert most == 1, table
        assert await compact_rollups(conn) == 0
    assert await _assert_equal(gql, org, token) == after_writes


async def test_ingest_keeps_the_rollup_in_step(gql: GraphQL, factory: Factory, engine: AsyncEngine) -> None:
    """Sessions written through the ingest mutation, then extended with a later snapshot, read the same
    both ways."""
    org = await factory.organization("acme")
    owner = await factory.user("mona", orgs={org: ["owner"]})
    token = await factory.token(owner)
    mutation = """
    mutation($batch: IngestBatch!) { ingest(batch: $batch) { accepted rejected { code message } } }
    """

    def session(n: int, minutes: int, cost: str) -> dict[str, Any]:
        started = BASE + timedelta(hours=n * 5, minutes=n * 7)
        return {
            "organizationId": str(org),
            "id": str(uuid.UUID(int=n + 1)),
            "userId": str(owner),
            "agent": AGENTS[n % 3],
            "startedAt": started.isoformat().replace("+00:00", "Z"),
            "endedAt": (started + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
            "usage": [{"model": MODELS[n % 3], "inputTokens": 100 + n, "outputTokens": 10, "cost": cost}],
        }

    first = await gql(
        mutation, {"batch": {"aiSessions": [session(n, 5, "0.1") for n in range(20)]}}, token=token
    )
    assert first["data"]["ingest"]["rejected"] == [], first
    again = await gql(
        mutation, {"batch": {"aiSessions": [session(n, 50, "0.3") for n in range(10)]}}, token=token
    )
    assert again["data"]["ingest"]["rejected"] == [], again
    rolled, raw = await _both(gql, org, token, CASES[0])
    assert rolled == raw
    points = rolled["organization"]["sessionAnalytics"]["timeseries"]
    assert sum(p["sessions"] for p in points) == 19  # the first starts at 00:00, before the range's 00:07


async def test_the_server_compacts_the_rollups_in_the_background(
    make_client: Any, factory: Factory, engine: AsyncEngine
) -> None:
    org = await factory.organization("acme")
    owner = await factory.user("mona", orgs={org: ["owner"]})
    session = await ai_session(engine, org, owner, BASE, BASE + timedelta(minutes=5))
    async with engine.begin() as conn:  # a later snapshot: one more delta row in the same hour
        await conn.execute(text("UPDATE ai_sessions SET cost = cost + 1 WHERE id = :id"), {"id": session})

    async def rows() -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM ai_session_hours"))).scalar_one())

    assert await rows() == 2
    async for _client in make_client(rollup_compaction_seconds=0.05):
        for _ in range(100):
            if await rows() == 1:
                break
            await asyncio.sleep(0.05)
    assert await rows() == 1
    async with engine.connect() as conn:
        folded = (await conn.execute(text("SELECT sessions, cost_micros FROM ai_session_hours"))).one()
    assert tuple(folded) == (1, 1_001_000)  # the default usage line costs 0.001; +1 dollar
