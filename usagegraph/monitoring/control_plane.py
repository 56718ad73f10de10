"""The control-plane charts of the compute page, read from the Prometheus that scrapes this deployment
(`USAGEGRAPH_PROMETHEUS_URL`): log events by severity, HTTP responses by status code and HTTP latency
quantiles, over a range, through Prometheus's `query_range` API.

Only the fixed PromQL of this module is ever sent: the caller chooses the range and the step (validated
numbers), the operator chooses the scrape job (a quoted label value); nothing a client writes becomes
query text. Probe and scrape routes (`/metrics`, `/healthz`, `/readyz`) are left out of the status and
latency charts so that they show what API clients get, not what Prometheus and load balancers get.

A Prometheus that does not answer within `USAGEGRAPH_PROMETHEUS_TIMEOUT_SECONDS`, answers an error or
answers something else than a matrix fails the call with `PROMETHEUS_UNAVAILABLE` (the `reason`
extension says which of `timeout`, `unreachable`, `error` or `bad_response`)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from usagegraph.errors import UsageGraphError
from usagegraph.settings import Settings

log = logging.getLogger("usagegraph.monitoring.control_plane")

# Routes that are not API traffic: Prometheus's scrapes and the load balancer's probes.
NOT_API_ROUTES = "/metrics|/healthz|/readyz"
QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
# Prometheus refuses a query_range of more than 11,000 points per series.
MAX_POINTS = 11_000
DEFAULT_POINTS = 240
MIN_DEFAULT_STEP = 15


class PrometheusUnavailable(UsageGraphError):
    code = "PROMETHEUS_UNAVAILABLE"


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float | None


@dataclass(frozen=True)
class Series:
    label: str
    points: list[Point]


@dataclass(frozen=True)
class Charts:
    start: datetime
    end: datetime
    step_seconds: int
    log_events: list[Series]
    status_codes: list[Series]
    latency: list[Series]


def label_value(value: str) -> str:
    """A PromQL double-quoted string holding exactly `value`."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def queries(job: str | None, window_seconds: int) -> dict[str, str]:
    """The three charts' PromQL: the only query text this server sends to Prometheus."""
    job_matchers = [f"job={label_value(job)}"] if job else []

    def selector(*matchers: str) -> str:
        both = [*job_matchers, *matchers]
        return "{" + ", ".join(both) + "}" if both else ""

    window = f"[{int(window_seconds)}s]"
    api = selector(f'route!~"{NOT_API_ROUTES}"')
    logs = selector()
    buckets = f"sum by (le) (rate(usagegraph_http_request_duration_seconds_bucket{api}{window}))"
    latency = " or ".join(
        f'label_replace(histogram_quantile({q}, {buckets}), "quantile", "{name}", "", "")'
        for name, q in QUANTILES
    )
    return {
        "log_events": f"sum by (level) (rate(usagegraph_log_events_total{logs}{window}))",
        "status_codes": f"sum by (status) (rate(usagegraph_http_requests_total{api}{window}))",
        "latency": latency,
    }


def default_step(start: datetime, end: datetime) -> int:
    seconds = (end - start).total_seconds()
    return max(MIN_DEFAULT_STEP, math.ceil(seconds / DEFAULT_POINTS))


class ControlPlane:
    """Reads the charts from one Prometheus; one short-lived HTTP client per call (the page asks rarely)."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = (settings.prometheus_url or "").rstrip("/")
        self.job = settings.prometheus_job or None
        self.timeout = settings.prometheus_timeout_seconds
        self.min_window = settings.prometheus_rate_window_seconds
        self.transport = transport

    @property
    def configured(self) -> bool:
        return bool(self.url)

    async def charts(self, start: datetime, end: datetime, step_seconds: int) -> Charts:
        window = max(step_seconds, self.min_window)
        texts = queries(self.job, window)
        params = {"start": _unix(start), "end": _unix(end), "step": str(step_seconds)}
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
            logs, statuses, latency = await asyncio.gather(
                self._range(client, texts["log_events"], params),
                self._range(client, texts["status_codes"], params),
                self._range(client, texts["latency"], params),
            )
        return Charts(
            start=start,
            end=end,
            step_seconds=step_seconds,
            log_events=_series(logs, "level", order=_LEVELS),
            status_codes=_series(statuses, "status"),
            latency=_series(latency, "quantile", order=[name for name, _ in QUANTILES]),
        )

    async def _range(self, client: httpx.AsyncClient, query: str, params: dict[str, str]) -> list[Any]:
        try:
            response = await client.get(f"{self.url}/api/v1/query_range", params={"query": query, **params})
        except httpx.TimeoutException:
            raise _unavailable("timeout", f"Prometheus did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise _unavailable(
                "unreachable", f"Prometheus cannot be reached ({type(exc).__name__})"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _unavailable(
                "bad_response", f"Prometheus answered HTTP {response.status_code} without JSON"
            )
        if body.get("status") != "success":
            detail = str(body.get("error") or f"HTTP {response.status_code}")[:200]
            raise _unavailable("error", f"Prometheus answered an error: {detail}")
        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise _unavailable("bad_response", "Prometheus answered something else than a range result")
        return list(data.get("result") or [])


_LEVELS = ["critical", "error", "warning", "info", "debug"]


def _unavailable(reason: str, message: str) -> PrometheusUnavailable:
    log.warning("control-plane charts unavailable: %s", message)
    return PrometheusUnavailable(message, reason=reason)


def _unix(value: datetime) -> str:
    return f"{value.timestamp():.3f}"


def _series(result: Sequence[Any], label: str, order: Sequence[str] = ()) -> list[Series]:
    series = [
        Series(
            label=str(item.get("metric", {}).get(label, "")),
            points=[
                Point(datetime.fromtimestamp(float(t), UTC), _number(v)) for t, v in item.get("values", [])
            ],
        )
        for item in result
    ]
    rank = {name: position for position, name in enumerate(order)}
    return sorted(series, key=lambda s: (rank.get(s.label, len(rank)), s.label))


def _number(text: Any) -> float | None:
    """Prometheus writes sample values as strings; NaN (a quantile of no requests) and infinities are null."""
    value = float(text)
    return value if math.isfinite(value) else None
