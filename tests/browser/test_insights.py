"""The Template Insights page against the demo data: every panel's numbers equal the GraphQL answer for
the same filters, latency colours follow the bands, the interval and template filters live in the URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.browser.conftest import (
    Api,
    Watched,
    axe_violations,
    download_csv,
    hmm,
    open_page,
    ready,
    row_count,
    rows,
    screenshot,
)
from tests.browser.world import Server, World, started

INSIGHTS = """query ($org: ID!, $start: DateTime!, $end: DateTime!, $templateIds: [ID!], $interval: InsightsInterval) {
  templateInsights(organizationId: $org, start: $start, end: $end, templateIds: $templateIds, interval: $interval, timezone: "UTC") {
    interval activeUsers activeUsersSeries { start activeUsers complete }
    userLatency { user { id username } p50 { ms band } p95 { ms band } samples }
    appUsage { slug seconds users timesUsed }
    userActivity { user { id username } seconds }
    parameters { name values { value count } }
  }
}"""
PANELS = (
    "insights-active-users",
    "insights-latency",
    "insights-apps",
    "insights-user-activity",
    "insights-parameters",
)
COLOURS = {"GREEN": "rgb(26, 127, 55)", "YELLOW": "rgb(154, 103, 0)", "RED": "rgb(207, 34, 46)"}
BUILTIN = {"vscode", "jetbrains", "ssh", "web-terminal", "code-server", "jupyter", "rstudio"}


def _range(days: int = 10) -> tuple[str, str, str, str]:
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    return (
        first.isoformat(),
        today.isoformat(),
        f"{first}T00:00:00Z",
        f"{today + timedelta(days=1)}T00:00:00Z",
    )


async def _insights(
    api: Api, token: str, org: str, template: str | None, interval: str | None
) -> dict[str, Any]:
    _, _, start, end = _range()
    body = await api(
        token,
        INSIGHTS,
        {
            "org": org,
            "start": start,
            "end": end,
            "templateIds": [template] if template else None,
            "interval": interval,
        },
    )
    assert "errors" not in body, body
    insights: dict[str, Any] = body["data"]["templateInsights"]
    return insights


def _ms(value: float) -> str:
    """As the page writes it (Number.toFixed: of the two nearest tenths of the exact value, the larger on
    a tie, where Python's format takes the even one: 113.25 is '113.3 ms')."""
    return f"{Decimal(value).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} ms"


async def _assert_series(page: Any, expected: dict[str, Any]) -> None:
    assert await page.get_attribute('[data-metric="active-users"]', "data-value") == str(
        expected["activeUsers"]
    )
    shown = await rows(page, "insights-active-users")
    assert [(r["start"]["value"], r["activeUsers"]["value"], r["complete"]["text"]) for r in shown] == [
        (p["start"], str(p["activeUsers"]), "complete" if p["complete"] else "partial")
        for p in expected["activeUsersSeries"]
    ]


async def test_insights_page_shows_the_api_numbers(page: Watched, world: World, api: Api) -> None:
    org = (await api(world.admin_token, "{ organizations { id } }"))["data"]["organizations"][0]["id"]
    first, last, _, _ = _range()
    # WEEK over 10 days: the last bucket is cut short by the range and drawn as partial
    path = f"/ui/insights?org={org}&range=custom&from={first}&to={last}&interval=WEEK&tz=UTC"
    await open_page(page, path, world.admin_token)
    await ready(page.page, *PANELS)
    expected = await _insights(api, world.admin_token, org, None, "WEEK")
    await _assert_series(page.page, expected)
    assert expected["activeUsersSeries"][-1]["complete"] is False

    # latency: p50/p95 values, bands and their colours, samples
    latency = expected["userLatency"]
    assert await row_count(page.page, "insights-latency") == len(latency) > 10
    bands_seen = set()
    for row, want in zip(await rows(page.page, "insights-latency"), latency, strict=False):
        assert row["user"]["text"] == want["user"]["username"]
        for key in ("p50", "p95"):
            assert float(row[key]["value"]) == want[key]["ms"]
            assert row[key]["text"].startswith(_ms(want[key]["ms"]))
            assert row[key]["band"] == want[key]["band"]
            assert row[key]["color"] == COLOURS[want[key]["band"]]
            bands_seen.add(want[key]["band"])
        assert row["samples"]["text"] == str(want["samples"])
    assert len(bands_seen) >= 2

    # app & IDE usage: time, times opened, users; built-in apps listed even when unused
    apps = {r["app"]["value"]: r for r in await rows(page.page, "insights-apps")}
    assert len(apps) == len(expected["appUsage"])
    slugs = await page.page.eval_on_selector_all(
        '[data-table="insights-apps"] tbody tr[data-row]', "trs => trs.map(t => t.dataset.row)"
    )
    assert slugs == [a["slug"] for a in expected["appUsage"]]
    assert BUILTIN <= set(slugs)
    shown = await rows(page.page, "insights-apps")
    for row, want in zip(shown, expected["appUsage"], strict=True):
        assert row["time"]["text"] == hmm(want["seconds"])
        assert row["timesUsed"]["text"] == str(want["timesUsed"])
        assert row["users"]["text"] == str(want["users"])

    # activity by user, sorted by time
    activity = expected["userActivity"]
    assert await row_count(page.page, "insights-user-activity") == len(activity)
    for row, want in zip(await rows(page.page, "insights-user-activity"), activity, strict=False):
        assert (row["user"]["text"], row["time"]["text"]) == (want["user"]["username"], hmm(want["seconds"]))

    # parameters: every option, unused ones at 0
    assert expected["parameters"]
    for parameter in expected["parameters"]:
        shown_values = await rows(page.page, f"parameter-{parameter['name']}")
        assert [(r["value"]["text"], r["count"]["value"]) for r in shown_values] == [
            (v["value"], str(v["count"])) for v in parameter["values"]
        ]

    csv_rows = await download_csv(page.page, "insights-latency")
    assert csv_rows[0] == ["User", "p50", "p95", "Samples"]
    assert [r[0] for r in csv_rows[1:]] == [w["user"]["username"] for w in latency]
    assert [r[2] for r in csv_rows[1:]] == [_ms(w["p95"]["ms"]) for w in latency]

    assert await axe_violations(page.page) == []
    await screenshot(page.page, "insights")
    page.assert_clean()


async def test_interval_and_template_in_the_url(page: Watched, world: World, api: Api) -> None:
    org = (await api(world.admin_token, "{ organizations { id } }"))["data"]["organizations"][0]["id"]
    first, last, _, _ = _range()
    await open_page(
        page, f"/ui/insights?org={org}&range=custom&from={first}&to={last}&tz=UTC", world.admin_token
    )
    await ready(page.page, *PANELS)
    default = await _insights(api, world.admin_token, org, None, None)
    await _assert_series(page.page, default)
    other = "WEEK" if default["interval"] == "DAY" else "DAY"

    await page.page.select_option('select[name="interval"]', other)
    await page.page.wait_for_url(f"**interval={other}**")
    await ready(page.page, "insights-active-users")
    changed = await _insights(api, world.admin_token, org, None, other)
    assert len(changed["activeUsersSeries"]) != len(default["activeUsersSeries"])
    await _assert_series(page.page, changed)

    template = await page.page.eval_on_selector(
        'select[name="template"]', "s => [...s.options].map(o => o.value).find(v => v)"
    )
    await page.page.select_option('select[name="template"]', template)
    await page.page.wait_for_url(f"**template={template}**")
    await ready(page.page, *PANELS)
    one = await _insights(api, world.admin_token, org, template, other)
    assert one["activeUsers"] < changed["activeUsers"]
    await _assert_series(page.page, one)

    await page.page.go_back()
    await page.page.go_back()
    await page.page.wait_for_function("!location.search.includes('interval=')")
    await ready(page.page, "insights-active-users")
    await _assert_series(page.page, default)
    page.assert_clean()


async def test_member_is_told_what_insights_need(page: Watched, world: World, api: Api) -> None:
    await open_page(page, "/ui/insights?tz=UTC", world.member_token)
    orgs = (await api(world.member_token, "{ organizations { id name } }"))["data"]["organizations"]
    _, _, start, end = _range()
    answer = await api(
        world.member_token,
        "query ($org: ID!, $start: DateTime!, $end: DateTime!) { templateInsights(organizationId: $org, start: $start, end: $end) { activeUsers } }",
        {"org": orgs[0]["id"], "start": start, "end": end},
    )
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await page.page.wait_for_selector('[data-panel="insights-forbidden"] [data-state="forbidden"]')
    assert "insights:read" in (await page.page.text_content('[data-panel="insights-forbidden"]') or "")
    options = await page.page.eval_on_selector_all('select[name="org"] option', "os => os.map(o => o.value)")
    assert options == [o["id"] for o in orgs]
    # nothing but the headline question was asked of Template Insights
    asked = [q["query"] for q in page.graphql if "templateInsights" in q["query"]]
    assert len(asked) == 1
    page.assert_clean()


async def test_insights_disabled_says_so_and_asks_nothing_else(browser: Any, world: World) -> None:
    from tests.browser.conftest import watch

    server = Server(world.database_url, disable_template_insights=True)
    base = await started(server)
    try:
        context = await browser.new_context(base_url=base, timezone_id="UTC")
        watched = await watch(context, base)
        await open_page(watched, "/ui/insights", world.admin_token)
        await watched.page.wait_for_selector('[data-panel="insights-disabled"]')
        text = await watched.page.text_content('[data-panel="insights-disabled"]') or ""
        assert "disabled" in text and "--disable-template-insights" in text
        await watched.page.wait_for_timeout(300)
        asked = [q["query"] for q in watched.graphql if "templateInsights" in q["query"]]
        assert len(asked) == 1
        assert await watched.page.locator("[data-panel=insights-latency]").count() == 0
        watched.assert_clean()
        await context.close()
    finally:
        server.__exit__()
