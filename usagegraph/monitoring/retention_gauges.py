"""The retention purge's metrics (usagegraph.upkeep.retention), per table (`kind`): records purged by this
process, the age of the oldest record as of the last purge round, aged at scrape time, and the settings an
alert compares them with (how long each table's rows are kept, how often the purge runs)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class RetentionCollector(Collector):
    def __init__(
        self, kinds: Iterable[str], retention: Mapping[str, float] | None = None, purge_seconds: float = 0.0
    ) -> None:
        self.purged: dict[str, int] = dict.fromkeys(kinds, 0)
        self.oldest: dict[str, datetime | None] = {}
        self.retention = dict(retention or {})
        self.purge_seconds = purge_seconds

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
        kept = GaugeMetricFamily(
            "usagegraph_retention_seconds",
            "How long the raw records of each table are kept (USAGEGRAPH_RETENTION_*_DAYS), 0 for ever.",
            labels=["kind"],
        )
        for kind, seconds in self.retention.items():
            kept.add_metric([kind], seconds)
        interval = GaugeMetricFamily(
            "usagegraph_retention_purge_interval_seconds",
            "Seconds between two retention purge rounds of this process (USAGEGRAPH_RETENTION_PURGE_SECONDS; "
            "0 when it does not purge).",
        )
        interval.add_metric([], self.purge_seconds)
        return [purged, age, kept, interval]
