"""usageMetrics (DAU / WAU / MAU) through HTTP, with hand-computed expectations (docs/api.md 5.3)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from usagegraph.db.queries import usage_metrics as mq

ORG_QUERY = """
query($org: ID!, $start: Date, $end: Date, $period: Int, $window: ActiveWindow! = CALENDAR,
      $fill: FillPolicy! = FORWARD, $category: ActivityCategory! = LOGIN, $tz: String! = "UTC") {
  organization(id: $org) {
    usageMetrics(periodLength: $period, start: $start, end: $end, window: $window, fill: $fill,
                 category: $category, timezone: $tz) { date dau wau mau }
  }
}
"""

WS_QUERY = """
query($ws: ID!, $start: Date, $end: Date, $category: ActivityCategory! = LOGIN) {
  workspace(id: $ws) { usageMetrics(start: $start, end: $end, category: $category, fill: NONE) { date dau wau mau } }
}
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def _world(factory: Factory) -> dict[str, Any]:
    org = await factory.organization("acme")
    admin = await factory.user("admin", site_roles=["owner"])
    users = {name: await factory.user(name, orgs={org: ["member"]}) for name in ("alice", "bob", "carol")}
    tpl = await factory.template(org, "python")
    ws = await factory.workspace(org, tpl, users["alice"])
    return {"org": org, "ws": ws, "tpl": tpl, **users, "token": await factory.token(admin)}


async def _metrics(
    gql: GraphQL, token: str, **variables: Any
) -> list[tuple[str, int | None, int | None, int | None]]:
    body = await gql(ORG_QUERY, variables, token=token)
    assert "errors" not in body, body
    return [(r["date"], r["dau"], r["wau"], r["mau"]) for r in body["data"]["organization"]["usageMetrics"]]


async def _logins(factory: Factory, w: dict[str, Any]) -> None:
    for name, instant in [
        ("alice", "2024-03-01T10:00:00Z"),  # Friday
        ("alice", "2024-03-02T10:00:00Z"),  # Saturday
        ("bob", "2024-03-02T23:59:00Z"),
        ("carol", "2024-03-05T00:00:00Z"),  # Tuesday of the next week
    ]:
        await factory.activity(w["org"], w[name], "LOGIN", at(instant))


async def test_forward_fill_carries_windows_across_a_week_boundary(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    await _logins(factory, w)
    rows = await _metrics(gql, w["token"], org=str(w["org"]), start="2024-03-01", end="2024-03-06")
    assert rows == [
        ("2024-03-01", 1, 1, 1),
        ("2024-03-02", 2, 2, 2),
        ("2024-03-03", None, 2, 2),
        ("2024-03-04", None, 2, 2),  # Monday without activity keeps the previous row's windows
        ("2024-03-05", 1, 1, 3),
        ("2024-03-06", None, 1, 3),
    ]


async def test_fill_none_computes_every_day_and_calendar_windows(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    await _logins(factory, w)
    rows = await _metrics(
        gql, w["token"], org=str(w["org"]), start="2024-02-28", end="2024-03-06", fill="NONE"
    )
    assert rows == [
        ("2024-02-28", 0, 0, 0),
        ("2024-02-29", 0, 0, 0),
        ("2024-03-01", 1, 1, 1),
        ("2024-03-02", 2, 2, 2),
        ("2024-03-03", 0, 2, 2),
        ("2024-03-04", 0, 0, 2),
        ("2024-03-05", 1, 1, 3),
        ("2024-03-06", 0, 1, 3),
    ]


async def test_first_row_counts_calendar_activity_earlier_in_its_week_and_month(
    gql: GraphQL, factory: Factory
) -> None:
    w = await _world(factory)
    await _logins(factory, w)
    await factory.activity(w["org"], w["bob"], "LOGIN", at("2024-02-26T08:00:00Z"))  # Monday
    rows = await _metrics(
        gql, w["token"], org=str(w["org"]), start="2024-03-03", end="2024-03-03", fill="NONE"
    )
    # Week of 2024-02-26: bob (Mon and Sat), alice; month of March: alice, bob.
    assert rows == [("2024-03-03", 0, 2, 2)]


async def test_rolling_windows_count_activity_before_the_first_row(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    await factory.activity(w["org"], w["alice"], "LOGIN", at("2024-03-04T12:00:00Z"))
    await factory.activity(w["org"], w["bob"], "LOGIN", at("2024-02-10T12:00:00Z"))
    await factory.activity(w["org"], w["carol"], "LOGIN", at("2024-03-11T12:00:00Z"))
    rows = await _metrics(
        gql,
        w["token"],
        org=str(w["org"]),
        start="2024-03-10",
        end="2024-03-12",
        window="ROLLING",
        fill="NONE",
    )
    assert rows == [
        ("2024-03-10", 0, 1, 2),  # wau: 03-04..03-10 alice; mau: 02-10..03-10 alice, bob
        ("2024-03-11", 1, 1, 2),  # wau: 03-05..03-11 carol; mau: alice, carol
        ("2024-03-12", 0, 1, 2),
    ]


async def test_days_follow_kolkata_and_kathmandu_midnight(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    await factory.activity(w["org"], w["alice"], "LOGIN", at("2024-03-04T18:29:00Z"))  # 23:59 IST
    await factory.activity(w["org"], w["bob"], "LOGIN", at("2024-03-04T18:30:00Z"))  # 00:00 IST
    kolkata = await _metrics(
        gql,
        w["token"],
        org=str(w["org"]),
        start="2024-03-04",
        end="2024-03-05",
        fill="NONE",
        tz="Asia/Kolkata",
    )
    assert [(d, dau) for d, dau, _, _ in kolkata] == [("2024-03-04", 1), ("2024-03-05", 1)]
    # 18:00-19:00 UTC is 23:45-00:45 in Kathmandu: one session, two local days.
    await factory.activity(
        w["org"],
        w["carol"],
        "IDE",
        at("2024-03-04T18:00:00Z"),
        at("2024-03-04T18:15:00Z"),
        workspace_id=w["ws"],
        app="vscode",
    )
    await factory.activity(
        w["org"],
        w["alice"],
        "IDE",
        at("2024-03-04T18:15:00Z"),
        at("2024-03-04T19:00:00Z"),
        workspace_id=w["ws"],
        app="vscode",
    )
    kathmandu = await _metrics(
        gql,
        w["token"],
        org=str(w["org"]),
        start="2024-03-04",
        end="2024-03-05",
        fill="NONE",
        tz="Asia/Kathmandu",
        category="IDE",
    )
    assert kathmandu == [("2024-03-04", 1, 1, 1), ("2024-03-05", 1, 2, 2)]
    any_category = await _metrics(
        gql,
        w["token"],
        org=str(w["org"]),
        start="2024-03-05",
        end="2024-03-05",
        fill="NONE",
        tz="Asia/Kathmandu",
        category="ANY",
    )
    assert any_category == [("2024-03-05", 2, 3, 3)]


async def test_new_york_dst_day(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    await factory.activity(w["org"], w["alice"], "LOGIN", at("2024-03-10T04:59:00Z"))  # 03-09 23:59 EST
    await factory.activity(w["org"], w["bob"], "LOGIN", at("2024-03-11T03:59:00Z"))  # 03-10 23:59 EDT
    await factory.activity(w["org"], w["carol"], "LOGIN", at("2024-03-11T04:00:00Z"))  # 03-11 00:00 EDT
    rows = await _metrics(
        gql,
        w["token"],
        org=str(w["org"]),
        start="2024-03-09",
        end="2024-03-11",
        fill="NONE",
        tz="America/New_York",
    )
    assert [(d, dau) for d, dau, _, _ in rows] == [("2024-03-09", 1), ("2024-03-10", 1), ("2024-03-11", 1)]


async def test_workspace_counts_its_own_events(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    other_ws = await factory.workspace(w["org"], w["tpl"], w["bob"])
    await factory.activity(
        w["org"],
        w["alice"],
        "APP",
        at("2024-03-01T10:00:00Z"),
        at("2024-03-01T11:00:00Z"),
        workspace_id=w["ws"],
        app="jupyter",
    )
    await factory.activity(
        w["org"],
        w["bob"],
        "APP",
        at("2024-03-01T10:00:00Z"),
        at("2024-03-01T11:00:00Z"),
        workspace_id=other_ws,
        app="jupyter",
    )
    await factory.activity(w["org"], w["carol"], "LOGIN", at("2024-03-01T10:00:00Z"))
    body = await gql(
        WS_QUERY,
        {"ws": str(w["ws"]), "start": "2024-03-01", "end": "2024-03-01", "category": "ANY"},
        token=w["token"],
    )
    assert body["data"]["workspace"]["usageMetrics"] == [{"date": "2024-03-01", "dau": 1, "wau": 1, "mau": 1}]
    org_rows = await _metrics(
        gql, w["token"], org=str(w["org"]), start="2024-03-01", end="2024-03-01", category="ANY"
    )
    assert org_rows == [("2024-03-01", 3, 3, 3)]


WS_ZONE_QUERY = """
query($ws: ID!, $start: Date, $end: Date, $tz: String!) {
  workspace(id: $ws) {
    usageMetrics(start: $start, end: $end, category: ANY, fill: NONE, timezone: $tz) { date dau wau mau }
  }
}
"""


async def test_workspace_days_in_kathmandu_and_across_a_new_york_dst_change(
    gql: GraphQL, factory: Factory
) -> None:
    """A workspace's ANY series reads first and last minutes per user and UTC day, split at the local
    midnight; a UTC day in which the offset changes (2024-03-10 in New York, 2024-10-26 in Beirut) reads
    the hour rows."""
    w = await _world(factory)
    sessions = [
        ("carol", "IDE", "2024-03-04T18:00:00Z", "2024-03-04T18:15:00Z"),  # 23:45-23:59 in Kathmandu
        ("alice", "IDE", "2024-03-04T18:15:00Z", "2024-03-04T19:00:00Z"),  # 00:00-00:44 the next day
        ("bob", "APP", "2024-03-04T18:14:00Z", "2024-03-04T18:16:00Z"),  # 23:59 and 00:00: both days
        ("alice", "IDE", "2024-03-10T04:30:00Z", "2024-03-10T05:30:00Z"),  # 03-09 23:30 to 03-10 00:29 EST
        ("bob", "IDE", "2024-03-11T03:30:00Z", "2024-03-11T03:45:00Z"),  # 03-10 23:30 EDT
        ("carol", "APP", "2024-03-11T04:00:00Z", "2024-03-11T04:00:30Z"),  # 03-11 00:00 EDT
        # Beirut leaves summer time at 00:00 of 2024-10-27 (21:00 UTC), back to 23:00 of 10-26: 21:30 UTC is
        # 23:30 of 10-26, although 21:00 UTC would be midnight at the offset the UTC day started with.
        ("bob", "IDE", "2024-10-26T21:30:00Z", "2024-10-26T21:40:00Z"),
    ]
    for name, category, start, end in sessions:
        await factory.activity(
            w["org"], w[name], category, at(start), at(end), workspace_id=w["ws"], app="vscode"
        )

    async def series(start: str, end: str, tz: str) -> list[tuple[str, int, int, int]]:
        body = await gql(
            WS_ZONE_QUERY, {"ws": str(w["ws"]), "start": start, "end": end, "tz": tz}, token=w["token"]
        )
        assert "errors" not in body, body
        return [(r["date"], r["dau"], r["wau"], r["mau"]) for r in body["data"]["workspace"]["usageMetrics"]]

    # 2024-03-04 is a Monday.
    assert await series("2024-03-04", "2024-03-05", "Asia/Kathmandu") == [
        ("2024-03-04", 2, 2, 2),
        ("2024-03-05", 2, 3, 3),
    ]
    assert await series("2024-03-04", "2024-03-05", "UTC") == [
        ("2024-03-04", 3, 3, 3),
        ("2024-03-05", 0, 3, 3),
    ]
    assert await series("2024-03-09", "2024-03-11", "America/New_York") == [
        ("2024-03-09", 1, 3, 3),
        ("2024-03-10", 2, 3, 3),
        ("2024-03-11", 1, 1, 3),
    ]
    assert await series("2024-10-26", "2024-10-27", "Asia/Beirut") == [
        ("2024-10-26", 1, 1, 1),
        ("2024-10-27", 0, 1, 1),
    ]


async def test_a_local_day_across_the_new_year(gql: GraphQL, factory: Factory) -> None:
    """Zone offsets are kept per year: a range over the new year joins two of them."""
    w = await _world(factory)
    # 2023-12-31T18:00Z-18:30Z is 23:45 on Dec 31 to 00:14 on Jan 1 in Kathmandu (+5:45).
    await factory.activity(
        w["org"],
        w["alice"],
        "IDE",
        at("2023-12-31T18:00:00Z"),
        at("2023-12-31T18:30:00Z"),
        workspace_id=w["ws"],
        app="vscode",
    )
    await factory.activity(w["org"], w["bob"], "LOGIN", at("2024-01-01T18:14:00Z"))  # 23:59 on Jan 1
    body = await gql(
        WS_ZONE_QUERY,
        {"ws": str(w["ws"]), "start": "2023-12-31", "end": "2024-01-02", "tz": "Asia/Kathmandu"},
        token=w["token"],
    )
    assert "errors" not in body, body
    assert [(r["date"], r["dau"], r["mau"]) for r in body["data"]["workspace"]["usageMetrics"]] == [
        ("2023-12-31", 1, 1),
        ("2024-01-01", 1, 1),
        ("2024-01-02", 0, 1),
    ]
    rows = await _metrics(
        gql,
        w["token"],
        org=str(w["org"]),
        start="2023-12-31",
        end="2024-01-02",
        fill="NONE",
        tz="Asia/Kathmandu",
        category="ANY",
    )
    assert [(d, dau, mau) for d, dau, _, mau in rows] == [
        ("2023-12-31", 1, 1),
        ("2024-01-01", 2, 2),
        ("2024-01-02", 0, 2),
    ]


async def test_zone_offsets_per_utc_day_match_the_zone_rules(engine: AsyncEngine) -> None:
    """The offsets the workspace path places its day rows with, over ranges that cross years and DST
    changes, against Python's zone rules at each UTC day's first and last minute."""
    cases = [
        ("America/New_York", date(2023, 10, 1), date(2024, 4, 1)),
        ("Australia/Lord_Howe", date(2023, 12, 1), date(2025, 5, 1)),  # +10:30 / +11
        ("Asia/Beirut", date(2024, 10, 20), date(2024, 11, 2)),
        ("Asia/Kathmandu", date(2023, 12, 30), date(2024, 1, 2)),
    ]
    async with engine.connect() as conn:
        for zone, first, last in cases:
            first_at, last_at = await mq._zone_offsets(conn, zone, first, last)
            days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
            expected_first = [_offset(zone, datetime.combine(d, time(0, 0), UTC)) for d in days]
            expected_last = [_offset(zone, datetime.combine(d, time(23, 59), UTC)) for d in days]
            assert first_at.tolist() == expected_first, zone
            assert last_at.tolist() == expected_last, zone
            assert expected_first != expected_last or zone == "Asia/Kathmandu"  # the cases include changes


def _offset(zone: str, moment: datetime) -> int:
    offset = moment.astimezone(ZoneInfo(zone)).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


async def test_default_period_ends_today(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    body = await gql(
        "query($org: ID!) { organization(id: $org) { usageMetrics(periodLength: 7, fill: NONE) "
        "{ date dau } } }",
        {"org": str(w["org"])},
        token=w["token"],
    )
    rows = body["data"]["organization"]["usageMetrics"]
    assert len(rows) == 8
    assert rows[-1]["date"] == datetime.now(UTC).date().isoformat()
    assert {r["dau"] for r in rows} == {0}


async def test_only_selected_metrics_are_computed(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    w = await _world(factory)
    await _logins(factory, w)
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "all_days" in statement:
            statements.append(statement.lower())

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        query = (
            'query($org: ID!) { organization(id: $org) { usageMetrics(start: "2024-03-01", '
            'end: "2024-03-06") { date ...M } } } fragment M on UsageMetric { %s }'
        )
        body = await gql(query % "dau", {"org": str(w["org"])}, token=w["token"])
        assert [r["dau"] for r in body["data"]["organization"]["usageMetrics"]] == [1, 2, None, None, 1, None]
        assert len(statements) == 1
        assert "wau" not in statements[0] and "mau" not in statements[0]
        statements.clear()
        body = await gql(query % "wau", {"org": str(w["org"])}, token=w["token"])
        assert [r["wau"] for r in body["data"]["organization"]["usageMetrics"]] == [1, 2, 2, 2, 1, 1]
        assert len(statements) == 1
        assert "wau" in statements[0] and "mau" not in statements[0]
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)


async def test_bad_input_names_the_argument(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    cases = [
        ({"period": 0}, "periodLength"),
        ({"period": 3661}, "periodLength"),
        ({"start": "2024-03-01"}, "end"),
        ({"end": "2024-03-01"}, "start"),
        ({"start": "2024-03-02", "end": "2024-03-01"}, "end"),
        ({"start": "2000-01-01", "end": "2024-03-01"}, "end"),
        ({"tz": "Not/AZone"}, "timezone"),
    ]
    for variables, argument in cases:
        body = await gql(ORG_QUERY, {"org": str(w["org"]), **variables}, token=w["token"])
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (variables, body)
        assert error["extensions"]["argument"] == argument, (variables, body)


async def test_permissions(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    other = await factory.organization("globex")
    member = await factory.token(w["alice"])
    auditor = await factory.token(await factory.user("dave", orgs={w["org"]: ["auditor"]}))
    controller = await factory.token(await factory.user("erin", orgs={w["org"]: ["controller"]}))
    args = {"org": str(w["org"]), "start": "2024-03-01", "end": "2024-03-02"}
    body = await gql(ORG_QUERY, args, token=member)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(WS_QUERY, {"ws": str(w["ws"]), "start": "2024-03-01", "end": "2024-03-02"}, token=member)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for token in (auditor, controller):
        assert "errors" not in await gql(ORG_QUERY, args, token=token)
    body = await gql(ORG_QUERY, {**args, "org": str(other)}, token=auditor)
    assert body["data"]["organization"] is None
    body = await gql(ORG_QUERY, {**args, "org": str(uuid.uuid4())}, token=w["token"])
    assert body["data"]["organization"] is None


async def test_user_bitmaps_grow_past_1024_users(gql: GraphQL, factory: Factory, engine: AsyncEngine) -> None:
    w = await _world(factory)
    await factory.activity(w["org"], w["alice"], "LOGIN", at("2024-03-01T10:00:00Z"))
    await factory.activity(w["org"], w["alice"], "LOGIN", at("2024-03-02T10:00:00Z"))
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO activity_user_bits (organization_id, user_id, idx) "
                "SELECT :org, gen_random_uuid(), g FROM generate_series(1, 1100) g"
            ),
            {"org": w["org"]},
        )
    # bob is numbered 1101: his bits need 2,048-bit strings, next to alice's 1,024-bit rows.
    await factory.activity(w["org"], w["bob"], "LOGIN", at("2024-03-02T10:05:00Z"))
    await factory.activity(w["org"], w["bob"], "LOGIN", at("2024-03-03T10:00:00Z"))
    rows = await _metrics(
        gql, w["token"], org=str(w["org"]), start="2024-03-01", end="2024-03-03", fill="NONE"
    )
    assert rows == [("2024-03-01", 1, 1, 1), ("2024-03-02", 2, 2, 2), ("2024-03-03", 1, 2, 2)]
