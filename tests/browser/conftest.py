"""Browser fixtures: the demo world and its server for the whole package, the distribution's Chromium
driven by Playwright, and a page that records console errors, failed requests and requests to another
origin (each test asserts there were none)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.world import CHROMIUM, INSTALL_HINT, ROOT, Server, World, demo_database, started
from usagegraph.http import ui

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _require_browser() -> None:
    if CHROMIUM.exists() and (ui.DIST / "index.html").is_file():
        return
    missing = INSTALL_HINT if not CHROMIUM.exists() else "the dashboard is not built: run `make ui`"
    if os.environ.get("CI"):
        pytest.fail(missing, pytrace=False)
    pytest.skip(missing)


@pytest.fixture(scope="package")
async def world(database_url: str) -> AsyncIterator[World]:
    _require_browser()
    async with demo_database(database_url) as w:
        yield w


@pytest.fixture(scope="package")
async def base_url(world: World) -> AsyncIterator[str]:
    server = Server(world.database_url)
    url = await started(server)
    yield url
    server.__exit__()


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Any]:
    _require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        await b.close()


@dataclass
class Watched:
    """A page and what went wrong on it."""

    page: Any
    base_url: str
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    graphql: list[dict[str, Any]] = field(default_factory=list)
    allowed_statuses: set[int] = field(default_factory=set)

    def assert_clean(self) -> None:
        assert not self.console_errors, self.console_errors
        assert not self.failed, self.failed
        assert not self.foreign, self.foreign


async def watch(context: Any, base_url: str) -> Watched:
    page = await context.new_page()
    watched = Watched(page, base_url)
    origin = urlsplit(base_url).netloc

    def on_console(message: Any) -> None:
        # The browser reports every HTTP error in the console; those a test expects (a refused token's
        # 401) are not errors of the page.
        expected = any(f"status of {status} " in message.text for status in watched.allowed_statuses)
        if message.type == "error" and not expected:
            watched.console_errors.append(message.text)

    def on_request(request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != origin:
            watched.foreign.append(request.url)
        if parts.path == "/graphql" and request.method == "POST":
            watched.graphql.append(request.post_data_json)

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.status not in watched.allowed_statuses:
            watched.failed.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.console_errors.append(str(error)))
    page.on("request", on_request)
    # A request the page cancels itself (a filter changed while its panel was loading) is not a failure.
    page.on(
        "requestfailed",
        lambda r: None if r.failure == "net::ERR_ABORTED" else watched.failed.append(f"{r.failure} {r.url}"),
    )
    page.on("response", on_response)
    return watched


@pytest.fixture
async def context(browser: Any, base_url: str) -> AsyncIterator[Any]:
    ctx = await browser.new_context(
        base_url=base_url, accept_downloads=True, viewport={"width": 1400, "height": 1000}, timezone_id="UTC"
    )
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: Any, base_url: str) -> AsyncIterator[Watched]:
    watched = await watch(context, base_url)
    yield watched
    await watched.page.close()


class Api:
    """GraphQL asked directly, with the same filters the page uses."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def __call__(
        self, token: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60) as client:
            response = await client.post(
                "/graphql",
                json={"query": query, "variables": variables or {}},
                headers={"Authorization": f"Bearer {token}"},
            )
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="package")
def api(base_url: str) -> Api:
    return Api(base_url)


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core (from web/node_modules) run in the page; the serious and critical violations."""
    await page.evaluate(AXE.read_text())
    result: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


async def screenshot(page: Any, name: str) -> None:
    """Written into docs/screenshots/ only when USAGEGRAPH_SCREENSHOTS=1 (normal runs leave the tree alone)."""
    if os.environ.get("USAGEGRAPH_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def hmm(seconds: float) -> str:
    """The dashboard's h:mm."""
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


async def open_page(watched: Watched, path: str, token: str | None) -> None:
    url = path + (f"#token={token}" if token else "")
    await watched.page.goto(url)


async def ready(page: Any, *panels: str, wait_ms: float = 20_000) -> None:
    """Wait until every panel has drawn its data (or its empty, error or forbidden state)."""
    for panel in panels:
        await page.wait_for_selector(
            f'[data-panel="{panel}"]:not([data-state="loading"]):not([data-state="idle"])', timeout=wait_ms
        )


async def panel_state(page: Any, panel: str) -> str:
    state: str = await page.get_attribute(f'[data-panel="{panel}"]', "data-state")
    return state


async def rows(page: Any, table: str) -> list[dict[str, dict[str, Any]]]:
    """The rows a table shows (the current page): per column its text, data-value and latency band."""
    result: list[dict[str, dict[str, Any]]] = await page.evaluate(
        """(id) => [...document.querySelectorAll(`[data-table="${id}"] tbody tr[data-row]`)].map(tr =>
            Object.fromEntries([...tr.querySelectorAll('td[data-col]')].map(td => [td.dataset.col, {
              text: td.textContent.trim(),
              value: td.dataset.value,
              band: td.querySelector('[data-band]')?.dataset.band ?? null,
              color: td.querySelector('[data-band]') ? getComputedStyle(td.querySelector('[data-band]')).color : null,
            }])))""",
        table,
    )
    return result


async def row_count(page: Any, table: str) -> int:
    count = await page.get_attribute(f'[data-table="{table}"] [data-role="row-count"]', "data-count")
    return int(count)


async def download_csv(page: Any, table: str) -> list[list[str]]:
    import csv
    import io

    async with page.expect_download() as info:
        await page.click(f'[data-table="{table}"] [data-action="csv"]')
    download = await info.value
    path = await download.path()
    text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))
