"""The Activity page against the demo data: what it shows equals the GraphQL answers for the same
filters; filters live in the URL and the back button restores them; CSV holds the table's rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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
from tests.browser.world import World

ACTIVITY = """query ($start: DateTime!, $end: DateTime!, $interval: Interval!, $category: ActivityCategory!, $org: ID) {
  activity(start: $start, end: $end, interval: $interval, category: $category, organizationId: $org, timezone: "UTC") {
    buckets { start activeUsers userActivity { user { id } durationSeconds count } }
    users { user { id username name roles(organizationId: $org) } totalDurationSeconds totalCount }
  }
}"""
METRICS_FIELDS = (
    'usageMetrics(periodLength: $period, window: $window, fill: FORWARD, category: $category, timezone: "UTC")'
    " { date dau wau mau }"
)
METRICS_ARGS = "$id: ID!, $period: Int!, $window: ActiveWindow!, $category: ActivityCategory!"
ORG_METRICS = f"query ({METRICS_ARGS}) {{ organization(id: $id) {{ {METRICS_FIELDS} }} }}"
WS_METRICS = f"query ({METRICS_ARGS}) {{ workspace(id: $id) {{ {METRICS_FIELDS} }} }}"
PANELS = ("active-users", "users", "usage-metrics")


def _range() -> tuple[str, str, str, str]:
    today = datetime.now(UTC).date()
    first = today - timedelta(days=13)
    return (
        first.isoformat(),
        today.isoformat(),
        f"{first}T00:00:00Z",
        f"{today + timedelta(days=1)}T00:00:00Z",
    )


async def _activity(api: Api, token: str, org: str, category: str) -> dict[str, Any]:
    first, last, start, end = _range()
    body = await api(
        token, ACTIVITY, {"start": start, "end": end, "interval": "1 day", "category": category, "org": org}
    )
    assert "errors" not in body, body
    report: dict[str, Any] = body["data"]["activity"]
    return report


async def _orgs(api: Api, token: str) -> list[dict[str, str]]:
    body = await api(token, "{ organizations { id name } }")
    orgs: list[dict[str, str]] = body["data"]["organizations"]
    return orgs


async def _assert_chart(page: Any, report: dict[str, Any]) -> None:
    shown = await rows(page, "active-users")
    assert [(r["start"]["value"], r["activeUsers"]["value"]) for r in shown] == [
        (b["start"], str(b["activeUsers"])) for b in report["buckets"]
    ]
    assert sum(b["activeUsers"] for b in report["buckets"]) > 0


async def test_activity_page_shows_the_api_numbers(page: Watched, world: World, api: Api) -> None:
    org = (await _orgs(api, world.admin_token))[0]["id"]
    first, last, _, _ = _range()
    await open_page(
        page, f"/ui/activity?org={org}&range=custom&from={first}&to={last}&tz=UTC", world.admin_token
    )
    await ready(page.page, *PANELS)
    assert "token=" not in page.page.url
    report = await _activity(api, world.admin_token, org, "ANY")
    await _assert_chart(page.page, report)

    # users: every user counted, the first page as the API orders them
    users = report["users"]
    assert await row_count(page.page, "users") == len(users) > 25
    shown = await rows(page.page, "users")
    assert len(shown) == 25
    for row, expected in zip(shown, users, strict=False):
        assert row["username"]["text"] == expected["user"]["username"]
        assert row["name"]["text"] == expected["user"]["name"]
        assert row["roles"]["text"] == ", ".join(expected["user"]["roles"])
        assert row["time"]["text"] == hmm(expected["totalDurationSeconds"])
        assert row["count"]["text"] == str(expected["totalCount"])

    # one user's activity per bucket, on demand
    top = users[0]["user"]["id"]
    await page.page.click(f'[data-table="users"] tr[data-row="{top}"] button.toggle')
    await page.page.wait_for_selector(f'[data-user-buckets="{top}"]')
    per_bucket = await page.page.evaluate(
        """(id) => [...document.querySelectorAll(`[data-user-buckets="${id}"] tbody tr`)].map(tr =>
            [tr.children[1].dataset.value, tr.children[2].textContent])""",
        top,
    )
    expected_buckets = [
        [
            str(int(a["durationSeconds"]))
            if a["durationSeconds"] == int(a["durationSeconds"])
            else str(a["durationSeconds"]),
            str(a["count"]),
        ]
        for b in report["buckets"]
        for a in b["userActivity"]
        if a["user"]["id"] == top
    ]
    assert per_bucket == expected_buckets

    # DAU/WAU/MAU of the organization: the defaults (90 days, calendar, forward fill), gaps as blanks
    metrics = (
        await api(
            world.admin_token,
            ORG_METRICS,
            {"id": org, "period": 90, "window": "CALENDAR", "category": "LOGIN"},
        )
    )["data"]
    await _assert_metrics(page.page, metrics["organization"]["usageMetrics"])

    # CSV of the users table: a header and every row, in the order shown
    csv_rows = await download_csv(page.page, "users")
    assert csv_rows[0] == ["Name", "Username", "Roles (organization)", "Active time", "Count"]
    assert len(csv_rows) == len(users) + 1
    assert [r[1] for r in csv_rows[1:]] == [u["user"]["username"] for u in users]
    assert [r[3] for r in csv_rows[1:]] == [hmm(u["totalDurationSeconds"]) for u in users]

    assert await axe_violations(page.page) == []
    await screenshot(page.page, "activity")
    page.assert_clean()


async def _assert_metrics(page: Any, expected: list[dict[str, Any]]) -> None:
    shown = await rows(page, "usage-metrics")
    blank = lambda v: "" if v is None else str(v)  # noqa: E731
    assert [(r["date"]["text"], r["dau"]["text"], r["wau"]["text"], r["mau"]["text"]) for r in shown] == [
        (m["date"], blank(m["dau"]), blank(m["wau"]), blank(m["mau"])) for m in expected
    ]
    assert any(m["dau"] is None for m in expected) and any(m["dau"] for m in expected)


async def test_filters_live_in_the_url_and_back_restores_them(page: Watched, world: World, api: Api) -> None:
    org = (await _orgs(api, world.admin_token))[0]["id"]
    first, last, _, _ = _range()
    await open_page(
        page, f"/ui/activity?org={org}&range=custom&from={first}&to={last}&tz=UTC", world.admin_token
    )
    await ready(page.page, *PANELS)
    anything = await _activity(api, world.admin_token, org, "ANY")
    await _assert_chart(page.page, anything)

    await page.page.select_option('select[name="action"]', "IDE")
    await page.page.wait_for_url("**action=IDE**")
    await ready(page.page, "active-users")
    ide = await _activity(api, world.admin_token, org, "IDE")
    assert ide["buckets"] != anything["buckets"]
    await _assert_chart(page.page, ide)

    # DAU/WAU/MAU of one workspace, rolling window
    # the first workspace in the picker that has activity in the window (which ones do moves with the date)
    options = await page.page.eval_on_selector(
        'select[name="dws"]', "s => [...s.options].map(o => o.value).filter(v => v)"
    )
    workspace = None
    for candidate in options[:100]:
        found = await api(
            world.admin_token,
            WS_METRICS,
            {"id": candidate, "period": 90, "window": "ROLLING", "category": "ANY"},
        )
        if any(m["dau"] for m in found["data"]["workspace"]["usageMetrics"]):
            workspace = candidate
            break
    assert workspace is not None, "no workspace of the picker has activity in the last 90 days"
    await page.page.select_option('select[name="dws"]', workspace)
    await page.page.wait_for_url(f"**dws={workspace}**")
    await page.page.select_option('select[name="dwindow"]', "ROLLING")
    await page.page.wait_for_url("**dwindow=ROLLING**")
    await page.page.select_option('select[name="dcat"]', "ANY")
    await page.page.wait_for_url("**dcat=ANY**")
    await ready(page.page, "usage-metrics")
    body = await api(
        world.admin_token, WS_METRICS, {"id": workspace, "period": 90, "window": "ROLLING", "category": "ANY"}
    )
    await _assert_metrics(page.page, body["data"]["workspace"]["usageMetrics"])

    for _ in range(3):
        await page.page.go_back()
    await page.page.wait_for_function("!location.search.includes('dws=')")
    await page.page.go_back()
    await page.page.wait_for_function("!location.search.includes('action=')")
    await ready(page.page, "active-users")
    await _assert_chart(page.page, anything)
    assert await page.page.input_value('select[name="action"]') == "ANY"
    page.assert_clean()


async def test_member_sees_what_the_token_may_see(page: Watched, world: World, api: Api) -> None:
    await open_page(page, "/ui/activity?tz=UTC", world.member_token)
    await ready(page.page, *PANELS)
    # the organization picker lists the visible organizations only
    visible = await _orgs(api, world.member_token)
    everything = await _orgs(api, world.admin_token)
    assert 0 < len(visible) < len(everything)
    options = await page.page.eval_on_selector_all(
        'select[name="org"] option', "os => os.map(o => [o.value, o.textContent])"
    )
    assert options == [["", "Whole deployment"], *([o["id"], o["name"]] for o in visible)]
    # activity needs activity:read, DAU/WAU/MAU workspace_metrics:read: the panels say so
    denied = await api(
        world.member_token,
        '{ activity(start: "2024-01-01T00:00:00Z", end: "2024-01-02T00:00:00Z", interval: "1 day") { start } }',
    )
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for panel, permission in (
        ("active-users", "activity:read"),
        ("users", "activity:read"),
        ("usage-metrics", "workspace_metrics:read"),
    ):
        text = await page.page.text_content(f'[data-panel="{panel}"] [data-state="forbidden"]')
        assert text is not None and permission in text
    assert await axe_violations(page.page) == []
    await screenshot(page.page, "activity-member")
    page.assert_clean()


def test_range_helper_is_two_weeks() -> None:
    first, last, start, end = _range()
    assert date.fromisoformat(last) - date.fromisoformat(first) == timedelta(days=13)
    assert start.endswith("T00:00:00Z") and end.endswith("T00:00:00Z")
