"""Background upkeep of the database that no request should wait for."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from usagegraph.db.database import Database
from usagegraph.db.queries import app_days
from usagegraph.db.queries.sessions import compact_rollups

log = logging.getLogger(__name__)


class Periodic:
    """Runs `action` now (or, with `wait_first`, one period from now) and then every `seconds` until
    stopped; a failure is logged and retried at the next period, never raised into the server. Every
    background loop of the server is one of these (upkeep here, the Prometheus snapshots of
    usagegraph.monitoring.insights_gauges)."""

    def __init__(
        self, name: str, seconds: float, action: Callable[[], Awaitable[object]], *, wait_first: bool = False
    ) -> None:
        self.name = name
        self.seconds = seconds
        self.action = action
        self.wait_first = wait_first
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> None:
        """The action once, its failure logged."""
        try:
            await self.action()
        except Exception:  # noqa: BLE001  (a background loop must never take the server down)
            log.warning("%s failed", self.name, exc_info=True)

    async def _run(self) -> None:
        if self.wait_first:
            await self._pause()
        while not self._stop.is_set():
            await self.run_once()
            await self._pause()

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=self.seconds)

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Lets a running action finish (a statement is not cancelled halfway unless it overstays)."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=grace_seconds)


def rollup_compactor(db: Database, seconds: float) -> Periodic:
    """Folds the AI session rollups' delta rows (see compact_rollups) every `seconds`."""

    async def compact() -> None:
        async with db.write() as conn:
            await compact_rollups(conn)

    return Periodic("rollup-compaction", seconds, compact)


async def refresh_insights_days(db: Database) -> int:
    """Recompute every day ingest has marked since (see usagegraph.db.queries.app_days), one transaction
    per organization and round of days; returns how many days were recomputed."""
    async with db.read_primary() as conn:
        organizations = await app_days.marked_organizations(conn)
    done = 0
    for organization_id in organizations:
        while True:
            async with db.write() as conn:
                days = await app_days.refresh(conn, organization_id)
            done += days
            if days == 0:
                break
    return done


def insights_refresher(db: Database, seconds: float) -> Periodic:
    """Template Insights' per-day rows brought up to date every `seconds` (reads are exact meanwhile)."""
    return Periodic("insights-days", seconds, lambda: refresh_insights_days(db))
