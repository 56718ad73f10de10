"""The dashboard's serving: pages under /ui/ (the dashboard routes them itself), hashed assets cached for
good, index.html never cached, a CSP of 'self' only, GraphiQL from the same build, nothing from another
origin, and the size budget of what the dashboard ships."""

from __future__ import annotations

import gzip
import json
import os
import re

import httpx
import pytest

from usagegraph.http import ui

pytestmark = pytest.mark.skipif(
    not (ui.DIST / "index.html").is_file() and not os.environ.get("CI"),
    reason="the dashboard is not built: run `make ui`",
)

BUDGET = 200 * 1024


def _manifest() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads((ui.DIST / ".vite" / "manifest.json").read_text())
    return data


def _shipped(entry: str) -> set[str]:
    manifest = _manifest()
    seen: set[str] = set()
    files: set[str] = set()

    def walk(key: str) -> None:
        if key in seen:
            return
        seen.add(key)
        chunk = manifest[key]
        files.add(str(chunk["file"]))
        files.update(str(css) for css in chunk.get("css", []))  # type: ignore[attr-defined]
        for imported in chunk.get("imports", []):  # type: ignore[attr-defined]
            walk(str(imported))
        for imported in chunk.get("dynamicImports", []):  # type: ignore[attr-defined]
            walk(str(imported))

    walk(entry)
    return files


async def test_root_redirects_to_the_dashboard(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 307 and response.headers["location"] == "/ui/"
    response = await client.get("/ui")
    assert response.status_code == 307 and response.headers["location"] == "/ui/"


@pytest.mark.parametrize("path", ["/ui/", "/ui/activity", "/ui/insights", "/ui/insights/", "/ui/sessions"])
async def test_pages_answer_index_html_uncached_with_csp(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe" not in csp and "http" not in csp
    assert '<div id="app">' in response.text


async def test_assets_are_hashed_typed_and_cached_for_good(client: httpx.AsyncClient) -> None:
    page = (await client.get("/ui/")).text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/ui/") for s in sources), sources
    scripts = [s for s in sources if s.endswith(".js")]
    styles = [s for s in sources if s.endswith(".css")]
    assert scripts and styles
    for path in scripts + styles:
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        expected = "text/javascript" if path.endswith(".js") else "text/css"
        assert response.headers["content-type"].startswith(expected)
    icon = await client.get("/ui/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"


async def test_missing_assets_and_hidden_files_are_not_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/ui/assets/nothing-here.js")).status_code == 404
    assert (await client.get("/ui/assets/../index.html")).status_code in (200, 404)
    manifest = await client.get("/ui/.vite/manifest.json")
    assert "manifest" not in manifest.text and '<div id="app">' in manifest.text


async def test_graphiql_comes_from_the_build(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-cache"
    assert "content-security-policy" in response.headers
    sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert sources and all(s.startswith("/ui/") for s in sources), sources
    assert "unpkg" not in response.text and "https://" not in response.text


def test_nothing_shipped_names_another_origin_to_load() -> None:
    """No built page or stylesheet loads from elsewhere (scripts may mention URLs in strings, such as
    GraphiQL's links to documentation, but nothing is fetched from them: the browser tests watch)."""
    for page in ("index.html", "graphiql.html"):
        html = (ui.DIST / page).read_text()
        assert not re.search(r'(?:src|href)="(?:https?:)?//', html), page
    for css in ui.DIST.glob("assets/*.css"):
        assert not re.search(r"url\((?:['\"])?(?:https?:)?//", css.read_text()), css.name
        assert "@import" not in css.read_text()


def test_dashboard_ships_at_most_200_kb_gzip() -> None:
    files = _shipped("index.html")
    assert any(f.endswith(".js") for f in files) and any(f.endswith(".css") for f in files)
    total = sum(len(gzip.compress((ui.DIST / f).read_bytes(), compresslevel=9)) for f in files)
    print(f"dashboard JavaScript and CSS: {total / 1024:.1f} KB gzip in {len(files)} files")
    assert total <= BUDGET, f"{total / 1024:.1f} KB gzip over the 200 KB budget"
