"""REST routes of the APIs usagegraph stands in for (docs/rest.md), their OpenAPI document at
/api/openapi.json and its rendering for people at /api/docs."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from usagegraph.http.admission import Admission
from usagegraph.http.endpoint import GraphQLEndpoint
from usagegraph.http.rest.core import Runner, error_body, json_response
from usagegraph.http.rest.openapi import document
from usagegraph.http.rest.routes import ROUTES
from usagegraph.monitoring.metrics import Metrics

__all__ = ["ROUTES", "rest_routes"]

DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>usagegraph REST API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
"""

DOCS_INIT = """window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""

# The files of the Swagger UI distribution that /api/docs loads, served from this server.
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}


def swagger_ui_static() -> Path | None:
    """The static directory of the swagger-ui-py distribution (found without importing the package)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def rest_routes(
    endpoint: Callable[[], GraphQLEndpoint], admission: Admission | None, metrics: Metrics
) -> list[BaseRoute]:
    runner = Runner(endpoint, admission, metrics)
    spec = orjson.dumps(document(ROUTES))
    static = swagger_ui_static()

    async def openapi(request: Request) -> Response:
        return Response(spec, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_HTML)

    async def asset(request: Request) -> Response:
        name = request.path_params["asset"]
        if name == "init.js":
            return Response(DOCS_INIT, media_type="text/javascript")
        if name not in ASSETS or static is None or not (static / name).is_file():
            return json_response(error_body(request.state.request_id, "not found", "NOT_FOUND"), 404)
        return FileResponse(
            static / name, media_type=ASSETS[name], headers={"Cache-Control": "max-age=86400"}
        )

    return [
        *(Route(route.path, runner.view(route), methods=["GET"]) for route in ROUTES),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route("/api/docs", docs, methods=["GET"]),
        Route("/api/docs/{asset}", asset, methods=["GET"]),
    ]
