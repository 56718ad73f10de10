"""Compute utilization over resource samples (per workspace, against its limits) and node samples (per
node, against its capacity), docs/api.md 5.6.

Buckets are `start + k*interval` computed in one step with `usagegraph_date_add(ts, interval, zone)`, so calendar
units follow the requested zone (DST included) while hours and minutes stay absolute, exactly as
PostgreSQL adds an interval to a timestamptz. A series reads the range's samples once and finds each
sample's bucket by a binary search over the bucket starts (width_bucket), so the cost grows with samples +
buckets, not their product.

Node samples describe shared infrastructure and carry no organization: an organization sees the nodes
that hosted its workspaces in the range (the `node` of its resource samples), never the others. A node
without node samples in the range has nothing to report and is left out."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries.buckets import MAX_BUCKETS, step_cap
from usagegraph.db.queries.compose import sql


@dataclass(frozen=True)
class Range:
    """A validated, bucketed time range: `interval` is a PostgreSQL interval literal."""

    start: datetime
    end: datetime
    interval: str
    timezone: str
    buckets: int = 0

    def params(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "iv": self.interval,
            "tz": self.timezone,
            "last_k": self.buckets - 1,
        }


_BUCKETS = """
    SELECT count(*) FROM generate_series(0, CAST(:cap AS integer)) AS k
    WHERE usagegraph_date_add(CAST(:start AS timestamptz), k * CAST(CAST(:iv AS text) AS interval), CAST(:tz AS text))
          < CAST(:end AS timestamptz)
"""

# Both checks of a requested range in one round trip: the years first (a caller refuses a longer range
# before it looks at the count, which is bounded by its cap either way).
_RANGE_CHECK = text(
    """
    SELECT CAST(:end AS timestamptz)
           <= usagegraph_date_add(CAST(:start AS timestamptz), make_interval(years => :years), CAST(:tz AS text))
           AS within_years,
           ("""
    + _BUCKETS
    + """) AS buckets
    """
)

# Statistics are aggregated per workspace straight from the samples; the owner and the node of each
# workspace's latest sample (with a node) are looked up once per workspace afterwards, not carried through
# the aggregation (an ordered array_agg over every sample sorted them all by time as well).
_WORKSPACE_STATS = text(
    """
    WITH stats AS (
        SELECT rs.workspace_id,
               count(*) AS samples,
               coalesce(avg(v.cpu), 0) AS cpu_average,
               coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY v.cpu), 0) AS cpu_p95,
               coalesce(max(v.cpu), 0) AS cpu_max,
               coalesce(avg(v.memory), 0) AS memory_average,
               coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY v.memory), 0) AS memory_p95,
               coalesce(max(v.memory), 0) AS memory_max
        FROM resource_samples rs
        CROSS JOIN LATERAL (
            SELECT rs.cpu_used_cores / NULLIF(rs.cpu_limit_cores, 0) AS cpu,
                   rs.memory_used_bytes / NULLIF(rs.memory_limit_bytes, 0) AS memory
        ) v
        WHERE rs.organization_id = :org
          AND rs.at >= CAST(:start AS timestamptz) AND rs.at < CAST(:end AS timestamptz)
        GROUP BY rs.workspace_id
    )
    SELECT st.workspace_id, w.owner_id, latest.node, st.samples,
           st.cpu_average, st.cpu_p95, st.cpu_max, st.memory_average, st.memory_p95, st.memory_max
    FROM stats st
    JOIN workspaces w ON w.organization_id = :org AND w.id = st.workspace_id
    LEFT JOIN LATERAL (
        SELECT r.node FROM resource_samples r
        WHERE r.organization_id = :org AND r.workspace_id = st.workspace_id AND r.node IS NOT NULL
          AND r.at >= CAST(:start AS timestamptz) AND r.at < CAST(:end AS timestamptz)
        ORDER BY r.at DESC
        LIMIT 1
    ) latest ON true
    ORDER BY st.cpu_p95 DESC, st.workspace_id
    """
)

_NODE_STATS = text(
    """
    WITH org_nodes AS (
        SELECT DISTINCT node FROM resource_samples
        WHERE organization_id = :org AND node IS NOT NULL
          AND at >= CAST(:start AS timestamptz) AND at < CAST(:end AS timestamptz)
    ), s AS (
        SELECT ns.node,
               ns.cpu_used_cores / NULLIF(ns.cpu_capacity_cores, 0) AS cpu,
               ns.memory_used_bytes / NULLIF(ns.memory_capacity_bytes, 0) AS memory
        FROM node_samples ns JOIN org_nodes USING (node)
        WHERE ns.at >= CAST(:start AS timestamptz) AND ns.at < CAST(:end AS timestamptz)
    )
    SELECT node,
           count(*) AS samples,
           coalesce(avg(cpu), 0) AS cpu_average,
           coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY cpu), 0) AS cpu_p95,
           coalesce(max(cpu), 0) AS cpu_max,
           coalesce(avg(memory), 0) AS memory_average,
           coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY memory), 0) AS memory_p95,
           coalesce(max(memory), 0) AS memory_max
    FROM s
    GROUP BY node
    ORDER BY node
    """
)

# Series: the samples of the range are read once and grouped by bucket (width_bucket over the bucket starts,
# which are contiguous from :start), then joined to every bucket so that empty ones are listed with nulls.
_SERIES_BUCKETS = """
    buckets AS MATERIALIZED (  -- computed once, not again for every row of the join
        SELECT k,
               usagegraph_date_add(CAST(:start AS timestamptz), k * CAST(CAST(:iv AS text) AS interval), CAST(:tz AS text))
                   AS bucket_start,
               least(usagegraph_date_add(CAST(:start AS timestamptz), (k + 1) * CAST(CAST(:iv AS text) AS interval),
                              CAST(:tz AS text)),
                     CAST(:end AS timestamptz)) AS bucket_end
        FROM generate_series(0, CAST(:last_k AS integer)) AS k
    ), bounds AS (
        SELECT array_agg(bucket_start ORDER BY k) AS starts FROM buckets
    )
"""

_NODE_SERIES = sql(
    """
    WITH $SERIES_BUCKETS, per_bucket AS (
        SELECT ns.node, width_bucket(ns.at, (SELECT starts FROM bounds)) - 1 AS k,
               CAST(avg(ns.cpu_used_cores / NULLIF(ns.cpu_capacity_cores, 0)) AS float8) AS cpu,
               CAST(avg(ns.memory_used_bytes / NULLIF(ns.memory_capacity_bytes, 0)) AS float8) AS memory
        FROM node_samples ns
        WHERE ns.node = ANY(CAST(:nodes AS text[]))
          AND ns.at >= CAST(:start AS timestamptz) AND ns.at < CAST(:end AS timestamptz)
        GROUP BY 1, 2
    )
    SELECT n.node, b.bucket_start, b.bucket_end, v.cpu, v.memory
    FROM unnest(CAST(:nodes AS text[])) AS n(node)
    CROSS JOIN buckets b
    LEFT JOIN per_bucket v ON v.node = n.node AND v.k = b.k
    ORDER BY n.node, b.k
    """,
    SERIES_BUCKETS=_SERIES_BUCKETS,
)

_WORKSPACE_SERIES = sql(
    """
    WITH $SERIES_BUCKETS, per_bucket AS (
        SELECT width_bucket(rs.at, (SELECT starts FROM bounds)) - 1 AS k,
               CAST(avg(rs.cpu_used_cores / NULLIF(rs.cpu_limit_cores, 0)) AS float8) AS cpu,
               CAST(avg(rs.memory_used_bytes / NULLIF(rs.memory_limit_bytes, 0)) AS float8) AS memory
        FROM resource_samples rs
        WHERE rs.organization_id = :org AND rs.workspace_id = :ws
          AND rs.at >= CAST(:start AS timestamptz) AND rs.at < CAST(:end AS timestamptz)
        GROUP BY 1
    )
    SELECT b.bucket_start, b.bucket_end, v.cpu, v.memory
    FROM buckets b
    LEFT JOIN per_bucket v ON v.k = b.k
    ORDER BY b.k
    """,
    SERIES_BUCKETS=_SERIES_BUCKETS,
)


async def check_range(
    conn: AsyncConnection, start: datetime, end: datetime, interval: str, timezone: str, years: int
) -> tuple[bool, int]:
    """Whether `end` is at most `years` calendar years after `start` in the zone (Feb 29 clamps), and the
    range's number of buckets, counted up to MAX_BUCKETS + 1 (enough to refuse a larger one), in one
    statement."""
    cap = step_cap(start, end, interval, MAX_BUCKETS)
    params = {"start": start, "end": end, "iv": interval, "tz": timezone, "cap": cap, "years": years}
    row = (await conn.execute(_RANGE_CHECK, params)).one()
    return bool(row.within_years), int(row.buckets)


async def workspace_stats(
    conn: AsyncConnection, organization_id: uuid.UUID, rng: Range
) -> Sequence[Row[Any]]:
    """One row per workspace of the organization with samples in range, by cpu p95 desc, then id."""
    return (await conn.execute(_WORKSPACE_STATS, {**rng.params(), "org": organization_id})).all()


async def node_stats(conn: AsyncConnection, organization_id: uuid.UUID, rng: Range) -> Sequence[Row[Any]]:
    """One row per node that hosted the organization's workspaces and has node samples in range."""
    return (await conn.execute(_NODE_STATS, {**rng.params(), "org": organization_id})).all()


async def node_series(conn: AsyncConnection, nodes: list[str], rng: Range) -> Sequence[Row[Any]]:
    """Every bucket of every given node, oldest first; cpu and memory (float8) are null in a bucket without
    samples."""
    return (await conn.execute(_NODE_SERIES, {**rng.params(), "nodes": nodes})).all()


async def workspace_series(
    conn: AsyncConnection, organization_id: uuid.UUID, workspace_id: uuid.UUID, rng: Range
) -> Sequence[Row[Any]]:
    """Every bucket of one workspace, oldest first; null where the bucket has no sample."""
    params = {**rng.params(), "org": organization_id, "ws": workspace_id}
    return (await conn.execute(_WORKSPACE_SERIES, params)).all()


async def latest_workspace_utilization(
    conn: AsyncConnection, window_seconds: int, limit: int
) -> tuple[Sequence[Row[Any]], int]:
    """The latest sample of every workspace sampled in the trailing window, with the names dashboards
    label it by; at most `limit` rows (busiest CPU first) and the number of workspaces left out."""
    sql = text(
        """
        WITH latest AS (
            SELECT DISTINCT ON (rs.organization_id, rs.workspace_id)
                   rs.organization_id, rs.workspace_id,
                   rs.cpu_used_cores / NULLIF(rs.cpu_limit_cores, 0) AS cpu,
                   rs.memory_used_bytes / NULLIF(rs.memory_limit_bytes, 0) AS memory
            FROM resource_samples rs
            WHERE rs.at >= now() - make_interval(secs => :window)
            ORDER BY rs.organization_id, rs.workspace_id, rs.at DESC
        )
        SELECT o.name AS organization, u.username, w.name AS workspace, t.name AS template,
               l.cpu, l.memory, count(*) OVER () AS total
        FROM latest l
        JOIN workspaces w ON w.organization_id = l.organization_id AND w.id = l.workspace_id
        JOIN organizations o ON o.id = l.organization_id
        JOIN users u ON u.id = w.owner_id
        JOIN templates t ON t.organization_id = w.organization_id AND t.id = w.template_id
        ORDER BY l.cpu DESC NULLS LAST, o.name, u.username, w.name
        LIMIT :limit
        """
    )
    rows = (await conn.execute(sql, {"window": window_seconds, "limit": limit})).all()
    total = int(rows[0].total) if rows else 0
    return rows, max(total - len(rows), 0)
