"""Storing a batch of agent events: users and projects resolved among the organization's own, the events
added to the ledger by identity (a retried one is a duplicate), and each session that gained an event
recomputed from the ledger and written through the ``ingest`` pipeline's AI session path (same
validation, pricing, idempotency, retention and rollups), all in one transaction (docs/otlp.md).

A session that started before the AI sessions' retention cutoff (its stored start, or the earliest event
the ledger holds of it) takes no new event: its raw row is purged, or about to be, and the rollups keep
what it counted (docs/operations.md#retention)."""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.auth.principal import Principal
from usagegraph.db.queries import otlp as q
from usagegraph.http.otlp.events import Drop, Event, past_retention
from usagegraph.ingest import pipeline
from usagegraph.ingest.outcome import Scope
from usagegraph.pricing import PriceTable
from usagegraph.schema.ingest import AiSessionInput, IngestBatch, ModelUsageInput

SessionKey = tuple[uuid.UUID, uuid.UUID]


@dataclass
class Stored:
    accepted: int = 0
    duplicates: int = 0
    drops: list[tuple[int, Drop]] = field(default_factory=list)


def _lock_key(key: SessionKey) -> int:
    digest = hashlib.blake2b(key[0].bytes + key[1].bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass
class _Resolved:
    event: Event
    user_id: uuid.UUID
    project_id: uuid.UUID | None


async def _resolve(conn: AsyncConnection, events: list[Event], out: Stored) -> list[_Resolved]:
    """Each event's user (by account id, then by email, among the organization's members: an unknown
    user is dropped, never created) and project (by id or name, in the organization)."""
    orgs = {e.organization_id for e in events}
    members = await q.members(
        conn, orgs, {e.account for e in events if e.account}, {e.email for e in events if e.email}
    )
    by_id = {(row.organization_id, row.id) for row in members}
    by_email: dict[tuple[uuid.UUID, str], set[uuid.UUID]] = defaultdict(set)
    for row in members:
        if row.email:
            by_email[(row.organization_id, row.email)].add(row.id)
    wanted = {e.project for e in events if e.project}
    project_ids: set[uuid.UUID] = set()
    for name in wanted:
        try:
            project_ids.add(uuid.UUID(name))
        except ValueError:
            pass
    projects: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
    if wanted:
        for row in await q.projects(conn, orgs, project_ids, wanted):
            projects[(row.organization_id, str(row.id))] = row.id
            projects.setdefault((row.organization_id, row.name), row.id)
    resolved = []
    for e in events:
        org = e.organization_id
        user: uuid.UUID | None = None
        if e.account is not None and (org, e.account) in by_id:
            user = e.account
        elif e.email is not None and len(by_email.get((org, e.email), ())) == 1:
            user = next(iter(by_email[(org, e.email)]))
        if user is None:
            if e.account is None and e.email is None:
                out.drops.append(
                    (e.index, Drop("no_user", "the record has no user.account_uuid or user.email"))
                )
            else:
                who = " or ".join(
                    part
                    for part in (
                        f"account id {e.account}" if e.account else "",
                        f"email {e.email}" if e.email else "",
                    )
                    if part
                )
                out.drops.append(
                    (e.index, Drop("unknown_user", f"no member of organization {org} has {who}"))
                )
            continue
        project: uuid.UUID | None = None
        if e.project is not None:
            project = projects.get((org, e.project))
            if project is None:
                out.drops.append(
                    (e.index, Drop("unknown_project", f"no project {e.project!r} in organization {org}"))
                )
                continue
        resolved.append(_Resolved(e, user, project))
    return resolved


def _line(row: Any, prices: PriceTable) -> ModelUsageInput:
    """A session's usage line for one model: the events' costs; without any, the price table prices the
    line in the ingest path; with some, the others are priced here and added."""
    cost: Decimal | None = row.cost
    if cost is not None and row.uncosted:
        price = prices.lookup(row.model)
        if price is not None:
            cost += price.cost(
                int(row.uncosted_input),
                int(row.uncosted_output),
                int(row.uncosted_cache_read),
                int(row.uncosted_cache_write),
            )
    return ModelUsageInput(
        model=row.model,
        input_tokens=int(row.input_tokens),
        output_tokens=int(row.output_tokens),
        cache_read_tokens=int(row.cache_read_tokens),
        cache_write_tokens=int(row.cache_write_tokens),
        cost=cost,
    )


async def store(
    conn: AsyncConnection,
    events: list[Event],
    principal: Principal,
    now: datetime,
    insights_disabled: bool,
    prices: PriceTable,
    retention: dict[str, tuple[datetime, str]] | None = None,
) -> Stored:
    """``retention``: per ingest record kind, the cutoff and its setting (usagegraph.upkeep.retention's
    ``ingest_cutoffs``); only ``aiSessions`` applies here."""
    out = Stored()
    retention = retention or {}
    limit = retention.get("aiSessions")
    if not events:
        return out
    resolved = await _resolve(conn, events, out)
    sessions: dict[SessionKey, list[_Resolved]] = defaultdict(list)
    for r in resolved:
        sessions[r.event.session_key].append(r)
    if not sessions:
        return out
    await q.lock_sessions(conn, (_lock_key(key) for key in sessions))
    stored = {(row.organization_id, row.id): row for row in await q.stored_sessions(conn, sessions)}

    # One user and one agent per session: the stored session's, else the first event's.
    kept: list[_Resolved] = []
    seen: set[SessionKey] = set()
    for key, items in sessions.items():
        row = stored.get(key)
        user, agent = (
            (row.user_id, row.agent) if row is not None else (items[0].user_id, items[0].event.agent)
        )
        for r in items:
            if r.user_id != user or r.event.agent != agent:
                out.drops.append(
                    (
                        r.event.index,
                        Drop(
                            "session_conflict",
                            f"session {key[1]} belongs to user {user} and agent {agent!r}; this event names "
                            f"user {r.user_id} and agent {r.event.agent!r}",
                        ),
                    )
                )
                continue
            if r.event.key in seen:
                out.duplicates += 1
                continue
            seen.add(r.event.key)
            kept.append(r)

    new = await q.insert_events(
        conn,
        [
            (
                e.organization_id,
                e.event_id,
                e.session_id,
                e.name,
                e.occurred_at,
                e.model,
                e.input_tokens,
                e.output_tokens,
                e.cache_read_tokens,
                e.cache_write_tokens,
                e.cost,
            )
            for e in (r.event for r in kept)
        ],
    )
    fresh: dict[SessionKey, list[_Resolved]] = defaultdict(list)
    for r in kept:
        if r.event.key in new:
            fresh[r.event.session_key].append(r)
        else:
            out.duplicates += 1
    if not fresh:
        return out

    spans = {(row.organization_id, row.session_id): row for row in await q.session_spans(conn, fresh)}
    usage: dict[SessionKey, list[ModelUsageInput]] = defaultdict(list)
    for row in await q.session_usage(conn, fresh):
        usage[(row.organization_id, row.session_id)].append(_line(row, prices))
    order: list[SessionKey] = []
    inputs = []
    forget: list[SessionKey] = []
    for key, items in fresh.items():
        span = spans[key]
        row = stored.get(key)
        started = row.started_at if row is not None else span.first
        if limit is not None and started < limit[0]:
            forget.extend(r.event.key for r in items)
            message = past_retention(f"session {key[1]} started at {started.isoformat()}, which", limit)
            out.drops.extend((r.event.index, Drop("past_retention", message)) for r in items)
            continue
        order.append(key)
        latest = sorted(items, key=lambda r: r.event.occurred_at)
        project = next((r.project_id for r in reversed(latest) if r.project_id is not None), None)
        repository = next((r.event.repository for r in reversed(latest) if r.event.repository), None)
        if row is not None:
            project = project if project is not None else row.project_id
            repository = repository if repository is not None else row.repository
        ended = max(span.last, row.ended_at) if row is not None and row.ended_at is not None else span.last
        inputs.append(
            AiSessionInput(
                id=strawberry.ID(str(key[1])),
                organization_id=strawberry.ID(str(key[0])),
                user_id=strawberry.ID(str(items[0].user_id)),
                agent=items[0].event.agent,
                started_at=started,
                ended_at=max(ended, started),
                usage=usage.get(key, []),
                project_id=strawberry.ID(str(project)) if project is not None else None,
                repository=repository,
            )
        )
    outcome = await pipeline.run(
        conn, IngestBatch(ai_sessions=inputs), Scope(principal, now, insights_disabled, retention), prices
    )
    refused: dict[SessionKey, str] = {order[r.index]: f"{r.code}: {r.message}" for r in outcome.rejected}
    for key in order:
        items = fresh[key]
        if key in refused:
            forget.extend(r.event.key for r in items)
            out.drops.extend((r.event.index, Drop("session_rejected", refused[key])) for r in items)
        else:
            out.accepted += len(items)
    await q.forget_events(conn, forget)
    return out
