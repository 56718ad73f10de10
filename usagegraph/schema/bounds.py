"""What the API accepts beyond the wire form of its scalars: the time window, text that PostgreSQL can
store, and plausible measurements (docs/api.md 1, docs/ingest.md). Each rule lives here once; the
scalars apply the calendar window to every DateTime and Date argument, ingest applies the rest to each
record on its own (ingest/screen.py), the HTTP endpoint checks the text of every other argument
(execution/arguments.py) and the command line the names it is given."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
"""No usage data predates the Unix epoch; earlier instants are placeholders or clock resets."""
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Range arguments may reach into the future (a report up to the end of next month), not past this:
far enough from the end of the calendar that every default and every bucket computed from a range
stays representable, in Python and in PostgreSQL."""
EARLIEST_DATE = EARLIEST.date()
LATEST_DATE = LATEST.date()
FUTURE_SLACK = timedelta(days=1)
"""A recorded fact (an ingested timestamp) may be at most this far after the server's clock: collectors'
clocks drift, but a fact from next year is a wrong clock."""

MAX_SESSION = timedelta(days=366)
"""The longest activity or AI session accepted. Each hour and quarter hour of an activity session is a
rollup row that its ingest writes: a session of a century would keep one ingest busy for minutes."""
MAX_LATENCY_MS = 3_600_000.0
"""A connection latency above an hour is not a latency."""
MAX_CORES = 1_000_000.0
MIN_CORES_LIMIT = 0.001
"""A millicore: utilization divides by limits and capacities, so they are bounded below as well."""
MAX_BYTES = float(2**63)
MIN_BYTES_LIMIT = 1.0
MAX_TEXT = 10_000
"""Characters in one string of a record or an argument."""


def text_problem(value: str) -> str | None:
    """Why PostgreSQL would refuse this text (NUL, lone surrogates) or it is unreasonably long, or None."""
    if len(value) > MAX_TEXT:
        return f"is longer than {MAX_TEXT} characters"
    if "\x00" in value:
        return "contains a NUL character (U+0000), which cannot be stored"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not valid Unicode text"
    return None


def check_text(value: str, what: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(f"{what} {problem}")
    return value


def instant_problem(value: datetime) -> str | None:
    """Why an instant is outside the calendar window of the API, or None."""
    if not EARLIEST <= value < LATEST:
        return f"must be between {_iso(EARLIEST)} and {_iso(LATEST)} (excluded), got {_iso(value)}"
    return None


def date_problem(value: date) -> str | None:
    if not EARLIEST_DATE <= value < LATEST_DATE:
        return f"must be between {EARLIEST_DATE} and {LATEST_DATE} (excluded), got {value.isoformat()}"
    return None


def fact_time_problem(value: datetime, now: datetime) -> str | None:
    """Why a recorded fact cannot have happened at this instant, or None."""
    problem = instant_problem(value)
    if problem is not None:
        return problem
    if value > now + FUTURE_SLACK:
        return f"is more than a day after the server's clock ({_iso(now)}), got {_iso(value)}"
    return None


def number_problem(value: float, low: float, high: float, *, low_included: bool = True) -> str | None:
    """Why a measurement is not a finite number in [low, high] (or (low, high]), or None."""
    if not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if value < low or (value == low and not low_included) or value > high:
        opening = "[" if low_included else "("
        return f"must be in {opening}{low:g}, {high:g}], got {value:g}"
    return None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
