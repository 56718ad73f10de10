"""Who may view Template Insights (docs/api.md section 3), the disabled mode and argument validation, through
HTTP with real tokens."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.insights_world import INSIGHTS, build, error_code, grant, variables

TEMPLATE_INSIGHTS = """query($id: ID!) { template(id: $id) { name insights(start: "2024-03-04T00:00:00Z",
    end: "2024-03-18T00:00:00Z") { activeUsers templates { name } } } }"""


async def test_insights_read_role_sees_any_template(gql: GraphQL, factory: Factory) -> None:
    world = await build(factory)
    for name in ("auditor", "tadmin"):
        body = await gql(INSIGHTS, variables(world, [world.tpl_a]), token=world.tokens[name])
        assert body["data"]["templateInsights"]["activeUsers"] == 2, body


async def test_member_without_grant_is_forbidden(gql: GraphQL, factory: Factory) -> None:
    world = await build(factory)
    alice = world.tokens["alice"]
    assert error_code(await gql(INSIGHTS, variables(world, [world.tpl_a]), token=alice)) == "FORBIDDEN"
    assert error_code(await gql(INSIGHTS, variables(world, None), token=alice)) == "FORBIDDEN"
    body = await gql(TEMPLATE_INSIGHTS, {"id": str(world.tpl_a)}, token=alice)
    assert error_code(body) == "FORBIDDEN"
    assert body["errors"][0]["path"] == ["template", "insights"]


async def test_per_template_grant(gql: GraphQL, factory: Factory) -> None:
    world = await build(factory)
    await grant(factory, world.org, world.tpl_b, world.users["carol"])
    carol = world.tokens["carol"]
    body = await gql(INSIGHTS, variables(world, [world.tpl_b]), token=carol)
    assert body["data"]["templateInsights"]["activeUsers"] == 1, body
    # Omitted templateIds: the granted templates only (go), not python or rust.
    body = await gql(INSIGHTS, variables(world, None), token=carol)
    assert body["data"]["templateInsights"]["templates"] == [{"name": "go"}]
    assert [u["user"]["username"] for u in body["data"]["templateInsights"]["userActivity"]] == ["alice"]
    # One template without a grant in the list refuses the whole query.
    assert (
        error_code(await gql(INSIGHTS, variables(world, [world.tpl_b, world.tpl_a]), token=carol))
        == "FORBIDDEN"
    )
    body = await gql(TEMPLATE_INSIGHTS, {"id": str(world.tpl_b)}, token=carol)
    assert body["data"]["template"]["insights"] == {"activeUsers": 1, "templates": [{"name": "go"}]}
    body = await gql(TEMPLATE_INSIGHTS, {"id": str(world.tpl_a)}, token=carol)
    assert error_code(body) == "FORBIDDEN"


async def test_grant_applies_per_template_in_one_request(gql: GraphQL, factory: Factory) -> None:
    world = await build(factory)
    await grant(factory, world.org, world.tpl_a, world.users["carol"])
    query = """query($a: ID!, $b: ID!) {
        a: template(id: $a) { insights(start: "2024-03-04T00:00:00Z", end: "2024-03-18T00:00:00Z") { activeUsers } }
        b: template(id: $b) { insights(start: "2024-03-04T00:00:00Z", end: "2024-03-18T00:00:00Z") { activeUsers } }
    }"""
    body = await gql(query, {"a": str(world.tpl_a), "b": str(world.tpl_b)}, token=world.tokens["carol"])
    assert body["data"] == {"a": {"insights": {"activeUsers": 2}}, "b": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["b", "insights"], "FORBIDDEN")
    ]


async def test_other_organization_is_not_found(gql: GraphQL, factory: Factory) -> None:
    world = await build(factory)
    outsider = world.tokens["outsider"]
    # acme is invisible to a globex owner, with or without template ids.
    assert error_code(await gql(INSIGHTS, variables(world, [world.tpl_a]), token=outsider)) == "NOT_FOUND"
    assert error_code(await gql(INSIGHTS, variables(world, None), token=outsider)) == "NOT_FOUND"
    # Asking its own organization for an acme template: not found there either.
    own = variables(world, [world.tpl_a], org=str(world.other_org))
    assert error_code(await gql(INSIGHTS, own, token=outsider)) == "NOT_FOUND"
    # And the acme auditor cannot reach globex's template through acme.
    body = await gql(INSIGHTS, variables(world, [world.other_tpl]), token=world.tokens["auditor"])
    assert error_code(body) == "NOT_FOUND"


async def test_disabled_mode(factory: Factory, make_client: Any) -> None:
    world = await build(factory)
    async for client in make_client(disable_template_insights=True):
        gql = GraphQL(client)
        body = await gql(INSIGHTS, variables(world, [world.tpl_a]), token=world.tokens["auditor"])
        assert error_code(body) == "INSIGHTS_DISABLED"
        body = await gql(TEMPLATE_INSIGHTS, {"id": str(world.tpl_a)}, token=world.tokens["auditor"])
        assert error_code(body) == "INSIGHTS_DISABLED"
        metrics = (await client.get("/metrics")).text
        assert "usagegraph_insights_templates_active_users" not in metrics


async def bad_input(gql: GraphQL, token: str, variables: dict[str, Any]) -> tuple[str, str]:
    body = await gql(INSIGHTS, variables, token=token)
    assert body.get("errors"), body
    extensions = body["errors"][0]["extensions"]
    return extensions["code"], extensions.get("argument", "")


async def test_arguments_are_validated(gql: GraphQL, factory: Factory) -> None:
    world = await build(factory)
    token = world.tokens["auditor"]
    ids = [world.tpl_a]
    cases = [
        (variables(world, ids, start="2024-03-04T00:00:30Z"), "start"),
        (variables(world, ids, end="2024-03-18T00:00:00.5Z"), "end"),
        (variables(world, ids, end="2024-03-04T00:00:00Z"), "end"),
        (variables(world, ids, start="2014-03-03T00:00:00Z"), "end"),
        (variables(world, ids, tz="Mars/Olympus_Mons"), "timezone"),
        (variables(world, ids, start="2021-03-04T00:00:00Z", interval="DAY"), "interval"),
        (variables(world, ids, org="acme"), "organizationId"),
        (variables(world, None) | {"ids": ["not-a-uuid"]}, "templateIds"),
        (variables(world, None) | {"ids": []}, "templateIds"),
    ]
    for vars_, argument in cases:
        assert await bad_input(gql, token, vars_) == ("BAD_USER_INPUT", argument), vars_
    # 1,000 days exactly is the most a DAY series may hold.
    body = await gql(
        INSIGHTS, variables(world, ids, start="2021-06-22T00:00:00Z", interval="DAY"), token=token
    )
    assert len(body["data"]["templateInsights"]["activeUsersSeries"]) == 1000, body.get("errors")
