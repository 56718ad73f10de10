"""Compute utilization (API.md 5.6)."""

from __future__ import annotations

from typing import Any

from usagegraph.errors import UsageGraphError


async def organization_compute(*args: Any) -> Any:
    raise UsageGraphError("compute is not available yet")


async def workspace_utilization(*args: Any) -> Any:
    raise UsageGraphError("utilization is not available yet")
