"""`usagegraph_date_add` (migration 0010) must equal PostgreSQL 16's `date_add(timestamptz, interval, text)`
wherever the latter exists: every instant of DST days (including the repeated hour), month ends, and steps
with months, days and time parts, in zones with whole, half and quarter-hour offsets."""

from __future__ import annotations

from datetime import datetime

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
