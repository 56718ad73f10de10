"""How many steps from a range's start a bucket series can take before it passes the range's end.

The series themselves are computed by PostgreSQL (`usagegraph_date_add`: calendar rules in the zone), one
candidate step at a time; bounding the candidates by the range keeps a month of daily buckets at about 30
evaluations instead of the whole bucket limit's."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

MAX_BUCKETS = 1000
"""The most buckets one series may have (activity, compute, Template Insights and session analytics alike)."""

# The shortest a step of each unit can be in elapsed time: a calendar month is at least 28 days; a zone's
# day may be shorter than 24 hours, but only by an offset change, which the margin below covers.
_SHORTEST = {"minute": 60, "hour": 3600, "day": 86_400, "month": 28 * 86_400, "year": 365 * 86_400}
# Between any two instants a zone's UTC offset changes by at most this much (the widest change on record is
# a day, when a zone crossed the date line).
_OFFSET_CHANGE = timedelta(hours=27)


def step_seconds(interval: str | timedelta) -> float:
    """The shortest elapsed time of one step: a timedelta as it is (whole days are calendar days in the
    zone), or a PostgreSQL interval literal of one unit ('7 days', '1 month')."""
    if isinstance(interval, timedelta):
        return interval.total_seconds()
    count, unit = interval.split()
    return int(count) * _SHORTEST[unit.removesuffix("s")]


def step_cap(start: datetime, end: datetime, interval: str | timedelta, limit: int) -> int:
    """The last step k (at most `limit`) that can still start before `end`: every later start is at least
    k steps of the shortest length, less an offset change, after `start`."""
    span = (end - start + _OFFSET_CHANGE).total_seconds()
    return max(0, min(limit, math.ceil(span / step_seconds(interval)) + 1))
