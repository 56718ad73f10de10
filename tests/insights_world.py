"""A small world for the Template Insights tests, with every expectation computed by hand in the tests.

Organization acme: templates python (A) and go (B) created 2024-01-01, and rust (C). Range of the
main queries: [2024-03-04, 2024-03-18) UTC, two Monday weeks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from tests.factories import Factory

START = "2024-03-04T00:00:00Z"
END = "2024-03-18T00:00:00Z"


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class World:
    org: uuid.UUID
    other_org: uuid.UUID
    tpl_a: uuid.UUID
    tpl_b: uuid.UUID
    tpl_c: uuid.UUID
    other_tpl: uuid.UUID
    users: dict[str, uuid.UUID]
    tokens: dict[str, str]
    workspaces: dict[str, uuid.UUID]


REGION_A = {
    "name": "region",
    "displayName": "Region",
    "type": "string",
    "options": [
        {"value": "us", "name": "US"},
        {"value": "eu", "name": "EU"},
        {"value": "ap", "name": "APAC"},
    ],
}
SIZE_A = {"name": "size", "displayName": "Size", "type": "number"}
REGION_B = {
    "name": "region",
    "displayName": "Region (go)",
    "type": "string",
    "options": [{"value": "us", "name": "US"}, {"value": "sa", "name": "South America"}],
}


async def latency(
    factory: Factory, org: uuid.UUID, ws: uuid.UUID, user: uuid.UUID, samples: list[tuple[datetime, float]]
) -> None:
    async with factory.engine.begin() as conn:
        template = (
            await conn.execute(text("SELECT template_id FROM workspaces WHERE id = :id"), {"id": ws})
        ).scalar_one()
        for moment, ms in samples:
            await conn.execute(
                text(
                    "INSERT INTO latency_samples (organization_id, workspace_id, user_id, at, template_id, latency_ms) "
                    "VALUES (:org, :ws, :user, :at, :t, :ms)"
                ),
                {"org": org, "ws": ws, "user": user, "at": moment, "t": template, "ms": ms},
            )


async def grant(factory: Factory, org: uuid.UUID, template: uuid.UUID, user: uuid.UUID) -> None:
    async with factory.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO insights_grants (organization_id, template_id, user_id) VALUES (:org, :t, :u)"),
            {"org": org, "t": template, "u": user},
        )


async def build(factory: Factory) -> World:
    org = await factory.organization("acme")
    other_org = await factory.organization("globex")
    users = {
        "auditor": await factory.user("auditor", orgs={org: ["auditor"]}),
        "tadmin": await factory.user("tadmin", orgs={org: ["template-admin"]}),
        "alice": await factory.user("alice", orgs={org: ["member"]}),
        "bob": await factory.user("bob", orgs={org: ["member"]}),
        "carol": await factory.user("carol", orgs={org: ["member"]}),
        "outsider": await factory.user("outsider", orgs={other_org: ["owner"]}),
    }
    tokens = {name: await factory.token(user) for name, user in users.items()}
    tpl_a = await factory.template(org, "python", parameters=[REGION_A, SIZE_A])
    tpl_b = await factory.template(org, "go", parameters=[REGION_B])
    tpl_c = await factory.template(org, "rust", parameters=[{"name": "gpu", "options": [{"value": "yes"}]}])
    other_tpl = await factory.template(other_org, "secret")
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    ws = {
        "wa1": await factory.workspace(org, tpl_a, alice, parameters={"region": "us", "size": "2"}),
        "wa2": await factory.workspace(org, tpl_a, bob, parameters={"region": "eu", "size": "4"}),
        "wb1": await factory.workspace(org, tpl_b, alice, parameters={"region": "us"}),
        "wa3": await factory.workspace(org, tpl_a, bob, deleted_at=at(1), parameters={"region": "ap"}),
        "wa4": await factory.workspace(org, tpl_a, bob, created_at=at(18), parameters={"region": "eu"}),
        "wa5": await factory.workspace(org, tpl_a, carol, deleted_at=at(4), parameters={"region": "mars"}),
        "wc1": await factory.workspace(org, tpl_c, carol, parameters={"gpu": "yes"}),
    }
    act = factory.activity
    await act(org, alice, "IDE", at(3, 23), at(4, 0, 5), workspace_id=ws["wa1"], app="vscode")
    await act(org, alice, "IDE", at(4, 10), at(4, 10, 30), workspace_id=ws["wa1"], app="vscode")
    await act(org, alice, "IDE", at(4, 10, 15), at(4, 10, 45), workspace_id=ws["wb1"], app="jetbrains")
    await act(org, bob, "IDE", at(3, 22), at(4, 0), workspace_id=ws["wa2"], app="vscode")
    await act(org, bob, "TUNNEL", at(12, 9), at(12, 9, 10), workspace_id=ws["wa2"], app="ssh")
    await act(org, bob, "TUNNEL", at(12, 9, 5), at(12, 9, 20), workspace_id=ws["wa2"], app="ssh")
    await act(org, bob, "APP", at(11, 23, 50), at(12, 0, 10), workspace_id=ws["wa2"], app="grafana")
    await act(org, carol, "LOGIN", at(5, 8), workspace_id=ws["wa1"])
    await act(org, carol, "IDE", at(5, 8), at(5, 9), workspace_id=ws["wc1"], app="vscode")
    await act(org, alice, "IDE", at(18), at(18, 0, 30), workspace_id=ws["wa1"], app="vscode")
    await latency(
        factory, org, ws["wa1"], alice, [(at(5, 10, m), ms) for m, ms in enumerate([400, 100, 300, 200])]
    )
    await latency(factory, org, ws["wa2"], bob, [(at(6, 10), 60.0), (at(6, 11), 50.0), (at(18), 1000.0)])
    await latency(factory, org, ws["wc1"], carol, [(at(6, 10), 999.0)])
    return World(org, other_org, tpl_a, tpl_b, tpl_c, other_tpl, users, tokens, ws)


INSIGHTS = """
query($org: ID!, $ids: [ID!], $start: DateTime!, $end: DateTime!, $interval: InsightsInterval, $tz: String!) {
  templateInsights(organizationId: $org, templateIds: $ids, start: $start, end: $end, interval: $interval,
                   timezone: $tz) {
    start end interval activeUsers
    templates { name }
    activeUsersSeries { start end activeUsers complete }
    userLatency { user { username } p50 { ms band } p95 { ms band } samples }
    appUsage { slug displayName kind category seconds users timesUsed }
    userActivity { user { username } seconds }
    parameters { name displayName type values { value count } }
  }
}
"""


def variables(world: World, ids: list[uuid.UUID] | None, **overrides: Any) -> dict[str, Any]:
    return {
        "org": str(world.org),
        "ids": None if ids is None else [str(i) for i in ids],
        "start": START,
        "end": END,
        "interval": None,
        "tz": "UTC",
        **overrides,
    }


def error_code(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    return str(body["errors"][0]["extensions"]["code"])
