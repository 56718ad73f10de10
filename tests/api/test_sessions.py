"""AI coding sessions analytics through HTTP with real tokens (docs/api.md 5.5): every section of
SessionAnalytics over the world described in tests/sessions_world.py, with hand-computed expectations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.sessions_world import END, START, World, ai_session, analytics, at, build_world


@pytest.fixture
async def world(factory: Factory, engine: AsyncEngine) -> World:
    return await build_world(factory, engine)


SUMMARY = """summary { totalSessions totalCost totalTokens inputTokens outputTokens cacheReadTokens
    cacheWriteTokens averageDurationSeconds averageCostPerSession uniqueUsers unpricedSessions }"""


async def test_summary_of_the_team(gql: GraphQL, world: World) -> None:
    result = await analytics(gql, world, SUMMARY, world.manager_token)
    assert result["scope"] == "TEAM"
    assert (result["start"], result["end"]) == (START, END)
    assert result["summary"] == {
        "totalSessions": 5,
        "totalCost": "1.690000",
        "totalTokens": 4695,
        "inputTokens": 3910,
        "outputTokens": 785,
        "cacheReadTokens": 150,
        "cacheWriteTokens": 30,
        "averageDurationSeconds": 2861.25,
        "averageCostPerSession": "0.338000",
        "uniqueUsers": 3,
        "unpricedSessions": 1,
    }


async def test_summary_without_sessions_has_no_averages(gql: GraphQL, world: World) -> None:
    result = await analytics(gql, world, SUMMARY, world.manager_token, agents=[])
    assert result["summary"] == {
        "totalSessions": 0,
        "totalCost": "0.000000",
        "totalTokens": 0,
        "inputTokens": 0,
        "outputTokens": 0,
        "cacheReadTokens": 0,
        "cacheWriteTokens": 0,
        "averageDurationSeconds": None,
        "averageCostPerSession": None,
        "uniqueUsers": 0,
        "unpricedSessions": 0,
    }


async def test_open_sessions_count_everywhere_but_in_duration_averages(
    gql: GraphQL, world: World, engine: AsyncEngine
) -> None:
    result = await analytics(
        gql, world, "summary { totalSessions totalCost averageDurationSeconds }", world.manager_token,
        userIds=[str(world.bob)],
    )  # fmt: skip
    assert result["summary"] == {
        "totalSessions": 2,
        "totalCost": "1.510000",
        "averageDurationSeconds": 9000.0,
    }
    only_open = await analytics(
        gql, world, "summary { totalSessions averageDurationSeconds } byAgent { sessions averageDurationSeconds }",
        world.manager_token, userIds=[str(world.bob)], projectIds=[], agents=["claude-code"],
    )  # fmt: skip
    assert only_open["summary"] == {"totalSessions": 0, "averageDurationSeconds": None}
    await ai_session(engine, world.org, world.carol, at(2, 6), None, agent="solo")
    solo = await analytics(
        gql, world, "summary { totalSessions averageDurationSeconds } byAgent { sessions averageDurationSeconds }",
        world.manager_token, agents=["solo"],
    )  # fmt: skip
    assert solo == {
        "scope": "TEAM",
        "start": START,
        "end": END,
        "summary": {"totalSessions": 1, "averageDurationSeconds": None},
        "byAgent": [{"sessions": 1, "averageDurationSeconds": None}],
    }


async def test_by_agent(gql: GraphQL, world: World) -> None:
    result = await analytics(
        gql, world, "byAgent { agent sessions users totalCost averageCost averageDurationSeconds tokens }",
        world.manager_token,
    )  # fmt: skip
    assert result["byAgent"] == [
        {
            "agent": "claude-code",
            "sessions": 3,
            "users": 2,
            "totalCost": "1.630000",
            "averageCost": "0.543333",
            "averageDurationSeconds": 5400.0,
            "tokens": 3720,
        },
        {
            "agent": "aider",
            "sessions": 1,
            "users": 1,
            "totalCost": "0.000000",
            "averageCost": "0.000000",
            "averageDurationSeconds": 600.0,
            "tokens": 15,
        },
        {
            "agent": "cursor",
            "sessions": 1,
            "users": 1,
            "totalCost": "0.060000",
            "averageCost": "0.060000",
            "averageDurationSeconds": 45.0,
            "tokens": 960,
        },
    ]


BREAKDOWN = """
    byModel: costBreakdown(by: MODEL) { key label cost share sessions tokens }
    byProject: costBreakdown(by: PROJECT) { key label cost share sessions tokens }
    byUser: costBreakdown(by: USER) { key label cost share sessions tokens }
"""


def share(part: str, total: str) -> Any:
    return pytest.approx(float(Decimal(part) / Decimal(total)), rel=1e-12)


async def test_cost_breakdown_by_model_project_and_user(gql: GraphQL, world: World) -> None:
    result = await analytics(gql, world, BREAKDOWN, world.manager_token)
    assert result["byModel"] == [
        {"key": "opus", "label": "opus", "cost": "1.500000", "share": share("1.5", "1.69"), "sessions": 1,
         "tokens": 2400},
        {"key": "sonnet", "label": "sonnet", "cost": "0.180000", "share": share("0.18", "1.69"), "sessions": 3,
         "tokens": 1920},
        {"key": "haiku", "label": "haiku", "cost": "0.010000", "share": share("0.01", "1.69"), "sessions": 1,
         "tokens": 360},
        {"key": "mystery", "label": "mystery", "cost": "0.000000", "share": 0.0, "sessions": 1, "tokens": 15},
    ]  # fmt: skip
    assert result["byProject"] == [
        {"key": str(world.web), "label": "web", "cost": "1.620000", "share": share("1.62", "1.69"), "sessions": 2,
         "tokens": 3600},
        {"key": str(world.api), "label": "api", "cost": "0.060000", "share": share("0.06", "1.69"), "sessions": 2,
         "tokens": 975},
        {"key": "", "label": "(none)", "cost": "0.010000", "share": share("0.01", "1.69"), "sessions": 1,
         "tokens": 120},
    ]  # fmt: skip
    assert result["byUser"] == [
        {"key": str(world.bob), "label": "bob", "cost": "1.510000", "share": share("1.51", "1.69"), "sessions": 2,
         "tokens": 2520},
        {"key": str(world.alice), "label": "alice", "cost": "0.180000", "share": share("0.18", "1.69"),
         "sessions": 2, "tokens": 2160},
        {"key": str(world.carol), "label": "carol", "cost": "0.000000", "share": 0.0, "sessions": 1, "tokens": 15},
    ]  # fmt: skip


async def test_cost_breakdown_of_free_sessions_has_zero_shares(gql: GraphQL, world: World) -> None:
    result = await analytics(gql, world, BREAKDOWN, world.manager_token, agents=["aider"])
    assert result["byModel"] == [
        {"key": "mystery", "label": "mystery", "cost": "0.000000", "share": 0.0, "sessions": 1, "tokens": 15}
    ]
    assert [s["share"] for s in result["byProject"] + result["byUser"]] == [0.0, 0.0]


USERS = """users {
    user { username }
    sessions cost tokens averageDurationSeconds favoriteAgent
    agents { agent sessions }
    durationHistogram { le count }
    timeseries { start end sessions cost tokens }
}"""

LE = [60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, None]


def histogram(*counts: int) -> list[dict[str, Any]]:
    return [{"le": le, "count": n} for le, n in zip(LE, counts, strict=True)]


def day_points(*points: tuple[int, str, int]) -> list[dict[str, Any]]:
    return [
        {"start": f"2024-03-0{1 + k}T00:00:00Z", "end": f"2024-03-0{2 + k}T00:00:00Z", "sessions": n, "cost": cost,
         "tokens": tokens}
        for k, (n, cost, tokens) in enumerate(points)
    ]  # fmt: skip


ZERO = (0, "0.000000", 0)


async def test_users_by_cost_with_agents_histogram_and_timeseries(gql: GraphQL, world: World) -> None:
    result = await analytics(gql, world, USERS, world.manager_token)
    assert result["users"] == [
        {
            "user": {"username": "bob"},
            "sessions": 2,
            "cost": "1.510000",
            "tokens": 2520,
            "averageDurationSeconds": 9000.0,
            "favoriteAgent": "claude-code",
            "agents": [{"agent": "claude-code", "sessions": 2}],
            "durationHistogram": histogram(0, 0, 0, 0, 0, 0, 1),
            "timeseries": day_points(ZERO, (1, "1.500000", 2400), (1, "0.010000", 120)),
        },
        {
            "user": {"username": "alice"},
            "sessions": 2,
            "cost": "0.180000",
            "tokens": 2160,
            "averageDurationSeconds": 922.5,
            "favoriteAgent": "claude-code",
            "agents": [{"agent": "claude-code", "sessions": 1}, {"agent": "cursor", "sessions": 1}],
            "durationHistogram": histogram(1, 0, 0, 1, 0, 0, 0),
            "timeseries": day_points((1, "0.120000", 1200), (1, "0.060000", 960), ZERO),
        },
        {
            "user": {"username": "carol"},
            "sessions": 1,
            "cost": "0.000000",
            "tokens": 15,
            "averageDurationSeconds": 600.0,
            "favoriteAgent": "aider",
            "agents": [{"agent": "aider", "sessions": 1}],
            "durationHistogram": histogram(0, 0, 1, 0, 0, 0, 0),
            "timeseries": day_points(ZERO, ZERO, (1, "0.000000", 15)),
        },
    ]


async def test_users_with_equal_cost_are_ordered_by_id_and_favorite_agent_ties_by_name(
    gql: GraphQL, world: World, factory: Factory, engine: AsyncEngine
) -> None:
    dan = await factory.user("dan", orgs={world.org: ["member"]})
    eve = await factory.user("eve", orgs={world.org: ["member"]})
    for user in (dan, eve):
        for agent in ("zed", "amp", "zed", "amp"):
            await ai_session(
                engine, world.org, user, at(2, 1), at(2, 1, 1), agent=agent, usage=[("m", 1, 1, 0, 0, "1")]
            )
    result = await analytics(
        gql, world, "users { user { username } cost favoriteAgent agents { agent sessions } }", world.manager_token,
        agents=["zed", "amp"],
    )  # fmt: skip
    first, second = sorted([(str(dan), "dan"), (str(eve), "eve")])
    agents = [{"agent": "amp", "sessions": 2}, {"agent": "zed", "sessions": 2}]
    assert result["users"] == [
        {"user": {"username": first[1]}, "cost": "4.000000", "favoriteAgent": "amp", "agents": agents},
        {"user": {"username": second[1]}, "cost": "4.000000", "favoriteAgent": "amp", "agents": agents},
    ]


async def test_timeseries_in_utc_days_by_default(gql: GraphQL, world: World) -> None:
    result = await analytics(gql, world, "timeseries { start end sessions cost tokens }", world.manager_token)
    assert result["timeseries"] == day_points(
        (1, "0.120000", 1200), (2, "1.560000", 3360), (2, "0.010000", 135)
    )


async def test_model_breakdown_follows_a_session_moved_in_time(
    gql: GraphQL, world: World, engine: AsyncEngine
) -> None:
    """Usage lines are read by their own time; they must move when their session's start does."""
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE ai_sessions SET started_at = :at WHERE id = :id"),
            {"at": at(5, 0), "id": world.sessions["S3"]},
        )
    result = await analytics(
        gql, world, "byModel: costBreakdown(by: MODEL) { key cost sessions }", world.manager_token
    )
    assert result["byModel"] == [
        {"key": "sonnet", "cost": "0.180000", "sessions": 3},
        {"key": "haiku", "cost": "0.010000", "sessions": 1},
        {"key": "mystery", "cost": "0.000000", "sessions": 1},
    ]
