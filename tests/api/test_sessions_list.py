"""Organization.sessions (docs/api.md 5.5): the session list with its usage lines, keyset pagination that
neither skips nor repeats while sessions keep arriving, and one statement per relation whatever the size."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.sessions_world import END, World, ai_session, analytics, at, build_world, in_range

LIST = """
query($org: ID!, $filter: SessionFilter, $first: Int, $after: String) {
  organization(id: $org) {
    sessions(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { %s }
    }
  }
}
"""
FULL = """id user { username } projectId projectName repository agent startedAt endedAt durationSeconds cost tokens
    models { model inputTokens outputTokens cacheReadTokens cacheWriteTokens cost }"""


@pytest.fixture
async def world(factory: Factory, engine: AsyncEngine) -> World:
    return await build_world(factory, engine)


async def page(gql: GraphQL, world: World, token: str, selection: str = "id", **args: Any) -> dict[str, Any]:
    variables = {"org": str(world.org), "filter": in_range(), **args}
    body = await gql(LIST % selection, variables, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["organization"]["sessions"]
    return result


async def test_sessions_newest_first_with_every_field(gql: GraphQL, world: World) -> None:
    result = await page(gql, world, world.manager_token, FULL)
    s = world.sessions
    assert result["totalCount"] == 5
    assert result["pageInfo"]["hasNextPage"] is False
    assert [node["id"] for node in result["nodes"]] == [str(s[k]) for k in ("S5", "S4", "S3", "S2", "S1")]
    nodes = {node["id"]: node for node in result["nodes"]}
    assert nodes[str(s["S2"])] == {
        "id": str(s["S2"]),
        "user": {"username": "alice"},
        "projectId": str(world.api),
        "projectName": "api",
        "repository": "acme/api",
        "agent": "cursor",
        "startedAt": "2024-03-02T09:00:00Z",
        "endedAt": "2024-03-02T09:00:45Z",
        "durationSeconds": 45.0,
        "cost": "0.060000",
        "tokens": 960,
        "models": [
            {"model": "sonnet", "inputTokens": 500, "outputTokens": 100, "cacheReadTokens": 0,
             "cacheWriteTokens": 0, "cost": "0.050000"},
            {"model": "haiku", "inputTokens": 300, "outputTokens": 60, "cacheReadTokens": 0,
             "cacheWriteTokens": 0, "cost": "0.010000"},
        ],
    }  # fmt: skip
    assert nodes[str(s["S4"])] == {
        "id": str(s["S4"]),
        "user": {"username": "bob"},
        "projectId": None,
        "projectName": None,
        "repository": None,
        "agent": "claude-code",
        "startedAt": "2024-03-03T12:00:00Z",
        "endedAt": None,
        "durationSeconds": None,
        "cost": "0.010000",
        "tokens": 120,
        "models": [
            {"model": "sonnet", "inputTokens": 100, "outputTokens": 20, "cacheReadTokens": 0,
             "cacheWriteTokens": 0, "cost": "0.010000"}
        ],
    }  # fmt: skip
    assert nodes[str(s["S3"])]["durationSeconds"] == 9000.0
    assert nodes[str(s["S5"])]["models"] == [
        {"model": "mystery", "inputTokens": 10, "outputTokens": 5, "cacheReadTokens": 0, "cacheWriteTokens": 0,
         "cost": "0.000000"}
    ]  # fmt: skip


async def test_sessions_are_scoped_and_filtered_like_the_analytics(gql: GraphQL, world: World) -> None:
    s = world.sessions
    own = await page(gql, world, world.alice_token)
    assert (own["totalCount"], [n["id"] for n in own["nodes"]]) == (2, [str(s["S2"]), str(s["S1"])])
    filtered = await page(
        gql, world, world.manager_token, filter=in_range(projectIds=[str(world.web)], agents=["claude-code"])
    )
    assert (filtered["totalCount"], [n["id"] for n in filtered["nodes"]]) == (2, [str(s["S3"]), str(s["S1"])])
    wide = await page(gql, world, world.manager_token, filter={"start": "2024-02-01T00:00:00Z", "end": END})
    assert [n["id"] for n in wide["nodes"]][-1] == str(s["before"])


async def test_pagination_has_no_gaps_or_repeats_while_sessions_arrive(
    gql: GraphQL, world: World, engine: AsyncEngine
) -> None:
    """Seven sessions, three of them at the same instant (ordered by id desc); new sessions, newer and
    older than the page already read, arrive between pages."""
    same = at(2, 12)
    tied = sorted((uuid.uuid4() for _ in range(3)), reverse=True)
    for session_id in tied:
        await ai_session(engine, world.org, world.carol, same, session_id=session_id, agent="pager")
    for hour in (1, 5, 18, 22):
        await ai_session(engine, world.org, world.carol, at(2, hour), agent="pager")
    window = in_range(agents=["pager"])
    first = await page(gql, world, world.manager_token, "id startedAt", filter=window, first=3)
    everything = await page(gql, world, world.manager_token, "id startedAt", filter=window, first=50)
    expected = [node["id"] for node in everything["nodes"]]
    assert [n["startedAt"] for n in everything["nodes"]] == [
        "2024-03-02T22:00:00Z", "2024-03-02T18:00:00Z", "2024-03-02T12:00:00Z", "2024-03-02T12:00:00Z",
        "2024-03-02T12:00:00Z", "2024-03-02T05:00:00Z", "2024-03-02T01:00:00Z",
    ]  # fmt: skip
    assert expected[2:5] == [str(t) for t in tied]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [n["id"] for n in first["nodes"]] == expected[:3]

    await ai_session(engine, world.org, world.carol, at(3, 23), agent="pager")
    await ai_session(engine, world.org, world.carol, same + timedelta(microseconds=1), agent="pager")
    backfilled = await ai_session(engine, world.org, world.carol, at(1, 0), agent="pager")
    second = await page(
        gql, world, world.manager_token, "id", filter=window, first=3, after=first["pageInfo"]["endCursor"]
    )
    assert second["totalCount"] == 10
    assert [n["id"] for n in second["nodes"]] == expected[3:6]
    assert second["pageInfo"]["hasNextPage"] is True
    third = await page(
        gql, world, world.manager_token, "id", filter=window, first=3, after=second["pageInfo"]["endCursor"]
    )
    assert [n["id"] for n in third["nodes"]] == [expected[6], str(backfilled)]
    assert third["pageInfo"] == {"hasNextPage": False, "endCursor": third["pageInfo"]["endCursor"]}
    empty = await page(
        gql, world, world.manager_token, "id", filter=window, after=third["pageInfo"]["endCursor"]
    )
    assert empty == {"totalCount": 10, "pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []}


async def test_bad_cursor_and_page_size_name_the_argument(gql: GraphQL, world: World) -> None:
    for args, argument in (
        ({"after": "bm90LWEtY3Vyc29y"}, "after"),
        ({"first": 501}, "first"),
        ({"first": -1}, "first"),
    ):
        body = await gql(LIST % "id", {"org": str(world.org), **args}, token=world.manager_token)
        assert [(e["extensions"]["code"], e["extensions"]["argument"]) for e in body["errors"]] == [
            ("BAD_USER_INPUT", argument)
        ]


class StatementCounter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.count = 0

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *args: Any) -> None:
        self.count += 1


NESTED = """users { user { username } timeseries { sessions } }
    byUser: costBreakdown(by: USER) { label }"""


async def test_statement_count_does_not_grow_with_rows(
    gql: GraphQL, world: World, engine: AsyncEngine, factory: Factory
) -> None:
    with StatementCounter(engine) as small:
        await analytics(gql, world, NESTED, world.manager_token)
        await page(gql, world, world.manager_token, FULL)
    for n in range(6):
        user = await factory.user(f"extra-{n}", orgs={world.org: ["member"]})
        await ai_session(
            engine,
            world.org,
            user,
            at(2, n),
            at(2, n, 5),
            usage=[("a", 1, 1, 0, 0, "1"), ("b", 1, 1, 0, 0, "1")],
        )
    with StatementCounter(engine) as large:
        result = await analytics(gql, world, NESTED, world.manager_token)
        listed = await page(gql, world, world.manager_token, FULL)
    assert len(result["users"]) == 9
    assert len(listed["nodes"]) == 11
    assert large.count == small.count


async def test_total_count_is_counted_only_when_selected(
    gql: GraphQL, world: World, engine: AsyncEngine
) -> None:
    query = """query($org: ID!, $filter: SessionFilter) { organization(id: $org) {
        sessions(filter: $filter, first: 2) { %s } } }"""
    variables = {"org": str(world.org), "filter": in_range()}
    with StatementCounter(engine) as without:
        body = await gql(query % "nodes { id }", variables, token=world.manager_token)
    assert len(body["data"]["organization"]["sessions"]["nodes"]) == 2
    fragment = "...on AiSessionConnection { totalCount } nodes { id }"
    with StatementCounter(engine) as counted:
        body = await gql(query % fragment, variables, token=world.manager_token)
    assert body["data"]["organization"]["sessions"]["totalCount"] == 5
    assert counted.count == without.count + 1
