"""Query.controlPlane: validates the range and step, then reads the charts from Prometheus
(usagegraph.monitoring.control_plane). The permission class has already checked monitoring:read."""

from __future__ import annotations

from datetime import datetime

from strawberry.types import Info

from usagegraph.errors import BadUserInput
from usagegraph.monitoring.control_plane import MAX_POINTS, Charts, ControlPlane, Series, default_step
from usagegraph.schema.control_plane import ControlPlaneCharts, ControlPlanePoint, ControlPlaneSeries

MAX_STEP_SECONDS = 7 * 24 * 3600


async def charts(
    info: Info, start: datetime, end: datetime, step_seconds: int | None
) -> ControlPlaneCharts | None:
    source = ControlPlane(info.context.settings)
    if not source.configured:
        return None
    if end <= start:
        raise BadUserInput("end must be after start", argument="end")
    if step_seconds is None:
        step_seconds = default_step(start, end)
    elif not 1 <= step_seconds <= MAX_STEP_SECONDS:
        raise BadUserInput(f"stepSeconds must be between 1 and {MAX_STEP_SECONDS}", argument="stepSeconds")
    if (end - start).total_seconds() / step_seconds > MAX_POINTS:
        raise BadUserInput(
            f"the range holds more than {MAX_POINTS} steps of stepSeconds: choose a longer step",
            argument="stepSeconds",
        )
    return _shaped(await source.charts(start, end, step_seconds))


def _shaped(charts: Charts) -> ControlPlaneCharts:
    def series(items: list[Series]) -> list[ControlPlaneSeries]:
        return [
            ControlPlaneSeries(
                label=s.label, points=[ControlPlanePoint(at=p.at, value=p.value) for p in s.points]
            )
            for s in items
        ]

    return ControlPlaneCharts(
        start=charts.start,
        end=charts.end,
        step_seconds=charts.step_seconds,
        log_events=series(charts.log_events),
        status_codes=series(charts.status_codes),
        latency=series(charts.latency),
    )
