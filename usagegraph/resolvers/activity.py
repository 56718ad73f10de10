"""Activity report and DAU/WAU/MAU (API.md 5.1-5.3)."""

from __future__ import annotations

from typing import Any

from usagegraph.errors import UsageGraphError


async def usage_metrics(*args: Any) -> Any:
    raise UsageGraphError("usageMetrics is not available yet")


async def activity(*args: Any) -> Any:
    raise UsageGraphError("activity is not available yet")
