"""The dashboard and GraphiQL, served from the front-end build that the package carries (`web/` built by
Vite into `ui_dist/`). Everything comes from this origin: the Content-Security-Policy allows only 'self'.

- `/ui/assets/...`: content-hashed files, cached for a year (`immutable`).
- other files of the build under `/ui/` (the icon): cached briefly.
- any other path under `/ui/`: the dashboard's `index.html`, never cached, so that the pages the dashboard
  routes itself (`/ui/insights`) answer on a reload or a shared link.
- `/` redirects to `/ui/`; `GET /graphql` from a browser gets the build's `graphiql.html`.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

DIST = Path(__file__).parent / "ui_dist"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=3600"

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".map": "application/json",
}

NOT_BUILT = "The dashboard is not built: run `make ui` (needs Node 20 or newer), or install a wheel, which carries it.\n"


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _inside(relative: str) -> Path | None:
    """The build's file at `relative`, or None (missing, a folder, hidden, or outside the build)."""
    if not relative or any(part.startswith(".") or part == "" for part in relative.split("/")):
        return None
    candidate = (DIST / relative).resolve()
    try:
        candidate.relative_to(DIST.resolve())
    except ValueError:
        return None
    return candidate if candidate.is_file() else None


def _file(path: Path, cache: str) -> Response:
    return FileResponse(
        path, media_type=content_type(path), headers={"Cache-Control": cache, **SECURITY_HEADERS}
    )


def page(name: str) -> Response:
    """One of the build's HTML pages (`index.html`, `graphiql.html`), never cached."""
    path = DIST / name
    if not path.is_file():
        return PlainTextResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": NO_CACHE})
    return _file(path, NO_CACHE)


async def _asset(request: Request) -> Response:
    path = _inside("assets/" + request.path_params["path"])
    if path is None:
        return PlainTextResponse("not found\n", status_code=404, headers={"Cache-Control": NO_CACHE})
    return _file(path, IMMUTABLE)


async def _ui(request: Request) -> Response:
    relative = request.path_params.get("path", "")
    path = _inside(relative) if relative not in ("index.html", "graphiql.html") else None
    if path is not None:
        return _file(path, SHORT)
    return page("index.html")


async def _to_ui(request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=307)


def routes() -> list[BaseRoute]:
    return [
        Route("/", _to_ui, methods=["GET", "HEAD"]),
        Route("/ui", _to_ui, methods=["GET", "HEAD"]),
        Route("/ui/assets/{path:path}", _asset, methods=["GET", "HEAD"]),
        Route("/ui/{path:path}", _ui, methods=["GET", "HEAD"]),
    ]
