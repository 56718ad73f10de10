"""Cross-tenant isolation (docs/api.md section 3): the strongest role of organization A, asking for anything
of organization B by id, gets NOT_FOUND or FORBIDDEN, or null from a single-object field, and no byte
of B's data. The same questions about A's own objects answer with data, so the denials are not an
accident of the queries."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.reliability_world import END, INGEST, START, World, build_world

RANGE = f'start: "{START}", end: "{END}"'
DENIED = {"NOT_FOUND", "FORBIDDEN"}

ENTITY_QUERIES: dict[str, tuple[str, str]] = {
    "organization": ("query($id: ID!) { organization(id: $id) { id name createdAt } }", "org"),
    "template": (
        "query($id: ID!) { template(id: $id) { id name displayName parameters { name } } }",
        "template",
    ),
    "workspace": ("query($id: ID!) { workspace(id: $id) { id name owner { username } } }", "workspace"),
    "user": ("query($id: ID!) { user(id: $id) { id username email } }", "holder"),
    "usageMetrics": (
        'query($id: ID!) { organization(id: $id) { usageMetrics(start: "2024-03-01", end: "2024-03-07") '
        "{ date dau wau mau } } }",
        "org",
    ),
    "workspace.usageMetrics": (
        'query($id: ID!) { workspace(id: $id) { usageMetrics(start: "2024-03-01", end: "2024-03-07") { dau } } }',
        "workspace",
    ),
    "sessionAnalytics": (
        f"query($id: ID!) {{ organization(id: $id) {{ sessionAnalytics(filter: {{ {RANGE} }}) "
        "{ summary { totalSessions totalCost } byAgent { agent } users { user { username } } } } }",
        "org",
    ),
    "sessions": (
        f"query($id: ID!) {{ organization(id: $id) {{ sessions(filter: {{ {RANGE} }}) "
        "{ totalCount nodes { id agent repository user { username } models { model } } } } }",
        "org",
    ),
    "compute": (
        f'query($id: ID!) {{ organization(id: $id) {{ compute({RANGE}, interval: "1 day") '
        "{ nodes { node } workspaces { workspace { name } samples } } } }",
        "org",
    ),
    "utilization": (
        f'query($id: ID!) {{ workspace(id: $id) {{ utilization({RANGE}, interval: "1 day") {{ cpu }} }} }}',
        "workspace",
    ),
    "template.insights": (
        f"query($id: ID!) {{ template(id: $id) {{ insights({RANGE}) {{ activeUsers "
        "userActivity { user { username } } parameters { values { value } } } } }",
        "template",
    ),
    "templateInsights": (
        f"query($id: ID!) {{ templateInsights(organizationId: $id, {RANGE}) {{ activeUsers "
        "templates { name } userActivity { user { username } } } }",
        "org",
    ),
    "activity": (
        f'query($id: ID!) {{ activity({RANGE}, interval: "1 day", organizationId: $id) '
        "{ users { user { username } totalDurationSeconds } } }",
        "org",
    ),
}


def _ids(world: World) -> dict[str, str]:
    return {
        "org": str(world.org),
        "template": str(world.template),
        "workspace": str(world.workspace),
        "holder": str(world.holder),
        "project": str(world.project),
    }


def _leaks(body: dict[str, Any], other: World, sent: Any = None) -> list[str]:
    """B's identifying strings found anywhere in an answer (messages and extensions included), except
    the ones the caller sent itself (an error may name the id it refuses)."""
    raw = json.dumps(body)
    asked = json.dumps(sent)
    return [secret for secret in other.secrets if secret in raw and secret not in asked]


def _denied(body: dict[str, Any]) -> bool:
    """NOT_FOUND / FORBIDDEN, or no data at all on the single-object root field."""
    codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
    if codes - DENIED:
        return False
    data = body.get("data") or {}
    return all(value is None for value in data.values())


async def _worlds(factory: Factory, gql: GraphQL) -> tuple[World, World, str, str]:
    root = await factory.token(await factory.user("root", site_roles=["owner"]))
    a = await build_world(factory, gql, root, "alpha")
    b = await build_world(factory, gql, root, "bravo")
    a_owner = await factory.token(await factory.user("alpha-owner", orgs={a.org: ["owner"]}))
    return a, b, a_owner, root


async def test_other_tenants_objects_are_invisible(factory: Factory, gql: GraphQL) -> None:
    a, b, a_owner, _ = await _worlds(factory, gql)
    own, other = _ids(a), _ids(b)
    problems: list[str] = []
    for name, (query, key) in ENTITY_QUERIES.items():
        mine = await gql(query, {"id": own[key]}, token=a_owner)
        if mine.get("errors") or not all(mine["data"].values()):
            problems.append(f"{name}: own object not answered: {mine}")
        theirs = await gql(query, {"id": other[key]}, token=a_owner)
        if not _denied(theirs):
            problems.append(f"{name}: not denied: {theirs}")
        if leaked := _leaks(theirs, b, other[key]):
            problems.append(f"{name}: leaked {leaked}")
    assert not problems, "\n".join(problems)


async def test_lists_filters_and_scoped_arguments_never_reach_another_tenant(
    factory: Factory, gql: GraphQL
) -> None:
    a, b, a_owner, _ = await _worlds(factory, gql)
    queries: list[tuple[str, dict[str, Any], str]] = [
        ("{ organizations { id name templates { name } workspaces { nodes { name } } } }", {}, "data"),
        ("{ viewer { organizations { name } workspaces { name } } }", {}, "data"),
        (
            "query($org: ID!) { organization(id: $org) { members(first: 500) { nodes { username email } } } }",
            {"org": str(a.org)},
            "data",
        ),
        (
            f'{{ activity({RANGE}, interval: "1 day") {{ users {{ user {{ username }} }} }} }}',
            {},
            "denied",
        ),
        (
            f"query($org: ID!, $t: [ID!]) {{ templateInsights(organizationId: $org, templateIds: $t, {RANGE}) "
            "{ activeUsers } }",
            {"org": str(a.org), "t": [str(b.template)]},
            "denied",
        ),
        (
            f"query($org: ID!, $u: [ID!], $p: [ID!]) {{ organization(id: $org) {{ "
            f"sessions(filter: {{ {RANGE}, userIds: $u, projectIds: $p }}) {{ totalCount nodes {{ id }} }} }} }}",
            {"org": str(a.org), "u": [str(b.holder)], "p": [str(b.project)]},
            "empty",
        ),
        (
            f"query($org: ID!, $u: [ID!]) {{ organization(id: $org) {{ "
            f"sessionAnalytics(filter: {{ {RANGE}, userIds: $u }}) {{ summary {{ totalSessions }} "
            "users { user { username } } } } }",
            {"org": str(a.org), "u": [str(b.holder)]},
            "empty",
        ),
        (
            'query($u: ID!) { createToken(userId: $u, name: "steal") { token } }'.replace(
                "query", "mutation"
            ),
            {"u": str(b.holder)},
            "denied",
        ),
        (
            'mutation($u: ID!, $org: ID!) { setRoles(userId: $u, organizationId: $org, roles: ["owner"]) { id } }',
            {"u": str(b.holder), "org": str(b.org)},
            "denied",
        ),
        (
            "mutation($t: ID!, $u: ID!) { grantTemplateInsights(templateId: $t, userId: $u) }",
            {"t": str(b.template), "u": str(a.holder)},
            "denied",
        ),
    ]
    problems: list[str] = []
    for query, variables, expect in queries:
        body = await gql(query, variables, token=a_owner)
        if leaked := _leaks(body, b, variables):
            problems.append(f"{query[:60]}: leaked {leaked}")
        if expect == "denied" and not _denied(body):
            problems.append(f"{query[:60]}: not denied: {body}")
        if expect == "data" and (body.get("errors") or a.name not in json.dumps(body)):
            problems.append(f"{query[:60]}: own data missing: {body}")
        if expect == "empty" and body.get("errors") and not _denied(body):
            problems.append(f"{query[:60]}: unexpected error: {body}")
    assert not problems, "\n".join(problems)


async def test_ingest_into_another_tenant_is_refused_and_writes_nothing(
    factory: Factory, gql: GraphQL, engine: AsyncEngine
) -> None:
    a, b, _, root = await _worlds(factory, gql)
    collector = await factory.token(await factory.user("alpha-collector", orgs={a.org: ["collector"]}))

    async def count() -> tuple[int, int, int]:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM activity_sessions WHERE organization_id = :o), "
                        "(SELECT count(*) FROM ai_sessions WHERE organization_id = :o), "
                        "(SELECT count(*) FROM projects WHERE organization_id = :o)"
                    ),
                    {"o": b.org},
                )
            ).one()
            return int(row[0]), int(row[1]), int(row[2])

    before = await count()
    batches: list[dict[str, Any]] = [
        {"projects": [{"id": str(uuid.uuid4()), "organizationId": str(b.org), "name": "planted"}]},
        {
            "activity": [
                {
                    "id": str(uuid.uuid4()),
                    "userId": str(b.holder),
                    "workspaceId": str(b.workspace),
                    "category": "IDE",
                    "startedAt": "2024-03-04T09:00:00Z",
                    "endedAt": "2024-03-04T10:00:00Z",
                }
            ]
        },
        {
            "aiSessions": [
                {
                    "id": str(uuid.uuid4()),
                    "organizationId": str(b.org),
                    "userId": str(b.holder),
                    "agent": "planted",
                    "startedAt": "2024-03-04T09:00:00Z",
                    "usage": [],
                }
            ]
        },
    ]
    problems: list[str] = []
    for batch in batches:
        body = await gql(INGEST, {"b": batch}, token=collector)
        result = (body.get("data") or {}).get("ingest")
        codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
        refused = bool(codes & DENIED) or (
            result is not None and result["accepted"] == 0 and result["rejected"]
        )
        if not refused:
            problems.append(f"{list(batch)}: not refused: {body}")
        if leaked := _leaks(body, b, batch):
            problems.append(f"{list(batch)}: leaked {leaked}")
    assert not problems, "\n".join(problems)
    assert await count() == before
    own = await gql(
        INGEST,
        {"b": {"projects": [{"id": str(uuid.uuid4()), "organizationId": str(a.org), "name": "fine"}]}},
        token=collector,
    )
    assert own["data"]["ingest"]["accepted"] == 1
    assert root


async def test_admin_of_a_cannot_adopt_a_user_of_b_and_mint_their_token(
    factory: Factory, gql: GraphQL
) -> None:
    a, b, _, _ = await _worlds(factory, gql)
    victim = await factory.user("bravo-owner", orgs={b.org: ["owner"]}, email="bravo-owner@corp.test")
    a_admin = await factory.token(await factory.user("alpha-admin", orgs={a.org: ["admin"]}))
    adopt = await gql(
        'mutation($u: ID!, $o: ID!) { setRoles(userId: $u, organizationId: $o, roles: ["member"]) { email } }',
        {"u": str(victim), "o": str(a.org)},
        token=a_admin,
    )
    minted = await gql(
        'mutation($u: ID!) { createToken(userId: $u, name: "x") { token } }',
        {"u": str(victim)},
        token=a_admin,
    )
    token = ((minted.get("data") or {}).get("createToken") or {}).get("token")
    stolen: dict[str, Any] = {}
    if token:
        stolen = await gql(ENTITY_QUERIES["sessions"][0], {"id": str(b.org)}, token=token)
    assert "bravo-owner@corp.test" not in json.dumps(adopt)
    assert token is None
    assert not _leaks(stolen, b, str(b.org))
