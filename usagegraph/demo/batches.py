"""The public entry points: one random stream for the whole run, cut into ingest batches only at the
end so that the batch size cannot change the records."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime

from usagegraph.demo.catalog import RESOURCE_DAYS, TEMPLATE_COUNT, USER_COUNT, WORKSPACE_COUNT, Batch, Record
from usagegraph.demo.entities import build_world, entity_records
from usagegraph.demo.facts import FactGenerator


def _to_timestamp(now: datetime | None) -> int:
    if now is None:
        current = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        return int(current.timestamp())
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return math.floor(now.timestamp())


def _batched(records: Iterator[tuple[str, Record]], batch_size: int) -> Iterator[Batch]:
    batch: Batch = {}
    size = 0
    for kind, record in records:
        batch.setdefault(kind, []).append(record)
        size += 1
        if size >= batch_size:
            yield batch
            batch, size = {}, 0
    if size:
        yield batch


def _records(seed: int, now: int, days: int) -> Iterator[tuple[str, Record]]:
    rng = random.Random(seed)
    world = build_world(rng, now, days)
    yield from entity_records(world)
    yield from FactGenerator(rng, world).run()


def generate(
    seed: int = 1, *, now: datetime | None = None, days: int = 180, batch_size: int = 5000
) -> Iterator[Batch]:
    """Ingest batches, entities first and then facts day by day, so that every record only refers to
    what an earlier batch (or its own) carried. `now` defaults to the current UTC hour; the data covers
    the `days` days before it."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    return _batched(_records(seed, _to_timestamp(now), days), batch_size)


def estimate_records(days: int = 180) -> int:
    """Calibrated on seed 1; good enough for a progress bar, not for assertions."""
    entities = 3 + USER_COUNT + 330 + TEMPLATE_COUNT + WORKSPACE_COUNT + 10
    return entities + 1_250 * days + 3_530 * min(days, RESOURCE_DAYS)
