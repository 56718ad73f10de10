"""Compiled execution against standard execution on real data: queries generated from the real schema
(hypothesis-graphql) plus hand-picked analytics queries, run through two apps that differ only in
USAGEGRAPH_COMPILED_EXECUTION, must answer byte-for-byte the same (request ids aside)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import hypothesis_graphql
from graphql import print_ast
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Factory
from usagegraph import demo
from usagegraph.local import Local
from usagegraph.schema.schema import export_sdl
from usagegraph.settings import Settings

NOW = datetime(2024, 6, 20, 12, tzinfo=UTC)
MINUTES = st.integers(min_value=0, max_value=14 * 24 * 60).map(
    lambda m: datetime.fromtimestamp(NOW.timestamp() - m * 60, UTC).strftime("%Y-%m-%dT%H:%M:00Z")
)
SCALARS = {
    "DateTime": MINUTES.map(nodes.String),
    "Date": st.sampled_from(["2024-06-10", "2024-06-15", "2024-06-20"]).map(nodes.String),
    "Interval": st.sampled_from(["1 day", "1 hour", "P1W", "6 hours"]).map(nodes.String),
    "Decimal": st.sampled_from(["0", "1.5"]).map(nodes.String),
    "BigInt": st.integers(min_value=0, max_value=10**12).map(nodes.Int),
}

WALL_CLOCK = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")

HAND_PICKED = [
    "{ organizations { id name createdAt members(first: 20) { totalCount nodes { id username name avatarHash } } "
    "templates { id name displayName parameters { name type options { value name } } "
    "workspaces(first: 30) { nodes { name createdAt deletedAt owner { username } parameters { name value } } } } } }",
    '{ activity(start: "2024-06-10T00:00:00Z", end: "2024-06-20T00:00:00Z", interval: "1 day") '
    "{ start end interval category buckets { start end durationSeconds activeUsers "
    "userActivity { durationSeconds count user { id username name } } } "
    "users { totalDurationSeconds totalCount user { id username } } } }",
    '{ activity(start: "2024-06-12T00:00:00Z", end: "2024-06-13T00:00:00Z", interval: "1 hour", category: IDE, '
    'timezone: "Asia/Kolkata") { buckets { start activeUsers userActivity { count user { username } } } } }',
]


def _generated(limit: int) -> list[str]:
    sdl = export_sdl()
    out: list[str] = []

    @settings(
        max_examples=limit,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(hypothesis_graphql.queries(sdl, custom_scalars=SCALARS, print_ast=print_ast, allow_x00=False))
    def collect(query: str) -> None:
        out.append(query)

    collect()
    return out


def _strip(body: Any) -> Any:
    """Request ids differ per request, and concurrent resolvers complete in no fixed order: the order of
    errors, and which of several failing list items is reported once a null propagates through the list,
    are not fixed by GraphQL. Errors are compared as a set, with list positions in their paths elided. A
    range left to its default ends at the wall clock, which moves between the two requests: every time after
    the demo data's (the data ends at NOW) is the wall clock's."""
    if isinstance(body, dict) and body.get("data", ...) is None and body.get("errors"):
        # The root was nulled: graphql-core then answers with the errors raised before it stopped, which
        # depends on timing (one query with four failing root fields gave two different error lists over 60
        # runs of standard execution alone, 4 and 56 times). That there were errors is what is fixed.
        body = {**body, "errors": "<errors: the root was nulled>"}
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        errors = [
            {**e, "path": ["#" if isinstance(p, int) else p for p in e.get("path") or []]}
            for e in body["errors"]
        ]
        body = {**body, "errors": sorted(errors, key=lambda e: repr(_strip(e)))}
    if isinstance(body, dict):
        return {k: _strip(v) for k, v in body.items() if k != "requestId"}
    if isinstance(body, list):
        return [_strip(v) for v in body]
    if isinstance(body, str) and WALL_CLOCK.fullmatch(body) and body > "2024-06-22":
        return "<wall clock>"
    return body


async def test_compiled_and_standard_execution_answer_identically(
    settings: Settings, engine: AsyncEngine, factory: Factory, make_client: Any
) -> None:
    local = Local(settings, engine)
    for batch in demo.generate(7, now=NOW, days=10, batch_size=10_000):
        outcome = await local.ingest(batch)
        assert outcome["rejected"] == []
    token = await factory.token(await factory.user("differ", site_roles=["owner"]))
    headers = {"Authorization": f"Bearer {token}"}
    async with engine.connect() as conn:
        organizations = (await conn.execute(text("SELECT id FROM organizations ORDER BY id"))).scalars().all()
    insights = [
        f'{{ templateInsights(organizationId: "{org}", start: "2024-06-10T00:00:00Z", end: "2024-06-20T00:00:00Z") '
        "{ activeUsers userActivity { seconds user { id username } } "
        "userLatency { samples p50 { ms band } p95 { ms band } user { id username name } } } }"
        for org in organizations
    ]
    queries = HAND_PICKED + insights + _generated(120)
    answered_with_data = 0
    insights_with_users = 0
    async for standard in make_client(compiled_execution=False, max_cost=10**12, rate_limit_per_minute=0):
        async for compiled in make_client(compiled_execution=True, max_cost=10**12, rate_limit_per_minute=0):
            for query in queries:
                a = await _post(standard, query, headers)
                b = await _post(compiled, query, headers)
                assert _strip(b) == _strip(a), query
                if isinstance(a.get("data"), dict) and any(v is not None for v in a["data"].values()):
                    answered_with_data += 1
                if query in insights and a["data"]["templateInsights"]["userLatency"]:
                    insights_with_users += 1
    assert answered_with_data >= 20
    assert insights_with_users >= 1


async def _post(client: httpx.AsyncClient, query: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    body: dict[str, Any] = response.json()
    body["_status"] = response.status_code
    return body
