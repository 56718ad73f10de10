"""Ingest rejections: every record is judged on its own (values, references, permissions, disabled
insights), reported with its kind, index and code, and the rest of the batch is stored."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.ingest.test_ingest import INGEST, codes, event, ingest, rows, world


async def test_invalid_values_are_rejected_and_the_rest_stored(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    ws, user, org = str(w.workspace), str(w.user), str(w.org)
    result = await ingest(
        gql,
        w.token,
        activity=[
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"),
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z", id="not-a-uuid"),  # type: ignore[arg-type]
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T09:59:00Z"),
            event(w, "2024-05-01T10:00:00Z", None),
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z", workspaceId=None),
            {
                "id": str(uuid.uuid4()),
                "userId": user,
                "category": "LOGIN",
                "startedAt": "2024-05-01T10:00:00Z",
            },
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z", category="ANY"),
        ],
        latency=[{"workspaceId": ws, "userId": user, "at": "2024-05-01T10:00:00Z", "latencyMs": -1}],
        resources=[
            {
                "workspaceId": ws,
                "at": "2024-05-01T10:00:00Z",
                "cpuUsedCores": 1,
                "cpuLimitCores": 0,
                "memoryUsedBytes": 1,
                "memoryLimitBytes": 1,
            }
        ],
        nodes=[
            {
                "node": "n1",
                "at": "2024-05-01T10:00:00Z",
                "cpuUsedCores": 1,
                "cpuCapacityCores": 4,
                "memoryUsedBytes": -5,
                "memoryCapacityBytes": 8,
            },
            {
                "node": " ",
                "at": "2024-05-01T10:00:00Z",
                "cpuUsedCores": 1,
                "cpuCapacityCores": 4,
                "memoryUsedBytes": 5,
                "memoryCapacityBytes": 8,
            },
        ],
        aiSessions=[
            {
                "id": str(uuid.uuid4()),
                "organizationId": org,
                "userId": user,
                "agent": "claude-code",
                "startedAt": "2024-05-01T10:00:00Z",
                "usage": [{"model": "m", "inputTokens": -3}],
            }
        ],
        memberships=[{"userId": user, "organizationId": org, "roles": ["wizard"]}],
        organizations=[{"id": str(uuid.uuid4()), "name": "  "}],
    )
    assert result["accepted"] == 1
    assert codes(result) == [
        ("organizations", 0, "BAD_USER_INPUT"),
        ("memberships", 0, "BAD_USER_INPUT"),
        *[("activity", i, "BAD_USER_INPUT") for i in range(1, 7)],
        ("latency", 0, "BAD_USER_INPUT"),
        ("resources", 0, "BAD_USER_INPUT"),
        ("nodes", 0, "BAD_USER_INPUT"),
        ("nodes", 1, "BAD_USER_INPUT"),
        ("aiSessions", 0, "BAD_USER_INPUT"),
    ]
    messages = {(r["kind"], r["index"]): r["message"] for r in result["rejected"]}
    assert "UUID" in messages[("activity", 1)]
    assert "endedAt must be >= startedAt" in messages[("activity", 2)]
    assert "wizard" in messages[("memberships", 0)]
    assert [tuple(r) for r in await rows(engine, "SELECT roles FROM memberships")] == [(["member"],)]
    assert len(await rows(engine, "SELECT 1 FROM activity_sessions")) == 1


async def test_conflicting_identity_is_rejected(gql: GraphQL, factory: Factory, engine: AsyncEngine) -> None:
    w = await world(factory)
    bob = await factory.user("bob", orgs={w.org: ["member"]})
    other_tpl = await factory.template(w.org, "go")
    sid = uuid.uuid4()
    await ingest(gql, w.token, activity=[event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z", id=sid)])
    result = await ingest(
        gql,
        w.token,
        activity=[event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z", id=sid, userId=str(bob))],
        workspaces=[
            {"id": str(w.workspace), "templateId": str(other_tpl), "ownerId": str(w.user), "name": "x"}
        ],
        users=[{"id": str(uuid.uuid4()), "username": "bob"}],
    )
    assert codes(result) == [
        ("users", 0, "BAD_USER_INPUT"),
        ("workspaces", 0, "BAD_USER_INPUT"),
        ("activity", 0, "BAD_USER_INPUT"),
    ]
    assert "username 'bob'" in result["rejected"][0]["message"]
    (row,) = await rows(engine, "SELECT user_id FROM activity_sessions")
    assert row.user_id == w.user


async def test_unknown_references_are_rejected_not_created(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    ghost = str(uuid.uuid4())
    result = await ingest(
        gql,
        w.token,
        activity=[
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z", workspaceId=ghost),
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z", userId=ghost),
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"),
            {
                "id": str(uuid.uuid4()),
                "userId": str(w.user),
                "organizationId": ghost,
                "category": "LOGIN",
                "startedAt": "2024-05-01T10:00:00Z",
            },
        ],
        workspaces=[
            {"id": str(uuid.uuid4()), "templateId": ghost, "ownerId": str(w.user), "name": "x"},
            {"id": str(uuid.uuid4()), "templateId": str(w.template), "ownerId": ghost, "name": "y"},
        ],
        memberships=[{"userId": ghost, "organizationId": str(w.org), "roles": []}],
        aiSessions=[
            {
                "id": str(uuid.uuid4()),
                "organizationId": str(w.org),
                "userId": str(w.user),
                "projectId": ghost,
                "agent": "a",
                "startedAt": "2024-05-01T10:00:00Z",
                "usage": [],
            }
        ],
        latency=[{"workspaceId": ghost, "userId": str(w.user), "at": "2024-05-01T10:00:00Z", "latencyMs": 1}],
        templates=[{"id": str(uuid.uuid4()), "organizationId": ghost, "name": "t"}],
    )
    assert result["accepted"] == 1
    assert codes(result) == [
        ("memberships", 0, "NOT_FOUND"),
        ("templates", 0, "NOT_FOUND"),
        ("workspaces", 0, "NOT_FOUND"),
        ("workspaces", 1, "NOT_FOUND"),
        ("activity", 0, "NOT_FOUND"),
        ("activity", 1, "NOT_FOUND"),
        ("activity", 3, "NOT_FOUND"),
        ("latency", 0, "NOT_FOUND"),
        ("aiSessions", 0, "NOT_FOUND"),
    ]
    found = await rows(
        engine,
        "SELECT (SELECT count(*) FROM users) u, (SELECT count(*) FROM organizations) o, "
        "(SELECT count(*) FROM workspaces) w, (SELECT count(*) FROM activity_sessions) a",
    )
    assert tuple(found[0]) == (2, 1, 1, 1)


async def test_org_scoped_collector_cannot_touch_another_org(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    mine = await factory.organization("mine")
    my_tpl = await factory.template(mine, "t")
    collector = await factory.user("collector", orgs={mine: ["collector"]})
    my_ws = await factory.workspace(mine, my_tpl, w.user)
    token = await factory.token(collector)
    result = await ingest(
        gql,
        token,
        projects=[
            {"id": str(uuid.uuid4()), "organizationId": str(w.org), "name": "theirs"},
            {"id": str(uuid.uuid4()), "organizationId": str(mine), "name": "ours"},
        ],
        organizations=[{"id": str(uuid.uuid4()), "name": "new org"}],
        users=[
            {"id": str(uuid.uuid4()), "username": "eve", "siteRoles": ["owner"]},
            {"id": str(w.user), "username": "alice", "name": "Renamed"},
        ],
        activity=[
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"),
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z", workspaceId=str(my_ws)),
        ],
        aiSessions=[
            {
                "id": str(uuid.uuid4()),
                "organizationId": str(w.org),
                "userId": str(w.user),
                "agent": "a",
                "startedAt": "2024-05-01T10:00:00Z",
                "usage": [],
            }
        ],
        nodes=[
            {
                "node": "n1",
                "at": "2024-05-01T10:00:00Z",
                "cpuUsedCores": 1,
                "cpuCapacityCores": 4,
                "memoryUsedBytes": 5,
                "memoryCapacityBytes": 8,
            }
        ],
    )
    assert result["accepted"] == 2
    assert codes(result) == [
        ("organizations", 0, "FORBIDDEN"),
        ("users", 0, "FORBIDDEN"),
        ("users", 1, "FORBIDDEN"),
        ("projects", 0, "FORBIDDEN"),
        # alice's workspace is in an organization the collector is not a member of: not visible at all
        ("activity", 0, "NOT_FOUND"),
        ("nodes", 0, "FORBIDDEN"),
        ("aiSessions", 0, "FORBIDDEN"),
    ]
    assert [r.name for r in await rows(engine, "SELECT name FROM projects")] == ["ours"]
    assert [
        r.site_roles for r in await rows(engine, "SELECT site_roles FROM users WHERE username = 'eve'")
    ] == []
    # a member (with another role) of the other organization is told FORBIDDEN instead
    await factory.membership(collector, w.org, ["auditor"])
    token = await factory.token(collector)
    again = await ingest(gql, token, activity=[event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z")])
    assert codes(again) == [("activity", 0, "FORBIDDEN")]


async def test_caller_without_ingest_write_is_forbidden(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    admin = await factory.user("admin", orgs={w.org: ["admin"]}, site_roles=["auditor"])
    body = await gql(
        INGEST,
        {"batch": {"activity": [event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z")]}},
        token=await factory.token(admin),
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await rows(engine, "SELECT 1 FROM activity_sessions") == []


async def test_batch_over_the_limit_is_payload_too_large(
    make_client: Any, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    async for client in make_client(max_batch_records=3):
        body = await GraphQL(client)(
            INGEST,
            {
                "batch": {
                    "activity": [event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z") for _ in range(2)],
                    "projects": [
                        {"id": str(uuid.uuid4()), "organizationId": str(w.org), "name": f"p{i}"}
                        for i in range(2)
                    ],
                }
            },
            token=w.token,
        )
    assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert await rows(engine, "SELECT 1 FROM activity_sessions UNION ALL SELECT 1 FROM projects") == []


async def test_insights_disabled_drops_latency_and_workspace_parameters(
    make_client: Any, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    new_ws = str(uuid.uuid4())
    batch = {
        "latency": [
            {
                "workspaceId": str(w.workspace),
                "userId": str(w.user),
                "at": "2024-05-01T10:00:00Z",
                "latencyMs": 12,
            }
        ],
        "workspaces": [
            {"id": str(uuid.uuid4()), "templateId": str(w.template), "ownerId": str(w.user), "name": "a"},
            {
                "id": new_ws,
                "templateId": str(w.template),
                "ownerId": str(w.user),
                "name": "b",
                "parameters": [{"name": "region", "value": "eu"}],
            },
        ],
    }
    async for client in make_client(disable_template_insights=True):
        result = (await GraphQL(client)(INGEST, {"batch": batch}, token=w.token))["data"]["ingest"]
    assert result["accepted"] == 2
    assert codes(result) == [
        ("workspaceParameters", 1, "INSIGHTS_DISABLED"),
        ("latency", 0, "INSIGHTS_DISABLED"),
    ]
    assert [
        r.name for r in await rows(engine, "SELECT name FROM workspaces WHERE id = :id", id=uuid.UUID(new_ws))
    ] == ["b"]
    assert (
        await rows(engine, "SELECT 1 FROM workspace_parameters UNION ALL SELECT 1 FROM latency_samples") == []
    )


async def test_org_scoped_collector_writes_its_own_org(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    org = await factory.organization("mine")
    tpl = await factory.template(org, "t")
    collector = await factory.user("collector", orgs={org: ["collector"]})
    token = await factory.token(collector)
    user, ws = str(uuid.uuid4()), str(uuid.uuid4())
    result = await ingest(
        gql,
        token,
        users=[{"id": user, "username": "newbie", "name": "New Bie"}],
        memberships=[{"userId": user, "organizationId": str(org), "roles": ["site-member"]}],
        workspaces=[{"id": ws, "templateId": str(tpl), "ownerId": user, "name": "dev"}],
        activity=[
            {
                "id": str(uuid.uuid4()),
                "userId": user,
                "workspaceId": ws,
                "category": "WEB_TERMINAL",
                "startedAt": "2024-05-01T10:00:00Z",
                "endedAt": "2024-05-01T10:00:00Z",
            }
        ],
    )
    assert result == {"accepted": 4, "duplicates": 0, "rejected": []}
    # now a member of the collector's organization, the user may be changed by it
    renamed = await ingest(gql, token, users=[{"id": user, "username": "newbie", "name": "Renamed"}])
    assert renamed == {"accepted": 1, "duplicates": 0, "rejected": []}
    (row,) = await rows(engine, "SELECT name, site_roles FROM users WHERE id = :id", id=uuid.UUID(user))
    assert (row.name, row.site_roles) == ("Renamed", [])
    (membership,) = await rows(
        engine, "SELECT roles FROM memberships WHERE user_id = :id", id=uuid.UUID(user)
    )
    assert membership.roles == ["member"]


async def test_a_session_longer_than_a_year_is_rejected_and_one_of_a_year_is_stored(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    """A century-long session (a reset clock, a placeholder start) is refused on its own, quickly; a
    session of exactly the limit, or one extended up to it, is stored."""
    w = await world(factory)
    year = event(w, "2023-05-01T10:00:00Z", "2024-05-01T10:00:00Z")  # 366 days: 2024 is a leap year
    result = await ingest(
        gql,
        w.token,
        activity=[year, event(w, "2000-01-01T00:00:00Z", "2024-05-01T10:00:00Z")],
    )
    assert result["accepted"] == 1
    assert codes(result) == [("activity", 1, "BAD_USER_INPUT")]
    assert "at most 366 days" in result["rejected"][0]["message"]
    longer = {**year, "endedAt": "2024-05-01T10:01:00Z"}  # extending it past the limit
    result = await ingest(gql, w.token, activity=[longer])
    assert (result["accepted"], codes(result)) == (0, [("activity", 0, "BAD_USER_INPUT")])
    assert len(await rows(engine, "SELECT 1 FROM activity_sessions")) == 1
