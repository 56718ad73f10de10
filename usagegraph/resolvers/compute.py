"""Compute utilization (docs/api.md 5.6): per node and per workspace statistics of an organization, and the
bucketed series of one workspace. The permission class on the field has already checked
`monitoring:read`; this module validates the range, runs the queries and shapes the result."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info

from usagegraph.db.queries import compute as q
from usagegraph.db.queries.buckets import MAX_BUCKETS
from usagegraph.errors import BadUserInput
from usagegraph.execution.compiled import Columns
from usagegraph.resolvers.zones import zone
from usagegraph.schema.compute import (
    ComputeUsage,
    NodeUtilization,
    UtilizationPoint,
    UtilizationStats,
    WorkspaceUtilization,
)
from usagegraph.schema.scalars import Interval
from usagegraph.upkeep import retention

MAX_YEARS = 10


async def organization_compute(
    info: Info, org_uuid: uuid.UUID, start: datetime, end: datetime, interval: Interval, timezone: str
) -> ComputeUsage:
    db, loaders = info.context.db, info.context.loaders
    async with db.read() as conn:
        rng = await _validated_range(conn, start, end, interval, timezone)
    retention.check_range(
        info.context.settings, start, "compute", "start", retention.RESOURCE_SAMPLES, retention.NODE_SAMPLES
    )

    # The workspaces' statistics (and then their workspaces and owners) and the nodes' statistics (and
    # then their series) are independent: each chain on a connection of its own.
    async def workspace_part() -> tuple[Sequence[Row[Any]], list[Any], dict[uuid.UUID, Any]]:
        async with db.read() as conn:
            rows = await q.workspace_stats(conn, org_uuid, rng)
        workspaces, users = await asyncio.gather(
            loaders.workspace.load_many([row.workspace_id for row in rows]),
            loaders.users([row.owner_id for row in rows]),
        )
        return rows, workspaces, users

    async def node_part() -> tuple[Sequence[Row[Any]], Sequence[Row[Any]]]:
        async with db.read() as conn:
            rows = await q.node_stats(conn, org_uuid, rng)
            return rows, (await q.node_series(conn, [row.node for row in rows], rng) if rows else [])

    (workspace_rows, workspaces, users), (node_rows, series_rows) = await asyncio.gather(
        workspace_part(), node_part()
    )
    by_node: dict[str, list[Row[Any]]] = {row.node: [] for row in node_rows}
    for row in series_rows:
        by_node[row.node].append(row)
    series = {node: _points(rows) for node, rows in by_node.items()}
    return ComputeUsage(
        nodes=[
            NodeUtilization(
                node=row.node, cpu=_stats(row, "cpu"), memory=_stats(row, "memory"), series=series[row.node]
            )
            for row in node_rows
        ],
        workspaces=[
            WorkspaceUtilization(
                workspace=workspace,
                user=users[row.owner_id],
                node=row.node,
                cpu=_stats(row, "cpu"),
                memory=_stats(row, "memory"),
                samples=int(row.samples),
            )
            for row, workspace in zip(workspace_rows, workspaces, strict=True)
            if workspace is not None and row.owner_id in users
        ],
    )


async def workspace_utilization(
    info: Info,
    org_uuid: uuid.UUID,
    workspace_uuid: uuid.UUID,
    start: datetime,
    end: datetime,
    interval: Interval,
    timezone: str,
) -> list[UtilizationPoint]:
    async with info.context.db.read() as conn:
        rng = await _validated_range(conn, start, end, interval, timezone)
        retention.check_range(
            info.context.settings, start, "workspaceUtilization", "start", retention.RESOURCE_SAMPLES
        )
        rows = await q.workspace_series(conn, org_uuid, workspace_uuid, rng)
    return _points(rows)


async def _validated_range(
    conn: AsyncConnection, start: datetime, end: datetime, interval: Interval, timezone: str
) -> q.Range:
    """Arguments are checked in the order a client would fix them; calendar limits are computed by the
    database with the same arithmetic as the buckets, so a limit and a bucket never disagree."""
    if start.second or start.microsecond:
        raise BadUserInput("start must be a whole minute", argument="start")
    if end.second or end.microsecond:
        raise BadUserInput("end must be a whole minute", argument="end")
    if end <= start:
        raise BadUserInput("end must be after start", argument="end")
    zone(timezone)
    try:
        within_years, buckets = await q.check_range(conn, start, end, interval.sql, timezone, MAX_YEARS)
        if not within_years:
            raise BadUserInput(f"the range must not exceed {MAX_YEARS} years", argument="end")
    except DBAPIError as error:
        if "time zone" in str(error.orig):
            raise BadUserInput(f"unknown time zone {timezone!r}", argument="timezone") from None
        raise
    if buckets > MAX_BUCKETS:
        raise BadUserInput(
            f"the range holds more than {MAX_BUCKETS} buckets of {interval}; use a longer interval",
            argument="interval",
        )
    return q.Range(start=start, end=end, interval=interval.sql, timezone=timezone, buckets=buckets)


def _stats(row: Row[Any], prefix: str) -> UtilizationStats:
    return UtilizationStats(
        average=float(getattr(row, f"{prefix}_average")),
        p95=float(getattr(row, f"{prefix}_p95")),
        max=float(getattr(row, f"{prefix}_max")),
    )


def _points(rows: Sequence[Row[Any]]) -> list[UtilizationPoint]:
    """A series as columns (usagegraph.execution.compiled.Columns): the compiled executor builds its points without an
    object per bucket; cpu and memory arrive as floats or nulls."""
    columns: dict[str, Sequence[Any]] = {
        "start": [row.bucket_start for row in rows],
        "end": [row.bucket_end for row in rows],
        "cpu": [row.cpu for row in rows],
        "memory": [row.memory for row in rows],
    }
    return cast(list[UtilizationPoint], Columns(UtilizationPoint, columns))
