"""`usagegraph_date_add` (migration 0010) must equal PostgreSQL 16's `date_add(timestamptz, interval, text)`
wherever the latter exists: every instant of DST days (including the repeated hour), month ends, and steps
with months, days and time parts, in zones with whole, half and quarter-hour offsets."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"]
STEPS = [
    "1 day",
    "7 days",
    "1 month",
    "1 year",
    "90 minutes",
    "1 hour",
    "1 day 3 hours",
    "2 months 10 days 30 minutes",
    "-1 month",
    "-3 days",
    "0",
]

_RANGES = [
    ("2024-01-30 00:00Z", "2024-02-01 00:00Z", "7 hours 15 minutes"),  # month ends
    ("2024-03-09 00:00Z", "2024-03-12 00:00Z", "15 minutes"),  # New York springs forward
    ("2024-10-26 00:00Z", "2024-10-28 00:00Z", "15 minutes"),  # Berlin falls back
    ("2024-11-02 00:00Z", "2024-11-05 00:00Z", "15 minutes"),  # New York falls back
]
RANGES = {
    "firsts": [datetime.fromisoformat(first) for first, _, _ in _RANGES],
    "lasts": [datetime.fromisoformat(last) for _, last, _ in _RANGES],
    "every": [every for _, _, every in _RANGES],
}
"""Instants every `every` from `first` to `last`, around the days where adding in a zone is tricky."""


async def test_equals_the_builtin(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        version = (await conn.execute(text("SHOW server_version_num"))).scalar_one()
        if int(version) < 160000:
            pytest.skip("date_add(timestamptz, interval, text) needs PostgreSQL 16")
        rows = (
            await conn.execute(
                text(
                    """
                    SELECT z, s, t, date_add(t, CAST(s AS interval), z) AS builtin,
                           usagegraph_date_add(t, CAST(s AS interval), z) AS ours
                    FROM unnest(CAST(:zones AS text[])) AS z,
                         unnest(CAST(:steps AS text[])) AS s,
                         unnest(CAST(:firsts AS timestamptz[]), CAST(:lasts AS timestamptz[]),
                                CAST(:every AS text[])) AS r(first, last, every),
                         generate_series(r.first, r.last, CAST(r.every AS interval)) AS t
                    """
                ),
                {"zones": ZONES, "steps": STEPS, **RANGES},
            )
        ).all()
    assert len(rows) > 20_000
    different = [row for row in rows if row.builtin != row.ours]
    assert different == []


_UNCAPPED = text(
    """
    SELECT usagegraph_date_add(:start, k * CAST(CAST(:step AS text) AS interval), :zone) AS b
    FROM generate_series(0, :limit) AS k
    WHERE usagegraph_date_add(:start, k * CAST(CAST(:step AS text) AS interval), :zone) < :end
    ORDER BY k
    """
)


async def test_bucket_series_bounded_by_the_range_are_the_whole_series(engine: AsyncEngine) -> None:
    """The activity, compute and insights bucket series evaluate candidate steps only up to step_cap; no
    bucket starting before the range's end lies beyond it, across DST changes, month ends and a zone that
    skipped a whole day (Samoa crossed the date line: 2011-12-30 did not happen in Apia)."""
    from usagegraph.db.queries import activity, compute, insights
    from usagegraph.db.queries.buckets import step_cap

    cases = [
        ("Pacific/Apia", "2011-12-20T10:00:00Z", "2012-01-05T10:00:00Z", "1 day"),
        ("Pacific/Apia", "2011-12-29T09:00:00Z", "2011-12-31T12:00:00Z", "1 hour"),
        ("America/New_York", "2024-03-01T05:00:00Z", "2024-03-31T04:00:00Z", "1 day"),
        ("America/New_York", "2024-03-10T05:00:00Z", "2024-03-11T04:00:00Z", "1 hour"),
        ("Australia/Lord_Howe", "2024-01-31T13:00:00Z", "2024-12-31T13:00:00Z", "1 month"),
        ("Europe/Berlin", "2023-12-31T23:00:00Z", "2026-06-30T22:00:00Z", "1 year"),
        ("Asia/Kathmandu", "2024-10-01T00:00:00Z", "2024-12-31T00:00:00Z", "7 days"),
        ("UTC", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000001Z", "1 day"),
    ]
    async with engine.connect() as conn:
        for zone, first, last, step in cases:
            start, end = datetime.fromisoformat(first), datetime.fromisoformat(last)
            params = {"start": start, "end": end, "step": step, "zone": zone, "limit": 1000}
            whole = [row.b for row in await conn.execute(_UNCAPPED, params)]
            assert whole and step_cap(start, end, step, 1000) < 1000, (zone, step)
            assert await activity.bucket_starts(conn, start, end, step, zone) == whole, (zone, step)
            _, count = await compute.check_range(conn, start, end, step, zone, years=10)
            assert count == len(whole), (zone, step)
            if step in ("1 day", "7 days"):
                days = timedelta(days=int(step.split()[0]))
                bounds = await insights.bucket_starts(conn, start, end, days, zone, 1000)
                assert bounds[:-1] == whole, (zone, step)
