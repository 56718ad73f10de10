"""Compute utilization types (docs/api.md 5.6)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from usagegraph.schema import costs
from usagegraph.schema.common import UserRef, WorkspaceRef


@strawberry.type
class UtilizationStats:
    average: float
    p95: float
    max: float


@strawberry.type
class UtilizationPoint:
    start: datetime
    end: datetime
    cpu: float | None
    memory: float | None


@strawberry.type
class NodeUtilization:
    node: str
    cpu: UtilizationStats
    memory: UtilizationStats
    series: list[UtilizationPoint] = strawberry.field(metadata=costs.bounded(costs.FEW))


@strawberry.type
class WorkspaceUtilization:
    workspace: WorkspaceRef
    user: UserRef
    node: str | None
    cpu: UtilizationStats
    memory: UtilizationStats
    samples: int


@strawberry.type
class ComputeUsage:
    nodes: list[NodeUtilization] = strawberry.field(metadata=costs.bounded(costs.ROWS))
    workspaces: list[WorkspaceUtilization] = strawberry.field(
        metadata=costs.bounded(costs.ROWS), description="by cpu.p95 desc"
    )
