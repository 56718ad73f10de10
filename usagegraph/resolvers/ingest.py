"""The ingest mutation (docs/api.md 5.7): one transaction per call, so analytics see every accepted record as
soon as the call returns and a failure stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from strawberry.types import Info

from usagegraph.auth.permissions import principal_of
from usagegraph.errors import PayloadTooLarge
from usagegraph.ingest import pipeline
from usagegraph.ingest.outcome import Outcome, Scope
from usagegraph.pricing import load_price_table
from usagegraph.schema.ingest import IngestBatch, IngestRejection, IngestResult
from usagegraph.upkeep.retention import ingest_cutoffs


async def ingest(info: Info, batch: IngestBatch) -> IngestResult:
    settings = info.context.settings
    total = pipeline.record_count(batch)
    if total > settings.max_batch_records:
        raise PayloadTooLarge(
            f"a batch holds at most {settings.max_batch_records} records, this one has {total}; split it",
            limit=settings.max_batch_records,
        )
    now = datetime.now(UTC)
    scope = Scope(principal_of(info), now, settings.disable_template_insights, ingest_cutoffs(settings, now))
    prices = load_price_table(settings.price_table)
    async with info.context.db.write() as conn:
        out = await pipeline.run(conn, batch, scope, prices)
    _count(info, out)
    return IngestResult(
        accepted=sum(out.accepted.values()),
        duplicates=sum(out.duplicates.values()),
        rejected=[
            IngestRejection(kind=r.kind, index=r.index, code=r.code, message=r.message) for r in out.rejected
        ],
    )


def _count(info: Info, out: Outcome) -> None:
    metrics = info.context.metrics
    if metrics is None:
        return
    for result, counts in (
        ("accepted", out.accepted),
        ("duplicate", out.duplicates),
        ("rejected", out.rejected_by_kind()),
    ):
        for kind, n in counts.items():
            if n:
                metrics.ingest_records.labels(kind=kind, result=result).inc(n)
