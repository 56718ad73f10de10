"""Control-plane charts of the compute page (docs/monitoring.md): the deployment's own metrics, read from
Prometheus by fixed queries."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from usagegraph.auth.permissions import CanReadControlPlane
from usagegraph.monitoring.control_plane import MAX_POINTS
from usagegraph.schema import costs
from usagegraph.schema.lazy import resolvers

control_plane = resolvers("control_plane")


@strawberry.type(description="One value of a series: the rate or quantile over the window ending at `at`.")
class ControlPlanePoint:
    at: datetime
    value: float | None = strawberry.field(
        description="null when there is no value (a latency quantile of a window without requests)"
    )


@strawberry.type
class ControlPlaneSeries:
    label: str = strawberry.field(
        description="the severity (logEvents), the HTTP status code (statusCodes) or p50, p95, p99 (latency)"
    )
    points: list[ControlPlanePoint] = strawberry.field(
        description="one per step where the series has a value, oldest first",
        metadata=costs.bounded(MAX_POINTS),
    )


@strawberry.type
class ControlPlaneCharts:
    start: datetime
    end: datetime
    step_seconds: int
    log_events: list[ControlPlaneSeries] = strawberry.field(
        description="log events per second by severity (critical, error, warning, info, debug)",
        metadata=costs.bounded(5),
    )
    status_codes: list[ControlPlaneSeries] = strawberry.field(
        description="HTTP responses per second by status code (probes and /metrics left out)",
        metadata=costs.bounded(costs.FEW),
    )
    latency: list[ControlPlaneSeries] = strawberry.field(
        description="HTTP latency in seconds: p50, p95 and p99 (probes and /metrics left out)",
        metadata=costs.bounded(3),
    )


@strawberry.type
class ControlPlane:
    @strawberry.field(
        permission_classes=[CanReadControlPlane],
        description="Whether USAGEGRAPH_PROMETHEUS_URL is set; when false, charts is null.",
    )
    def configured(self, info: Info) -> bool:
        return bool(info.context.settings.prometheus_url)

    @strawberry.field(
        permission_classes=[CanReadControlPlane],
        description=(
            "The charts over [start, end] every stepSeconds (default: about 240 points, at least 15 s). "
            "null without error when Prometheus is not configured; PROMETHEUS_UNAVAILABLE when it does not answer."
        ),
    )
    async def charts(
        self, info: Info, start: datetime, end: datetime, step_seconds: int | None = None
    ) -> ControlPlaneCharts | None:
        return await control_plane.charts(info, start, end, step_seconds)
