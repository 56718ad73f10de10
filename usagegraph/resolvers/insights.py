"""Template Insights (API.md 5.4)."""

from __future__ import annotations

from typing import Any

from usagegraph.errors import UsageGraphError


async def template_insights(*args: Any) -> Any:
    raise UsageGraphError("insights are not available yet")
