"""Time zone arguments: one check for every field that takes a `timezone`."""

from __future__ import annotations

import zoneinfo
from functools import cache
from zoneinfo import ZoneInfo

from usagegraph.errors import BadUserInput

# Files of the tz database that are not zones (PostgreSQL does not know them).
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@cache
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def zone(timezone: str) -> ZoneInfo:
    """The zone of an IANA name that both Python and PostgreSQL resolve, or BAD_USER_INPUT naming the
    `timezone` argument. Only names of the installed tz database are tried, so no other text (a path, a
    name longer than the file system takes) reaches the file lookup."""
    if timezone not in _known():
        raise BadUserInput(
            f"unknown time zone {timezone!r}; use an IANA name such as Europe/Paris", argument="timezone"
        )
    return ZoneInfo(timezone)
