"""Prometheus metrics of one app instance (API.md section 6). The registry belongs to the app, never to
the module, so that tests and several apps in one process do not share counters."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from usagegraph import __version__


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "usagegraph_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "usagegraph_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.graphql_operations = Counter(
            "usagegraph_graphql_operations",
            "GraphQL operations by operation name and outcome (ok, client_error, server_error).",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.ingest_records = Counter(
            "usagegraph_ingest_records",
            "Ingested records by kind and result (accepted, duplicate, rejected).",
            ["kind", "result"],
            registry=self.registry,
        )
        self.build_info = Gauge(
            "usagegraph_build_info", "Build information.", ["version"], registry=self.registry
        )
        self.build_info.labels(version=__version__).set(1)

    def count_operation(self, operation_name: str | None, outcome: str) -> None:
        name = (operation_name or "anonymous")[:64]
        self.graphql_operations.labels(operation=name, outcome=outcome).inc()

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts every request by its route template (never the raw path, to bound label cardinality)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Callable[[], list[object]]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = "unmatched"
        for candidate in self.routes():
            match, _ = candidate.matches(scope)  # type: ignore[attr-defined]
            if match == Match.FULL:
                route = candidate.path  # type: ignore[attr-defined]
                break
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: dict[str, object]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])  # type: ignore[call-overload]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)  # type: ignore[arg-type]
        finally:
            method = scope["method"]
            self.metrics.http_requests.labels(method=method, route=route, status=str(status)).inc()
            self.metrics.http_latency.labels(method=method, route=route).observe(time.perf_counter() - started)


Handler = Callable[[Request], Awaitable[Response]]
