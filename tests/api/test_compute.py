"""Organization.compute and Workspace.utilization (docs/api.md 5.6) through HTTP, with statistics computed
by hand: continuous p95 over n samples interpolates at position 0.95 * (n - 1)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory

T0 = datetime(2024, 3, 1, tzinfo=UTC)

COMPUTE = """
query ($org: ID!, $start: DateTime!, $end: DateTime!, $interval: Interval!, $tz: String!) {
  organization(id: $org) {
    compute(start: $start, end: $end, interval: $interval, timezone: $tz) {
      nodes { node cpu { average p95 max } memory { average p95 max } series { start end cpu memory } }
      workspaces { workspace { name } user { username } node samples cpu { average p95 max } memory { average p95 max } }
    }
  }
}
"""

UTILIZATION = """
query ($ws: ID!, $start: DateTime!, $end: DateTime!, $interval: Interval!, $tz: String!) {
  workspace(id: $ws) { utilization(start: $start, end: $end, interval: $interval, timezone: $tz) { start end cpu memory } }
}
"""


async def resource_sample(
    engine: AsyncEngine,
    org: uuid.UUID,
    workspace: uuid.UUID,
    at: datetime,
    cpu: float,
    memory: float,
    node: str | None = None,
) -> None:
    """One workspace sample whose utilization is exactly `cpu` of 2 cores and `memory` of 1,000 bytes."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO resource_samples (organization_id, workspace_id, at, node, cpu_used_cores, "
                "cpu_limit_cores, memory_used_bytes, memory_limit_bytes) "
                "VALUES (:org, :ws, :at, :node, :cpu, 2, :mem, 1000)"
            ),
            {"org": org, "ws": workspace, "at": at, "node": node, "cpu": cpu * 2, "mem": memory * 1000},
        )


async def node_sample(engine: AsyncEngine, node: str, at: datetime, cpu: float, memory: float) -> None:
    """One node sample: `cpu` of 8 cores and `memory` of 4,000 bytes of capacity."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO node_samples (node, at, cpu_used_cores, cpu_capacity_cores, memory_used_bytes, "
                "memory_capacity_bytes) VALUES (:node, :at, :cpu, 8, :mem, 4000)"
            ),
            {"node": node, "at": at, "cpu": cpu * 8, "mem": memory * 4000},
        )


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def stats(average: float, p95: float, maximum: float) -> dict[str, Any]:
    return {"average": pytest.approx(average), "p95": pytest.approx(p95), "max": pytest.approx(maximum)}


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def world(factory: Factory) -> dict[str, Any]:
    org = await factory.organization("acme")
    other = await factory.organization("globex")
    template = await factory.template(org, "python")
    other_template = await factory.template(other, "go")
    alice = await factory.user("alice", orgs={org: ["member"]})
    bob = await factory.user("bob", orgs={org: ["member"]})
    auditor = await factory.user("audrey", orgs={org: ["auditor"]})
    stranger = await factory.user("stranger", orgs={other: ["owner"]})
    return {
        "org": org,
        "other": other,
        "alice": alice,
        "bob": bob,
        "ws_a": await factory.workspace(org, template, alice, "a-dev"),
        "ws_b": await factory.workspace(org, template, bob, "b-dev"),
        "ws_other": await factory.workspace(other, other_template, stranger, "other-dev"),
        "member_token": await factory.token(alice),
        "auditor_token": await factory.token(auditor),
        "stranger_token": await factory.token(stranger),
    }


async def test_organization_compute_statistics_series_and_order(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    org = w["org"]
    for i, (cpu, mem) in enumerate([(0.1, 0.1), (0.2, 0.1), (0.3, 0.1), (0.4, 0.1), (0.5, 0.9)]):
        await resource_sample(
            engine, org, w["ws_a"], minutes(10 + 30 * i), cpu, mem, "node-a" if i < 4 else "node-b"
        )
    await resource_sample(engine, org, w["ws_b"], minutes(5), 0.9, 0.5, "node-b")
    await resource_sample(engine, org, w["ws_b"], minutes(70), 0.7, 0.3, None)
    await resource_sample(engine, org, w["ws_b"], minutes(180), 1.0, 1.0, "node-z")
    await resource_sample(engine, w["other"], w["ws_other"], minutes(20), 0.9, 0.9, "node-c")
    await node_sample(engine, "node-a", minutes(0), 0.25, 0.5)
    await node_sample(engine, "node-a", minutes(30), 0.75, 0.25)
    await node_sample(engine, "node-a", minutes(150), 0.5, 0.5)
    await node_sample(engine, "node-a", minutes(180), 1.0, 1.0)
    await node_sample(engine, "node-b", minutes(61), 0.125, 0.75)
    await node_sample(engine, "node-c", minutes(20), 0.9, 0.9)

    body = await gql(
        COMPUTE,
        {"org": str(org), "start": iso(T0), "end": iso(minutes(180)), "interval": "1 hour", "tz": "UTC"},
        token=w["auditor_token"],
    )

    compute = body["data"]["organization"]["compute"]
    assert compute["workspaces"] == [
        {
            "workspace": {"name": "b-dev"},
            "user": {"username": "bob"},
            "node": "node-b",
            "samples": 2,
            "cpu": stats(0.8, 0.7 + 0.95 * 0.2, 0.9),
            "memory": stats(0.4, 0.3 + 0.95 * 0.2, 0.5),
        },
        {
            "workspace": {"name": "a-dev"},
            "user": {"username": "alice"},
            "node": "node-b",
            "samples": 5,
            "cpu": stats(0.3, 0.48, 0.5),
            "memory": stats(0.26, 0.74, 0.9),
        },
    ]
    hours = [(iso(minutes(60 * k)), iso(minutes(60 * (k + 1)))) for k in range(3)]
    assert compute["nodes"] == [
        {
            "node": "node-a",
            "cpu": stats(0.5, 0.725, 0.75),
            "memory": stats(5 / 12, 0.5, 0.5),
            "series": [
                {"start": hours[0][0], "end": hours[0][1], "cpu": 0.5, "memory": 0.375},
                {"start": hours[1][0], "end": hours[1][1], "cpu": None, "memory": None},
                {"start": hours[2][0], "end": hours[2][1], "cpu": 0.5, "memory": 0.5},
            ],
        },
        {
            "node": "node-b",
            "cpu": stats(0.125, 0.125, 0.125),
            "memory": stats(0.75, 0.75, 0.75),
            "series": [
                {"start": hours[0][0], "end": hours[0][1], "cpu": None, "memory": None},
                {"start": hours[1][0], "end": hours[1][1], "cpu": 0.125, "memory": 0.75},
                {"start": hours[2][0], "end": hours[2][1], "cpu": None, "memory": None},
            ],
        },
    ]


async def test_workspaces_with_equal_p95_are_ordered_by_id(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    for ws in (w["ws_a"], w["ws_b"]):
        await resource_sample(engine, w["org"], ws, minutes(1), 0.5, 0.5)
    body = await gql(
        COMPUTE,
        {"org": str(w["org"]), "start": iso(T0), "end": iso(minutes(60)), "interval": "PT1H", "tz": "UTC"},
        token=w["auditor_token"],
    )
    names = [row["workspace"]["name"] for row in body["data"]["organization"]["compute"]["workspaces"]]
    by_id = sorted([(str(w["ws_a"]), "a-dev"), (str(w["ws_b"]), "b-dev")])
    assert names == [name for _, name in by_id]
    assert body["data"]["organization"]["compute"]["nodes"] == []


async def test_compute_resolves_users_and_workspaces_in_one_batch_each(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    template = await factory.template(w["org"], "more")
    for n in range(6):
        owner = await factory.user(f"owner-{n}", orgs={w["org"]: ["member"]})
        ws = await factory.workspace(w["org"], template, owner, f"ws-{n}")
        await resource_sample(engine, w["org"], ws, minutes(n), n / 10, 0.5)
    with statements(engine) as seen:
        body = await gql(
            COMPUTE,
            {
                "org": str(w["org"]),
                "start": iso(T0),
                "end": iso(minutes(60)),
                "interval": "1 hour",
                "tz": "UTC",
            },
            token=w["auditor_token"],
        )
    rows = body["data"]["organization"]["compute"]["workspaces"]
    assert [row["user"]["username"] for row in rows] == [f"owner-{n}" for n in range(5, -1, -1)]
    assert sum("FROM users u WHERE u.id = ANY" in s for s in seen) == 1
    assert sum("FROM workspaces w WHERE w.id = ANY" in s for s in seen) == 1


async def test_workspace_utilization_in_a_zone_with_dst_and_empty_buckets(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await world(factory)
    ws = w["ws_a"]
    await resource_sample(engine, w["org"], ws, datetime(2024, 3, 10, 12, tzinfo=UTC), 0.5, 0.25)
    await resource_sample(engine, w["org"], ws, datetime(2024, 3, 11, 4, 30, tzinfo=UTC), 0.2, 0.5)
    await resource_sample(engine, w["org"], ws, datetime(2024, 3, 11, 20, tzinfo=UTC), 0.4, 1.0)
    await resource_sample(engine, w["org"], ws, datetime(2024, 3, 12, 4, tzinfo=UTC), 0.9, 0.9)

    body = await gql(
        UTILIZATION,
        {
            "ws": str(ws),
            "start": "2024-03-09T00:00:00-05:00",
            "end": "2024-03-12T00:00:00-04:00",
            "interval": "1 day",
            "tz": "America/New_York",
        },
        token=w["auditor_token"],
    )

    assert body["data"]["workspace"]["utilization"] == [
        {"start": "2024-03-09T05:00:00Z", "end": "2024-03-10T05:00:00Z", "cpu": None, "memory": None},
        {"start": "2024-03-10T05:00:00Z", "end": "2024-03-11T04:00:00Z", "cpu": 0.5, "memory": 0.25},
        {
            "start": "2024-03-11T04:00:00Z",
            "end": "2024-03-12T04:00:00Z",
            "cpu": pytest.approx(0.3),
            "memory": 0.75,
        },
    ]


async def test_a_sample_on_a_bucket_boundary_belongs_to_the_bucket_it_starts(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    """Series find each sample's bucket by binary search over the bucket starts: a sample at a start
    belongs to that bucket, one a second before it to the previous one, one at the end to none."""
    w = await world(factory)
    ws = w["ws_a"]
    for at, cpu in [(0, 0.1), (59.99, 0.3), (60, 0.5), (120, 0.7), (179.99, 0.9), (180, 1.0)]:
        await resource_sample(engine, w["org"], ws, T0 + timedelta(minutes=at), cpu, cpu)
    body = await gql(
        UTILIZATION,
        {"ws": str(ws), "start": iso(T0), "end": iso(minutes(180)), "interval": "1 hour", "tz": "UTC"},
        token=w["auditor_token"],
    )
    assert [p["cpu"] for p in body["data"]["workspace"]["utilization"]] == [
        pytest.approx(0.2),
        0.5,
        pytest.approx(0.8),
    ]


async def test_monthly_buckets_clamp_month_ends_and_cut_at_end(gql: GraphQL, factory: Factory) -> None:
    w = await world(factory)
    body = await gql(
        UTILIZATION,
        {
            "ws": str(w["ws_a"]),
            "start": "2024-01-31T00:00:00Z",
            "end": "2024-04-15T00:00:00Z",
            "interval": "P1M",
            "tz": "UTC",
        },
        token=w["auditor_token"],
    )
    assert [(p["start"], p["end"]) for p in body["data"]["workspace"]["utilization"]] == [
        ("2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z"),
        ("2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z"),
        ("2024-03-31T00:00:00Z", "2024-04-15T00:00:00Z"),
    ]


@pytest.mark.parametrize(
    ("start", "end", "interval", "tz", "argument"),
    [
        ("2024-03-01T00:00:30Z", "2024-03-02T00:00:00Z", "1 hour", "UTC", "start"),
        ("2024-03-01T00:00:00Z", "2024-03-02T00:00:00.5Z", "1 hour", "UTC", "end"),
        ("2024-03-02T00:00:00Z", "2024-03-02T00:00:00Z", "1 hour", "UTC", "end"),
        ("2024-03-02T00:00:00Z", "2024-03-01T00:00:00Z", "1 hour", "UTC", "end"),
        ("2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z", "1 hour", "Mars/Olympus", "timezone"),
        ("2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z", "1 hour", "America", "timezone"),
        ("2024-03-01T00:00:00Z", "2024-03-02T00:00:01Z", "1 minute", "UTC", "end"),
        ("2024-03-01T00:00:00Z", "2024-03-01T16:41:00Z", "1 minute", "UTC", "interval"),
        ("2014-03-01T00:00:00Z", "2024-03-01T00:01:00Z", "1 year", "UTC", "end"),
    ],
)
async def test_invalid_ranges_name_the_argument(
    gql: GraphQL, factory: Factory, start: str, end: str, interval: str, tz: str, argument: str
) -> None:
    w = await world(factory)
    variables = {"org": str(w["org"]), "start": start, "end": end, "interval": interval, "tz": tz}
    body = await gql(COMPUTE, variables, token=w["auditor_token"])
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == argument


async def test_limits_are_inclusive(gql: GraphQL, factory: Factory) -> None:
    w = await world(factory)
    thousand_minutes = {
        "start": "2024-03-01T00:00:00Z",
        "end": "2024-03-01T16:40:00Z",
        "interval": "1 minute",
    }
    ten_years = {"start": "2014-03-01T00:00:00Z", "end": "2024-03-01T00:00:00Z", "interval": "1 year"}
    for variables in (thousand_minutes, ten_years):
        body = await gql(
            UTILIZATION, {"ws": str(w["ws_a"]), "tz": "UTC", **variables}, token=w["auditor_token"]
        )
        assert "errors" not in body
    assert len(body["data"]["workspace"]["utilization"]) == 10


async def test_permissions(gql: GraphQL, factory: Factory) -> None:
    w = await world(factory)
    variables = {
        "org": str(w["org"]),
        "start": iso(T0),
        "end": iso(minutes(60)),
        "interval": "1 hour",
        "tz": "UTC",
    }
    member = await gql(COMPUTE, variables, token=w["member_token"])
    assert member["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert member["data"] == {"organization": None}
    auditor = await gql(COMPUTE, variables, token=w["auditor_token"])
    assert "errors" not in auditor
    assert auditor["data"]["organization"]["compute"] == {"nodes": [], "workspaces": []}

    ws_variables = {
        "ws": str(w["ws_a"]),
        "start": iso(T0),
        "end": iso(minutes(60)),
        "interval": "1 hour",
        "tz": "UTC",
    }
    own_workspace = await gql(UTILIZATION, ws_variables, token=w["member_token"])
    assert own_workspace["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    outsider_org = await gql(COMPUTE, variables, token=w["stranger_token"])
    assert outsider_org == {"data": {"organization": None}, "_status": 200}
    outsider_ws = await gql(UTILIZATION, ws_variables, token=w["stranger_token"])
    assert outsider_ws == {"data": {"workspace": None}, "_status": 200}
