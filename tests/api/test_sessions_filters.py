"""Session filters, the SELF/TEAM scope, permission errors, argument validation and time zones
(docs/api.md 5.5 and section 3), over the world of tests/sessions_world.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.sessions_world import ANALYTICS, END, START, World, ai_session, analytics, build_world, in_range

TOTALS = "summary { totalSessions totalCost uniqueUsers }"


@pytest.fixture
async def world(factory: Factory, engine: AsyncEngine) -> World:
    return await build_world(factory, engine)


async def totals(gql: GraphQL, world: World, token: str | None = None, **filter: Any) -> tuple[int, str, int]:
    result = await analytics(gql, world, TOTALS, token or world.manager_token, **filter)
    summary = result["summary"]
    return summary["totalSessions"], summary["totalCost"], summary["uniqueUsers"]


async def test_each_filter_alone(gql: GraphQL, world: World) -> None:
    assert await totals(gql, world) == (5, "1.690000", 3)
    assert await totals(gql, world, projectIds=[str(world.web)]) == (2, "1.620000", 2)
    assert await totals(gql, world, projectIds=[str(world.web), str(world.api)]) == (4, "1.680000", 3)
    assert await totals(gql, world, repositories=["acme/api"]) == (2, "0.060000", 2)
    assert await totals(gql, world, agents=["claude-code", "aider"]) == (4, "1.630000", 3)
    assert await totals(gql, world, userIds=[str(world.bob)]) == (2, "1.510000", 1)
    assert await totals(gql, world, start="2024-03-02T00:00:00Z", end="2024-03-03T00:00:00Z") == (
        2,
        "1.560000",
        2,
    )
    assert await totals(gql, world, start="2024-03-02T23:30:00Z", end="2024-03-03T12:00:00Z") == (
        1,
        "1.500000",
        1,
    )


async def test_filters_combine_with_and_and_lists_with_or(gql: GraphQL, world: World) -> None:
    combined = {
        "agents": ["claude-code", "cursor"],
        "projectIds": [str(world.api), str(world.web)],
        "userIds": [str(world.alice), str(world.carol)],
    }
    assert await totals(gql, world, **combined) == (2, "0.180000", 1)
    assert await totals(gql, world, **combined, repositories=["acme/api", "elsewhere"]) == (1, "0.060000", 1)
    assert await totals(gql, world, **combined, start="2024-03-01T10:00:01Z") == (1, "0.060000", 1)
    assert await totals(gql, world, **combined, repositories=[]) == (0, "0.000000", 0)


async def test_the_range_includes_start_and_excludes_end(gql: GraphQL, world: World) -> None:
    assert await totals(gql, world, start="2024-02-29T23:59:00Z", end=START) == (1, "0.001000", 1)
    assert await totals(gql, world, start=END, end="2024-03-04T00:00:01Z") == (1, "0.001000", 1)
    assert await totals(gql, world, start="2024-02-29T23:59:00Z", end="2024-03-04T00:00:01Z") == (
        7,
        "1.692000",
        3,
    )


async def test_default_range_is_the_last_30_days(gql: GraphQL, world: World, engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    await ai_session(engine, world.org, world.alice, now - timedelta(days=29, hours=23), now)
    await ai_session(engine, world.org, world.alice, now - timedelta(days=30, minutes=1), now)
    await ai_session(engine, world.org, world.alice, now + timedelta(hours=1))
    body = await gql(
        "query($org: ID!) { organization(id: $org) { sessionAnalytics { start end summary { totalSessions } } } }",
        {"org": str(world.org)},
        token=world.manager_token,
    )
    result = body["data"]["organization"]["sessionAnalytics"]
    start, end = (datetime.fromisoformat(result[k].replace("Z", "+00:00")) for k in ("start", "end"))
    assert end - start == timedelta(days=30)
    assert now <= end <= datetime.now(UTC)
    assert result["summary"] == {"totalSessions": 1}


SCOPED = """summary { totalSessions totalCost } byUser: costBreakdown(by: USER) { label cost share }
    byModel: costBreakdown(by: MODEL) { key cost sessions tokens } users { user { username } }"""


async def test_member_sees_own_sessions_and_manager_the_team(gql: GraphQL, world: World) -> None:
    member = await analytics(gql, world, SCOPED, world.alice_token)
    assert member == {
        "scope": "SELF",
        "start": START,
        "end": END,
        "summary": {"totalSessions": 2, "totalCost": "0.180000"},
        "byUser": [{"label": "alice", "cost": "0.180000", "share": 1.0}],
        "byModel": [
            {"key": "sonnet", "cost": "0.170000", "sessions": 2, "tokens": 1800},
            {"key": "haiku", "cost": "0.010000", "sessions": 1, "tokens": 360},
        ],
        "users": [{"user": {"username": "alice"}}],
    }
    manager = await analytics(gql, world, SCOPED, world.manager_token)
    assert manager["scope"] == "TEAM"
    assert manager["summary"] == {"totalSessions": 5, "totalCost": "1.690000"}
    assert [u["user"]["username"] for u in manager["users"]] == ["bob", "alice", "carol"]
    assert await totals(gql, world, world.alice_token, userIds=[str(world.alice)]) == (2, "0.180000", 1)


async def test_member_naming_another_user_is_forbidden(gql: GraphQL, world: World) -> None:
    for user_ids in ([str(world.bob)], [str(world.alice), str(world.bob)]):
        body = await gql(
            ANALYTICS % TOTALS,
            {"org": str(world.org), "filter": in_range(userIds=user_ids)},
            token=world.alice_token,
        )
        assert body["data"] == {"organization": None}
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        body = await gql(
            "query($org: ID!, $f: SessionFilter) { organization(id: $org) { sessions(filter: $f) { totalCount } } }",
            {"org": str(world.org), "f": in_range(userIds=user_ids)},
            token=world.alice_token,
        )
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_role_without_session_rights_is_forbidden(gql: GraphQL, world: World) -> None:
    body = await gql(
        ANALYTICS % TOTALS, {"org": str(world.org), "filter": in_range()}, token=world.controller_token
    )
    assert body["data"] == {"organization": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_another_organization_is_not_visible(gql: GraphQL, world: World) -> None:
    body = await gql(
        ANALYTICS % TOTALS, {"org": str(world.org), "filter": in_range()}, token=world.outsider_token
    )
    assert body == {"data": {"organization": None}, "_status": 200}
    own = await gql(
        ANALYTICS % TOTALS, {"org": str(world.other_org), "filter": in_range()}, token=world.outsider_token
    )
    assert own["data"]["organization"]["sessionAnalytics"]["summary"] == {
        "totalSessions": 1,
        "totalCost": "0.001000",
        "uniqueUsers": 1,
    }


async def test_site_wide_manager_sees_every_organization(
    gql: GraphQL, world: World, factory: Factory
) -> None:
    site = await factory.user("sam", site_roles=["site-manager"])
    assert await totals(gql, world, await factory.token(site)) == (5, "1.690000", 3)


def codes(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["extensions"]["code"], e["extensions"].get("argument")) for e in body["errors"]]


async def test_invalid_arguments_name_the_argument(gql: GraphQL, world: World, engine: AsyncEngine) -> None:
    org = str(world.org)
    await ai_session(engine, world.org, world.alice, datetime(2021, 1, 1, tzinfo=UTC))
    cases: list[tuple[str, dict[str, Any], str]] = [
        (TOTALS, {"start": END, "end": START}, "filter"),
        (TOTALS, {"start": START, "end": START}, "filter"),
        (TOTALS, in_range(projectIds=["not-a-uuid"]), "filter"),
        (TOTALS, in_range(userIds=["42"]), "filter"),
        ('timeseries(timezone: "Mars/Olympus") { sessions }', in_range(), "timezone"),
        ("timeseries { sessions }", {"start": "2020-01-01T00:00:00Z", "end": "2022-09-28T00:00:00Z"}, "interval"),
        ("users { timeseries { sessions } }", {"start": "2020-01-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
         "interval"),
        ("timeseries(interval: WEEK) { sessions }", {"start": "2010-01-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
         "filter"),
    ]  # fmt: skip
    for selection, filter, argument in cases:
        body = await gql(ANALYTICS % selection, {"org": org, "filter": filter}, token=world.manager_token)
        assert codes(body) == [("BAD_USER_INPUT", argument)], (selection, filter, body)
    ok = await gql(
        ANALYTICS % "timeseries(interval: WEEK) { sessions }",
        {"org": org, "filter": {"start": "2020-01-01T00:00:00Z", "end": "2022-09-28T00:00:00Z"}},
        token=world.manager_token,
    )
    weeks_from_monday_2019_12_30_to_monday_2022_09_26 = 144
    assert (
        len(ok["data"]["organization"]["sessionAnalytics"]["timeseries"])
        == weeks_from_monday_2019_12_30_to_monday_2022_09_26
    )


async def test_timeseries_in_local_days_and_weeks_across_a_dst_change(
    gql: GraphQL, world: World, engine: AsyncEngine
) -> None:
    """New York moves to summer time on Sunday 2024-03-10: that local day lasts 23 hours. In UTC days the
    two sessions below fall on 03-09 and 03-11; in local days on 03-08 and 03-10."""
    await ai_session(engine, world.org, world.carol, datetime(2024, 3, 9, 4, 30, tzinfo=UTC), agent="ny")
    await ai_session(
        engine, world.org, world.carol, datetime(2024, 3, 11, 3, 30, tzinfo=UTC), agent="ny",
        usage=[("m", 7, 3, 0, 0, "2.5")],
    )  # fmt: skip
    window = {"start": "2024-03-08T05:00:00Z", "end": "2024-03-12T04:00:00Z", "agents": ["ny"]}
    selection = """days: timeseries(timezone: "America/New_York") { start end sessions cost tokens }
        weeks: timeseries(interval: WEEK, timezone: "America/New_York") { start end sessions cost tokens }
        utc: timeseries { start sessions }"""
    result = await analytics(gql, world, selection, world.manager_token, **window)
    assert result["days"] == [
        {"start": "2024-03-08T05:00:00Z", "end": "2024-03-09T05:00:00Z", "sessions": 1, "cost": "0.001000",
         "tokens": 15},
        {"start": "2024-03-09T05:00:00Z", "end": "2024-03-10T05:00:00Z", "sessions": 0, "cost": "0.000000",
         "tokens": 0},
        {"start": "2024-03-10T05:00:00Z", "end": "2024-03-11T04:00:00Z", "sessions": 1, "cost": "2.500000",
         "tokens": 10},
        {"start": "2024-03-11T04:00:00Z", "end": "2024-03-12T04:00:00Z", "sessions": 0, "cost": "0.000000",
         "tokens": 0},
    ]  # fmt: skip
    assert result["weeks"] == [
        {"start": "2024-03-08T05:00:00Z", "end": "2024-03-11T04:00:00Z", "sessions": 2, "cost": "2.501000",
         "tokens": 25},
        {"start": "2024-03-11T04:00:00Z", "end": "2024-03-12T04:00:00Z", "sessions": 0, "cost": "0.000000",
         "tokens": 0},
    ]  # fmt: skip
    assert result["utc"] == [
        {"start": "2024-03-08T05:00:00Z", "sessions": 0},
        {"start": "2024-03-09T00:00:00Z", "sessions": 1},
        {"start": "2024-03-10T00:00:00Z", "sessions": 0},
        {"start": "2024-03-11T00:00:00Z", "sessions": 1},
        {"start": "2024-03-12T00:00:00Z", "sessions": 0},
    ]


async def test_timeseries_in_a_half_hour_zone_cuts_the_range_ends(gql: GraphQL, world: World) -> None:
    """India is UTC+5:30: local days start at 18:30Z. The range starts and ends mid-day, so the first and
    last points are cut at the range and the days between are whole."""
    result = await analytics(
        gql, world, 'timeseries(timezone: "Asia/Kolkata") { start end sessions cost }', world.manager_token,
        start="2024-03-01T12:00:00Z", end="2024-03-03T20:00:00Z",
    )  # fmt: skip
    assert result["timeseries"] == [
        {"start": "2024-03-01T12:00:00Z", "end": "2024-03-01T18:30:00Z", "sessions": 0, "cost": "0.000000"},
        {"start": "2024-03-01T18:30:00Z", "end": "2024-03-02T18:30:00Z", "sessions": 1, "cost": "0.060000"},
        {"start": "2024-03-02T18:30:00Z", "end": "2024-03-03T18:30:00Z", "sessions": 2, "cost": "1.510000"},
        {"start": "2024-03-03T18:30:00Z", "end": "2024-03-03T20:00:00Z", "sessions": 0, "cost": "0.000000"},
    ]
