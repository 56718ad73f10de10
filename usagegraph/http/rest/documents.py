"""The persisted GraphQL documents behind the REST routes: each route runs one of these (the insights
routes may first run ORGANIZATION_OF_TEMPLATE or VIEWER_ORGANIZATIONS to learn the organization). The
operation names label the GraphQL operation counter."""

from __future__ import annotations

ACTIVITY = """
query RestActivity($start: DateTime!, $end: DateTime!, $interval: Interval!, $category: ActivityCategory!,
                   $org: ID, $timezone: String!) {
  activity(start: $start, end: $end, interval: $interval, category: $category, organizationId: $org,
           timezone: $timezone) {
    buckets { start durationSeconds userActivity { user { id } durationSeconds count } }
    users {
      user { id name username avatarHash roles(organizationId: $org) }
      totalDurationSeconds
      totalCount
    }
  }
}
"""

WORKSPACE_USAGE = """
query RestWorkspaceUsage($workspace: ID!, $periodLength: Int!, $dau: Boolean!, $wau: Boolean!,
                         $mau: Boolean!) {
  scope: workspace(id: $workspace) { organization { id } }
  metrics: workspace(id: $workspace) {
    usageMetrics(periodLength: $periodLength, window: CALENDAR, fill: FORWARD, category: LOGIN,
                 timezone: "UTC") {
      date
      dau @include(if: $dau)
      wau @include(if: $wau)
      mau @include(if: $mau)
    }
  }
}
"""

ORGANIZATION_OF_TEMPLATE = """
query RestTemplateOrganization($template: ID!) { template(id: $template) { organization { id } } }
"""

VIEWER_ORGANIZATIONS = """
query RestViewerOrganizations { organizations { id } }
"""

TEMPLATE_INSIGHTS = """
query RestTemplateInsights($org: ID!, $ids: [ID!], $start: DateTime!, $end: DateTime!,
                           $interval: InsightsInterval, $report: Boolean!, $intervals: Boolean!) {
  templateInsights(organizationId: $org, templateIds: $ids, start: $start, end: $end, interval: $interval) {
    start
    end
    interval
    templates { id parameters @include(if: $report) { name options { value name } } }
    activeUsers @include(if: $report)
    appUsage @include(if: $report) { slug displayName kind seconds timesUsed }
    parameters @include(if: $report) { name displayName type values { value count } }
    activeUsersSeries @include(if: $intervals) { start end activeUsers }
  }
}
"""

USER_ACTIVITY = """
query RestUserActivity($org: ID!, $ids: [ID!], $start: DateTime!, $end: DateTime!) {
  templateInsights(organizationId: $org, templateIds: $ids, start: $start, end: $end) {
    start
    end
    templates { id }
    userActivity { user { id username avatarHash } seconds }
  }
}
"""

USER_LATENCY = """
query RestUserLatency($org: ID!, $ids: [ID!], $start: DateTime!, $end: DateTime!) {
  templateInsights(organizationId: $org, templateIds: $ids, start: $start, end: $end) {
    start
    end
    templates { id }
    userLatency { user { id username avatarHash } p50 { ms } p95 { ms } }
  }
}
"""

DEPLOYMENT_DAUS = """
query RestDeploymentDaus($start: DateTime!, $end: DateTime!, $org: ID, $timezone: String!) {
  activity(start: $start, end: $end, interval: "1 day", category: ANY, organizationId: $org,
           timezone: $timezone) {
    buckets { start activeUsers }
  }
}
"""

TEMPLATE_DAUS = """
query RestTemplateDaus($template: ID!, $start: DateTime!, $end: DateTime!, $timezone: String!) {
  template(id: $template) {
    insights(start: $start, end: $end, interval: DAY, timezone: $timezone) {
      activeUsersSeries { start activeUsers }
    }
  }
}
"""

_SESSION_VARIABLES = "$org: ID!, $filter: SessionFilter!"

SESSIONS_SUMMARY = f"""
query RestSessionsSummary({_SESSION_VARIABLES}) {{
  organization(id: $org) {{
    sessionAnalytics(filter: $filter) {{
      scope
      start
      end
      summary {{
        totalSessions totalCost totalTokens inputTokens outputTokens cacheReadTokens cacheWriteTokens
        averageDurationSeconds averageCostPerSession uniqueUsers unpricedSessions
      }}
    }}
  }}
}}
"""

SESSIONS_TIMESERIES = f"""
query RestSessionsTimeseries({_SESSION_VARIABLES}, $interval: SessionInterval!, $timezone: String!) {{
  organization(id: $org) {{
    sessionAnalytics(filter: $filter) {{
      scope
      start
      end
      timeseries(interval: $interval, timezone: $timezone) {{ start end sessions cost tokens }}
    }}
  }}
}}
"""

SESSIONS_BY_AGENT = f"""
query RestSessionsByAgent({_SESSION_VARIABLES}) {{
  organization(id: $org) {{
    sessionAnalytics(filter: $filter) {{
      scope
      start
      end
      byAgent {{ agent sessions users totalCost averageCost averageDurationSeconds tokens }}
    }}
  }}
}}
"""

SESSIONS_COST_BREAKDOWN = f"""
query RestSessionsCostBreakdown({_SESSION_VARIABLES}, $by: CostDimension!) {{
  organization(id: $org) {{
    sessionAnalytics(filter: $filter) {{
      scope
      start
      end
      costBreakdown(by: $by) {{ key label cost share sessions tokens }}
    }}
  }}
}}
"""
