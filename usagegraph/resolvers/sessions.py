"""AI coding sessions analytics (API.md 5.5)."""

from __future__ import annotations

from typing import Any

from usagegraph.errors import UsageGraphError


async def _unavailable(*args: Any) -> Any:
    raise UsageGraphError("session analytics are not available yet")


session_analytics = sessions = summary = timeseries = by_agent = cost_breakdown = users = user_timeseries = (
    _unavailable
)
