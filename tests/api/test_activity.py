"""Query.activity through HTTP, with hand-computed expectations (docs/api.md 5.1-5.2)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tests.conftest import GraphQL
from tests.factories import Factory

QUERY = """
query($start: DateTime!, $end: DateTime!, $interval: Interval!, $category: ActivityCategory! = ANY,
      $org: ID, $tz: String! = "UTC") {
  activity(start: $start, end: $end, interval: $interval, category: $category, organizationId: $org,
           timezone: $tz) {
    start end interval category
    buckets { start end durationSeconds activeUsers userActivity { user { username } durationSeconds count } }
    users { user { username } totalDurationSeconds totalCount }
  }
}
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def _world(factory: Factory) -> dict[str, Any]:
    org = await factory.organization("acme")
    admin = await factory.user("admin", site_roles=["owner"])
    alice = await factory.user("alice", orgs={org: ["member"]})
    bob = await factory.user("bob", orgs={org: ["member"]})
    tpl = await factory.template(org, "python")
    ws1 = await factory.workspace(org, tpl, alice)
    ws2 = await factory.workspace(org, tpl, alice)
    ws3 = await factory.workspace(org, tpl, bob)
    return {
        "org": org,
        "admin": admin,
        "alice": alice,
        "bob": bob,
        "ws1": ws1,
        "ws2": ws2,
        "ws3": ws3,
        "token": await factory.token(admin),
    }


async def _report(gql: GraphQL, token: str, **variables: Any) -> dict[str, Any]:
    body = await gql(QUERY, variables, token=token)
    assert "errors" not in body, body
    return body["data"]["activity"]  # type: ignore[no-any-return]


def _compact(report: dict[str, Any]) -> list[tuple[str, float, int, list[tuple[str, float, int]]]]:
    return [
        (
            b["start"],
            b["durationSeconds"],
            b["activeUsers"],
            [(a["user"]["username"], a["durationSeconds"], a["count"]) for a in b["userActivity"]],
        )
        for b in report["buckets"]
    ]


def _totals(report: dict[str, Any]) -> list[tuple[str, float, int]]:
    return [(u["user"]["username"], u["totalDurationSeconds"], u["totalCount"]) for u in report["users"]]


async def _arrange_morning(factory: Factory, w: dict[str, Any]) -> None:
    org, alice, bob = w["org"], w["alice"], w["bob"]
    await factory.activity(
        org,
        alice,
        "IDE",
        at("2024-03-04T09:10:00Z"),
        at("2024-03-04T09:40:00Z"),
        workspace_id=w["ws1"],
        app="vscode",
    )
    await factory.activity(
        org,
        alice,
        "APP",
        at("2024-03-04T09:30:00Z"),
        at("2024-03-04T10:20:00Z"),
        workspace_id=w["ws2"],
        app="jupyter",
    )
    await factory.activity(
        org,
        alice,
        "WEB_TERMINAL",
        at("2024-03-04T11:05:30Z"),
        at("2024-03-04T11:05:30Z"),
        workspace_id=w["ws1"],
        app="web-terminal",
    )
    await factory.activity(org, alice, "LOGIN", at("2024-03-04T09:00:00Z"))
    await factory.activity(org, bob, "LOGIN", at("2024-03-04T10:59:59Z"))
    await factory.activity(
        org,
        bob,
        "TUNNEL",
        at("2024-03-04T08:30:00Z"),
        at("2024-03-04T09:00:00Z"),
        workspace_id=w["ws3"],
        app="ssh",
    )
    await factory.activity(
        org,
        bob,
        "TUNNEL",
        at("2024-03-04T11:50:00Z"),
        at("2024-03-04T12:30:00Z"),
        workspace_id=w["ws3"],
        app="ssh",
    )


async def test_unions_counts_and_logins_per_hour(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    await _arrange_morning(factory, w)
    report = await _report(
        gql,
        w["token"],
        start="2024-03-04T09:00:00Z",
        end="2024-03-04T12:00:00Z",
        interval="1 hour",
        org=str(w["org"]),
    )
    assert (report["start"], report["end"], report["interval"], report["category"]) == (
        "2024-03-04T09:00:00Z",
        "2024-03-04T12:00:00Z",
        "1 hour",
        "ANY",
    )
    assert _compact(report) == [
        # IDE 09:10-09:39 and APP 09:30-09:59 overlap: 50 distinct minutes; the LOGIN adds a count only.
        ("2024-03-04T09:00:00Z", 3600.0, 1, [("alice", 3000.0, 3)]),
        # The APP session spans two buckets; bob's LOGIN at 10:59:59 lists him with no duration.
        ("2024-03-04T10:00:00Z", 3600.0, 2, [("alice", 1200.0, 1), ("bob", 0.0, 1)]),
        # The zero-length session counts one minute; bob's tunnel ending at 09:00:00 never reached 09:00.
        ("2024-03-04T11:00:00Z", 3600.0, 2, [("bob", 600.0, 1), ("alice", 60.0, 1)]),
    ]
    assert report["buckets"][-1]["end"] == "2024-03-04T12:00:00Z"
    assert _totals(report) == [("alice", 4260.0, 4), ("bob", 600.0, 2)]


async def test_category_filters_sessions(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    await _arrange_morning(factory, w)
    args = {"start": "2024-03-04T09:00:00Z", "end": "2024-03-04T12:00:00Z", "interval": "PT1H"}
    ide = await _report(gql, w["token"], category="IDE", **args)
    assert [b["userActivity"] for b in ide["buckets"]] == [
        [{"user": {"username": "alice"}, "durationSeconds": 1800.0, "count": 1}],
        [],
        [],
    ]
    assert _totals(ide) == [("alice", 1800.0, 1)]
    logins = await _report(gql, w["token"], category="LOGIN", **args)
    assert _compact(logins) == [
        ("2024-03-04T09:00:00Z", 3600.0, 1, [("alice", 0.0, 1)]),
        ("2024-03-04T10:00:00Z", 3600.0, 1, [("bob", 0.0, 1)]),
        ("2024-03-04T11:00:00Z", 3600.0, 0, []),
    ]


async def test_last_bucket_is_cut_at_end_and_empty_buckets_are_listed(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    await _arrange_morning(factory, w)
    report = await _report(
        gql, w["token"], start="2024-03-04T06:00:00Z", end="2024-03-04T10:45:00Z", interval="2 hours"
    )
    assert [(b["start"], b["end"], b["durationSeconds"]) for b in report["buckets"]] == [
        ("2024-03-04T06:00:00Z", "2024-03-04T08:00:00Z", 7200.0),
        ("2024-03-04T08:00:00Z", "2024-03-04T10:00:00Z", 7200.0),
        ("2024-03-04T10:00:00Z", "2024-03-04T10:45:00Z", 2700.0),
    ]
    assert report["buckets"][0]["activeUsers"] == 0
    # bob's early tunnel (08:30-08:59) is inside this range; his 10:59:59 LOGIN is not.
    assert _compact(report)[1][3] == [("alice", 3000.0, 3), ("bob", 1800.0, 1)]
    assert _compact(report)[2][3] == [("alice", 1200.0, 1)]
    assert _totals(report) == [("alice", 4200.0, 3), ("bob", 1800.0, 1)]


async def test_new_york_dst_days_last_23_and_25_hours(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    # 2024-03-10 23:30 EDT to 2024-03-11 00:30 EDT: half an hour on each side of local midnight.
    await factory.activity(
        w["org"],
        w["alice"],
        "IDE",
        at("2024-03-11T03:30:00Z"),
        at("2024-03-11T04:30:00Z"),
        workspace_id=w["ws1"],
        app="vscode",
    )
    spring = await _report(
        gql,
        w["token"],
        start="2024-03-09T05:00:00Z",
        end="2024-03-12T04:00:00Z",
        interval="1 day",
        tz="America/New_York",
    )
    assert _compact(spring) == [
        ("2024-03-09T05:00:00Z", 86400.0, 0, []),
        ("2024-03-10T05:00:00Z", 82800.0, 1, [("alice", 1800.0, 1)]),
        ("2024-03-11T04:00:00Z", 86400.0, 1, [("alice", 1800.0, 1)]),
    ]
    assert _totals(spring) == [("alice", 3600.0, 1)]
    fall = await _report(
        gql,
        w["token"],
        start="2024-11-03T04:00:00Z",
        end="2024-11-05T05:00:00Z",
        interval="P1D",
        tz="America/New_York",
    )
    assert [(b["start"], b["durationSeconds"]) for b in fall["buckets"]] == [
        ("2024-11-03T04:00:00Z", 90000.0),
        ("2024-11-04T05:00:00Z", 86400.0),
    ]


async def test_half_and_quarter_hour_zones_split_hours_at_local_midnight(
    gql: GraphQL, factory: Factory
) -> None:
    w = await _world(factory)
    await factory.activity(
        w["org"],
        w["alice"],
        "IDE",
        at("2024-03-04T18:00:00Z"),
        at("2024-03-04T19:00:00Z"),
        workspace_id=w["ws1"],
        app="vscode",
    )
    kolkata = await _report(
        gql,
        w["token"],
        start="2024-03-03T18:30:00Z",
        end="2024-03-05T18:30:00Z",
        interval="1 day",
        tz="Asia/Kolkata",
    )
    assert _compact(kolkata) == [
        ("2024-03-03T18:30:00Z", 86400.0, 1, [("alice", 1800.0, 1)]),
        ("2024-03-04T18:30:00Z", 86400.0, 1, [("alice", 1800.0, 1)]),
    ]
    kathmandu = await _report(
        gql,
        w["token"],
        start="2024-03-03T18:15:00Z",
        end="2024-03-05T18:15:00Z",
        interval="1 day",
        tz="Asia/Kathmandu",
    )
    assert _compact(kathmandu) == [
        ("2024-03-03T18:15:00Z", 86400.0, 1, [("alice", 900.0, 1)]),
        ("2024-03-04T18:15:00Z", 86400.0, 1, [("alice", 2700.0, 1)]),
    ]


async def test_month_buckets_clamp_month_ends_from_start(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    await factory.activity(w["org"], w["bob"], "LOGIN", at("2024-02-29T12:00:00Z"))
    report = await _report(
        gql, w["token"], start="2024-01-31T00:00:00Z", end="2024-05-01T00:00:00Z", interval="1 month"
    )
    assert [(b["start"], b["end"], b["activeUsers"]) for b in report["buckets"]] == [
        ("2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z", 0),
        ("2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z", 1),
        ("2024-03-31T00:00:00Z", "2024-04-30T00:00:00Z", 0),
        ("2024-04-30T00:00:00Z", "2024-05-01T00:00:00Z", 0),
    ]


async def test_bad_input_names_the_argument(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    cases = [
        ({"start": "2024-03-04T10:00:00Z", "end": "2024-03-04T10:00:00Z", "interval": "1 hour"}, "end"),
        ({"start": "2024-03-04T10:00:00Z", "end": "2024-03-04T09:00:00Z", "interval": "1 hour"}, "end"),
        ({"start": "2024-03-04T10:00:30Z", "end": "2024-03-04T11:00:00Z", "interval": "1 hour"}, "start"),
        ({"start": "2024-03-04T10:00:00Z", "end": "2024-03-04T11:00:00.5Z", "interval": "1 hour"}, "end"),
        (
            {
                "start": "2024-03-04T10:00:00Z",
                "end": "2024-03-04T11:00:00Z",
                "interval": "1 hour",
                "tz": "Mars/Olympus",
            },
            "timezone",
        ),
        (
            {"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T16:41:00Z", "interval": "1 minute"},
            "interval",
        ),
        ({"start": "2014-01-01T00:00:00Z", "end": "2024-03-01T00:00:00Z", "interval": "1 year"}, "end"),
    ]
    for variables, argument in cases:
        body = await gql(QUERY, variables, token=w["token"])
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (variables, body)
        assert error["extensions"]["argument"] == argument, (variables, body)
    body = await gql(
        QUERY,
        {"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T16:40:00Z", "interval": "1 minute"},
        token=w["token"],
    )
    assert len(body["data"]["activity"]["buckets"]) == 1000
    body = await gql(
        QUERY,
        {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z", "interval": "0 hours"},
        token=w["token"],
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_permissions(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    other = await factory.organization("globex")
    await _arrange_morning(factory, w)
    org_auditor = await factory.token(await factory.user("carol", orgs={w["org"]: ["auditor"]}))
    org_admin = await factory.token(await factory.user("dave", orgs={w["org"]: ["admin"]}))
    site_auditor = await factory.token(await factory.user("erin", site_roles=["auditor"]))
    member = await factory.token(w["alice"])
    args = {"start": "2024-03-04T09:00:00Z", "end": "2024-03-04T12:00:00Z", "interval": "1 hour"}

    async def code(token: str, **extra: Any) -> str | None:
        body = await gql(QUERY, {**args, **extra}, token=token)
        return body["errors"][0]["extensions"]["code"] if body.get("errors") else None

    assert await code(org_auditor, org=str(w["org"])) is None
    assert await code(org_auditor) == "FORBIDDEN"
    assert await code(org_admin) == "FORBIDDEN"
    assert await code(site_auditor) is None
    assert await code(member, org=str(w["org"])) == "FORBIDDEN"
    assert await code(org_auditor, org=str(other)) == "NOT_FOUND"
    assert await code(w["token"], org=str(uuid.uuid4())) == "NOT_FOUND"
    assert _totals(await _report(gql, w["token"], org=str(other), **args)) == []
