"""De-duplication of records that have an identity: the stored rows and the batch's earlier records form
one state, and each record is compared with it, so the first copy of an id wins and later copies are
duplicates or updates, never a database error."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from usagegraph.ingest.outcome import Outcome, Rejected, bad

Row = dict[str, Any]


class Table:
    def __init__(self, kind: str, out: Outcome, stored: dict[Hashable, Row]) -> None:
        self.kind = kind
        self.out = out
        self.rows = stored
        self.original = dict(stored)
        self.dirty: dict[Hashable, None] = {}

    def offer(
        self,
        index: int,
        key: Hashable,
        build: Callable[[Row | None], Row],
        authorize: Callable[[Row | None, Row], None],
    ) -> str:
        """Merges one record: ``build`` turns it into the full row given the current one (keeping what
        the record omits) and raises on a conflict; ``authorize`` runs only when something changes.
        Returns "accepted", "duplicate" or "rejected"."""
        try:
            current = self.rows.get(key)
            new = build(current)
            if current is not None and new == current:
                self.out.duplicates[self.kind] += 1
                return "duplicate"
            authorize(current, new)
        except Rejected as error:
            self.out.reject(self.kind, index, error)
            return "rejected"
        self.rows[key] = new
        self.dirty[key] = None
        self.out.accepted[self.kind] += 1
        return "accepted"

    def changed(self) -> list[Row]:
        return [self.rows[key] for key in self.dirty]

    def changed_field(self, name: str) -> list[Row]:
        """Changed rows whose ``name`` differs from what was stored before the batch."""
        out = []
        for key in self.dirty:
            before = self.original.get(key)
            if before is None or before[name] != self.rows[key][name]:
                out.append(self.rows[key])
        return out


def columns(rows: list[Row], *names: str) -> list[Row]:
    """The rows restricted to the columns of one statement."""
    return [{name: row[name] for name in names} for row in rows]


def parsed_records(kind: str, records: list[Any], out: Outcome, parse: Any) -> list[tuple[int, Any, Any]]:
    """(index, record, parse(record)) of the records whose values are valid on their own; the others are
    reported, so the lookups that follow only see well-formed ids."""
    result = []
    for index, record in enumerate(records):
        try:
            result.append((index, record, parse(record)))
        except Rejected as error:
            out.reject(kind, index, error)
    return result


def anyone(current: Row | None, new: Row) -> None:
    """For kinds whose organization check happens in ``build`` (it is needed to reject the record even
    when nothing would change)."""
    return None


def immutable(current: Row | None, new: Row, what: str, *fields: str) -> None:
    if current is None:
        return
    for name in fields:
        if current[name] != new[name]:
            head, *rest = name.split("_")
            label = head + "".join(part.title() for part in rest)
            raise bad(f"{what} {new['id']} already exists with another {label}; it cannot change")
