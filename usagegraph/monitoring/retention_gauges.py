"""The retention purge's metrics (usagegraph.upkeep.retention), per table (`kind`): records purged by this
process, and the age of the oldest record as of the last purge round, aged at scrape time."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class RetentionCollector(Collector):
    def __init__(self, kinds: Iterable[str]) -> None:
        self.purged: dict[str, int] = dict.fromkeys(kinds, 0)
        self.oldest: dict[str, datetime | None] = {}

    def count(self, kind: str, rows: int) -> None:
        self.purged[kind] = self.purged.get(kind, 0) + rows

    def observe(self, oldest: dict[str, datetime | None]) -> None:
        self.oldest.update(oldest)

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        return self._families()

    def _families(self) -> list[Metric]:
        purged = CounterMetricFamily(
            "usagegraph_purged_records",
            "Raw records deleted by the retention purge of this process, per table.",
            labels=["kind"],
        )
        for kind, rows in self.purged.items():
            purged.add_metric([kind], float(rows))
        age = GaugeMetricFamily(
            "usagegraph_oldest_record_age_seconds",
            "Age of the oldest raw record per table, as found by the last retention purge round "
            "(no sample for an empty table).",
            labels=["kind"],
        )
        now = time.time()
        for kind, at in self.oldest.items():
            if at is not None:
                age.add_metric([kind], max(0.0, now - at.timestamp()))
        return [purged, age]
