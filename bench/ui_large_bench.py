"""Browser benchmark of the dashboard's large tables: the world of tests/browser/large_world.py (5,000 active
users in one organization). Per page, the time from navigation to every panel drawn; per large table, the
time from a sort click to the re-rendered first page (measured in the page: the click, Preact's render and a
forced layout), and the time to build the CSV of all 5,000 rows (the button's handler: the text, the blob,
the download link). Targets: a page under 2 s, a sort under 200 ms, a CSV under 500 ms.

    make bench-ui        (runs bench/ui_bench.py, then this; needs Chromium: apt-get install -y chromium)
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.browser.large_world import USERS, large_database
from tests.browser.world import CHROMIUM, INSTALL_HINT, Server, started
from usagegraph.db.embedded import start_embedded

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
RANGE = "org={org}&range=custom&from={first}&to={last}&tz=UTC"
PAGES: dict[str, tuple[str, int, list[tuple[str, str]]]] = {
    "activity": ("/ui/activity?" + RANGE, 3, [("users", "count"), ("users", "name")]),
    "insights": (
        "/ui/insights?" + RANGE,
        5,
        [("insights-latency", "p95"), ("insights-user-activity", "time"), ("insights-user-activity", "user")],
    ),
    "sessions": ("/ui/sessions?" + RANGE, 7, [("session-users", "cost"), ("cost-user", "cost")]),
}
DRAWN = (
    "() => { const ps = [...document.querySelectorAll('[data-panel]')];"
    " return ps.length >= {count} && ps.every(p => !['loading', 'idle'].includes(p.dataset.state)); }"
)
# One sort click timed in the page: the click, then macrotasks until the header shows the new order (Preact
# renders in a microtask), then a forced layout of the new rows.
SORT = """async ([table, column]) => {
  const th = document.querySelector(`[data-table="${table}"] th[data-col="${column}"]`);
  const before = th.getAttribute('aria-sort');
  const first = document.querySelector(`[data-table="${table}"] tbody tr[data-row]`).dataset.row;
  const t0 = performance.now();
  th.querySelector('button.sort').click();
  while (th.getAttribute('aria-sort') === before) await new Promise(r => setTimeout(r, 0));
  document.body.offsetHeight;
  const t1 = performance.now();
  const rows = document.querySelectorAll(`[data-table="${table}"] tbody tr[data-row]`).length;
  return [t1 - t0, rows, first];
}"""
# After the panels are drawn: the page's clock and when its last GraphQL answer arrived (both from the
# navigation's start), so the time spent drawing after the answers stands apart from waiting for them.
ANSWERED = """() => [performance.now(), Math.max(0, ...performance.getEntriesByType('resource')
  .filter(e => new URL(e.name).pathname === '/graphql').map(e => e.responseEnd))]"""
CSV = """(table) => {
  const t0 = performance.now();
  document.querySelector(`[data-table="${table}"] [data-action="csv"]`).click();
  return performance.now() - t0;
}"""


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values):6.1f} ms, max {max(values):6.1f} ms"


async def main() -> None:
    if not CHROMIUM.exists():
        raise SystemExit(INSTALL_HINT)
    from playwright.async_api import async_playwright

    server_url = start_embedded(ROOT / ".usagegraph-bench", database="postgres")
    built = time.perf_counter()
    async with large_database(server_url) as world:
        built = time.perf_counter() - built
        server = Server(world.database_url)
        base = await started(server)
        query = {"org": world.organization_id, "first": world.first_day, "last": world.last_day}
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                load = " ".join(f"{x:.2f}" for x in os.getloadavg())
                print(
                    f"dashboard large-table benchmark, {datetime.now(UTC):%Y-%m-%d}, {USERS} users"
                    f" (world built in {built:.1f} s), {RUNS} runs a page, load average {load}"
                )
                for name, (path, count, tables) in PAGES.items():
                    times: list[float] = []
                    drawing: list[float] = []
                    answers: dict[str, list[float]] = {}
                    sorts: dict[tuple[str, str], list[float]] = {t: [] for t in tables}
                    csvs: dict[str, list[float]] = {t: [] for t, _ in tables}
                    for run in range(RUNS):
                        context = await browser.new_context(
                            base_url=base, timezone_id="UTC", accept_downloads=True
                        )
                        page: Any = await context.new_page()
                        await page.goto(f"/ui/activity#token={world.admin_token}")
                        await page.wait_for_selector("[data-viewer]")
                        await page.goto("about:blank")
                        finished: list[Any] = []
                        page.on("requestfinished", lambda r, finished=finished: finished.append(r))
                        started_at = time.perf_counter()
                        await page.goto(path.format(**query))
                        await page.wait_for_function(DRAWN.replace("{count}", str(count)), polling="raf")
                        elapsed = time.perf_counter() - started_at
                        now, answered = await page.evaluate(ANSWERED)
                        await page.wait_for_load_state("networkidle")
                        if run > 0:  # the first run warms the server's caches and the browser's
                            times.append(elapsed)
                            drawing.append(now - answered)
                            for request in finished:
                                if request.url.endswith("/graphql") and request.method == "POST":
                                    operation = re.match(r"\s*query\s+(\w+)", request.post_data_json["query"])
                                    label = operation.group(1) if operation else "?"
                                    if label == "SessionCost":
                                        label += " " + request.post_data_json["variables"]["by"]
                                    answers.setdefault(label, []).append(request.timing["responseEnd"])
                        for table, column in tables:
                            for _ in range(2):  # descending, then ascending
                                took, rows, _first = await page.evaluate(SORT, [table, column])
                                assert rows < USERS, f"{table} drew {rows} rows"
                                if run > 0:
                                    sorts[(table, column)].append(took)
                        for table in csvs:
                            took = await page.evaluate(CSV, table)
                            if run > 0:
                                csvs[table].append(took)
                        await context.close()
                    print(f"{name:9s} all panels drawn: {_ms([t * 1000 for t in times])}")
                    print(f"    of which drawing after the last GraphQL answer: {_ms(drawing)}")
                    slowest = sorted(answers.items(), key=lambda a: -statistics.median(a[1]))[:3]
                    print(
                        "    slowest answers: "
                        + ", ".join(f"{k} {statistics.median(v):.0f} ms" for k, v in slowest)
                    )
                    for (table, column), values in sorts.items():
                        print(f"    sort {table} by {column}: {_ms(values)}")
                    for table, values in csvs.items():
                        print(f"    CSV of {table} ({USERS} rows + header): {_ms(values)}")
                await browser.close()
        finally:
            server.__exit__()


if __name__ == "__main__":
    asyncio.run(main())
