"""Template Insights over time: the default interval, cut buckets, time zones (DST and half-hour
offsets, exact to the minute) and the Prometheus gauges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.insights_world import INSIGHTS, at, build, variables

SERIES = """query($org: ID!, $ids: [ID!], $start: DateTime!, $end: DateTime!, $interval: InsightsInterval,
    $tz: String!) { templateInsights(organizationId: $org, templateIds: $ids, start: $start, end: $end,
    interval: $interval, timezone: $tz) { interval activeUsersSeries { start end activeUsers complete }
    userActivity { user { username } seconds } appUsage { slug seconds timesUsed } } }"""


async def test_default_interval_switches_at_five_weeks(gql: GraphQL, factory: Factory) -> None:
    org = await factory.organization()
    auditor = await factory.token(await factory.user(orgs={org: ["auditor"]}))
    young = await factory.template(org, "young", created_at=at(18) - timedelta(days=34))
    old = await factory.template(org, "old", created_at=at(18) - timedelta(days=35))

    async def run(*ids: Any) -> dict[str, Any]:
        vars_ = {"org": str(org), "ids": [str(i) for i in ids], "start": "2024-03-04T00:00:00Z",
                 "end": "2024-03-18T00:00:00Z", "interval": None, "tz": "UTC"}  # fmt: skip
        body = await gql(SERIES, vars_, token=auditor)
        return body["data"]["templateInsights"]  # type: ignore[no-any-return]

    young_only = await run(young)
    assert young_only["interval"] == "DAY"
    assert len(young_only["activeUsersSeries"]) == 14
    assert young_only["activeUsersSeries"][1]["start"] == "2024-03-05T00:00:00Z"
    # Exactly five weeks old at end is no longer "less than five weeks".
    assert (await run(old))["interval"] == "WEEK"
    # The oldest selected template decides.
    assert (await run(young, old))["interval"] == "WEEK"


async def test_partial_last_week_is_incomplete(gql: GraphQL, factory: Factory) -> None:
    world = await build(factory)
    body = await gql(INSIGHTS, variables(world, [world.tpl_a, world.tpl_b], end="2024-03-20T00:00:00Z"),
                     token=world.tokens["auditor"])  # fmt: skip
    got = body["data"]["templateInsights"]
    assert got["interval"] == "WEEK"
    # alice's session of 2024-03-18 00:00-00:29 falls in the cut third week.
    assert got["activeUsersSeries"] == [
        {"start": "2024-03-04T00:00:00Z", "end": "2024-03-11T00:00:00Z", "activeUsers": 1, "complete": True},
        {"start": "2024-03-11T00:00:00Z", "end": "2024-03-18T00:00:00Z", "activeUsers": 1, "complete": True},
        {"start": "2024-03-18T00:00:00Z", "end": "2024-03-20T00:00:00Z", "activeUsers": 1, "complete": False},
    ]
    assert got["userActivity"][0] == {"user": {"username": "alice"}, "seconds": 4800.0}


async def small_world(factory: Factory, names: list[str]) -> tuple[Any, Any, str, dict[str, Any]]:
    org = await factory.organization()
    tpl = await factory.template(org, "python")
    token = await factory.token(await factory.user(orgs={org: ["template-admin"]}))
    workspaces = {}
    for name in names:
        user = await factory.user(name, orgs={org: ["member"]})
        workspaces[name] = (user, await factory.workspace(org, tpl, user))
    return org, tpl, token, workspaces


async def test_days_follow_daylight_saving_time(gql: GraphQL, factory: Factory) -> None:
    org, tpl, token, ws = await small_world(factory, ["dave", "erin"])

    async def session(name: str, start: datetime, minutes: int) -> None:
        user, workspace = ws[name]
        await factory.activity(org, user, "IDE", start, start + timedelta(minutes=minutes), workspace_id=workspace,
                               app="vscode")  # fmt: skip

    await session("dave", datetime(2024, 3, 9, 5, 0, tzinfo=UTC), 10)  # 3/9 00:00 EST
    await session("dave", datetime(2024, 3, 11, 3, 30, tzinfo=UTC), 10)  # 3/10 23:30 EDT
    await session("erin", datetime(2024, 3, 11, 4, 30, tzinfo=UTC), 10)  # 3/11 00:30 EDT
    vars_ = {"org": str(org), "ids": [str(tpl)], "start": "2024-03-09T05:00:00Z", "end": "2024-03-12T04:00:00Z",
             "interval": "DAY", "tz": "America/New_York"}  # fmt: skip
    body = await gql(SERIES, vars_, token=token)
    # 2024-03-10 lasts 23 hours in New York: local midnights at 05:00Z, 05:00Z, then 04:00Z.
    assert body["data"]["templateInsights"]["activeUsersSeries"] == [
        {"start": "2024-03-09T05:00:00Z", "end": "2024-03-10T05:00:00Z", "activeUsers": 1, "complete": True},
        {"start": "2024-03-10T05:00:00Z", "end": "2024-03-11T04:00:00Z", "activeUsers": 1, "complete": True},
        {"start": "2024-03-11T04:00:00Z", "end": "2024-03-12T04:00:00Z", "activeUsers": 1, "complete": True},
    ]


async def test_half_hour_zone_is_exact_to_the_minute(gql: GraphQL, factory: Factory) -> None:
    org, tpl, token, ws = await small_world(factory, ["frank", "gina"])
    frank, frank_ws = ws["frank"]
    gina, gina_ws = ws["gina"]
    # 18:20-18:39 UTC straddles midnight in Kolkata (UTC+05:30); 18:29-18:30 straddles the range end.
    await factory.activity(org, frank, "IDE", datetime(2024, 3, 4, 18, 20, tzinfo=UTC),
                           datetime(2024, 3, 4, 18, 40, tzinfo=UTC), workspace_id=frank_ws, app="vscode")  # fmt: skip
    await factory.activity(org, gina, "APP", datetime(2024, 3, 5, 18, 29, tzinfo=UTC),
                           datetime(2024, 3, 5, 18, 31, tzinfo=UTC), workspace_id=gina_ws, app="jupyter")  # fmt: skip
    vars_ = {"org": str(org), "ids": [str(tpl)], "start": "2024-03-03T18:30:00Z", "end": "2024-03-05T18:30:00Z",
             "interval": None, "tz": "Asia/Kolkata"}  # fmt: skip
    got = (await gql(SERIES, vars_, token=token))["data"]["templateInsights"]
    assert got["interval"] == "WEEK"
    assert got["activeUsersSeries"] == [
        {"start": "2024-03-03T18:30:00Z", "end": "2024-03-05T18:30:00Z", "activeUsers": 2, "complete": False},
    ]
    vars_["interval"] = "DAY"
    got = (await gql(SERIES, vars_, token=token))["data"]["templateInsights"]
    assert [(b["start"], b["activeUsers"]) for b in got["activeUsersSeries"]] == [
        ("2024-03-03T18:30:00Z", 1),
        ("2024-03-04T18:30:00Z", 2),
    ]
    assert got["userActivity"] == [
        {"user": {"username": "frank"}, "seconds": 1200.0},
        {"user": {"username": "gina"}, "seconds": 60.0},
    ]
    apps = {app["slug"]: app for app in got["appUsage"]}
    assert apps["jupyter"] == {"slug": "jupyter", "seconds": 60.0, "timesUsed": 1}
    assert apps["vscode"] == {"slug": "vscode", "seconds": 1200.0, "timesUsed": 1}


async def test_prometheus_gauges_over_the_last_hour(factory: Factory, make_client: Any) -> None:
    org, _, _, ws = await small_world(factory, ["alice", "bob"])
    await factory.template(org, "go")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    alice, alice_ws = ws["alice"]
    bob, bob_ws = ws["bob"]
    await factory.activity(org, alice, "IDE", now - timedelta(minutes=30), now - timedelta(minutes=20),
                           workspace_id=alice_ws, app="vscode")  # fmt: skip
    await factory.activity(org, bob, "IDE", now - timedelta(minutes=25), now - timedelta(minutes=15),
                           workspace_id=bob_ws, app="vscode")  # fmt: skip
    await factory.activity(org, bob, "TUNNEL", now - timedelta(minutes=25), now - timedelta(minutes=20),
                           workspace_id=bob_ws, app="ssh")  # fmt: skip
    await factory.activity(org, bob, "IDE", now - timedelta(hours=3), now - timedelta(hours=2),
                           workspace_id=bob_ws, app="jetbrains")  # fmt: skip
    async for client in make_client():
        text = (await client.get("/metrics")).text
    samples: dict[tuple[str, ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("usagegraph_insights_"):
                labels = sample.labels
                key = (sample.name, labels["template_name"], labels.get("slug", ""))
                assert labels["organization_id"] == str(org)
                samples[key] = sample.value
    assert samples == {
        ("usagegraph_insights_templates_active_users", "go", ""): 0.0,
        ("usagegraph_insights_templates_active_users", "python", ""): 2.0,
        ("usagegraph_insights_applications_usage_seconds", "python", "ssh"): 300.0,
        ("usagegraph_insights_applications_usage_seconds", "python", "vscode"): 1200.0,
    }
