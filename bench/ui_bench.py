"""Browser benchmark of the dashboard: per page, the time from navigation to every panel drawn (no panel
loading any more) on the demo data, and the bytes the page shipped (HTML, JavaScript, CSS, icon; the
GraphQL answers apart). Target: under 1 s per page on the project's 2-core machine.

    make bench-ui        (needs Chromium: apt-get install -y chromium)
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.browser.world import CHROMIUM, DEMO_DAYS, INSTALL_HINT, Server, demo_database, started
from usagegraph.db.embedded import start_embedded

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
PAGES = {
    "activity": ("/ui/activity?range=custom&from={first}&to={last}&tz=UTC", 3),
    "insights": ("/ui/insights?range=custom&from={first}&to={last}&tz=UTC", 5),
    "sessions": ("/ui/sessions?range=custom&from={first}&to={last}&tz=UTC", 7),
    "compute": ("/ui/compute?range=7d&tz=UTC", 3),
}
DRAWN = (
    "() => { const ps = [...document.querySelectorAll('[data-panel]')];"
    " return ps.length >= {count} && ps.every(p => !['loading', 'idle'].includes(p.dataset.state)); }"
)


async def main() -> None:
    if not CHROMIUM.exists():
        raise SystemExit(INSTALL_HINT)
    from playwright.async_api import async_playwright

    server_url = start_embedded(ROOT / ".usagegraph-bench", database="postgres")
    today = datetime.now(UTC).date()
    dates = {"first": (today - timedelta(days=29)).isoformat(), "last": today.isoformat()}
    async with demo_database(server_url) as world:
        server = Server(world.database_url)
        base = await started(server)
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                print(
                    f"dashboard benchmark, {datetime.now(UTC):%Y-%m-%d}, demo data {DEMO_DAYS} days, {RUNS} runs a page"
                )
                for name, (path, count) in PAGES.items():
                    times: list[float] = []
                    shipped = 0
                    for run in range(RUNS):
                        context = await browser.new_context(base_url=base, timezone_id="UTC")
                        page = await context.new_page()
                        sizes: list[int] = []

                        async def on_response(response: object, sizes: list[int] = sizes) -> None:
                            url = response.url  # type: ignore[attr-defined]
                            if "/graphql" not in url:
                                sizes.append(len(await response.body()))  # type: ignore[attr-defined]

                        page.on("response", on_response)
                        # sign in first (the token is kept for the tab), then time a fresh navigation
                        await page.goto(f"/ui/activity#token={world.admin_token}")
                        await page.wait_for_selector("[data-viewer]")
                        await page.goto("about:blank")
                        sizes.clear()
                        url = path.format(**dates)
                        started_at = time.perf_counter()
                        await page.goto(url)
                        await page.wait_for_function(DRAWN.replace("{count}", str(count)), polling="raf")
                        elapsed = time.perf_counter() - started_at
                        await page.wait_for_load_state("networkidle")
                        if run > 0:  # the first run warms the server's caches and the browser's
                            times.append(elapsed)
                        shipped = sum(sizes)
                        await context.close()
                    print(
                        f"{name:9s} all panels drawn: median {statistics.median(times) * 1000:6.0f} ms,"
                        f" max {max(times) * 1000:6.0f} ms; shipped {shipped / 1024:6.1f} KB (uncompressed, cold cache)"
                    )
                await browser.close()
        finally:
            server.__exit__()


if __name__ == "__main__":
    asyncio.run(main())
