"""On generated data, every REST route answers what the GraphQL API answers for the same arguments,
reshaped as docs/rest.md says (the reshaping is written out again here, independently of the routes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.test_activity_property import BASE, ZONES, Event, events_strategy, iso, store, world
from tests.conftest import GraphQL
from tests.factories import Factory
from tests.sessions_world import ai_session

NS = 1_000_000_000
REST_CATEGORIES = ["any", "ide", "login", "app", "tunnel", "web_terminal"]

ACTIVITY = """
query($start: DateTime!, $end: DateTime!, $interval: Interval!, $category: ActivityCategory!, $org: ID,
      $tz: String!) {
  activity(start: $start, end: $end, interval: $interval, category: $category, organizationId: $org,
           timezone: $tz) {
    buckets { start durationSeconds userActivity { user { id } durationSeconds count } }
    users { user { id name username avatarHash roles(organizationId: $org) } totalDurationSeconds totalCount }
  }
}
"""


def rfc3339(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_activity(report: dict[str, Any], category: str) -> dict[str, Any]:
    def count(seconds: float, sessions: int) -> int:
        return sessions if category == "login" else int(seconds // 60)

    return {
        "activity": [
            {
                "time": rfc3339(b["start"]),
                "duration": int(b["durationSeconds"]) * NS,
                "user_activity": [
                    {
                        "user_id": r["user"]["id"],
                        "duration": int(r["durationSeconds"]) * NS,
                        "count": count(r["durationSeconds"], r["count"]),
                    }
                    for r in b["userActivity"]
                ],
            }
            for b in report["buckets"]
        ],
        "users": {
            r["user"]["id"]: {
                "id": r["user"]["id"],
                "name": r["user"]["name"],
                "username": r["user"]["username"],
                "roles": r["user"]["roles"],
                "avatar_hash": r["user"]["avatarHash"],
                "total_count": count(r["totalDurationSeconds"], r["totalCount"]),
                "total_duration": int(r["totalDurationSeconds"]) * NS,
            }
            for r in report["users"]
        },
    }


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    events=events_strategy,
    zone=st.sampled_from(ZONES),
    category=st.sampled_from(REST_CATEGORIES),
    interval=st.sampled_from(["1 hour", "3 hours", "90 minutes", "1 day", "P1W"]),
    start_minutes=st.integers(0, 2 * 1440),
    span_minutes=st.integers(1, 3 * 1440),
    scoped=st.booleans(),
    metrics=st.lists(st.sampled_from(["dau", "wau", "mau"]), unique=True, max_size=3),
)
async def test_activity_and_workspace_usage_equal_graphql(
    client: httpx.AsyncClient,
    gql: GraphQL,
    factory: Factory,
    events: list[Event],
    zone: str,
    category: str,
    interval: str,
    start_minutes: int,
    span_minutes: int,
    scoped: bool,
    metrics: list[str],
) -> None:
    org, token, user_ids, workspaces = await world(factory, 2)
    await store(factory, org, user_ids, workspaces, events)
    start = BASE + timedelta(minutes=start_minutes)
    end = start + timedelta(minutes=span_minutes)
    params = {
        "start": iso(start),
        "end": iso(end),
        "category": category,
        "interval": interval,
        "timezone": zone,
    }
    if scoped:
        params["org"] = str(org)
    headers = {"Authorization": f"Bearer {token}"}
    rest = await client.get("/api/private/metrics/activity", params=params, headers=headers)
    variables = {**params, "category": category.upper(), "org": params.get("org"), "tz": zone}
    body = await gql(ACTIVITY, variables, token=token)
    if "errors" in body:
        # the same refusal: a 422 naming the argument
        assert rest.status_code == 422, (body, rest.text)
    else:
        assert rest.status_code == 200, rest.text
        assert rest.json() == expected_activity(body["data"]["activity"], category)

    period = (datetime.now(UTC).date() - BASE.date()).days + 1
    query = [("period_length", str(period)), *(("metrics", m) for m in metrics)]
    workspace = workspaces[0]
    usage = await client.get(
        f"/api/v2/org/{org}/workspace/{workspace}/metrics/usage", params=query, headers=headers
    )
    assert usage.status_code == 200, usage.text
    graphql = await gql(
        "query($ws: ID!, $p: Int!) { workspace(id: $ws) { usageMetrics(periodLength: $p) { date dau wau mau } } }",
        {"ws": str(workspace), "p": period},
        token=token,
    )
    wanted = metrics or ["dau", "wau", "mau"]
    assert usage.json() == [
        {"date": row["date"], **{m: row[m] if m in wanted else None for m in ("dau", "wau", "mau")}}
        for row in graphql["data"]["workspace"]["usageMetrics"]
    ]

    insights = await client.get(
        "/api/v2/insights/user-activity",
        params={"start_time": iso(start), "end_time": iso(end), "organization": str(org)},
        headers=headers,
    )
    graphql = await gql(
        "query($org: ID!, $s: DateTime!, $e: DateTime!) { templateInsights(organizationId: $org, start: $s, end: $e) "
        "{ templates { id } userActivity { user { id username avatarHash } seconds } } }",
        {"org": str(org), "s": iso(start), "e": iso(end)},
        token=token,
    )
    assert "errors" not in graphql, graphql
    answer = graphql["data"]["templateInsights"]
    ids = [t["id"] for t in answer["templates"]]
    assert insights.status_code == 200, insights.text
    assert insights.json()["report"]["users"] == [
        {
            "template_ids": ids,
            "user_id": row["user"]["id"],
            "username": row["user"]["username"],
            "avatar_url": "https://www.gravatar.com/avatar/" + row["user"]["avatarHash"],
            "seconds": int(row["seconds"]),
        }
        for row in answer["userActivity"]
    ]


SESSIONS = """
query($org: ID!, $filter: SessionFilter!, $interval: SessionInterval!, $by: CostDimension!) {
  organization(id: $org) {
    sessionAnalytics(filter: $filter) {
      scope start end
      summary { totalSessions totalCost totalTokens inputTokens outputTokens cacheReadTokens cacheWriteTokens
                averageDurationSeconds averageCostPerSession uniqueUsers unpricedSessions }
      timeseries(interval: $interval) { start end sessions cost tokens }
      byAgent { agent sessions users totalCost averageCost averageDurationSeconds tokens }
      costBreakdown(by: $by) { key label cost share sessions tokens }
    }
  }
}
"""

session_strategy = st.lists(
    st.tuples(
        st.integers(0, 2),  # user
        st.sampled_from(["claude-code", "cursor", "aider"]),
        st.integers(0, 6 * 1440),  # start, minutes after BASE
        st.one_of(st.none(), st.integers(0, 600)),  # duration in minutes (None: still open)
        st.sampled_from([None, 0, 1]),  # project
        st.sampled_from([None, "acme/web", "acme/api"]),
        st.lists(
            st.tuples(
                st.sampled_from(["sonnet", "opus", "mystery"]),
                st.integers(0, 10**7),
                st.integers(0, 10**6),
                st.one_of(st.none(), st.decimals(0, 50, places=6).map(str)),
            ),
            min_size=1,
            max_size=2,
            unique_by=lambda line: line[0],
        ),
    ),
    max_size=8,
)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    sessions=session_strategy,
    granularity=st.sampled_from(["day", "week"]),
    by=st.sampled_from(["model", "project", "user"]),
    agents=st.lists(st.sampled_from(["claude-code", "cursor", "aider"]), unique=True, max_size=2),
    as_member=st.booleans(),
)
async def test_sessions_analytics_equal_graphql(
    client: httpx.AsyncClient,
    gql: GraphQL,
    factory: Factory,
    engine: AsyncEngine,
    sessions: list[Any],
    granularity: str,
    by: str,
    agents: list[str],
    as_member: bool,
) -> None:
    org = await factory.organization()
    users = [await factory.user(orgs={org: ["member"]}) for _ in range(3)]
    manager = await factory.user(orgs={org: ["manager"]})
    projects = [await factory.project(org, "web"), await factory.project(org, "api")]
    for user, agent, offset, minutes, project, repository, usage in sessions:
        started = BASE + timedelta(minutes=offset)
        await ai_session(
            engine,
            org,
            users[user],
            started,
            None if minutes is None else started + timedelta(minutes=minutes),
            agent=agent,
            project=None if project is None else projects[project],
            repository=repository,
            usage=[(model, i, o, 0, 0, cost) for model, i, o, cost in usage],
        )
    token = await factory.token(users[0] if as_member else manager)
    window = {"start": iso(BASE), "end": iso(BASE + timedelta(days=7))}
    body = await gql(
        SESSIONS,
        {
            "org": str(org),
            "filter": {**window, "agents": agents or None},
            "interval": granularity.upper(),
            "by": by.upper(),
        },
        token=token,
    )
    assert "errors" not in body, body
    a = body["data"]["organization"]["sessionAnalytics"]
    frame = {"scope": a["scope"].lower(), "start": rfc3339(a["start"]), "end": rfc3339(a["end"])}
    base = f"/api/v1/{org}/sessions/analytics"
    query = [*window.items(), *(("agent", agent) for agent in agents)]
    headers = {"Session-Token": token}

    async def get(path: str, *extra: tuple[str, str]) -> Any:
        response = await client.get(f"{base}/{path}", params=[*query, *extra], headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    s = a["summary"]
    assert await get("summary") == {
        "total_sessions": s["totalSessions"],
        "total_cost": s["totalCost"],
        "total_tokens": s["totalTokens"],
        "input_tokens": s["inputTokens"],
        "output_tokens": s["outputTokens"],
        "cache_read_tokens": s["cacheReadTokens"],
        "cache_write_tokens": s["cacheWriteTokens"],
        "average_session_duration_seconds": s["averageDurationSeconds"],
        "average_cost_per_session": s["averageCostPerSession"],
        "unique_users": s["uniqueUsers"],
        "unpriced_sessions": s["unpricedSessions"],
        **frame,
    }
    assert await get("timeseries", ("granularity", granularity)) == {
        **frame,
        "granularity": granularity,
        "timeseries": [
            {**p, "start": rfc3339(p["start"]), "end": rfc3339(p["end"])} for p in a["timeseries"]
        ],
    }
    assert await get("by-agent") == {
        **frame,
        "agents": [
            {
                "agent": r["agent"],
                "sessions": r["sessions"],
                "users": r["users"],
                "total_cost": r["totalCost"],
                "average_cost": r["averageCost"],
                "average_duration_seconds": r["averageDurationSeconds"],
                "tokens": r["tokens"],
            }
            for r in a["byAgent"]
        ],
    }
    assert await get("cost-breakdown", ("by", by)) == {**frame, "by": by, "breakdown": a["costBreakdown"]}
    assert frame["scope"] == ("self" if as_member else "team")
    assert uuid.UUID(str(org))
