"""The read replica's state as seen by this process, read at scrape time (usagegraph.db.database)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from usagegraph.db.database import Database


class ReplicaCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def describe(self) -> Iterable[Metric]:
        return self._families(0.0, 0.0)

    def collect(self) -> Iterable[Metric]:
        return self._families(1.0 if self.db.replica_up else 0.0, float(self.db.fallbacks))

    @staticmethod
    def _families(up: float, fallbacks: float) -> list[Metric]:
        gauge = GaugeMetricFamily(
            "usagegraph_db_read_replica_up",
            "1 while analytics reads go to the read replica, 0 while they fall back to the primary.",
            value=up,
        )
        counter = CounterMetricFamily(
            "usagegraph_db_read_fallbacks",
            "Reads the read replica could not take and the primary ran instead.",
            value=fallbacks,
        )
        return [gauge, counter]
