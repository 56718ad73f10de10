"""AI coding sessions: usage lines priced from the price table unless they carry their cost, totals
denormalized into the session row. A session re-sent with the same id is a duplicate when nothing
changed; a later endedAt, other usage lines, or another project or repository replace the session's
lines and totals (usage reports are cumulative snapshots of a session, not increments)."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import ingest_facts as q
from usagegraph.ingest.outcome import (
    BIGINT_MAX,
    NOT_FOUND,
    Outcome,
    Rejected,
    Scope,
    bad,
    optional_uuid,
    parse_uuid,
    required_text,
)
from usagegraph.ingest.references import References
from usagegraph.ingest.table import Row, Table, anyone
from usagegraph.pricing import MICRO_USD, PriceTable
from usagegraph.schema.bounds import MAX_SESSION

_MAX_COST = Decimal(10) ** 12
"""Costs are summed as micro-dollars in bigints (migration 0008): a session stays under USD 10^12."""
_IMMUTABLE = {
    "organization_id": "organizationId",
    "user_id": "userId",
    "agent": "agent",
    "started_at": "startedAt",
}
Line = tuple[str, int, int, int, int, Decimal, bool]


def _tokens(value: int, name: str) -> int:
    if value < 0 or value > BIGINT_MAX:
        raise bad(f"{name} must be between 0 and {BIGINT_MAX}, got {value}")
    return value


def _lines(usage: list[Any], prices: PriceTable) -> tuple[Line, ...]:
    """(model, input, output, cache read, cache write, cost, priced) by model. An explicit cost wins and
    is rounded half-up to the micro-dollar; without one the table prices the line, or it costs 0 and is
    marked unpriced."""
    lines: dict[str, Line] = {}
    for u in usage:
        model = required_text(u.model, "usage.model")
        if model in lines:
            raise bad(f"model {model!r} appears twice in usage; send one line per model")
        tokens = (
            _tokens(u.input_tokens, "usage.inputTokens"),
            _tokens(u.output_tokens, "usage.outputTokens"),
            _tokens(u.cache_read_tokens, "usage.cacheReadTokens"),
            _tokens(u.cache_write_tokens, "usage.cacheWriteTokens"),
        )
        if u.cost is not None:
            if not Decimal(0) <= u.cost < _MAX_COST:
                raise bad(f"usage.cost must be between 0 and {_MAX_COST}, got {u.cost}")
            cost, priced = u.cost.quantize(MICRO_USD, rounding=ROUND_HALF_UP), True
        else:
            price = prices.lookup(model)
            cost, priced = (price.cost(*tokens), True) if price is not None else (Decimal(0), False)
        lines[model] = (model, *tokens, cost, priced)
    return tuple(sorted(lines.values()))


def _parse(r: Any, prices: PriceTable) -> Row:
    if r.ended_at is not None and r.ended_at < r.started_at:
        raise bad("endedAt must be >= startedAt")
    if r.ended_at is not None and r.ended_at - r.started_at > MAX_SESSION:
        raise bad(f"a session lasts at most {MAX_SESSION.days} days: endedAt is too far after startedAt")
    repository = (r.repository.strip() or None) if r.repository is not None else None
    return {
        "organization_id": parse_uuid(r.organization_id, "organizationId"),
        "id": parse_uuid(r.id, "id"),
        "user_id": parse_uuid(r.user_id, "userId"),
        "project_id": optional_uuid(r.project_id, "projectId"),
        "repository": repository,
        "agent": required_text(r.agent, "agent"),
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "lines": _lines(r.usage, prices),
    }


def _totals(lines: tuple[Line, ...]) -> tuple[Any, ...]:
    totals = [sum(int(line[i]) for line in lines) for i in range(1, 5)]
    if any(t > BIGINT_MAX for t in totals):
        raise bad("the session's token totals exceed the BigInt range")
    cost = sum((line[5] for line in lines), Decimal(0))
    if cost >= _MAX_COST:
        raise bad("the session's cost exceeds the storable range")
    return (cost, *totals, not all(line[6] for line in lines))


async def ai_sessions(
    conn: AsyncConnection,
    records: list[Any],
    scope: Scope,
    out: Outcome,
    refs: References,
    prices: PriceTable,
) -> None:
    kind = "aiSessions"
    parsed: list[tuple[int, Row]] = []
    for index, record in enumerate(records):
        try:
            parsed.append((index, _parse(record, prices)))
        except Rejected as error:
            out.reject(kind, index, error)
    ids = [p["id"] for _, p in parsed]
    orgs = await refs.organizations({p["organization_id"] for _, p in parsed})
    users = await refs.users({p["user_id"] for _, p in parsed})
    projects = await refs.projects({p["project_id"] for _, p in parsed if p["project_id"] is not None})
    lines: dict[uuid.UUID, list[Line]] = {}
    for row in await q.ai_usage(conn, ids):
        lines.setdefault(row.session_id, []).append(
            (
                row.model,
                row.input_tokens,
                row.output_tokens,
                row.cache_read_tokens,
                row.cache_write_tokens,
                row.cost,
                row.priced,
            )
        )
    table = Table(
        kind,
        out,
        {
            row.id: {**row._asdict(), "lines": tuple(sorted(lines.get(row.id, [])))}
            for row in await q.ai_sessions(conn, ids)
        },
    )
    for index, session in parsed:

        def build(current: Row | None, new: Row = session) -> Row:
            org_id = new["organization_id"]
            scope.require_named_org(org_id)
            if not orgs[org_id]:
                raise Rejected(NOT_FOUND, f"unknown organization {org_id}")
            if not users[new["user_id"]]:
                raise Rejected(NOT_FOUND, f"unknown user {new['user_id']}")
            if new["project_id"] is not None and projects[new["project_id"]] != org_id:
                raise Rejected(NOT_FOUND, f"unknown project {new['project_id']} in organization {org_id}")
            _totals(new["lines"])
            if current is not None:
                changed = [label for name, label in _IMMUTABLE.items() if current[name] != new[name]]
                if changed:
                    raise bad(
                        f"AI session {new['id']} was already ingested with another {', '.join(changed)}"
                    )
                if current["ended_at"] is not None and (
                    new["ended_at"] is None or new["ended_at"] < current["ended_at"]
                ):
                    raise bad(f"AI session {new['id']} was already ingested with a later endedAt")
            return new

        table.offer(index, session["id"], build, anyone)
    changed = table.changed()
    await q.write_ai_sessions(
        conn,
        [
            (
                s["organization_id"],
                s["id"],
                s["user_id"],
                s["project_id"],
                s["repository"],
                s["agent"],
                s["started_at"],
                s["ended_at"],
                *_totals(s["lines"]),
            )
            for s in changed
        ],
        [(s["organization_id"], s["id"], *line) for s in changed for line in s["lines"]],
    )
