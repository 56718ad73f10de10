"""Ingest refuses facts older than their kind's retention (docs/operations.md#retention): such a record
would be purged at the next round, and a record sent again after its raw row was purged could no longer be
told from a new one (the rollups, which keep it, would count it twice). Refused one by one, BAD_USER_INPUT
naming the setting; the rest of the batch goes on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from usagegraph.ingest.outcome import Scope, bad


def _activity_end(record: Any) -> datetime:
    """A session's last instant as the purge sees it: a LOGIN or a session without an end is an instant."""
    category = getattr(record.category, "value", record.category)
    if category == "LOGIN" or record.ended_at is None:
        return record.started_at  # type: ignore[no-any-return]
    return record.ended_at  # type: ignore[no-any-return]


_MOMENT: dict[str, tuple[str, Callable[[Any], datetime]]] = {
    "activity": ("endedAt", _activity_end),
    "latency": ("at", lambda record: record.at),
    "resources": ("at", lambda record: record.at),
    "nodes": ("at", lambda record: record.at),
    "aiSessions": ("startedAt", lambda record: record.started_at),
}


def retained(kind: str, scope: Scope) -> Callable[[Any], None] | None:
    """The check of one record kind, or None when the kind is kept forever."""
    limit = scope.retention.get(kind)
    if limit is None:
        return None
    cutoff, setting = limit
    field, moment = _MOMENT[kind]

    def check(record: Any) -> None:
        at = moment(record)
        if at < cutoff:
            raise bad(
                f"{field} {at.isoformat()} is older than the retention ({setting}): records before "
                f"{cutoff.isoformat(timespec='seconds')} are purged"
            )

    return check
