"""The AI sessions page against the demo data: KPIs, the timeseries, per agent, the cost breakdowns and
the per-user analytics equal the GraphQL answers for the same filters; filters live in the URL and the
back button restores them; CSV holds every row; a member sees "your sessions" only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.browser.conftest import (
    Api,
    Watched,
    axe_violations,
    download_csv,
    open_page,
    ready,
    row_count,
    rows,
    screenshot,
)
from tests.browser.world import World

ANALYTICS = """query ($org: ID!, $filter: SessionFilter, $interval: SessionInterval!) {
  organization(id: $org) { sessionAnalytics(filter: $filter) {
    scope
    summary { totalSessions totalCost totalTokens inputTokens outputTokens cacheReadTokens cacheWriteTokens
      averageDurationSeconds averageCostPerSession uniqueUsers unpricedSessions }
    timeseries(interval: $interval, timezone: "UTC") { start end sessions cost tokens }
    byAgent { agent sessions users totalCost averageCost averageDurationSeconds tokens }
    model: costBreakdown(by: MODEL) { key label cost share sessions tokens }
    project: costBreakdown(by: PROJECT) { key label cost share sessions tokens }
    user: costBreakdown(by: USER) { key label cost share sessions tokens }
    users { user { id username } sessions cost tokens averageDurationSeconds agents { agent sessions }
      durationHistogram { le count } timeseries(interval: $interval, timezone: "UTC") { start sessions } }
  } }
}"""
PANELS = (
    "session-summary",
    "session-timeseries",
    "session-agents",
    "cost-model",
    "cost-project",
    "cost-user",
    "session-users",
)
KPIS = (
    "totalSessions",
    "totalCost",
    "totalTokens",
    "averageDurationSeconds",
    "averageCostPerSession",
    "uniqueUsers",
)


def _range() -> tuple[str, str, dict[str, str]]:
    today = datetime.now(UTC).date()
    first = today - timedelta(days=20)
    return (
        first.isoformat(),
        today.isoformat(),
        {
            "start": f"{first}T00:00:00Z",
            "end": f"{today + timedelta(days=1)}T00:00:00Z",
        },
    )


async def _org(api: Api, token: str) -> str:
    body = await api(token, "{ organizations { id name } }")
    org: str = body["data"]["organizations"][0]["id"]
    return org


async def _analytics(
    api: Api, token: str, org: str, interval: str = "DAY", **filters: list[str]
) -> dict[str, Any]:
    _, _, instants = _range()
    body = await api(token, ANALYTICS, {"org": org, "filter": {**instants, **filters}, "interval": interval})
    assert "errors" not in body, body
    analytics: dict[str, Any] = body["data"]["organization"]["sessionAnalytics"]
    return analytics


def _url(org: str, extra: str = "") -> str:
    first, last, _ = _range()
    return f"/ui/sessions?org={org}&range=custom&from={first}&to={last}&tz=UTC{extra}"


def _blank(value: Any) -> str:
    return "" if value is None else str(value)


async def _kpis(page: Any) -> dict[str, str]:
    found: dict[str, str] = await page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('[data-kpi]')].map(k => [k.dataset.kpi, k.dataset.value]))"
    )
    return found


async def _assert_summary(page: Any, summary: dict[str, Any]) -> None:
    # the page redraws after the URL changed: wait for this summary, then compare every number
    await page.wait_for_selector(f'[data-kpi="totalSessions"][data-value="{summary["totalSessions"]}"]')
    kpis = await _kpis(page)
    for key in KPIS:
        if isinstance(summary[key], float):
            assert float(kpis[key]) == summary[key], key
        else:
            assert kpis[key] == _blank(summary[key]), key
    if summary["unpricedSessions"]:
        assert kpis["unpricedSessions"] == str(summary["unpricedSessions"])
    else:
        assert "unpricedSessions" not in kpis
    cache = await page.get_attribute('[data-kpi="totalTokens"] [data-cache]', "data-cache")
    assert int(cache) == summary["cacheReadTokens"] + summary["cacheWriteTokens"]


async def _wait_rows(page: Any, table: str, count: int) -> None:
    await page.wait_for_function(
        '([t, n]) => document.querySelectorAll(`[data-table="${t}"] tbody tr[data-row]`).length === n',
        arg=[table, count],
    )


async def _assert_timeseries(page: Any, points: list[dict[str, Any]]) -> None:
    await _wait_rows(page, "session-timeseries", len(points))
    shown = await rows(page, "session-timeseries")
    assert [
        (r["start"]["value"], r["sessions"]["value"], r["cost"]["value"], r["tokens"]["value"]) for r in shown
    ] == [(p["start"], str(p["sessions"]), p["cost"], str(p["tokens"])) for p in points]


async def _assert_agents(page: Any, agents: list[dict[str, Any]]) -> None:
    await _wait_rows(page, "session-agents", len(agents))
    shown = await rows(page, "session-agents")
    assert [
        (
            r["agent"]["value"],
            r["sessions"]["value"],
            r["users"]["value"],
            r["averageCost"]["value"],
            r["totalCost"]["value"],
            r["tokens"]["value"],
            float(r["averageDurationSeconds"]["value"]),
        )
        for r in shown
    ] == [
        (
            a["agent"],
            str(a["sessions"]),
            str(a["users"]),
            a["averageCost"],
            a["totalCost"],
            str(a["tokens"]),
            -1.0 if a["averageDurationSeconds"] is None else a["averageDurationSeconds"],
        )
        for a in agents
    ]


async def test_sessions_page_shows_the_api_numbers(page: Watched, world: World, api: Api) -> None:
    org = await _org(api, world.admin_token)
    await open_page(page, _url(org), world.admin_token)
    await ready(page.page, *PANELS)
    assert "token=" not in page.page.url
    expected = await _analytics(api, world.admin_token, org)
    assert expected["scope"] == "TEAM"
    assert await page.page.get_attribute("[data-scope]", "data-scope") == "TEAM"
    summary = expected["summary"]
    assert summary["totalSessions"] > 50 and summary["uniqueUsers"] > 25

    await _assert_summary(page.page, summary)
    await _assert_timeseries(page.page, expected["timeseries"])
    assert len(expected["timeseries"]) == 21
    await _assert_agents(page.page, expected["byAgent"])
    assert len(expected["byAgent"]) >= 2

    # cost breakdowns: every slice counted, the first page in the API's order (cost desc)
    for dimension in ("model", "project", "user"):
        slices = expected[dimension]
        table = f"cost-{dimension}"
        assert await row_count(page.page, table) == len(slices) > 1
        shown = await rows(page.page, table)
        assert [
            (r["label"]["value"], r["cost"]["value"], float(r["share"]["value"]), r["sessions"]["value"])
            for r in shown
        ] == [(s["label"], s["cost"], s["share"], str(s["sessions"])) for s in slices[: len(shown)]]
    assert await row_count(page.page, "cost-user") > 10

    # per-user analytics: cost, sessions over time, agent shares and the duration histogram
    users = expected["users"]
    assert await row_count(page.page, "session-users") == len(users) > 25
    shown = await rows(page.page, "session-users")
    assert [(r["user"]["value"], r["cost"]["value"], r["sessions"]["value"]) for r in shown] == [
        (u["user"]["username"], u["cost"], str(u["sessions"])) for u in users[:25]
    ]
    details = await page.page.evaluate(
        """() => [...document.querySelectorAll('[data-table="session-users"] tbody tr[data-row]')].map(tr => ({
             id: tr.dataset.row,
             points: tr.querySelector('svg.spark').dataset.points,
             shares: [...tr.querySelectorAll('[data-agent]')].map(s => [s.dataset.agent, +s.dataset.sessions, +s.dataset.share]),
             histogram: [...tr.querySelectorAll('[data-count]')].map(b => [b.dataset.le, +b.dataset.count]),
           }))"""
    )
    for shown_user, user in zip(details, users, strict=False):
        assert shown_user["id"] == user["user"]["id"]
        assert shown_user["points"] == ",".join(str(p["sessions"]) for p in user["timeseries"])
        assert shown_user["shares"] == [
            [a["agent"], a["sessions"], a["sessions"] / user["sessions"]] for a in user["agents"]
        ]
        assert sum(a["sessions"] for a in user["agents"]) == user["sessions"]
        assert shown_user["histogram"] == [
            ["" if b["le"] is None else str(int(b["le"])), b["count"]] for b in user["durationHistogram"]
        ]
    assert any(len(u["agents"]) > 1 for u in users[:25])

    # CSV: a header and every user, in the order shown
    csv_rows = await download_csv(page.page, "session-users")
    assert csv_rows[0] == [
        "User",
        "Sessions",
        "Sessions per day",
        "Cost",
        "Tokens",
        "Average duration",
        "Agent preference",
        "Session durations",
    ]
    assert len(csv_rows) == len(users) + 1
    assert [r[0] for r in csv_rows[1:]] == [u["user"]["username"] for u in users]
    assert [r[2] for r in csv_rows[1:]] == [
        " ".join(str(p["sessions"]) for p in u["timeseries"]) for u in users
    ]
    cost_csv = await download_csv(page.page, "cost-model")
    assert cost_csv[0] == ["Model", "Share", "Cost", "Sessions", "Tokens"]
    assert [r[0] for r in cost_csv[1:]] == [s["label"] for s in expected["model"]]

    assert await axe_violations(page.page) == []
    await screenshot(page.page, "sessions")
    page.assert_clean()


async def test_filters_live_in_the_url_and_back_restores_them(page: Watched, world: World, api: Api) -> None:
    org = await _org(api, world.admin_token)
    await open_page(page, _url(org), world.admin_token)
    await ready(page.page, *PANELS)
    everything = await _analytics(api, world.admin_token, org)

    agent = everything["byAgent"][1]["agent"]
    await page.page.select_option('select[name="agent"]', agent)
    await page.page.wait_for_url(f"**agent={agent}**")
    await ready(page.page, *PANELS)
    one_agent = await _analytics(api, world.admin_token, org, agents=[agent])
    assert one_agent["summary"]["totalSessions"] < everything["summary"]["totalSessions"]
    await _assert_summary(page.page, one_agent["summary"])
    await _assert_agents(page.page, one_agent["byAgent"])

    await page.page.select_option('select[name="interval"]', "WEEK")
    await page.page.wait_for_url("**interval=WEEK**")
    await ready(page.page, "session-timeseries")
    weekly = await _analytics(api, world.admin_token, org, "WEEK", agents=[agent])
    await _assert_timeseries(page.page, weekly["timeseries"])

    # project and user filters, and the repository typed in
    # the first of the agent's users with sessions in a project (the world is drawn anew every day)
    user, project = "", None
    for entry in one_agent["users"]:
        user = entry["user"]["id"]
        theirs = await _analytics(api, world.admin_token, org, agents=[agent], userIds=[user])
        project = next((s["key"] for s in theirs["project"] if s["key"]), None)
        if project is not None:
            break
    assert project is not None, "one of the agent's users has sessions in a project"
    await page.page.select_option('select[name="project"]', project)
    await page.page.wait_for_url(f"**project={project}**")
    await page.page.select_option('select[name="user"]', user)
    await page.page.wait_for_url(f"**user={user}**")
    await ready(page.page, "session-summary")
    narrowed = await _analytics(
        api, world.admin_token, org, "WEEK", agents=[agent], projectIds=[project], userIds=[user]
    )
    await _assert_summary(page.page, narrowed["summary"])
    await page.page.fill('input[name="repo"]', "no-such/repository")
    await page.page.press('input[name="repo"]', "Enter")
    await page.page.wait_for_url("**repo=no-such**")
    await page.page.wait_for_selector('[data-panel="session-summary"][data-state="empty"]')
    await page.page.wait_for_selector('[data-panel="session-users"][data-state="empty"]')

    for _ in range(4):
        await page.page.go_back()
    await page.page.wait_for_function("!location.search.includes('interval=')")
    await ready(page.page, *PANELS)
    await _assert_summary(page.page, one_agent["summary"])
    await _assert_timeseries(page.page, one_agent["timeseries"])
    await page.page.go_back()
    await page.page.wait_for_function("!location.search.includes('agent=')")
    await ready(page.page, *PANELS)
    await _assert_summary(page.page, everything["summary"])
    assert await page.page.input_value('select[name="agent"]') == ""
    page.assert_clean()


async def test_a_member_sees_your_sessions(page: Watched, world: World, api: Api) -> None:
    org = await _org(api, world.member_token)
    await open_page(page, _url(org), world.member_token)
    await ready(page.page, *PANELS)
    mine = await _analytics(api, world.member_token, org)
    assert mine["scope"] == "SELF"
    assert mine["summary"]["uniqueUsers"] == 1 and mine["summary"]["totalSessions"] > 0
    scope = await page.page.text_content('[data-scope="SELF"]')
    assert scope is not None and "your sessions" in scope
    await _assert_summary(page.page, mine["summary"])
    await _assert_timeseries(page.page, mine["timeseries"])
    await _assert_agents(page.page, mine["byAgent"])
    shown = await rows(page.page, "session-users")
    assert [(r["user"]["value"], r["cost"]["value"]) for r in shown] == [
        (u["user"]["username"], u["cost"]) for u in mine["users"]
    ]
    # no user picker: another user's sessions are not this token's to ask for
    assert await page.page.query_selector('select[name="user"]') is None
    assert await axe_violations(page.page) == []
    await screenshot(page.page, "sessions-member")
    page.assert_clean()
