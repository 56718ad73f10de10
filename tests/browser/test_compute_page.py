"""The compute page against the demo data: node and workspace statistics, the node series and the
workspace table sorted by p95 equal the GraphQL answers for the same range; range, interval and time
zone live in the URL; CSV; a member is refused. The control-plane charts: without a Prometheus the page
says how to set one up; with a real Prometheus scraping a server of the demo world the three charts
equal `controlPlane.charts`; with that Prometheus stopped only the charts panel fails."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.browser.conftest import (
    SCREENSHOTS,
    Api,
    Watched,
    axe_violations,
    download_csv,
    open_page,
    ready,
    row_count,
    rows,
    screenshot,
    watch,
)
from tests.browser.world import Server, World, started
from tests.monitoring.test_prometheus import Stack, _binary, _free_port, _wait_for

STATS = "average p95 max"
COMPUTE = f"""query ($org: ID!, $start: DateTime!, $end: DateTime!, $interval: Interval!) {{
  organization(id: $org) {{ compute(start: $start, end: $end, interval: $interval, timezone: "UTC") {{
    nodes {{ node cpu {{ {STATS} }} memory {{ {STATS} }} series {{ start end cpu memory }} }}
    workspaces {{ workspace {{ id name }} user {{ username }} node cpu {{ {STATS} }} memory {{ {STATS} }} samples }}
  }} }}
}}"""
CHARTS = """query ($start: DateTime!, $end: DateTime!) {
  controlPlane { configured charts(start: $start, end: $end) {
    stepSeconds
    logEvents { label points { at value } }
    statusCodes { label points { at value } }
    latency { label points { at value } }
  } }
}"""
PANELS = ("compute-nodes", "compute-workspaces", "control-plane")
STAT_COLUMNS = [f"{kind}-{stat}" for kind in ("cpu", "memory") for stat in ("average", "p95", "max")]
JOB = "usagegraph-browser"


async def _org(api: Api, token: str) -> str:
    body = await api(token, "{ organizations { id } }")
    org: str = body["data"]["organizations"][0]["id"]
    return org


async def _shown_range(page: Any) -> dict[str, str]:
    found: dict[str, str] = await page.evaluate(
        """() => { const p = document.querySelector('[data-range-start]');
             return {start: p.dataset.rangeStart, end: p.dataset.rangeEnd, interval: p.dataset.interval}; }"""
    )
    return found


async def _compute(api: Api, token: str, org: str, shown: dict[str, str]) -> dict[str, Any]:
    body = await api(token, COMPUTE, {"org": org, **shown})
    assert "errors" not in body, body
    compute: dict[str, Any] = body["data"]["organization"]["compute"]
    return compute


def _stats(row: dict[str, dict[str, Any]]) -> list[float]:
    return [float(row[c]["value"]) for c in STAT_COLUMNS]


def _expected_stats(item: dict[str, Any]) -> list[float]:
    return [item[kind][stat] for kind in ("cpu", "memory") for stat in ("average", "p95", "max")]


async def _assert_compute(page: Any, compute: dict[str, Any]) -> None:
    nodes = compute["nodes"]
    await page.wait_for_function(
        "n => document.querySelectorAll('[data-table=\"compute-nodes\"] tbody tr[data-row]').length === n",
        arg=len(nodes),
    )
    shown = await rows(page, "compute-nodes")
    assert [(r["node"]["value"], _stats(r)) for r in shown] == [
        (n["node"], _expected_stats(n)) for n in nodes
    ]
    # the node series, bucket by bucket (first page of the per-bucket table)
    buckets = [(n["node"], p["start"], p["cpu"], p["memory"]) for n in nodes for p in n["series"]]
    assert await row_count(page, "compute-node-buckets") == len(buckets)
    per_bucket = await rows(page, "compute-node-buckets")
    blank = lambda v: None if v == "" else float(v)  # noqa: E731
    assert [
        (r["node"]["value"], r["start"]["value"], blank(r["cpu"]["value"]), blank(r["memory"]["value"]))
        for r in per_bucket
    ] == buckets[: len(per_bucket)]
    assert any(b[2] is not None for b in buckets)
    # every workspace, sorted by CPU p95 (the API's order); the busiest drawn
    workspaces = compute["workspaces"]
    assert await row_count(page, "compute-workspaces") == len(workspaces)
    shown_ws = await rows(page, "compute-workspaces")
    assert [
        (r["workspace"]["value"], r["node"]["value"], _stats(r), r["samples"]["value"]) for r in shown_ws
    ] == [
        (
            f"{w['user']['username']}/{w['workspace']['name']}",
            w["node"] or "",
            _expected_stats(w),
            str(w["samples"]),
        )
        for w in workspaces[: len(shown_ws)]
    ]
    p95 = [w["cpu"]["p95"] for w in workspaces]
    assert p95 == sorted(p95, reverse=True)
    drawn = await page.wait_for_selector("[data-workspace-charts]")
    ids = await drawn.get_attribute("data-workspace-charts")
    assert ids == ",".join(w["workspace"]["id"] for w in workspaces[:6])
    await page.wait_for_selector('[data-chart="workspace-cpu"][data-drawn="true"]')
    await page.wait_for_selector('[data-chart="node-memory"][data-drawn="true"]')


async def test_compute_page_shows_the_api_numbers(page: Watched, world: World, api: Api) -> None:
    org = await _org(api, world.admin_token)
    await open_page(page, f"/ui/compute?org={org}&tz=UTC", world.admin_token)
    await ready(page.page, *PANELS)
    shown = await _shown_range(page.page)
    assert shown["interval"] == "1 hour"
    compute = await _compute(api, world.admin_token, org, shown)
    assert len(compute["nodes"]) > 1 and len(compute["workspaces"]) > 25
    await _assert_compute(page.page, compute)

    csv_rows = await download_csv(page.page, "compute-workspaces")
    assert csv_rows[0] == [
        "Workspace",
        "Node",
        "CPU avg",
        "CPU p95",
        "CPU max",
        "Memory avg",
        "Memory p95",
        "Memory max",
        "Samples",
    ]
    assert [r[0] for r in csv_rows[1:]] == [
        f"{w['user']['username']}/{w['workspace']['name']}" for w in compute["workspaces"]
    ]

    # no Prometheus configured: the panel says how to set it up
    hint = await page.page.text_content('[data-panel="control-plane"] [data-state="not-configured"]')
    assert hint is not None and "USAGEGRAPH_PROMETHEUS_URL" in hint
    plane = await api(world.admin_token, CHARTS, {"start": shown["start"], "end": shown["end"]})
    assert plane["data"]["controlPlane"] == {"configured": False, "charts": None}

    assert await axe_violations(page.page) == []
    await screenshot(page.page, "compute")
    page.assert_clean()


async def test_range_interval_and_zone_live_in_the_url(page: Watched, world: World, api: Api) -> None:
    org = await _org(api, world.admin_token)
    await open_page(page, f"/ui/compute?org={org}&tz=UTC", world.admin_token)
    await ready(page.page, *PANELS)
    week = await _shown_range(page.page)

    await page.page.select_option('select[name="range"]', "14d")
    await page.page.wait_for_url("**range=14d**")
    await page.page.select_option('select[name="interval"]', "1 day")
    await page.page.wait_for_url("**interval=1+day**")
    await page.page.fill('input[name="timezone"]', "Asia/Kolkata")
    await page.page.press('input[name="timezone"]', "Enter")
    await page.page.wait_for_url("**tz=Asia%2FKolkata**")
    await ready(page.page, "compute-nodes", "compute-workspaces")
    shown = await _shown_range(page.page)
    assert shown["interval"] == "1 day" and shown["start"].endswith("T18:30:00Z")
    body = await api(
        world.admin_token,
        COMPUTE.replace('timezone: "UTC"', 'timezone: "Asia/Kolkata"'),
        {"org": org, **shown},
    )
    await _assert_compute(page.page, body["data"]["organization"]["compute"])

    for _ in range(3):
        await page.page.go_back()
    await page.page.wait_for_function("!location.search.includes('range=')")
    await ready(page.page, "compute-nodes", "compute-workspaces")
    assert await _shown_range(page.page) == week
    assert await page.page.input_value('select[name="interval"]') == ""
    await _assert_compute(page.page, await _compute(api, world.admin_token, org, week))
    page.assert_clean()


async def test_a_member_is_refused_compute_and_the_control_plane(page: Watched, world: World) -> None:
    await open_page(page, "/ui/compute?tz=UTC", world.member_token)
    await ready(page.page, *PANELS)
    for panel in PANELS:
        text = await page.page.text_content(f'[data-panel="{panel}"] [data-state="forbidden"]')
        assert text is not None and "monitoring:read" in text
    assert await axe_violations(page.page) == []
    page.assert_clean()


# --- With a real Prometheus ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def prometheus_stack(world: World, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """A second server of the demo world, told about a Prometheus that scrapes it every second."""
    prometheus_bin = _binary("prometheus")
    work = tmp_path_factory.mktemp("prometheus-browser")
    prometheus_port = _free_port()
    prometheus = f"http://127.0.0.1:{prometheus_port}"
    server = Server(world.database_url, prometheus_url=prometheus, prometheus_job=JOB)
    url = await started(server)
    config = work / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: {JOB}\n    metrics_path: /metrics\n"
        f'    static_configs:\n      - targets: ["{url.removeprefix("http://")}"]\n'
    )
    stack = Stack(
        url,
        prometheus,
        world.admin_token,
        prometheus_command=[
            prometheus_bin,
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
            "--log.level=warn",
        ],
        prometheus_log=work / "prometheus.log",
    )
    try:
        await stack.start_prometheus()
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await _wait_for(client, f"{url}/healthz", "the server")
            deadline = time.monotonic() + 90
            while True:
                await _traffic(client, world.admin_token)
                charts = await _charts(client, world.admin_token)
                latency = {s["label"]: s["points"] for s in charts["latency"]}
                if (
                    charts["logEvents"]
                    and charts["statusCodes"]
                    and any(p["value"] for p in latency.get("p50", []))
                ):
                    break
                assert time.monotonic() < deadline, charts
                await asyncio.sleep(1)
            # A little longer than a step of the page's "Last hour" (about 15 s), so that its newest
            # point, wherever the steps fall, has samples behind it.
            for _ in range(20):
                await _traffic(client, world.admin_token)
                await asyncio.sleep(1)
        yield stack
    finally:
        stack.stop_prometheus()
        server.__exit__()


async def _traffic(client: httpx.AsyncClient, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        await client.post("/graphql", json={"query": "{ viewer { username } }"}, headers=headers)
    ).status_code == 200
    assert (await client.get("/no-such-page")).status_code == 404


async def _charts(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    end = int(time.time()) - 5
    variables = {
        "start": datetime.fromtimestamp(end - 600, UTC).isoformat(),
        "end": datetime.fromtimestamp(end, UTC).isoformat(),
    }
    response = await client.post(
        "/graphql",
        json={"query": CHARTS, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    charts: dict[str, Any] = response.json()["data"]["controlPlane"]["charts"]
    return charts


async def _page_on(browser: Any, url: str) -> tuple[Any, Watched]:
    context = await browser.new_context(
        base_url=url, viewport={"width": 1400, "height": 1000}, timezone_id="UTC"
    )
    return context, await watch(context, url)


async def test_the_control_plane_charts_come_from_prometheus(
    browser: Any, prometheus_stack: Stack, world: World
) -> None:
    api = Api(prometheus_stack.server)
    org = await _org(api, world.admin_token)
    context, page = await _page_on(browser, prometheus_stack.server)
    try:
        await open_page(page, f"/ui/compute?org={org}&range=1h&tz=UTC", world.admin_token)
        await ready(page.page, *PANELS)
        assert await page.page.get_attribute('[data-panel="control-plane"]', "data-state") == "ready"
        [asked] = [g["variables"] for g in page.graphql if "controlPlane" in g["query"]]
        body = await api(world.admin_token, CHARTS, asked)
        assert "errors" not in body, body
        charts = body["data"]["controlPlane"]["charts"]
        for chart, key in (
            ("cp-log-events", "logEvents"),
            ("cp-status-codes", "statusCodes"),
            ("cp-latency", "latency"),
        ):
            series = charts[key]
            assert series, (key, asked, charts)
            labels = [s["label"] for s in series]
            shown_labels = await page.page.get_attribute(f'[data-plane-chart="{chart}"]', "data-series")
            assert shown_labels == ",".join(labels)
            await page.page.wait_for_selector(f'[data-chart="{chart}"][data-drawn="true"]')
            expected: dict[str, dict[str, float | None]] = {}
            for s in series:
                for p in s["points"]:
                    expected.setdefault(p["at"], {})[s["label"]] = p["value"]
            assert await row_count(page.page, chart) == len(expected)
            shown = await rows(page.page, chart)
            for row in shown:
                at = row["at"]["value"]
                for label in labels:
                    value = row[label]["value"]
                    assert (None if value == "" else float(value)) == expected[at].get(label), (
                        chart,
                        at,
                        label,
                    )
        statuses = {s["label"] for s in charts["statusCodes"]}
        assert {"200", "404"} <= statuses
        assert [s["label"] for s in charts["latency"]] == ["p50", "p95", "p99"]
        if os.environ.get("USAGEGRAPH_SCREENSHOTS") == "1":
            panel = await page.page.query_selector('[data-panel="control-plane"]')
            await panel.screenshot(path=str(SCREENSHOTS / "compute-control-plane.png"))
        page.assert_clean()

        # Prometheus stops: the charts panel fails with the server's message and request id, the rest works
        prometheus_stack.stop_prometheus()
        await page.page.select_option('select[name="range"]', "24h")
        await page.page.wait_for_url("**range=24h**")
        await ready(page.page, *PANELS)
        error = await page.page.wait_for_selector('[data-panel="control-plane"] [data-state="error"]')
        assert await error.get_attribute("data-code") == "PROMETHEUS_UNAVAILABLE"
        text = await error.text_content()
        assert text is not None and "Prometheus cannot be reached" in text
        request_id = await page.page.text_content('[data-panel="control-plane"] .request-id')
        assert request_id and len(request_id) >= 16
        for panel in ("compute-nodes", "compute-workspaces"):
            assert await page.page.get_attribute(f'[data-panel="{panel}"]', "data-state") == "ready"
        shown_range = await _shown_range(page.page)
        await _assert_compute(page.page, await _compute(api, world.admin_token, org, shown_range))
        page.assert_clean()
    finally:
        await context.close()
