"""The REST routes of the APIs usagegraph stands in for (docs/rest.md). Each handler builds the variables
of a persisted document (usagegraph.http.rest.documents), runs it through the GraphQL endpoint and reshapes
the answer; no analytic is computed here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from usagegraph.http.rest import documents as d
from usagegraph.http.rest import schemas as s
from usagegraph.http.rest.core import Call, RestRoute, not_found
from usagegraph.http.rest.params import (
    Param,
    as_interval,
    datetime_param,
    enum_param,
    int_param,
    invalid,
    text_param,
    uuid_param,
)

NANOS = 1_000_000_000
CATEGORIES = ("any", "ide", "login", "app", "tunnel", "web_terminal")
METRICS = ("dau", "wau", "mau")
SECTIONS = ("interval_reports", "report")
DAU_DAYS = 60


def _nanos(seconds: float) -> int:
    # every duration of the engine is a whole number of seconds (minutes, or buckets of whole minutes)
    return round(seconds) * NANOS


def _utc(value: str) -> str:
    """A DateTime of the GraphQL answer (always UTC) in RFC 3339 with `Z`."""
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- 1. activity -----------------------------------------------------------------------------------------


async def activity(call: Call) -> dict[str, Any]:
    v = call.values
    category = v["category"]
    data = await call.run(
        d.ACTIVITY,
        {
            "start": v["start"],
            "end": v["end"],
            "interval": v["interval"],
            "category": category.upper(),
            "org": v["org"],
            "timezone": v["timezone"],
        },
        "RestActivity",
    )
    report = data["activity"]
    logins = category == "login"

    def count(seconds: float, sessions: int) -> int:
        # active minutes, as the original API counts; a LOGIN has no minutes, so logins are counted
        return sessions if logins else round(seconds) // 60

    buckets = [
        {
            "time": _utc(bucket["start"]),
            "duration": _nanos(bucket["durationSeconds"]),
            "user_activity": [
                {
                    "user_id": row["user"]["id"],
                    "duration": _nanos(row["durationSeconds"]),
                    "count": count(row["durationSeconds"], row["count"]),
                }
                for row in bucket["userActivity"]
            ],
        }
        for bucket in report["buckets"]
    ]
    users = {
        row["user"]["id"]: {
            "id": row["user"]["id"],
            "name": row["user"]["name"],
            "username": row["user"]["username"],
            "roles": row["user"]["roles"],
            "avatar_hash": row["user"]["avatarHash"],
            "total_count": count(row["totalDurationSeconds"], row["totalCount"]),
            "total_duration": _nanos(row["totalDurationSeconds"]),
        }
        for row in report["users"]
    }
    return {"activity": buckets, "users": users}


INTERVAL = Param(
    "interval",
    "query",
    {"type": "string", "pattern": r"^\s*(\d{1,6}\s*[A-Za-z]+|[Pp]([Tt])?\d{1,6}[A-Za-z])\s*$"},
    "Bucket length: `1 hour`, `1 day`, `1 week`, `90 day`, `1 month`, `1 year` (count and unit) or ISO 8601 "
    "(`P1D`, `P1W`, `PT1H`).",
    as_interval,
    default="1 day",
)
TIMEZONE = text_param(
    "timezone",
    "IANA time zone of the calendar arithmetic (days, weeks, months).",
    default="UTC",
    max_length=64,
)

ACTIVITY = RestRoute(
    path="/api/private/metrics/activity",
    operation_id="getActivity",
    summary="Per-user activity in buckets",
    description="Buckets of `interval` from `start` to `end` with each user's active time; deployment-wide "
    "unless `org` is given (needs `activity:read` site-wide, or in `org`).",
    tag="activity",
    params=(
        datetime_param("start", "Start of the range (RFC 3339, whole minute).", required=True),
        datetime_param("end", "End of the range, exclusive (RFC 3339, whole minute).", required=True),
        enum_param("category", CATEGORIES, "Sessions counted; `any` = every category.", default="any"),
        INTERVAL,
        uuid_param("org", "query", "Organization; omitted = the whole deployment."),
        TIMEZONE,
    ),
    response=s.ACTIVITY,
    handler=activity,
    statuses=(401, 403, 404, 422, 429, 503),
)


# --- 2. workspace usage metrics ----------------------------------------------------------------------------


async def workspace_usage(call: Call) -> list[dict[str, Any]]:
    v = call.values
    wanted = set(v["metrics"] or METRICS)
    data = await call.run(
        d.WORKSPACE_USAGE,
        {
            "workspace": v["workspace_id"],
            "periodLength": v["period_length"],
            **{m: m in wanted for m in METRICS},
        },
        "RestWorkspaceUsage",
    )
    scope = data.get("scope")
    if scope is None or scope["organization"]["id"] != v["org_id"]:
        raise not_found("workspace")
    if data.get("metrics") is None:
        raise call.error(call.errors[0]) if call.errors else not_found("workspace")
    return [
        {"date": row["date"], **{m: row.get(m) for m in METRICS}} for row in data["metrics"]["usageMetrics"]
    ]


WORKSPACE_USAGE = RestRoute(
    path="/api/v2/org/{org_id}/workspace/{workspace_id}/metrics/usage",
    operation_id="getWorkspaceUsageMetrics",
    summary="Daily, weekly and monthly active users of a workspace",
    description="One row per day from `today - period_length` to today (UTC), oldest first, counting the "
    "workspace's LOGIN events; weeks run Monday to Sunday, months are calendar months; a day without data "
    "has `dau: null` and carries `wau` and `mau` forward. Needs `workspace_metrics:read`.",
    tag="workspace metrics",
    params=(
        uuid_param("org_id", "path", "Organization of the workspace.", required=True),
        uuid_param("workspace_id", "path", "Workspace.", required=True),
        int_param("period_length", 1, 3660, "Days before today to cover.", default=365),
        enum_param(
            "metrics", METRICS, "Metrics to compute (repeated or comma-separated); none = all.", many=True
        ),
    ),
    response=s.USAGE_METRICS,
    handler=workspace_usage,
    statuses=(401, 403, 404, 422, 429, 503),
    arguments={"periodLength": "period_length"},
)


# --- 3. template insights ----------------------------------------------------------------------------------


async def _organization(call: Call) -> str:
    """The organization of an insights request: `organization` when given, else that of the first of
    `template_ids`, else the caller's only organization."""
    v = call.values
    if v.get("organization"):
        return str(v["organization"])
    if v.get("template_ids"):
        data = await call.run(
            d.ORGANIZATION_OF_TEMPLATE, {"template": v["template_ids"][0]}, "RestTemplateOrganization"
        )
        if data.get("template") is None:
            raise not_found(f"template {v['template_ids'][0]}")
        return str(data["template"]["organization"]["id"])
    data = await call.run(d.VIEWER_ORGANIZATIONS, {}, "RestViewerOrganizations")
    organizations = [org["id"] for org in data["organizations"]]
    if not organizations:
        raise not_found("organization")
    if len(organizations) > 1:
        raise invalid(
            "query",
            "organization",
            "the caller sees several organizations: name one with `organization` or give `template_ids`",
        )
    return str(organizations[0])


async def _insights_variables(call: Call) -> dict[str, Any]:
    v = call.values
    return {
        "org": await _organization(call),
        "ids": v["template_ids"] or None,
        "start": v["start_time"],
        "end": v["end_time"],
    }


async def template_insights(call: Call) -> dict[str, Any]:
    v = call.values
    sections = set(v["sections"] or SECTIONS)
    variables = await _insights_variables(call)
    data = await call.run(
        d.TEMPLATE_INSIGHTS,
        {
            **variables,
            "interval": v["interval"].upper() if v["interval"] else None,
            "report": "report" in sections,
            "intervals": "interval_reports" in sections,
        },
        "RestTemplateInsights",
    )
    insights = data["templateInsights"]
    template_ids = [t["id"] for t in insights["templates"]]
    answer: dict[str, Any] = {}
    if "report" in sections:
        answer["report"] = {
            "start_time": _utc(insights["start"]),
            "end_time": _utc(insights["end"]),
            "template_ids": template_ids,
            "active_users": insights["activeUsers"],
            "apps_usage": [
                {
                    "template_ids": template_ids,
                    "type": app["kind"].lower(),
                    "display_name": app["displayName"],
                    "slug": app["slug"],
                    "icon": "",
                    "seconds": round(app["seconds"]),
                    "times_used": app["timesUsed"],
                }
                for app in insights["appUsage"]
            ],
            "parameters_usage": [
                _parameter(parameter, insights["templates"]) for parameter in insights["parameters"]
            ],
        }
    if "interval_reports" in sections:
        interval = insights["interval"].lower()
        answer["interval_reports"] = [
            {
                "start_time": _utc(row["start"]),
                "end_time": _utc(row["end"]),
                "template_ids": template_ids,
                "interval": interval,
                "active_users": row["activeUsers"],
            }
            for row in insights["activeUsersSeries"]
        ]
    return answer


def _parameter(parameter: dict[str, Any], templates: list[dict[str, Any]]) -> dict[str, Any]:
    defining = [
        t for t in templates if any(p["name"] == parameter["name"] for p in t.get("parameters") or ())
    ]
    options: dict[str, dict[str, Any]] = {}
    for template in defining:
        for defined in template["parameters"]:
            if defined["name"] != parameter["name"]:
                continue
            for option in defined["options"]:
                options.setdefault(
                    option["value"],
                    {"name": option["name"], "description": "", "value": option["value"], "icon": ""},
                )
    return {
        "template_ids": [t["id"] for t in defining],
        "display_name": parameter["displayName"],
        "name": parameter["name"],
        "type": parameter["type"],
        "description": "",
        "options": list(options.values()),
        "values": [{"value": row["value"], "count": row["count"]} for row in parameter["values"]],
    }


def _avatar_url(avatar_hash: str) -> str:
    return f"https://www.gravatar.com/avatar/{avatar_hash}"


async def user_activity(call: Call) -> dict[str, Any]:
    data = await call.run(d.USER_ACTIVITY, await _insights_variables(call), "RestUserActivity")
    insights = data["templateInsights"]
    template_ids = [t["id"] for t in insights["templates"]]
    return {
        "report": {
            "start_time": _utc(insights["start"]),
            "end_time": _utc(insights["end"]),
            "template_ids": template_ids,
            "users": [
                {
                    "template_ids": template_ids,
                    "user_id": row["user"]["id"],
                    "username": row["user"]["username"],
                    "avatar_url": _avatar_url(row["user"]["avatarHash"]),
                    "seconds": round(row["seconds"]),
                }
                for row in insights["userActivity"]
            ],
        }
    }


async def user_latency(call: Call) -> dict[str, Any]:
    data = await call.run(d.USER_LATENCY, await _insights_variables(call), "RestUserLatency")
    insights = data["templateInsights"]
    template_ids = [t["id"] for t in insights["templates"]]
    return {
        "report": {
            "start_time": _utc(insights["start"]),
            "end_time": _utc(insights["end"]),
            "template_ids": template_ids,
            "users": [
                {
                    "template_ids": template_ids,
                    "user_id": row["user"]["id"],
                    "username": row["user"]["username"],
                    "avatar_url": _avatar_url(row["user"]["avatarHash"]),
                    "latency_ms": {"p50": row["p50"]["ms"], "p95": row["p95"]["ms"]},
                }
                for row in insights["userLatency"]
            ],
        }
    }


def _dau_range(offset: int, today: date | None = None) -> tuple[str, str, str]:
    """The last DAU_DAYS local days through today at UTC`offset`: (start, end, IANA zone)."""
    zone = timezone(timedelta(hours=offset))
    local_today = today or datetime.now(zone).date()
    first = local_today - timedelta(days=DAU_DAYS - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    end = start + timedelta(days=DAU_DAYS)
    name = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    return start.isoformat(), end.isoformat(), name


def _dau_entries(rows: list[dict[str, Any]], offset: int) -> dict[str, Any]:
    zone = timezone(timedelta(hours=offset))
    return {
        "entries": [
            {
                "date": datetime.fromisoformat(row["start"]).astimezone(zone).date().isoformat(),
                "amount": row["activeUsers"],
            }
            for row in rows
        ],
        "tz_hour_offset": offset,
    }


async def deployment_daus(call: Call) -> dict[str, Any]:
    offset = call.values["tz_offset"]
    start, end, zone = _dau_range(offset)
    data = await call.run(
        d.DEPLOYMENT_DAUS,
        {"start": start, "end": end, "org": call.values["organization"], "timezone": zone},
        "RestDeploymentDaus",
    )
    return _dau_entries(data["activity"]["buckets"], offset)


async def template_daus(call: Call) -> dict[str, Any]:
    offset = call.values["tz_offset"]
    start, end, zone = _dau_range(offset)
    data = await call.run(
        d.TEMPLATE_DAUS,
        {"template": call.values["id"], "start": start, "end": end, "timezone": zone},
        "RestTemplateDaus",
    )
    if data.get("template") is None:
        raise not_found("template")
    return _dau_entries(data["template"]["insights"]["activeUsersSeries"], offset)


def _insights_params(*extra: Param) -> tuple[Param, ...]:
    return (
        datetime_param("start_time", "Start of the range (RFC 3339, whole minute).", required=True),
        datetime_param("end_time", "End of the range, exclusive (RFC 3339, whole minute).", required=True),
        uuid_param(
            "template_ids",
            "query",
            "Templates (comma-separated or repeated); omitted = every template the caller may see in the organization.",
            many=True,
        ),
        uuid_param(
            "organization",
            "query",
            "Organization of the report; omitted = that of the first template of `template_ids`, or the caller's "
            "only organization.",
        ),
        *extra,
    )


INSIGHTS_ARGUMENTS = {
    "start": "start_time",
    "end": "end_time",
    "templateIds": "template_ids",
    "organizationId": "organization",
    "interval": "interval",
}
TZ_OFFSET = int_param("tz_offset", -12, 14, "Hours east of UTC of the calendar days.", default=0)

TEMPLATE_INSIGHTS = RestRoute(
    path="/api/v2/insights/templates",
    operation_id="getTemplateInsights",
    summary="Template insights: active users, app usage, parameter usage",
    description="Needs `insights:read` in the organization or an insights grant on each template.",
    tag="template insights",
    params=_insights_params(
        enum_param(
            "interval",
            ("day", "week"),
            "Interval of `interval_reports`; omitted = `day` for templates younger "
            "than five weeks, else `week`.",
        ),
        enum_param(
            "sections", SECTIONS, "Sections to compute (comma-separated or repeated); none = both.", many=True
        ),
    ),
    response=s.TEMPLATE_INSIGHTS,
    handler=template_insights,
    statuses=(401, 403, 404, 422, 429, 503),
    arguments=INSIGHTS_ARGUMENTS,
)
USER_ACTIVITY = RestRoute(
    path="/api/v2/insights/user-activity",
    operation_id="getInsightsUserActivity",
    summary="Time each user spent in workspaces of the templates",
    description="Seconds of activity per user (whole minutes, counted once across apps and templates).",
    tag="template insights",
    params=_insights_params(),
    response=s.USER_ACTIVITY,
    handler=user_activity,
    statuses=(401, 403, 404, 422, 429, 503),
    arguments=INSIGHTS_ARGUMENTS,
)
USER_LATENCY = RestRoute(
    path="/api/v2/insights/user-latency",
    operation_id="getInsightsUserLatency",
    summary="Connection latency per user",
    description="Exact median and 95th percentile of each user's latency samples in the range.",
    tag="template insights",
    params=_insights_params(),
    response=s.USER_LATENCY,
    handler=user_latency,
    statuses=(401, 403, 404, 422, 429, 503),
    arguments=INSIGHTS_ARGUMENTS,
)
DEPLOYMENT_DAUS = RestRoute(
    path="/api/v2/insights/daus",
    operation_id="getDeploymentDaus",
    summary="Daily active users of the deployment, last 60 days",
    description="Users with activity of any category on each local day; deployment-wide (needs `activity:read` "
    "site-wide) unless `organization` is given.",
    tag="template insights",
    params=(TZ_OFFSET, uuid_param("organization", "query", "Organization; omitted = the whole deployment.")),
    response=s.DAUS,
    handler=deployment_daus,
    statuses=(401, 403, 404, 422, 429, 503),
)
TEMPLATE_DAUS = RestRoute(
    path="/api/v2/templates/{id}/daus",
    operation_id="getTemplateDaus",
    summary="Daily active users of a template, last 60 days",
    description="Users with an active minute in a workspace of the template on each local day.",
    tag="template insights",
    params=(uuid_param("id", "path", "Template.", required=True), TZ_OFFSET),
    response=s.DAUS,
    handler=template_daus,
    statuses=(401, 403, 404, 422, 429, 503),
)


# --- 4. AI sessions analytics ------------------------------------------------------------------------------


def _filter(call: Call) -> dict[str, Any]:
    v = call.values
    return {
        "org": v["org_id"],
        "filter": {
            "start": v["start"],
            "end": v["end"],
            "projectIds": v["project"] or None,
            "repositories": v["repository"] or None,
            "agents": v["agent"] or None,
            "userIds": v["user"] or None,
        },
    }


async def _analytics(call: Call, source: str, name: str, **extra: Any) -> dict[str, Any]:
    data = await call.run(source, {**_filter(call), **extra}, name)
    if data.get("organization") is None:
        raise call.error(call.errors[0]) if call.errors else not_found("organization")
    analytics: dict[str, Any] = data["organization"]["sessionAnalytics"]
    return analytics


def _frame(analytics: dict[str, Any]) -> dict[str, Any]:
    return {
        "scope": analytics["scope"].lower(),
        "start": _utc(analytics["start"]),
        "end": _utc(analytics["end"]),
    }


async def sessions_summary(call: Call) -> dict[str, Any]:
    analytics = await _analytics(call, d.SESSIONS_SUMMARY, "RestSessionsSummary")
    summary = analytics["summary"]
    return {
        "total_sessions": summary["totalSessions"],
        "total_cost": summary["totalCost"],
        "total_tokens": summary["totalTokens"],
        "input_tokens": summary["inputTokens"],
        "output_tokens": summary["outputTokens"],
        "cache_read_tokens": summary["cacheReadTokens"],
        "cache_write_tokens": summary["cacheWriteTokens"],
        "average_session_duration_seconds": summary["averageDurationSeconds"],
        "average_cost_per_session": summary["averageCostPerSession"],
        "unique_users": summary["uniqueUsers"],
        "unpriced_sessions": summary["unpricedSessions"],
        **_frame(analytics),
    }


async def sessions_timeseries(call: Call) -> dict[str, Any]:
    granularity = call.values["granularity"]
    analytics = await _analytics(
        call,
        d.SESSIONS_TIMESERIES,
        "RestSessionsTimeseries",
        interval=granularity.upper(),
        timezone=call.values["timezone"],
    )
    return {
        **_frame(analytics),
        "granularity": granularity,
        "timeseries": [
            {
                "start": _utc(point["start"]),
                "end": _utc(point["end"]),
                "sessions": point["sessions"],
                "cost": point["cost"],
                "tokens": point["tokens"],
            }
            for point in analytics["timeseries"]
        ],
    }


async def sessions_by_agent(call: Call) -> dict[str, Any]:
    analytics = await _analytics(call, d.SESSIONS_BY_AGENT, "RestSessionsByAgent")
    return {
        **_frame(analytics),
        "agents": [
            {
                "agent": row["agent"],
                "sessions": row["sessions"],
                "users": row["users"],
                "total_cost": row["totalCost"],
                "average_cost": row["averageCost"],
                "average_duration_seconds": row["averageDurationSeconds"],
                "tokens": row["tokens"],
            }
            for row in analytics["byAgent"]
        ],
    }


async def sessions_cost_breakdown(call: Call) -> dict[str, Any]:
    by = call.values["by"]
    analytics = await _analytics(call, d.SESSIONS_COST_BREAKDOWN, "RestSessionsCostBreakdown", by=by.upper())
    return {
        **_frame(analytics),
        "by": by,
        "breakdown": [
            {
                "key": row["key"],
                "label": row["label"],
                "cost": row["cost"],
                "share": row["share"],
                "sessions": row["sessions"],
                "tokens": row["tokens"],
            }
            for row in analytics["costBreakdown"]
        ],
    }


def _sessions_params(*extra: Param) -> tuple[Param, ...]:
    return (
        uuid_param("org_id", "path", "Organization.", required=True),
        datetime_param("start", "Sessions started at or after (RFC 3339); default: 30 days before `end`."),
        datetime_param("end", "Sessions started before (RFC 3339); default: now."),
        uuid_param("project", "query", "Project ids (repeatable).", many=True),
        text_param("repository", "Repositories (repeatable).", many=True),
        text_param("agent", "Agents (repeatable).", many=True),
        uuid_param(
            "user", "query", "User ids (repeatable); without team rights only the caller's own id.", many=True
        ),
        *extra,
    )


SESSIONS_ARGUMENTS = {"filter": "end", "interval": "granularity", "timezone": "timezone"}
SESSIONS_DESCRIPTION = (
    " A caller with `sessions:read:team` sees the team (`scope: team`); with `sessions:read:own` only their own "
    "sessions (`scope: self`)."
)


def _sessions_route(
    path: str, operation_id: str, summary: str, response: dict[str, Any], handler: Any, *extra: Param
) -> RestRoute:
    return RestRoute(
        path=f"/api/v1/{{org_id}}/sessions/analytics/{path}",
        operation_id=operation_id,
        summary=summary,
        description=summary + "." + SESSIONS_DESCRIPTION,
        tag="AI sessions analytics",
        params=_sessions_params(*extra),
        response=response,
        handler=handler,
        statuses=(401, 403, 404, 422, 429, 503),
        arguments=SESSIONS_ARGUMENTS,
    )


SESSIONS_SUMMARY = _sessions_route(
    "summary",
    "getSessionsSummary",
    "Key figures of the AI coding sessions",
    s.SESSIONS_SUMMARY,
    sessions_summary,
)
SESSIONS_TIMESERIES = _sessions_route(
    "timeseries",
    "getSessionsTimeseries",
    "Sessions, cost and tokens per day or Monday-week",
    s.SESSIONS_TIMESERIES,
    sessions_timeseries,
    enum_param("granularity", ("day", "week"), "Bucket of the series.", default="day"),
    TIMEZONE,
)
SESSIONS_BY_AGENT = _sessions_route(
    "by-agent",
    "getSessionsByAgent",
    "Sessions, users, cost and tokens per agent",
    s.SESSIONS_BY_AGENT,
    sessions_by_agent,
)
SESSIONS_COST_BREAKDOWN = _sessions_route(
    "cost-breakdown",
    "getSessionsCostBreakdown",
    "Cost per model, project or user",
    s.SESSIONS_COST_BREAKDOWN,
    sessions_cost_breakdown,
    enum_param("by", ("model", "project", "user"), "Dimension of the breakdown.", default="model"),
)

ROUTES: tuple[RestRoute, ...] = (
    ACTIVITY,
    WORKSPACE_USAGE,
    TEMPLATE_INSIGHTS,
    USER_ACTIVITY,
    USER_LATENCY,
    DEPLOYMENT_DAUS,
    TEMPLATE_DAUS,
    SESSIONS_SUMMARY,
    SESSIONS_TIMESERIES,
    SESSIONS_BY_AGENT,
    SESSIONS_COST_BREAKDOWN,
)
