"""The ingest mutation."""

from __future__ import annotations

from typing import Any

from usagegraph.errors import UsageGraphError


async def ingest(*args: Any) -> Any:
    raise UsageGraphError("ingest is not available yet")
