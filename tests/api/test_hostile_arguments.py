"""Hostile argument values: ranges whose arithmetic would leave the calendar and strings PostgreSQL
refuses are answered BAD_USER_INPUT naming the argument, never a masked internal error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import GraphQL
from tests.factories import Factory


async def _owner(factory: Factory) -> tuple[str, str]:
    org = await factory.organization("edge")
    token = await factory.token(await factory.user("edge-owner", site_roles=["owner"]))
    return str(org), token


def _refused(body: dict[str, Any]) -> dict[str, Any]:
    assert body["_status"] < 500, body
    errors = body.get("errors") or []
    assert errors, body
    assert {e["extensions"]["code"] for e in errors} == {"BAD_USER_INPUT"}, body
    return errors[0]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (
            "query($o: ID!) { organization(id: $o) { sessionAnalytics("
            'filter: {end: "0001-01-01T00:00:00Z"}) { start } } }',
            {},
        ),
        (
            "query($o: ID!, $f: SessionFilter) { organization(id: $o) { sessionAnalytics(filter: $f) "
            "{ start } } }",
            {"f": {"end": "0001-01-01T00:00:00Z"}},
        ),
        (
            "query($o: ID!, $f: SessionFilter) { organization(id: $o) { sessionAnalytics(filter: $f) "
            "{ start } } }",
            {"f": {"start": "9999-12-31T23:59:59Z"}},
        ),
        (
            "query($o: ID!, $s: DateTime!, $e: DateTime!) { organization(id: $o) { compute(start: $s, "
            'end: $e, interval: "1 day") { __typename } } }',
            {"s": "0001-01-01T00:00:00Z", "e": "0001-01-02T00:00:00Z"},
        ),
        (
            "query($o: ID!) { organization(id: $o) { usageMetrics(start: "
            '"0001-01-01", end: "0001-01-05") { __typename } } }',
            {},
        ),
        (
            "query($o: ID!, $s: DateTime!, $e: DateTime!) { activity(start: $s, end: $e, "
            'interval: "1 day", organizationId: $o) { __typename } }',
            {"s": "9999-12-30T00:00:00Z", "e": "9999-12-31T00:00:00Z"},
        ),
    ],
)
async def test_ranges_outside_the_calendar_window_are_bad_input(
    gql: GraphQL, factory: Factory, query: str, variables: dict[str, Any]
) -> None:
    org, token = await _owner(factory)
    error = _refused(await gql(query, {"o": org, **variables}, token=token))
    assert "between 1970-01-01" in error["message"], error


async def test_a_nul_in_a_filter_string_is_bad_input(gql: GraphQL, factory: Factory) -> None:
    org, token = await _owner(factory)
    query = (
        "query($o: ID!, $f: SessionFilter) { organization(id: $o) { sessions(filter: $f) { nodes { id } } } }"
    )
    error = _refused(await gql(query, {"o": org, "f": {"agents": ["a\u0000b"]}}, token=token))
    assert "NUL" in error["message"] and error["extensions"]["argument"] == "f", error
    literal = 'query($o: ID!) { organization(id: $o) { sessions(filter: {repositories: ["x\\u0000"]}) { nodes { id } } } }'
    error = _refused(await gql(literal, {"o": org}, token=token))
    assert "NUL" in error["message"], error


async def test_a_nul_in_a_token_name_is_bad_input(gql: GraphQL, factory: Factory) -> None:
    owner = await factory.user("nul-owner", site_roles=["owner"])
    token = await factory.token(owner)
    body = await gql(
        "mutation($u: ID!, $n: String!) { createToken(userId: $u, name: $n) { token } }",
        {"u": str(owner), "n": "ci\u0000"},
        token=token,
    )
    assert "NUL" in _refused(body)["message"]


async def test_the_window_itself_is_accepted(gql: GraphQL, factory: Factory) -> None:
    org, token = await _owner(factory)
    body = await gql(
        "query($o: ID!, $f: SessionFilter) { organization(id: $o) { sessionAnalytics(filter: $f) "
        "{ start end } } }",
        {"o": org, "f": {"start": "1970-01-01T00:00:00Z", "end": "1970-01-31T00:00:00Z"}},
        token=token,
    )
    assert "errors" not in body, body
    assert body["data"]["organization"]["sessionAnalytics"]["start"] == "1970-01-01T00:00:00Z"
