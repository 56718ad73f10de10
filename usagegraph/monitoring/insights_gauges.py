"""Template Insights as Prometheus gauges, the way the source system exports them: per template, the
active users and the usage seconds of each app over a trailing window (one hour by default; pass
`window` to start_insights_collector for another).

A scrape never queries the database: a background task refreshes a snapshot every `refresh` seconds
(60 by default) and the collector serves the last snapshot, so the cost is bounded whatever the scrape
rate. With insights disabled nothing is registered and nothing runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from usagegraph.db.database import Database
from usagegraph.db.queries import insights as q
from usagegraph.settings import Settings
from usagegraph.upkeep.periodic import Periodic

log = logging.getLogger("usagegraph.monitoring.insights_gauges")

ACTIVE_USERS = "usagegraph_insights_templates_active_users"
APP_SECONDS = "usagegraph_insights_applications_usage_seconds"
TEMPLATE_LABELS = ["organization_id", "template_id", "template_name"]


@dataclass(frozen=True)
class Snapshot:
    active: Sequence[Any] = ()
    apps: Sequence[Any] = ()
    computed_at: datetime | None = None


@dataclass(eq=False)
class InsightsCollector(Collector):
    db: Database
    window: timedelta = timedelta(hours=1)
    refresh: float = 60.0
    snapshot: Snapshot = field(default_factory=Snapshot)
    _refresher: Periodic | None = None
    _registry: CollectorRegistry | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return self._families(Snapshot())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return self._families(self.snapshot)

    def _families(self, snapshot: Snapshot) -> Iterator[GaugeMetricFamily]:
        minutes = int(self.window.total_seconds() // 60)
        active = GaugeMetricFamily(
            ACTIVE_USERS,
            f"Users active in a template's workspaces over the last {minutes} minutes.",
            labels=TEMPLATE_LABELS,
        )
        for row in snapshot.active:
            active.add_metric([str(row.organization_id), str(row.template_id), row.template_name], row.users)
        apps = GaugeMetricFamily(
            APP_SECONDS,
            f"Seconds of app usage in a template's workspaces over the last {minutes} minutes (per user, a "
            "minute counts once per app).",
            labels=[*TEMPLATE_LABELS, "slug"],
        )
        for row in snapshot.apps:
            apps.add_metric(
                [str(row.organization_id), str(row.template_id), row.template_name, row.app],
                60.0 * row.minutes,
            )
        yield active
        yield apps

    async def refresh_now(self) -> None:
        end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        async with self.db.read() as conn:
            active, apps = await q.trailing_template_usage(conn, end - self.window, end)
        self.snapshot = Snapshot(active, apps, end)

    async def close(self) -> None:
        if self._refresher is not None:
            await self._refresher.stop()
            self._refresher = None
        if self._registry is not None:
            self._registry.unregister(self)
            self._registry = None


async def start_insights_collector(
    registry: CollectorRegistry,
    db: Database,
    settings: Settings,
    *,
    window: timedelta = timedelta(hours=1),
    refresh: float = 60.0,
) -> InsightsCollector:
    """Register the gauges, compute the first snapshot and keep refreshing it; `close()` stops it."""
    collector = InsightsCollector(db, window, refresh)
    if settings.disable_template_insights:
        return collector
    refresher = Periodic("insights-metrics", refresh, collector.refresh_now, wait_first=True)
    await refresher.run_once()
    registry.register(collector)
    collector._registry = registry
    collector._refresher = refresher
    refresher.start()
    return collector
