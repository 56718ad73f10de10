"""Retention: raw rows older than their kind's USAGEGRAPH_RETENTION_*_DAYS purged in the background (OTLP's
event ledger with the AI sessions, a whole session at a time), and the check by which analytics refuse
ranges they can no longer answer (docs/operations.md#retention).

The purge runs under a session-level advisory lock, so one replica (or one `usagegraph purge`) purges at a
time; the others find the lock taken and skip the round. It deletes in batches of RETENTION_BATCH_ROWS rows,
each batch one statement in a transaction of its own that skips rows an ingest holds, so neither ingest nor
reads wait on it. The rollups are never touched: the AI rollups' DELETE triggers stay quiet in the purge's
transactions (migration 0023); the activity rollups are kept by ingest, not by triggers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.database import Database
from usagegraph.db.queries import retention as q
from usagegraph.errors import PastRetention
from usagegraph.settings import Settings
from usagegraph.upkeep.periodic import Periodic

log = logging.getLogger(__name__)

LOCK_KEY = (0x75736772, 0x72657465)
"""(classid, objid) of the purge's advisory lock ('usgr', 'rete')"""


@dataclass(frozen=True)
class Kind:
    name: str
    tables: tuple[str, ...]

    @property
    def setting(self) -> str:
        """The Settings attribute."""
        return f"retention_{self.name}_days"

    @property
    def variable(self) -> str:
        """The environment variable."""
        return f"USAGEGRAPH_{self.setting.upper()}"


RESOURCE_SAMPLES = Kind("resource_samples", ("resource_samples",))
NODE_SAMPLES = Kind("node_samples", ("node_samples",))
LATENCY_SAMPLES = Kind("latency_samples", ("latency_samples",))
ACTIVITY_SESSIONS = Kind("activity_sessions", ("activity_sessions",))
# OTLP's event ledger de-duplicates the events AI sessions are summed from: it goes with them.
AI_SESSIONS = Kind("ai_sessions", ("ai_sessions", "ai_session_usage", "otlp_events"))
KINDS = (RESOURCE_SAMPLES, NODE_SAMPLES, LATENCY_SAMPLES, ACTIVITY_SESSIONS, AI_SESSIONS)
TABLES = tuple(table for kind in KINDS for table in kind.tables)


def days(settings: Settings, kind: Kind) -> int:
    value: int = getattr(settings, kind.setting)
    return value


def cutoff(settings: Settings, kind: Kind, now: datetime | None = None) -> datetime | None:
    """Rows older than this instant may be gone; None when the kind is kept forever."""
    kept = days(settings, kind)
    if kept <= 0:
        return None
    return (now or datetime.now(UTC)) - timedelta(days=kept)


def enabled(settings: Settings) -> bool:
    return any(days(settings, kind) > 0 for kind in KINDS)


def retention_seconds(settings: Settings) -> dict[str, float]:
    """Per table, how long its rows are kept in seconds (0: forever), for the metrics."""
    return {table: days(settings, kind) * 86400.0 for kind in KINDS for table in kind.tables}


def check_range(settings: Settings, start: datetime, field: str, argument: str, *kinds: Kind) -> None:
    """Refuse (BAD_USER_INPUT naming the setting) a range of `field` that starts before the cutoff of a kind
    whose raw rows the field reads."""
    now = datetime.now(UTC)
    for kind in kinds:
        limit = cutoff(settings, kind, now)
        if limit is not None and start < limit:
            raise PastRetention(
                field, kind.variable, days(settings, kind), limit.isoformat(timespec="seconds"), argument
            )


@dataclass
class Report:
    """What one purge round did (or, dry, would do): rows per table, and each table's oldest record after."""

    dry_run: bool
    cutoffs: dict[str, datetime] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    oldest: dict[str, datetime | None] = field(default_factory=dict)


class Purger:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        on_purged: Callable[[str, int], None] | None = None,
        on_oldest: Callable[[dict[str, datetime | None]], None] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.on_purged = on_purged
        self.on_oldest = on_oldest

    async def run(self, *, dry_run: bool = False, now: datetime | None = None) -> Report | None:
        """One round; None when another process holds the purge lock."""
        now = now or datetime.now(UTC)
        async with self.db.engine.connect() as conn:
            took = (await conn.execute(q.LOCK, {"class": LOCK_KEY[0], "object": LOCK_KEY[1]})).scalar_one()
            await conn.commit()
            if not took:
                log.info("retention purge skipped: another process holds the lock")
                return None
            try:
                report = await self._round(conn, dry_run, now)
            finally:
                await _unlock(conn)
        if self.on_oldest is not None:
            self.on_oldest(report.oldest)
        return report

    async def _round(self, conn: AsyncConnection, dry_run: bool, now: datetime) -> Report:
        report = Report(dry_run=dry_run)
        organizations = await q.organizations(conn)
        await conn.commit()
        for kind in KINDS:
            limit = cutoff(self.settings, kind, now)
            if limit is None:
                continue
            for table in kind.tables:
                report.cutoffs[table] = limit
                report.rows[table] = 0
            scopes: list[object] = [None] if kind is NODE_SAMPLES else list(organizations)
            for org in scopes:
                if dry_run:
                    for table in kind.tables:
                        report.rows[table] += await q.count(conn, table, limit, org)  # type: ignore[arg-type]
                    await conn.commit()
                else:
                    await self._purge(conn, report, kind, limit, org)
        for table in TABLES:
            report.oldest[table] = await q.oldest(conn, table)
        await conn.commit()
        return report

    async def _purge(
        self, conn: AsyncConnection, report: Report, kind: Kind, limit: datetime, org: object
    ) -> None:
        batch = self.settings.retention_batch_rows
        if kind is not AI_SESSIONS:
            await self._purge_table(conn, report, kind.tables[0], limit, org)
            return
        while True:
            sessions, lines = await q.delete_ai_batch(conn, limit, org, batch)  # type: ignore[arg-type]
            await conn.commit()
            self._count(report, "ai_sessions", sessions)
            self._count(report, "ai_session_usage", lines)
            if sessions < batch:
                break
        # The ledger after the sessions: its rule looks at what is left of them.
        await self._purge_table(conn, report, "otlp_events", limit, org)

    async def _purge_table(
        self, conn: AsyncConnection, report: Report, table: str, limit: datetime, org: object
    ) -> None:
        batch = self.settings.retention_batch_rows
        while True:
            done = await q.delete_batch(conn, table, limit, org, batch)  # type: ignore[arg-type]
            await conn.commit()
            self._count(report, table, done)
            if done < batch:
                return

    def _count(self, report: Report, table: str, rows: int) -> None:
        report.rows[table] += rows
        if rows and self.on_purged is not None:
            self.on_purged(table, rows)


async def _unlock(conn: AsyncConnection) -> None:
    """Ends what a failed batch left open and releases the lock; a connection that cannot is closed instead
    (which releases the lock as well) rather than go back to the pool holding it."""
    try:
        await conn.rollback()
        await conn.execute(q.UNLOCK, {"class": LOCK_KEY[0], "object": LOCK_KEY[1]})
        await conn.commit()
    except Exception:  # noqa: BLE001
        await conn.invalidate()


def retention_purger(
    db: Database,
    settings: Settings,
    *,
    on_purged: Callable[[str, int], None] | None = None,
    on_oldest: Callable[[dict[str, datetime | None]], None] | None = None,
) -> Periodic:
    """The purge every RETENTION_PURGE_SECONDS, first one period after startup."""
    purger = Purger(db, settings, on_purged=on_purged, on_oldest=on_oldest)
    return Periodic(
        "retention-purge", settings.retention_purge_seconds, lambda: purger.run(), wait_first=True
    )


# The ingest record kinds (usagegraph.ingest.pipeline) of each retention kind.
_INGEST_KINDS = {
    "resources": RESOURCE_SAMPLES,
    "nodes": NODE_SAMPLES,
    "latency": LATENCY_SAMPLES,
    "activity": ACTIVITY_SESSIONS,
    "aiSessions": AI_SESSIONS,
}


def ingest_cutoffs(settings: Settings, now: datetime) -> dict[str, tuple[datetime, str]]:
    """Per ingest record kind with a retention, its cutoff and the setting's variable (usagegraph.ingest.retention)."""
    out = {}
    for record_kind, kind in _INGEST_KINDS.items():
        limit = cutoff(settings, kind, now)
        if limit is not None:
            out[record_kind] = (limit, f"{kind.variable}={days(settings, kind)}")
    return out
