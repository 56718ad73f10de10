"""The dashboard's large tables with 5,000 active users in one organization (tests/browser/large_world.py):
each table holds one page of rows in the DOM, counts every user the GraphQL answer holds, sorts as the
answer sorted the same way, pages to the last page, and downloads all 5,000 rows plus a header as CSV.

The GraphQL answer each table is compared with is the page's own request (query and variables) asked
again directly."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.browser.conftest import (
    Api,
    Watched,
    _require_browser,
    download_csv,
    open_page,
    ready,
    row_count,
    watch,
)
from tests.browser.large_world import USERS, LargeWorld, large_database
from tests.browser.world import Server, started

Row = dict[str, Any]


@pytest.fixture(scope="module")
async def large(database_url: str) -> AsyncIterator[LargeWorld]:
    _require_browser()
    async with large_database(database_url) as w:
        yield w


@pytest.fixture(scope="module")
async def large_url(large: LargeWorld) -> AsyncIterator[str]:
    server = Server(large.database_url)
    url = await started(server)
    yield url
    server.__exit__()


@pytest.fixture(scope="module")
def large_api(large_url: str) -> Api:
    return Api(large_url)


@pytest.fixture
async def large_page(browser: Any, large_url: str) -> AsyncIterator[Watched]:
    context = await browser.new_context(
        base_url=large_url, accept_downloads=True, viewport={"width": 1400, "height": 1000}, timezone_id="UTC"
    )
    watched = await watch(context, large_url)
    yield watched
    await context.close()


def js_round(x: float) -> int:
    """JavaScript's Math.round (halves up), which the dashboard's h:mm uses."""
    return math.floor(x + 0.5)


def hmm(seconds: float) -> str:
    minutes = js_round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def ms_text(text: str) -> float:
    return float(text.removesuffix(" ms"))


def usd_text(text: str) -> float:
    return float(re.sub(r"[$,]", "", text))


@dataclass
class Check:
    """One column of the CSV against the answer: `expected` of a row, compared by `same` (equality when
    omitted) with the CSV's cell."""

    label: str
    expected: Callable[[Row], Any]
    same: Callable[[str, Any], bool] | None = None


def close(tolerance: float, parse: Callable[[str], float]) -> Callable[[str, Any], bool]:
    return lambda text, value: abs(parse(text) - float(value)) <= tolerance


async def answer(page: Watched, api: Api, token: str, operation: str) -> dict[str, Any]:
    """The page's own request named `operation`, asked again."""
    sent = [q for q in page.graphql if f"query {operation}(" in q["query"]]
    assert sent, f"the page did not ask {operation}"
    body = await api(token, sent[-1]["query"], sent[-1].get("variables"))
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def shown_keys(page: Any, table: str) -> list[str]:
    keys: list[str] = await page.evaluate(
        '(id) => [...document.querySelectorAll(`[data-table="${id}"] tbody tr[data-row]`)].map(tr => tr.dataset.row)',
        table,
    )
    return keys


async def dom_rows(page: Any, table: str) -> int:
    count: int = await page.evaluate(
        '(id) => document.querySelectorAll(`[data-table="${id}"] tbody tr`).length', table
    )
    return count


def sorted_like_the_table(rows: list[Row], value: Callable[[Row], Any], desc: bool) -> list[Row]:
    """The table's sort: by the column's value, equal values in the answer's order (a stable sort; Python's
    reverse keeps equal items in their order, as the table does)."""
    return sorted(rows, key=value, reverse=desc)


async def exercise(
    watched: Watched,
    table: str,
    rows: list[Row],
    key: Callable[[Row], str],
    page_size: int,
    sort_column: str,
    sort_value: Callable[[Row], Any],
    checks: list[Check],
) -> None:
    page = watched.page
    # every user counted, one page of rows drawn
    assert len(rows) == USERS
    assert await row_count(page, table) == USERS
    assert await dom_rows(page, table) == page_size
    assert await shown_keys(page, table) == [key(r) for r in rows[:page_size]]

    # sorting: the first click sorts descending, the second ascending; each time the first page is the
    # answer sorted the same way
    header = f'[data-table="{table}"] th[data-col="{sort_column}"]'
    for desc, aria in ((True, "descending"), (False, "ascending")):
        await page.click(f"{header} button.sort")
        await page.wait_for_selector(f'{header}[aria-sort="{aria}"]')
        expected = sorted_like_the_table(rows, sort_value, desc)
        assert await shown_keys(page, table) == [key(r) for r in expected[:page_size]]
        assert await dom_rows(page, table) == page_size

    # the last page: the remaining rows of the ascending order
    last_start = (USERS - 1) // page_size * page_size
    await page.click(f'[data-table="{table}"] nav.pager button:text-is("Last")')
    await page.wait_for_selector(
        f'[data-table="{table}"] [data-role="row-count"]:text-matches("^rows {last_start + 1}–{USERS} of {USERS}$")'
    )
    assert await shown_keys(page, table) == [key(r) for r in expected[last_start:]]
    pages = math.ceil(USERS / page_size)
    assert await page.text_content(f'[data-table="{table}"] nav.pager span') == f"page {pages} of {pages}"

    # the CSV: a header and every row, in the order shown (ascending by the sorted column)
    csv_rows = await download_csv(page, table)
    assert len(csv_rows) == USERS + 1
    header_row, body = csv_rows[0], csv_rows[1:]
    for check in checks:
        assert check.label in header_row, (check.label, header_row)
        column = header_row.index(check.label)
        for cells, row in zip(body, expected, strict=True):
            want = check.expected(row)
            if check.same is None:
                assert cells[column] == want, (check.label, cells, row)
            else:
                assert check.same(cells[column], want), (check.label, cells, row)
    watched.assert_clean()


async def test_activity_users_table(large_page: Watched, large: LargeWorld, large_api: Api) -> None:
    await open_page(
        large_page,
        f"/ui/activity?org={large.organization_id}&range=custom&from={large.first_day}&to={large.last_day}&tz=UTC",
        large.admin_token,
    )
    await ready(large_page.page, "active-users", "users", "usage-metrics", wait_ms=60_000)
    data = await answer(large_page, large_api, large.admin_token, "ActivityUsers")
    users = data["activity"]["users"]
    await exercise(
        large_page,
        "users",
        users,
        key=lambda u: u["user"]["id"],
        page_size=25,
        sort_column="count",
        sort_value=lambda u: u["totalCount"],
        checks=[
            Check("Name", lambda u: u["user"]["name"]),
            Check("Username", lambda u: u["user"]["username"]),
            Check("Roles (organization)", lambda u: ", ".join(u["user"]["roles"])),
            Check("Active time", lambda u: hmm(u["totalDurationSeconds"])),
            Check("Count", lambda u: str(u["totalCount"])),
        ],
    )


async def test_activity_users_sort_by_name(large_page: Watched, large: LargeWorld, large_api: Api) -> None:
    await open_page(
        large_page,
        f"/ui/activity?org={large.organization_id}&range=custom&from={large.first_day}&to={large.last_day}&tz=UTC",
        large.admin_token,
    )
    await ready(large_page.page, "users", wait_ms=60_000)
    users = (await answer(large_page, large_api, large.admin_token, "ActivityUsers"))["activity"]["users"]
    header = '[data-table="users"] th[data-col="name"]'
    await large_page.page.click(f"{header} button.sort")
    await large_page.page.wait_for_selector(f'{header}[aria-sort="descending"]')
    expected = sorted_like_the_table(users, lambda u: u["user"]["name"], True)
    assert await shown_keys(large_page.page, "users") == [u["user"]["id"] for u in expected[:25]]
    large_page.assert_clean()


INSIGHTS = "/ui/insights?org={org}&range=custom&from={first}&to={last}&tz=UTC"
INSIGHTS_PANELS = ("insights-active-users", "insights-latency", "insights-apps", "insights-user-activity")


async def _insights(large_page: Watched, large: LargeWorld) -> None:
    url = INSIGHTS.format(org=large.organization_id, first=large.first_day, last=large.last_day)
    await open_page(large_page, url, large.admin_token)
    await ready(large_page.page, *INSIGHTS_PANELS, wait_ms=60_000)


async def test_insights_latency_table(large_page: Watched, large: LargeWorld, large_api: Api) -> None:
    await _insights(large_page, large)
    rows = (await answer(large_page, large_api, large.admin_token, "InsightsLatency"))["templateInsights"][
        "userLatency"
    ]
    await exercise(
        large_page,
        "insights-latency",
        rows,
        key=lambda r: r["user"]["id"],
        page_size=10,
        sort_column="p95",
        sort_value=lambda r: r["p95"]["ms"],
        checks=[
            Check("User", lambda r: r["user"]["username"]),
            Check("p50", lambda r: r["p50"]["ms"], close(0.05 + 1e-9, ms_text)),
            Check("p95", lambda r: r["p95"]["ms"], close(0.05 + 1e-9, ms_text)),
            Check("Samples", lambda r: str(r["samples"])),
        ],
    )


async def test_insights_user_activity_table(large_page: Watched, large: LargeWorld, large_api: Api) -> None:
    await _insights(large_page, large)
    data = await answer(large_page, large_api, large.admin_token, "InsightsUserActivity")
    rows = data["templateInsights"]["userActivity"]
    await exercise(
        large_page,
        "insights-user-activity",
        rows,
        key=lambda r: r["user"]["id"],
        page_size=10,
        sort_column="time",
        sort_value=lambda r: r["seconds"],
        checks=[
            Check("User", lambda r: r["user"]["username"]),
            Check("Name", lambda r: r["user"]["name"]),
            Check("Time", lambda r: hmm(r["seconds"])),
        ],
    )


SESSIONS = "/ui/sessions?org={org}&range=custom&from={first}&to={last}&tz=UTC"
SESSIONS_PANELS = (
    "session-summary",
    "session-timeseries",
    "session-agents",
    "cost-model",
    "cost-project",
    "cost-user",
    "session-users",
)


async def test_sessions_users_table(large_page: Watched, large: LargeWorld, large_api: Api) -> None:
    url = SESSIONS.format(org=large.organization_id, first=large.first_day, last=large.last_day)
    await open_page(large_page, url, large.admin_token)
    await ready(large_page.page, *SESSIONS_PANELS, wait_ms=60_000)
    data = await answer(large_page, large_api, large.admin_token, "SessionUsers")
    rows = data["organization"]["sessionAnalytics"]["users"]
    # the cost is a decimal string: the table sorts it as a number
    await exercise(
        large_page,
        "session-users",
        rows,
        key=lambda r: r["user"]["id"],
        page_size=25,
        sort_column="cost",
        sort_value=lambda r: float(r["cost"]),
        checks=[
            Check("User", lambda r: r["user"]["username"]),
            Check("Sessions", lambda r: str(r["sessions"])),
            Check("Sessions per day", lambda r: " ".join(str(p["sessions"]) for p in r["timeseries"])),
            Check("Cost", lambda r: r["cost"], close(0.005 + 1e-9, usd_text)),
        ],
    )


async def test_sessions_cost_by_user_table(large_page: Watched, large: LargeWorld, large_api: Api) -> None:
    url = SESSIONS.format(org=large.organization_id, first=large.first_day, last=large.last_day)
    await open_page(large_page, url, large.admin_token)
    await ready(large_page.page, *SESSIONS_PANELS, wait_ms=60_000)
    sent = [
        q for q in large_page.graphql if "query SessionCost(" in q["query"] and q["variables"]["by"] == "USER"
    ]
    assert sent
    body = await large_api(large.admin_token, sent[-1]["query"], sent[-1]["variables"])
    assert "errors" not in body, body
    rows = body["data"]["organization"]["sessionAnalytics"]["costBreakdown"]
    await exercise(
        large_page,
        "cost-user",
        rows,
        key=lambda r: r["key"],
        page_size=10,
        sort_column="cost",
        sort_value=lambda r: float(r["cost"]),
        checks=[
            Check("User", lambda r: r["label"]),
            Check("Cost", lambda r: r["cost"], close(0.005 + 1e-9, usd_text)),
            Check("Sessions", lambda r: str(r["sessions"])),
        ],
    )
