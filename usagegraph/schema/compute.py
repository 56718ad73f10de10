"""Compute utilization types (docs/api.md 5.6)."""

from __future__ import annotations

from datetime import datetime

import strawberry

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
    series: list[UtilizationPoint]


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
    nodes: list[NodeUtilization]
    workspaces: list[WorkspaceUtilization] = strawberry.field(description="by cpu.p95 desc")
