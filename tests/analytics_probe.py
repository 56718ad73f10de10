"""Every analytics field of the API, asked for one organization over one range: the answers two
deployments holding the same records must give alike (tests/ingest/test_export.py), and the reads a
replica serves (tests/db/test_read_replica.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQL

USER = "user { id username }"
STATS = "average p95 max"
SESSIONS = """summary { totalSessions totalCost totalTokens inputTokens outputTokens cacheReadTokens
    cacheWriteTokens averageDurationSeconds averageCostPerSession uniqueUsers unpricedSessions }
  timeseries(interval: DAY) { start end sessions cost tokens }
  byAgent { agent sessions users totalCost averageCost averageDurationSeconds tokens }
  byModel: costBreakdown(by: MODEL) { key label cost share sessions tokens }
  byProject: costBreakdown(by: PROJECT) { key label cost share sessions tokens }
  byUser: costBreakdown(by: USER) { key label cost share sessions tokens }
  users { SESSION_USER sessions cost tokens averageDurationSeconds favoriteAgent agents { agent sessions }
    durationHistogram { le count } timeseries(interval: DAY) { start end sessions cost tokens } }""".replace(
    "SESSION_USER", USER
)

ANALYTICS = f"""
query Analytics($org: ID!, $start: DateTime!, $end: DateTime!, $day0: Date!, $day1: Date!) {{
  activity(start: $start, end: $end, interval: "1 day", organizationId: $org) {{
    start end interval category
    buckets {{ start end durationSeconds activeUsers userActivity {{ {USER} durationSeconds count }} }}
    users {{ {USER} totalDurationSeconds totalCount }}
  }}
  ide: activity(start: $start, end: $end, interval: "6 hours", category: IDE, organizationId: $org) {{
    buckets {{ start durationSeconds activeUsers }}
    users {{ {USER} totalDurationSeconds totalCount }}
  }}
  templateInsights(organizationId: $org, start: $start, end: $end) {{
    start end interval activeUsers templates {{ id name }}
    activeUsersSeries {{ start end activeUsers complete }}
    userLatency {{ {USER} p50 {{ ms band }} p95 {{ ms band }} samples }}
    appUsage {{ slug displayName kind category seconds users timesUsed }}
    userActivity {{ {USER} seconds }}
    parameters {{ name displayName type values {{ value count }} }}
  }}
  organization(id: $org) {{
    name
    logins: usageMetrics(start: $day0, end: $day1) {{ date dau wau mau }}
    rolling: usageMetrics(start: $day0, end: $day1, window: ROLLING, category: ANY) {{ date dau wau mau }}
    sessionAnalytics(filter: {{start: $start, end: $end}}) {{ scope start end {SESSIONS} }}
    compute(start: $start, end: $end, interval: "1 day") {{
      nodes {{ node cpu {{ {STATS} }} memory {{ {STATS} }} series {{ start end cpu memory }} }}
      workspaces {{ workspace {{ id name }} {USER} node cpu {{ {STATS} }} memory {{ {STATS} }} samples }}
    }}
  }}
}}
"""


async def every_field(gql: GraphQL, token: str, org: str, start: str, end: str) -> dict[str, Any]:
    """The answers of every analytics field for `org` over [start, end) (ISO timestamps at midnight)."""
    body = await gql(
        ANALYTICS,
        {"org": org, "start": start, "end": end, "day0": start[:10], "day1": end[:10]},
        token,
    )
    assert body["_status"] == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data
