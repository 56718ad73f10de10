"""Template Insights sections through HTTP with real tokens (docs/api.md 5.4); expectations by hand from
tests/insights_world.py."""

from __future__ import annotations

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.insights_world import END, INSIGHTS, START, build, variables


def builtin(slug: str, name: str, category: str) -> dict[str, object]:
    return {
        "slug": slug,
        "displayName": name,
        "kind": "BUILTIN",
        "category": category,
        "seconds": 0.0,
        "users": 0,
        "timesUsed": 0,
    }


async def test_every_section_over_two_templates(gql: GraphQL, factory: Factory) -> None:
    world = await build(factory)
    body = await gql(INSIGHTS, variables(world, [world.tpl_a, world.tpl_b]), token=world.tokens["auditor"])
    assert "errors" not in body, body
    got = body["data"]["templateInsights"]
    assert got["start"] == START and got["end"] == END
    assert got["templates"] == [{"name": "python"}, {"name": "go"}]
    # Both templates are older than five weeks at end: weeks.
    assert got["interval"] == "WEEK"
    # alice (vscode + jetbrains) and bob (ssh, grafana); carol's LOGIN and her rust session do not count.
    assert got["activeUsers"] == 2
    assert got["activeUsersSeries"] == [
        {"start": "2024-03-04T00:00:00Z", "end": "2024-03-11T00:00:00Z", "activeUsers": 1, "complete": True},
        {"start": "2024-03-11T00:00:00Z", "end": "2024-03-18T00:00:00Z", "activeUsers": 1, "complete": True},
    ]
    # alice: 00:00-00:04 (session from the day before) + 10:00-10:44 with vscode and jetbrains overlapping
    # 10:15-10:29 in two workspaces of two templates, counted once: 5 + 45 = 50 minutes.
    # bob: ssh 09:00-09:19 (two overlapping sessions) + grafana 23:50-00:09: 20 + 20 = 40 minutes.
    assert got["userActivity"] == [
        {"user": {"username": "alice"}, "seconds": 3000.0},
        {"user": {"username": "bob"}, "seconds": 2400.0},
    ]
    assert got["appUsage"] == [
        # 5 + 30 minutes; the session ending exactly at start (bob) does not overlap the range.
        {"slug": "vscode", "displayName": "Visual Studio Code", "kind": "BUILTIN", "category": "IDE",
         "seconds": 2100.0, "users": 1, "timesUsed": 2},
        {"slug": "jetbrains", "displayName": "JetBrains", "kind": "BUILTIN", "category": "IDE",
         "seconds": 1800.0, "users": 1, "timesUsed": 1},
        {"slug": "grafana", "displayName": "grafana", "kind": "APP", "category": "APP",
         "seconds": 1200.0, "users": 1, "timesUsed": 1},
        {"slug": "ssh", "displayName": "SSH", "kind": "BUILTIN", "category": "TUNNEL",
         "seconds": 1200.0, "users": 1, "timesUsed": 2},
        builtin("code-server", "code-server", "IDE"),
        builtin("jupyter", "Jupyter", "APP"),
        builtin("rstudio", "RStudio", "APP"),
        builtin("web-terminal", "Web Terminal", "WEB_TERMINAL"),
    ]  # fmt: skip
    # alice 100, 200, 300, 400: p50 = 250, p95 = 300 + 0.85 * 100 = 385. bob 50, 60 (the 1000 ms sample is
    # at end, outside): p50 = 55, p95 = 50 + 0.95 * 10 = 59.5. carol's sample is in rust.
    assert got["userLatency"] == [
        {"user": {"username": "alice"}, "p50": {"ms": 250.0, "band": "YELLOW"}, "p95": {"ms": 385.0, "band": "RED"},
         "samples": 4},
        {"user": {"username": "bob"}, "p50": {"ms": 55.0, "band": "GREEN"}, "p95": {"ms": 59.5, "band": "GREEN"},
         "samples": 2},
    ]  # fmt: skip
    # Workspaces existing at some time in the range: wa1 (us), wa2 (eu), wb1 (us) and wa5 (mars, deleted
    # exactly at start); wa3 was deleted before, wa4 created at end. Options without workspaces are 0.
    assert got["parameters"] == [
        {"name": "region", "displayName": "Region", "type": "string", "values": [
            {"value": "us", "count": 2}, {"value": "eu", "count": 1}, {"value": "mars", "count": 1},
            {"value": "ap", "count": 0}, {"value": "sa", "count": 0},
        ]},
        {"name": "size", "displayName": "Size", "type": "number", "values": [
            {"value": "2", "count": 1}, {"value": "4", "count": 1},
        ]},
    ]  # fmt: skip


async def test_one_template_via_template_field(gql: GraphQL, factory: Factory) -> None:
    world = await build(factory)
    query = """
    query($id: ID!) { template(id: $id) { insights(start: "2024-03-04T00:00:00Z", end: "2024-03-18T00:00:00Z") {
        activeUsers userActivity { user { username } seconds } templates { name }
        appUsage { slug seconds timesUsed } } } }
    """
    body = await gql(query, {"id": str(world.tpl_b)}, token=world.tokens["tadmin"])
    assert "errors" not in body, body
    got = body["data"]["template"]["insights"]
    assert got["templates"] == [{"name": "go"}]
    assert got["activeUsers"] == 1
    assert got["userActivity"] == [{"user": {"username": "alice"}, "seconds": 1800.0}]
    assert got["appUsage"][0] == {"slug": "jetbrains", "seconds": 1800.0, "timesUsed": 1}
    assert all(app["seconds"] == 0 for app in got["appUsage"][1:])


async def test_omitted_template_ids_cover_every_template(gql: GraphQL, factory: Factory) -> None:
    world = await build(factory)
    query = """query($org: ID!) { templateInsights(organizationId: $org, start: "2024-03-04T00:00:00Z",
        end: "2024-03-18T00:00:00Z") { templates { name } activeUsers userActivity { user { username } seconds }
        parameters { name values { value count } } } }"""
    body = await gql(query, {"org": str(world.org)}, token=world.tokens["auditor"])
    got = body["data"]["templateInsights"]
    assert sorted(t["name"] for t in got["templates"]) == ["go", "python", "rust"]
    # carol's rust session 2024-03-05 08:00-08:59 now counts; her LOGIN still does not.
    assert got["activeUsers"] == 3
    assert {"user": {"username": "carol"}, "seconds": 3600.0} in got["userActivity"]
    assert {"name": "gpu", "values": [{"value": "yes", "count": 1}]} in got["parameters"]


async def test_sections_not_selected_are_not_needed(gql: GraphQL, factory: Factory) -> None:
    world = await build(factory)
    query = """query($org: ID!, $ids: [ID!]) { templateInsights(organizationId: $org, templateIds: $ids,
        start: "2024-03-04T00:00:00Z", end: "2024-03-18T00:00:00Z") { ...counts } }
        fragment counts on TemplateInsights { activeUsers interval }"""
    body = await gql(query, {"org": str(world.org), "ids": [str(world.tpl_a)]}, token=world.tokens["auditor"])
    assert body["data"] == {"templateInsights": {"activeUsers": 2, "interval": "WEEK"}}
