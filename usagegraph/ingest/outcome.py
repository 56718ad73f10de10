"""What happened to each record of a batch, and the helpers every kind's validation shares."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from usagegraph.auth import roles
from usagegraph.auth.principal import Principal
from usagegraph.schema.bounds import number_problem

BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
FORBIDDEN = "FORBIDDEN"
INSIGHTS_DISABLED = "INSIGHTS_DISABLED"

BIGINT_MAX = 2**63 - 1


class Rejected(Exception):
    """Raised by a record's validation; the record is reported and the rest of the batch goes on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bad(message: str) -> Rejected:
    return Rejected(BAD_USER_INPUT, message)


@dataclass(frozen=True, slots=True)
class Rejection:
    kind: str
    index: int
    code: str
    message: str


@dataclass
class Outcome:
    accepted: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejection] = field(default_factory=list)
    positions: dict[str, list[int]] = field(default_factory=dict)
    """Per kind, the index in the batch of each record its validation sees, when screening
    (ingest/screen.py) removed some: a kind reports the index of the record it was given."""

    def reject(self, kind: str, index: int, error: Rejected) -> None:
        positions = self.positions.get("workspaces" if kind == "workspaceParameters" else kind)
        if positions is not None:
            index = positions[index]
        self.rejected.append(Rejection(kind, index, error.code, error.message))

    def rejected_by_kind(self) -> Counter[str]:
        return Counter(r.kind for r in self.rejected)


def parse_uuid(value: Any, field_name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value if isinstance(value, str) else str(value))
    except ValueError:
        raise bad(f"{field_name} must be a UUID, got {str(value)[:60]!r}") from None


def optional_uuid(value: Any, field_name: str) -> uuid.UUID | None:
    return None if value is None else parse_uuid(value, field_name)


def required_text(value: str, field_name: str) -> str:
    text = value.strip()
    if not text:
        raise bad(f"{field_name} must not be empty")
    return text


def measure(value: float, field_name: str, low: float, high: float, *, low_included: bool = True) -> float:
    """A plausible measurement (usagegraph/schema/bounds.py), or the record is rejected naming the field."""
    problem = number_problem(value, low, high, low_included=low_included)
    if problem is not None:
        raise bad(f"{field_name} {problem}")
    return value


def canonical_roles(names: list[str], field_name: str) -> list[str]:
    """Catalog names, deduplicated, in a stable order so that re-sending the same roles is a duplicate."""
    out: list[str] = []
    for name in names:
        canonical = roles.canonical_role(name)
        if canonical is None:
            raise bad(f"{field_name}: unknown role {name!r}; known roles: {', '.join(roles.role_names())}")
        if canonical not in out:
            out.append(canonical)
    return sorted(out)


@dataclass
class Scope:
    """Who is writing. Which organizations a caller may write to is decided here, once per batch.

    - Site-wide ``ingest:write`` writes everything, including new organizations, node samples (nodes
      are shared by the whole deployment) and site-wide roles of users.
    - ``ingest:write`` in an organization writes records of that organization. A record that names an
      organization the caller cannot write to is FORBIDDEN whether or not it exists (the answer tells
      nothing about other tenants). A record that reaches another organization through a referenced
      workspace or template is FORBIDDEN when the caller is a member of that organization and NOT_FOUND
      otherwise, as for every other field (docs/api.md 3): the caller cannot tell it from an unknown id.
    - Users are shared between organizations: any collector may create a user and re-send it unchanged;
      changing an existing user needs site-wide rights or a membership of that user in an organization
      the caller writes to; setting site roles needs site-wide rights.
    """

    principal: Principal
    now: datetime
    insights_disabled: bool
    retention: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    """per record kind, the retention cutoff and the setting that sets it (usagegraph.upkeep.retention)"""
    _writable: dict[uuid.UUID, bool] = field(default_factory=dict)

    @property
    def site_wide(self) -> bool:
        return self.principal.has(roles.INGEST_WRITE)

    def can_write(self, organization_id: uuid.UUID) -> bool:
        allowed = self._writable.get(organization_id)
        if allowed is None:
            allowed = self._writable[organization_id] = self.principal.has(
                roles.INGEST_WRITE, organization_id
            )
        return allowed

    def require_named_org(self, organization_id: uuid.UUID) -> None:
        if not self.can_write(organization_id):
            raise Rejected(FORBIDDEN, f"requires ingest:write in organization {organization_id}")

    def require_reached_org(self, organization_id: uuid.UUID, what: str) -> None:
        if self.can_write(organization_id):
            return
        if self.principal.sees_org(organization_id):
            raise Rejected(
                FORBIDDEN, f"{what} belongs to an organization where the caller lacks ingest:write"
            )
        raise Rejected(NOT_FOUND, f"unknown {what}")
