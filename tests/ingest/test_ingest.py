from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory

INGEST = """
mutation Ingest($batch: IngestBatch!) {
  ingest(batch: $batch) { accepted duplicates rejected { kind index code message } }
}
"""


async def ingest(gql: GraphQL, token: str, **batch: Any) -> dict[str, Any]:
    body = await gql(INGEST, {"batch": batch}, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["ingest"]
    return result


def codes(result: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(r["kind"], r["index"], r["code"]) for r in result["rejected"]]


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def minutes(engine: AsyncEngine, user: uuid.UUID) -> int:
    found = await rows(
        engine,
        "SELECT coalesce(sum(bit_count(minutes::bit(64))), 0) AS n FROM activity_minutes WHERE user_id = :u",
        u=user,
    )
    return int(found[0].n)


class World:
    """An organization with a template, a workspace, a member and a site-wide owner's token."""

    org: uuid.UUID
    template: uuid.UUID
    workspace: uuid.UUID
    user: uuid.UUID
    token: str


async def world(factory: Factory) -> World:
    w = World()
    w.org = await factory.organization("acme")
    w.user = await factory.user("alice", orgs={w.org: ["member"]})
    w.template = await factory.template(w.org, "python")
    w.workspace = await factory.workspace(w.org, w.template, w.user)
    owner = await factory.user("root", site_roles=["owner"])
    w.token = await factory.token(owner)
    return w


def event(
    w: World, start: str, end: str | None, *, id: uuid.UUID | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": str(id or uuid.uuid4()),
        "userId": str(w.user),
        "workspaceId": str(w.workspace),
        "category": "IDE",
        "app": "vscode",
        "startedAt": start,
        "endedAt": end,
        **extra,
    }


async def test_entities_before_facts_in_one_batch(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    owner = await factory.user("root", site_roles=["owner"])
    token = await factory.token(owner)
    org, user, tpl, ws, project = (str(uuid.uuid4()) for _ in range(5))
    result = await ingest(
        gql,
        token,
        # facts first in the document: the server still writes entities first
        activity=[
            {
                "id": str(uuid.uuid4()),
                "userId": user,
                "workspaceId": ws,
                "category": "APP",
                "app": "jupyter",
                "startedAt": "2024-05-01T10:00:30Z",
                "endedAt": "2024-05-01T10:03:00Z",
            }
        ],
        aiSessions=[
            {
                "id": str(uuid.uuid4()),
                "organizationId": org,
                "userId": user,
                "projectId": project,
                "agent": "claude-code",
                "startedAt": "2024-05-01T10:00:00Z",
                "usage": [{"model": "claude-sonnet-4-5", "inputTokens": 1000, "cost": "0.5"}],
            }
        ],
        organizations=[{"id": org, "name": "Acme"}],
        users=[{"id": user, "username": "bob", "email": "bob@example.com", "siteRoles": []}],
        memberships=[{"userId": user, "organizationId": org, "roles": ["basic", "Template-Admin"]}],
        templates=[
            {
                "id": tpl,
                "organizationId": org,
                "name": "python",
                "parameters": [
                    {"name": "region", "options": [{"value": "eu"}, {"value": "us", "name": "US"}]}
                ],
            }
        ],
        workspaces=[
            {
                "id": ws,
                "templateId": tpl,
                "ownerId": user,
                "name": "dev",
                "parameters": [{"name": "region", "value": "eu"}],
            }
        ],
        projects=[{"id": project, "organizationId": org, "name": "api"}],
    )
    assert result == {"accepted": 8, "duplicates": 0, "rejected": []}
    (membership,) = await rows(engine, "SELECT roles FROM memberships WHERE user_id = :u", u=uuid.UUID(user))
    assert membership.roles == ["member", "template-admin"]
    (session,) = await rows(engine, "SELECT organization_id, template_id FROM activity_sessions")
    assert (str(session.organization_id), str(session.template_id)) == (org, tpl)
    assert await minutes(engine, uuid.UUID(user)) == 3
    (param,) = await rows(engine, "SELECT options FROM template_parameters")
    assert param.options == [{"value": "eu", "name": "eu"}, {"value": "us", "name": "US"}]
    assert [tuple(r) for r in await rows(engine, "SELECT name, value FROM workspace_parameters")] == [
        ("region", "eu")
    ]


async def test_reingest_is_idempotent(gql: GraphQL, factory: Factory, engine: AsyncEngine) -> None:
    w = await world(factory)
    batch: dict[str, Any] = {
        "activity": [
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:10:00Z"),
            {
                "id": str(uuid.uuid4()),
                "userId": str(w.user),
                "organizationId": str(w.org),
                "category": "LOGIN",
                "startedAt": "2024-05-01T09:59:00Z",
            },
        ],
        "latency": [
            {
                "workspaceId": str(w.workspace),
                "userId": str(w.user),
                "at": "2024-05-01T10:00:00Z",
                "latencyMs": 42.5,
            }
        ],
        "resources": [
            {
                "workspaceId": str(w.workspace),
                "node": "n1",
                "at": "2024-05-01T10:00:00Z",
                "cpuUsedCores": 1,
                "cpuLimitCores": 2,
                "memoryUsedBytes": 1e9,
                "memoryLimitBytes": 4e9,
            }
        ],
        "nodes": [
            {
                "node": "n1",
                "at": "2024-05-01T10:00:00Z",
                "cpuUsedCores": 3,
                "cpuCapacityCores": 8,
                "memoryUsedBytes": 1e9,
                "memoryCapacityBytes": 3.2e10,
            }
        ],
        "aiSessions": [
            {
                "id": str(uuid.uuid4()),
                "organizationId": str(w.org),
                "userId": str(w.user),
                "agent": "claude-code",
                "startedAt": "2024-05-01T10:00:00Z",
                "endedAt": "2024-05-01T10:30:00Z",
                "usage": [{"model": "claude-opus-4-1", "inputTokens": 10, "outputTokens": 20}],
            }
        ],
        "projects": [{"id": str(uuid.uuid4()), "organizationId": str(w.org), "name": "api"}],
        "users": [{"id": str(w.user), "username": "alice"}],
    }
    first = await ingest(gql, w.token, **batch)
    assert first == {"accepted": 7, "duplicates": 1, "rejected": []}  # alice was already stored as sent
    counts = (
        "SELECT (SELECT count(*) FROM activity_sessions) a, (SELECT count(*) FROM latency_samples) l, "
        "(SELECT count(*) FROM resource_samples) r, (SELECT count(*) FROM node_samples) n, "
        "(SELECT count(*) FROM ai_sessions) s, (SELECT count(*) FROM ai_session_usage) u, "
        "(SELECT count(*) FROM projects) p, (SELECT count(*) FROM activity_minutes) m"
    )
    before = await rows(engine, counts)
    assert tuple(before[0]) == (2, 1, 1, 1, 1, 1, 1, 2)
    assert await minutes(engine, w.user) == 11
    second = await ingest(gql, w.token, **batch)
    assert second == {"accepted": 0, "duplicates": 8, "rejected": []}
    assert await rows(engine, counts) == before
    assert await minutes(engine, w.user) == 11


async def test_same_id_twice_in_one_batch(gql: GraphQL, factory: Factory, engine: AsyncEngine) -> None:
    w = await world(factory)
    sid = uuid.uuid4()
    result = await ingest(
        gql,
        w.token,
        activity=[
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z", id=sid),
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z", id=sid),
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:08:00Z", id=sid),
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:02:00Z", id=sid),
        ],
        latency=[
            {
                "workspaceId": str(w.workspace),
                "userId": str(w.user),
                "at": "2024-05-01T10:00:00Z",
                "latencyMs": v,
            }
            for v in (10, 20)
        ],
    )
    assert result["accepted"] == 3 and result["duplicates"] == 2
    assert codes(result) == [("activity", 3, "BAD_USER_INPUT")]
    (row,) = await rows(engine, "SELECT ended_at FROM activity_sessions")
    assert row.ended_at.isoformat() == "2024-05-01T10:08:00+00:00"
    assert await minutes(engine, w.user) == 8
    (sample,) = await rows(engine, "SELECT latency_ms FROM latency_samples")
    assert sample.latency_ms == 10


async def test_later_end_extends_the_session_and_earlier_end_is_rejected(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    sid = uuid.uuid4()
    assert (
        await ingest(
            gql, w.token, activity=[event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:30:00Z", id=sid)]
        )
    )["accepted"] == 1
    assert await minutes(engine, w.user) == 30
    extended = await ingest(
        gql, w.token, activity=[event(w, "2024-05-01T10:00:00Z", "2024-05-01T11:15:00Z", id=sid)]
    )
    assert extended == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert await minutes(engine, w.user) == 75
    hours = await rows(engine, "SELECT hour FROM activity_minutes ORDER BY hour")
    assert [h.hour.hour for h in hours] == [10, 11]
    earlier = await ingest(
        gql, w.token, activity=[event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:45:00Z", id=sid)]
    )
    assert codes(earlier) == [("activity", 0, "BAD_USER_INPUT")]
    assert "later endedAt" in earlier["rejected"][0]["message"]
    other_app = await ingest(
        gql,
        w.token,
        activity=[event(w, "2024-05-01T10:00:00Z", "2024-05-01T11:15:00Z", id=sid, app="jetbrains")],
    )
    assert codes(other_app) == [("activity", 0, "BAD_USER_INPUT")]
    assert "app" in other_app["rejected"][0]["message"]
    (row,) = await rows(engine, "SELECT ended_at, app FROM activity_sessions")
    assert (row.ended_at.isoformat(), row.app) == ("2024-05-01T11:15:00+00:00", "vscode")
    assert await minutes(engine, w.user) == 75


async def test_changed_entities_are_updated(gql: GraphQL, factory: Factory, engine: AsyncEngine) -> None:
    w = await world(factory)
    ws = {
        "id": str(w.workspace),
        "templateId": str(w.template),
        "ownerId": str(w.user),
        "name": "renamed",
        "deletedAt": "2024-06-01T00:00:00Z",
        "parameters": [{"name": "region", "value": "us"}],
    }
    result = await ingest(
        gql,
        w.token,
        workspaces=[ws],
        users=[{"id": str(w.user), "username": "alice", "email": "new@example.com"}],
        memberships=[{"userId": str(w.user), "organizationId": str(w.org), "roles": ["member", "auditor"]}],
    )
    assert result == {"accepted": 3, "duplicates": 0, "rejected": []}
    (row,) = await rows(engine, "SELECT name, deleted_at FROM workspaces")
    assert (row.name, row.deleted_at.isoformat()) == ("renamed", "2024-06-01T00:00:00+00:00")
    (user,) = await rows(engine, "SELECT name, email FROM users WHERE id = :id", id=w.user)
    assert (user.name, user.email) == ("Alice", "new@example.com")
    (membership,) = await rows(engine, "SELECT roles FROM memberships WHERE user_id = :id", id=w.user)
    assert membership.roles == ["auditor", "member"]
    # the same state again, omitted fields kept: nothing changes
    again = await ingest(gql, w.token, workspaces=[{**ws, "deletedAt": None}])
    assert again == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert [tuple(r) for r in await rows(engine, "SELECT name, value FROM workspace_parameters")] == [
        ("region", "us")
    ]


async def test_ingest_metrics_are_counted(gql: GraphQL, factory: Factory, client: Any) -> None:
    w = await world(factory)
    await ingest(
        gql,
        w.token,
        activity=[
            event(w, "2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"),
            event(w, "2024-05-01T10:00:00Z", None),
        ],
    )
    metrics = (await client.get("/metrics")).text
    assert 'usagegraph_ingest_records_total{kind="activity",result="accepted"} 1.0' in metrics
    assert 'usagegraph_ingest_records_total{kind="activity",result="rejected"} 1.0' in metrics


async def test_rollup_matches_sessions_written_directly(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    """The rows ingest writes (template copied from the workspace, LOGIN without workspace) roll up exactly
    like the same sessions written straight to the tables."""
    w = await world(factory)
    twin_org = await factory.organization("twin")
    twin_tpl = await factory.template(twin_org, "python")
    twin_ws = await factory.workspace(twin_org, twin_tpl, w.user)
    sessions = [
        ("IDE", "vscode", "2024-05-01T09:58:30Z", "2024-05-01T11:01:00Z"),
        ("APP", "jupyter", "2024-05-01T12:05:10Z", "2024-05-01T12:05:10Z"),
        ("APP", "jupyter", "2024-05-01T12:05:30Z", "2024-05-01T12:07:00.000001Z"),
        ("LOGIN", None, "2024-05-01T13:07:59Z", None),
        ("TUNNEL", "ssh", "2024-05-01T23:59:59Z", "2024-05-02T00:00:01Z"),
        ("WEB_TERMINAL", None, "2024-05-01T14:00:00Z", "2024-05-01T17:30:00Z"),
    ]
    batch = []
    for category, app, start, end in sessions:
        record: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "userId": str(w.user),
            "category": category,
            "app": app,
            "startedAt": start,
            "endedAt": end,
        }
        if category == "LOGIN":
            record["organizationId"] = str(w.org)
        else:
            record["workspaceId"] = str(w.workspace)
        batch.append(record)
        await factory.activity(
            twin_org,
            w.user,
            category,
            datetime.fromisoformat(start),
            datetime.fromisoformat(end) if end else None,
            workspace_id=None if category == "LOGIN" else twin_ws,
            app=app,
        )
    assert (await ingest(gql, w.token, activity=batch))["accepted"] == len(sessions)
    query = (
        "SELECT hour, category, app, minutes, workspace_id = :nil AS no_ws, template_id IS NULL AS no_tpl "
        "FROM activity_minutes WHERE organization_id = :org ORDER BY 1, 2, 3"
    )
    nil = uuid.UUID(int=0)
    mine = [tuple(r) for r in await rows(engine, query, org=w.org, nil=nil)]
    assert mine == [tuple(r) for r in await rows(engine, query, org=twin_org, nil=nil)]
    assert len(mine) == 11  # IDE 09-11h, APP 12h, LOGIN 13h, TUNNEL 23h and 00h, WEB_TERMINAL 14-17h
    spans = "SELECT max_minutes FROM activity_session_spans WHERE organization_id = :org"
    assert (
        [tuple(r) for r in await rows(engine, spans, org=w.org)]
        == [tuple(r) for r in await rows(engine, spans, org=twin_org)]
        == [(209,)]
    )  # 14:00 through 17:29


async def test_large_batch_with_repeats(gql: GraphQL, factory: Factory, engine: AsyncEngine) -> None:
    w = await world(factory)
    unique = [
        event(
            w,
            f"2024-05-0{1 + k % 7}T{k % 24:02d}:{k % 60:02d}:00Z",
            f"2024-05-0{1 + k % 7}T{k % 24:02d}:59:59Z",
        )
        for k in range(1_500)
    ]
    result = await ingest(gql, w.token, activity=unique + unique[:500])
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (1_500, 500, [])
    (count,) = await rows(engine, "SELECT count(*) AS n FROM activity_sessions")
    assert count.n == 1_500
    again = await ingest(gql, w.token, activity=unique)
    assert (again["accepted"], again["duplicates"]) == (0, 1_500)
