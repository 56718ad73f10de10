"""Per-workspace utilization as Prometheus gauges, for Grafana dashboards that chart workspaces by
organization, owner and template.

Each series is the workspace's latest sample in a trailing window (15 minutes): a workspace that stops
reporting disappears from the scrape after the window instead of freezing at its last value. Values
are fractions of the workspace's limits (1.0 = at its CPU or memory limit).

The numbers come from one query run by a background task at most once a minute, never per scrape, so
any number of Prometheus servers scraping any number of replicas costs the database one query per
replica per minute. The scrape reads the last snapshot.

Label cardinality is bounded: at most `MAX_SERIES` (2,000) workspaces are exported, the busiest (by
CPU utilization) first; `usagegraph_workspace_series_dropped` says how many were left out, so a
dashboard can show that the list is truncated. Four labels (organization, username, workspace,
template) of at most 2,000 workspaces keep a Prometheus server comfortable."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from usagegraph.db.database import Database
from usagegraph.db.queries import compute as q
from usagegraph.upkeep.periodic import Periodic

MAX_SERIES = 2000
WINDOW_SECONDS = 15 * 60
REFRESH_SECONDS = 60.0
LABELS = ["organization", "username", "workspace", "template"]


@dataclass(frozen=True)
class WorkspaceSample:
    labels: tuple[str, str, str, str]
    cpu: float | None
    memory: float | None


@dataclass(frozen=True)
class Snapshot:
    samples: tuple[WorkspaceSample, ...] = ()
    dropped: int = 0
    refreshed_at: float | None = None


@dataclass(eq=False)
class WorkspaceUtilizationCollector(Collector):
    db: Database
    max_series: int = MAX_SERIES
    window_seconds: int = WINDOW_SECONDS
    refresh_seconds: float = REFRESH_SECONDS
    snapshot: Snapshot = field(default_factory=Snapshot, init=False)
    _loop: Periodic | None = field(default=None, init=False)

    async def refresh(self) -> Snapshot:
        async with self.db.read() as conn:
            rows, dropped = await q.latest_workspace_utilization(conn, self.window_seconds, self.max_series)
        seen: set[tuple[str, str, str, str]] = set()
        samples: list[WorkspaceSample] = []
        for row in rows:
            labels = (row.organization, row.username, row.workspace, row.template)
            if labels in seen:
                dropped += 1
                continue
            seen.add(labels)
            samples.append(WorkspaceSample(labels, _float(row.cpu), _float(row.memory)))
        self.snapshot = Snapshot(tuple(samples), dropped, time.time())
        return self.snapshot

    def start(self) -> None:
        """Refresh now and every refresh_seconds; a failed refresh keeps the previous snapshot and is
        retried at the next period."""
        self._loop = Periodic("workspace utilization refresh", self.refresh_seconds, self.refresh)
        self._loop.start()

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Let a running refresh finish (a query is not cancelled halfway unless it overstays)."""
        if self._loop is not None:
            await self._loop.stop(grace_seconds)

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        cpu, memory, dropped, refreshed = families = self._families()
        snapshot = self.snapshot
        for sample in snapshot.samples:
            if sample.cpu is not None:
                cpu.add_metric(list(sample.labels), sample.cpu)
            if sample.memory is not None:
                memory.add_metric(list(sample.labels), sample.memory)
        dropped.add_metric([], snapshot.dropped)
        if snapshot.refreshed_at is not None:
            refreshed.add_metric([], snapshot.refreshed_at)
        return families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "usagegraph_workspace_cpu_utilization",
                "Latest CPU use of the workspace as a fraction of its CPU limit (trailing 15 minutes).",
                labels=LABELS,
            ),
            GaugeMetricFamily(
                "usagegraph_workspace_memory_utilization",
                "Latest memory use of the workspace as a fraction of its memory limit (trailing 15 minutes).",
                labels=LABELS,
            ),
            GaugeMetricFamily(
                "usagegraph_workspace_series_dropped",
                f"Workspaces sampled in the window but left out of the gauges (cap {MAX_SERIES}).",
            ),
            GaugeMetricFamily(
                "usagegraph_workspace_gauges_refreshed_timestamp_seconds",
                "Unix time of the last successful refresh of the workspace gauges.",
            ),
        ]


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
