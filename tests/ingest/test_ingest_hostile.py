"""Hostile values in ingest: strings PostgreSQL refuses, timestamps outside the accepted window and
implausible facts are rejected record by record (BAD_USER_INPUT naming the field); the rest is stored."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.ingest.test_ingest import INGEST, codes, event, ingest, rows, world

AT = "2024-05-01T10:00:00Z"


def node(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "node": name,
        "at": AT,
        "cpuUsedCores": 1,
        "cpuCapacityCores": 4,
        "memoryUsedBytes": 1,
        "memoryCapacityBytes": 8,
        **extra,
    }


async def test_a_nul_byte_rejects_its_record_only(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    result = await ingest(gql, w.token, nodes=[node("good"), node("bad\u0000node")])
    assert codes(result) == [("nodes", 1, "BAD_USER_INPUT")]
    assert "node" in result["rejected"][0]["message"]
    assert result["accepted"] == 1
    assert [r.node for r in await rows(engine, "SELECT node FROM node_samples")] == ["good"]


async def test_every_string_of_every_kind_is_screened(gql: GraphQL, factory: Factory) -> None:
    """One bad string per kind, nested ones included; each record is rejected naming its field."""
    w = await world(factory)
    org, user, tpl, ws = str(w.org), str(w.user), str(w.template), str(w.workspace)
    nul = "x\u0000"
    result = await ingest(
        gql,
        w.token,
        organizations=[{"id": org, "name": nul}],
        users=[{"id": str(uuid.uuid4()), "username": "u", "email": nul}],
        memberships=[{"userId": user, "organizationId": org, "roles": [nul]}],
        templates=[{"id": tpl, "organizationId": org, "name": "t", "parameters": [{"name": nul}]}],
        workspaces=[
            {
                "id": ws,
                "templateId": tpl,
                "ownerId": user,
                "name": "w",
                "parameters": [{"name": "p", "value": nul}],
            }
        ],
        projects=[{"id": str(uuid.uuid4()), "organizationId": org, "name": nul}],
        activity=[event(w, AT, "2024-05-01T10:01:00Z", app=nul)],
        resources=[
            {
                "workspaceId": ws,
                "at": AT,
                "node": nul,
                "cpuUsedCores": 1,
                "cpuLimitCores": 1,
                "memoryUsedBytes": 1,
                "memoryLimitBytes": 1,
            }
        ],
        aiSessions=[
            {
                "id": str(uuid.uuid4()),
                "organizationId": org,
                "userId": user,
                "agent": "a",
                "repository": nul,
                "startedAt": AT,
                "usage": [{"model": "m"}],
            }
        ],
    )
    assert result["accepted"] == 0
    fields = {r["kind"]: r["message"].split(" ")[0] for r in result["rejected"]}
    assert fields == {
        "organizations": "name",
        "users": "email",
        "memberships": "roles",
        "templates": "parameters.name",
        "workspaces": "parameters.value",
        "projects": "name",
        "activity": "app",
        "resources": "node",
        "aiSessions": "repository",
    }, result
    assert {r["code"] for r in result["rejected"]} == {"BAD_USER_INPUT"}


async def test_timestamps_outside_the_window_reject_their_record(gql: GraphQL, factory: Factory) -> None:
    w = await world(factory)
    result = await ingest(
        gql,
        w.token,
        activity=[
            event(w, "0001-01-01T00:00:00Z", "0001-01-01T00:01:00Z"),
            event(w, "9999-12-31T23:58:00Z", "9999-12-31T23:59:00Z"),
            event(w, "1969-12-31T23:59:00Z", "1970-01-01T00:01:00Z"),
            event(w, AT, "2024-05-01T10:01:00Z"),
        ],
        nodes=[node("late", at="2199-01-01T00:00:00Z"), node("ok")],
    )
    assert codes(result) == [
        ("activity", 0, "BAD_USER_INPUT"),
        ("activity", 1, "BAD_USER_INPUT"),
        ("activity", 2, "BAD_USER_INPUT"),
        ("nodes", 0, "BAD_USER_INPUT"),
    ]
    assert result["accepted"] == 2
    assert "startedAt must be between 1970-01-01" in result["rejected"][0]["message"]
    assert "after the server's clock" in result["rejected"][3]["message"]


async def test_implausible_facts_are_rejected_and_never_stored(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    ws, user, org = str(w.workspace), str(w.user), str(w.org)

    def sample(**values: float) -> dict[str, Any]:
        base = {"cpuUsedCores": 1, "cpuLimitCores": 2, "memoryUsedBytes": 1, "memoryLimitBytes": 2}
        return {"workspaceId": ws, "at": AT, **base, **values}

    result = await ingest(
        gql,
        w.token,
        latency=[
            {"workspaceId": ws, "userId": user, "at": AT, "latencyMs": 3_600_001},
            {"workspaceId": ws, "userId": user, "at": AT, "latencyMs": -0.5},
        ],
        resources=[
            sample(cpuLimitCores=0),
            sample(cpuLimitCores=-1),
            sample(cpuLimitCores=1e-300),
            sample(memoryLimitBytes=0),
            sample(memoryUsedBytes=-1),
            sample(cpuUsedCores=1e308),
        ],
        nodes=[node("n", cpuCapacityCores=0), node("m", memoryUsedBytes=1e300)],
        aiSessions=[
            {
                "id": str(uuid.uuid4()),
                "organizationId": org,
                "userId": user,
                "agent": "a",
                "startedAt": "2023-01-01T00:00:00Z",
                "endedAt": "2024-05-01T00:00:00Z",
                "usage": [{"model": "m", "inputTokens": 1}],
            },
            {
                "id": str(uuid.uuid4()),
                "organizationId": org,
                "userId": user,
                "agent": "a",
                "startedAt": AT,
                "usage": [{"model": "m", "cost": "-1"}],
            },
        ],
    )
    assert result["accepted"] == 0, result
    assert len(result["rejected"]) == 12, result
    assert {r["code"] for r in result["rejected"]} == {"BAD_USER_INPUT"}
    for table in ("latency_samples", "resource_samples", "node_samples", "ai_sessions"):
        assert await rows(engine, f"SELECT 1 FROM {table}") == [], table


async def test_indexes_stay_those_of_the_batch_after_screening(
    make_client: Any, factory: Factory, engine: AsyncEngine
) -> None:
    """A screened-out record shifts nothing: later rejections of the same kind (and the workspace
    parameters reported for a workspace) keep their index in the batch."""
    w = await world(factory)

    def workspace(name: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "templateId": str(w.template),
            "ownerId": str(w.user),
            "name": name,
            **extra,
        }

    batch = {
        "workspaces": [
            workspace("bad\u0000"),
            workspace("unknown owner", ownerId=str(uuid.uuid4())),
            workspace("with values", parameters=[{"name": "region", "value": "eu"}]),
        ]
    }
    async for client in make_client(disable_template_insights=True):
        result = (await GraphQL(client)(INGEST, {"batch": batch}, token=w.token))["data"]["ingest"]
    assert codes(result) == [
        ("workspaces", 0, "BAD_USER_INPUT"),
        ("workspaces", 1, "NOT_FOUND"),
        ("workspaceParameters", 2, "INSIGHTS_DISABLED"),
    ]
    assert result["accepted"] == 1
