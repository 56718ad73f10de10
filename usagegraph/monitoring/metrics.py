"""Prometheus metrics of one app instance (docs/api.md section 6). The registry belongs to the app, never to
the module, so that tests and several apps in one process do not share counters.

Values that already live elsewhere (the connection pool's state, the workspace utilization snapshot)
are read by custom collectors at scrape time instead of being copied into gauges on every change."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from usagegraph import __version__


class Admitting(Protocol):
    """What the admission gauges read (usagegraph.http.admission.Admission)."""

    @property
    def active(self) -> int: ...
    @property
    def waiting(self) -> int: ...


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
        self.otlp_records = Counter(
            "usagegraph_otlp_records",
            "OTLP log records and metric data points by signal and outcome (accepted, duplicate, rejected).",
            ["signal", "outcome"],
            registry=self.registry,
        )
        self.otlp_rejected = Counter(
            "usagegraph_otlp_rejected",
            "OTLP records dropped one by one, by signal and reason (docs/otlp.md).",
            ["signal", "reason"],
            registry=self.registry,
        )
        self.otlp_requests_rejected = Counter(
            "usagegraph_otlp_requests_rejected",
            "OTLP requests refused as a whole, by signal and reason (docs/otlp.md).",
            ["signal", "reason"],
            registry=self.registry,
        )
        self.log_events = Counter(
            "usagegraph_log_events",
            "Log events emitted by severity (debug, info, warning, error, critical).",
            ["level"],
            registry=self.registry,
        )
        self.build_info = Gauge(
            "usagegraph_build_info", "Build information.", ["version"], registry=self.registry
        )
        self.build_info.labels(version=__version__).set(1)
        self.admission_wait = Histogram(
            "usagegraph_admission_wait_seconds",
            "How long GraphQL requests waited for their turn to run (admission control).",
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
            registry=self.registry,
        )
        self.admission_rejected = Counter(
            "usagegraph_admission_rejected",
            "GraphQL requests turned away (HTTP 503) after waiting the longest wait for their turn.",
            registry=self.registry,
        )
        self.log_handler = LogEventCounter(self)

    def watch_admission(self, admission: Admitting) -> None:
        """Gauges of the requests running and waiting in this process."""
        running = Gauge(
            "usagegraph_admission_running",
            "GraphQL requests running in this process.",
            registry=self.registry,
        )
        running.set_function(lambda: admission.active)
        waiting = Gauge(
            "usagegraph_admission_waiting",
            "GraphQL requests waiting for their turn in this process.",
            registry=self.registry,
        )
        waiting.set_function(lambda: admission.waiting)

    def count_operation(self, operation_name: str | None, outcome: str) -> None:
        name = (operation_name or "anonymous")[:64]
        self.graphql_operations.labels(operation=name, outcome=outcome).inc()

    def register(self, collector: Collector) -> None:
        self.registry.register(collector)

    def unregister(self, collector: Collector) -> None:
        try:
            self.registry.unregister(collector)
        except KeyError:
            pass

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class LogEventCounter(logging.Handler):
    """Counts every record that reaches the root logger, whoever logged it (ours, uvicorn, SQLAlchemy),
    so a burst of errors shows on a dashboard even when nobody reads the log."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(logging.NOTSET)
        self.counter = metrics.log_events

    def emit(self, record: logging.LogRecord) -> None:
        self.counter.labels(level=record.levelname.lower()).inc()

    def attach(self) -> None:
        root = logging.getLogger()
        if self not in root.handlers:
            root.addHandler(self)

    def detach(self) -> None:
        logging.getLogger().removeHandler(self)


class PoolCollector(Collector):
    """Connection pool state of each engine, read at scrape time. `waiting` counts coroutines blocked
    on a checkout because the pool and its overflow are exhausted: the first sign that the pool, not
    the database, is the bottleneck."""

    def __init__(self, engines: Mapping[str, AsyncEngine]) -> None:
        self.engines = dict(engines)

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        families = self._families()
        size, limit, open_, in_use, idle, overflow, waiting = families
        for name, engine in self.engines.items():
            state = pool_state(engine)
            if state is None:
                continue
            size.add_metric([name], state["size"])
            limit.add_metric([name], state["limit"])
            open_.add_metric([name], state["open"])
            in_use.add_metric([name], state["checked_out"])
            idle.add_metric([name], state["idle"])
            overflow.add_metric([name], state["overflow"])
            waiting.add_metric([name], state["waiting"])
        return families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        def family(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"usagegraph_db_pool_{name}", doc, labels=["pool"])

        return [
            family("size", "Connections the pool keeps (pool_size)."),
            family("limit", "Most connections the pool may open (pool_size + max_overflow)."),
            family("connections", "Connections currently open."),
            family("checked_out", "Connections in use."),
            family("idle", "Open connections waiting in the pool."),
            family("overflow", "Connections open beyond pool_size."),
            family("waiting", "Checkouts waiting for a connection."),
        ]


def pool_state(engine: AsyncEngine) -> dict[str, int] | None:
    """The pool's numbers, or None for a pool that does not queue connections (NullPool)."""
    pool: Any = engine.sync_engine.pool
    if not all(hasattr(pool, attr) for attr in ("size", "checkedin", "checkedout", "overflow")):
        return None
    size, checked_out, idle = int(pool.size()), int(pool.checkedout()), int(pool.checkedin())
    return {
        "size": size,
        "limit": size + max(int(getattr(pool, "_max_overflow", 0)), 0),
        "open": checked_out + idle,
        "checked_out": checked_out,
        "idle": idle,
        "overflow": max(int(pool.overflow()), 0),
        "waiting": _waiters(pool),
    }


def _waiters(pool: Any) -> int:
    queue = getattr(pool, "_pool", None)
    inner = vars(queue).get("_queue") if queue is not None and hasattr(queue, "__dict__") else None
    getters = getattr(inner if inner is not None else queue, "_getters", None) or ()
    return sum(1 for getter in getters if not getter.done())


def route_template(scope: Scope, routes: Iterable[BaseRoute]) -> str:
    """The template of the route that serves the request (never the raw path: bounded cardinality)."""
    for candidate in routes:
        match, _ = candidate.matches(scope)
        if match == Match.FULL:
            return str(getattr(candidate, "path", "unmatched"))
    return "unmatched"


class MetricsMiddleware:
    """Counts every request by its route template and leaves the template in the request state for
    the access log."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_template(scope, self.routes())
        scope.setdefault("state", {})["route"] = route
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
            self.metrics.http_latency.labels(method=method, route=route).observe(
                time.perf_counter() - started
            )
