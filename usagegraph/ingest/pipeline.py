"""One batch, kind by kind: entities first so that the facts of the same batch can refer to them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.ingest import ai_sessions, entities, facts, people
from usagegraph.ingest.outcome import Outcome, Scope
from usagegraph.ingest.references import References
from usagegraph.ingest.retention import retained
from usagegraph.ingest.screen import screened
from usagegraph.pricing import PriceTable

KINDS = (
    "organizations",
    "users",
    "memberships",
    "templates",
    "workspaces",
    "workspaceParameters",
    "projects",
    "activity",
    "latency",
    "resources",
    "nodes",
    "aiSessions",
)

_ENTITIES = (
    ("organizations", people.organizations),
    ("users", people.users),
    ("memberships", people.memberships),
    ("templates", entities.templates),
    ("workspaces", entities.workspaces),
    ("projects", entities.projects),
)
_FACTS = (
    ("activity", facts.activity),
    ("latency", facts.latency),
    ("resources", facts.resources),
    ("nodes", facts.nodes),
)


def record_count(batch: Any) -> int:
    return sum(len(getattr(batch, _attr(kind)) or ()) for kind in KINDS if kind != "workspaceParameters")


def _attr(kind: str) -> str:
    return "ai_sessions" if kind == "aiSessions" else kind


async def run(conn: AsyncConnection, batch: Any, scope: Scope, prices: PriceTable) -> Outcome:
    out = Outcome()
    for kind, write_entities in _ENTITIES:
        records = screened(kind, getattr(batch, kind), scope.now, out)
        if records:
            await write_entities(conn, records, scope, out)
    refs = References(conn)
    for kind, write_facts in _FACTS:
        records = screened(kind, getattr(batch, kind), scope.now, out, retained(kind, scope))
        if records:
            await write_facts(conn, records, scope, out, refs)
    records = screened("aiSessions", batch.ai_sessions, scope.now, out, retained("aiSessions", scope))
    if records:
        await ai_sessions.ai_sessions(conn, records, scope, out, refs, prices)
    order = {kind: position for position, kind in enumerate(KINDS)}
    out.rejected.sort(key=lambda r: (order[r.kind], r.index))
    return out
