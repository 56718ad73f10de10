"""The same analytic in UTC and in the viewer's zones, timed interleaved in one run, with the ratio to UTC.

Each benchmark builds, per case, one callable per zone that answers the same question over the same local
dates (a local day in New York is the instant range of that date's midnights there, and so on). The runs
go round-robin over the zones (a warm-up of each first), so that other work on the machine weighs on
every column alike and the ratio stays fair on a busy machine; the figure is the median per zone.

Targets (docs/benchmarks.md): within 1.5 times UTC in zones whose offset is whole hours (New York, DST
changes included), within 2 times in zones with offsets of 30 or 45 minutes (Kolkata, Kathmandu).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

ZONES = ("America/New_York", "Asia/Kolkata", "Asia/Kathmandu")
SHORT = {
    "UTC": "UTC",
    "America/New_York": "New York",
    "Asia/Kolkata": "Kolkata",
    "Asia/Kathmandu": "Kathmandu",
}
TARGET = {"America/New_York": 1.5, "Asia/Kolkata": 2.0, "Asia/Kathmandu": 2.0}


def zones_argument(value: str) -> list[str]:
    """`--zones`: a comma-separated list of zones (empty: no zone table)."""
    return [zone.strip() for zone in value.split(",") if zone.strip()]


def local(moment: datetime, zone: str) -> datetime:
    """The instant at which the zone's clock shows what a UTC clock shows at `moment` (the same local
    date and time)."""
    return moment.replace(tzinfo=ZoneInfo(zone))


async def interleaved(work: dict[str, Callable[[], Awaitable[Any]]], runs: int) -> dict[str, float]:
    """Median milliseconds per key, the keys run one after the other `runs` times (after one warm-up
    each)."""
    times: dict[str, list[float]] = {key: [] for key in work}
    for action in work.values():
        await action()
    for _ in range(runs):
        for key, action in work.items():
            began = time.perf_counter()
            await action()
            times[key].append((time.perf_counter() - began) * 1000)
    return {key: statistics.median(values) for key, values in times.items()}


def header(zones: list[str], width: int = 50) -> str:
    columns = "".join(f" {SHORT.get(zone, zone)[:12]:>12} {'ratio':>6}" for zone in zones)
    return f"{'case':<{width}} {'UTC ms':>9}{columns}"


def row(label: str, medians: dict[str, float], zones: list[str], width: int = 50) -> str:
    """One line: UTC's milliseconds, then each zone's and its ratio to UTC (a `!` marks a ratio over the
    zone's target)."""
    utc = medians["UTC"]
    cells = []
    for zone in zones:
        ratio = medians[zone] / utc if utc else float("inf")
        mark = "!" if ratio > TARGET.get(zone, 2.0) else " "
        cells.append(f" {medians[zone]:12.1f} {ratio:5.2f}{mark}")
    return f"{label:<{width}} {utc:9.1f}{''.join(cells)}"


async def table(
    cases: list[tuple[str, Callable[[str], Callable[[], Awaitable[Any]]]]],
    zones: list[str],
    runs: int,
    width: int = 50,
) -> None:
    """Print the zone table: each case is a label and a function from a zone to the work in that zone."""
    if not zones:
        return
    print(f"\nin the viewer's zone: median of {runs} interleaved runs per zone, ratio to UTC")
    print(header(zones, width))
    for label, make in cases:
        medians = await interleaved({zone: make(zone) for zone in ("UTC", *zones)}, runs)
        print(row(label, medians, zones, width), flush=True)
