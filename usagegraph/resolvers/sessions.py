"""AI coding sessions analytics (docs/api.md 5.5): the filter and the caller's scope become one SessionSpec.
Unselected sections cost nothing: summary, byAgent, costBreakdown(by: USER) and users share one statement
(started by whichever of them runs first), the users' own timeseries another, and the timeseries and the
other cost breakdowns run their own."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.types import Info

from usagegraph.auth import roles
from usagegraph.db.database import Database
from usagegraph.db.queries import sessions as q
from usagegraph.db.queries.buckets import MAX_BUCKETS
from usagegraph.db.queries.sessions import HISTOGRAM_BOUNDS, Buckets, SessionSpec
from usagegraph.errors import BadUserInput, Forbidden
from usagegraph.execution.compiled import Columns
from usagegraph.resolvers.pagination import decode_cursor, encode_cursor, page_size
from usagegraph.resolvers.selection import selected_names, subfields
from usagegraph.resolvers.zones import zone
from usagegraph.schema.common import PageInfo
from usagegraph.schema.enums import AnalyticsScope, CostDimension, SessionInterval
from usagegraph.schema.sessions import (
    AgentCount,
    AgentStats,
    AiSession,
    AiSessionConnection,
    CostSlice,
    DurationBucket,
    ModelUsage,
    SessionAnalytics,
    SessionFilter,
    SessionPoint,
    SessionSummary,
    UserSessionStats,
)
from usagegraph.upkeep import retention

DEFAULT_RANGE = timedelta(days=30)
MAX_RANGE = timedelta(days=3660)
_USER_SERIES = "sessions.user_timeseries"
_FACTS = "sessions.facts"


def _ids(values: list[Any] | None, name: str) -> tuple[uuid.UUID, ...] | None:
    if values is None:
        return None
    try:
        return tuple(uuid.UUID(str(value)) for value in values)
    except ValueError:
        raise BadUserInput(f"filter.{name} must be UUIDs", argument="filter") from None


def build_spec(info: Info, organization_id: uuid.UUID, filter: SessionFilter | None) -> SessionSpec:
    """The caller's view of the filter: team rights read everyone, own rights add `user_id = viewer`;
    naming someone else without team rights is refused rather than silently narrowed."""
    principal = info.context.principal
    chosen = filter or SessionFilter()
    end = chosen.end or datetime.now(UTC)
    start = chosen.start or end - DEFAULT_RANGE
    if end <= start:
        raise BadUserInput("filter.end must be after filter.start", argument="filter")
    # Every AI session analytic reads raw sessions (the range's partial hours, days or weeks; filters).
    retention.check_range(info.context.settings, start, info.field_name, "filter", retention.AI_SESSIONS)
    user_ids = _ids(chosen.user_ids, "userIds")
    only_user = None
    if not principal.has(roles.SESSIONS_READ_TEAM, organization_id):
        if user_ids is not None and any(user != principal.user_id for user in user_ids):
            raise Forbidden("reading another user's sessions requires sessions:read:team")
        only_user = principal.user_id
    return SessionSpec(
        organization_id=organization_id,
        start=start,
        end=end,
        project_ids=_ids(chosen.project_ids, "projectIds"),
        repositories=None if chosen.repositories is None else tuple(chosen.repositories),
        agents=None if chosen.agents is None else tuple(chosen.agents),
        user_ids=user_ids,
        only_user=only_user,
    )


async def session_analytics(
    info: Info, organization_id: uuid.UUID, filter: SessionFilter | None
) -> SessionAnalytics:
    spec = build_spec(info, organization_id, filter)
    scope = AnalyticsScope.SELF if spec.only_user is not None else AnalyticsScope.TEAM
    return SessionAnalytics(scope=scope, start=spec.start, end=spec.end, spec=spec)


async def sessions(
    info: Info, organization_id: uuid.UUID, filter: SessionFilter | None, first: int | None, after: str | None
) -> AiSessionConnection:
    spec = build_spec(info, organization_id, filter)
    size = page_size(first)
    cursor = _after(after)
    async with info.context.db.read() as conn:
        rows = await q.page(conn, spec, size + 1, cursor)
        total = await q.count(conn, spec) if _selects(info, "totalCount") else 0
        page = rows[:size]
        lines = await q.models(conn, organization_id, [row.id for row in page]) if page else []
    found = await info.context.loaders.users([row.user_id for row in page])
    models: dict[uuid.UUID, list[ModelUsage]] = defaultdict(list)
    for line in lines:
        models[line.session_id].append(
            ModelUsage(
                model=line.model,
                input_tokens=line.input_tokens,
                output_tokens=line.output_tokens,
                cache_read_tokens=line.cache_read_tokens,
                cache_write_tokens=line.cache_write_tokens,
                cost=line.cost,
            )
        )
    return AiSessionConnection(
        nodes=[
            AiSession(
                id=strawberry.ID(str(row.id)),
                user=found[row.user_id],
                project_id=None if row.project_id is None else strawberry.ID(str(row.project_id)),
                project_name=row.project_name,
                repository=row.repository,
                agent=row.agent,
                started_at=row.started_at,
                ended_at=row.ended_at,
                duration_seconds=_float(row.duration),
                cost=row.cost,
                tokens=int(row.tokens),
                models=models[row.id],
            )
            for row in page
        ],
        page_info=PageInfo(
            has_next_page=len(rows) > size,
            end_cursor=encode_cursor(page[-1].started_at.isoformat(), page[-1].id) if page else None,
        ),
        total_count=total,
    )


def _selects(info: Info, name: str) -> bool:
    """Whether the connection's selection (fragments included) asks for `name`: counting every session
    in range is the costly part of a page, so it runs only when a client wants the total."""
    return name in selected_names(info)


def _after(after: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The keyset position (startedAt, id) of the last session a client has seen."""
    decoded = decode_cursor(after)
    if decoded is None:
        return None
    try:
        started_at = datetime.fromisoformat(decoded[0])
    except ValueError:
        started_at = None
    if started_at is None or started_at.tzinfo is None:
        raise BadUserInput("after is not a cursor returned by this connection", argument="after")
    return started_at, decoded[1]


async def _load_facts(db: Database, spec: SessionSpec) -> q.Facts:
    async with db.read() as conn:
        return await q.facts(conn, spec)


async def _facts(info: Info, spec: SessionSpec) -> q.Facts:
    """summary, byAgent, costBreakdown(by: USER) and users all come from one statement."""
    facts: q.Facts = await info.context.once((_FACTS, spec), lambda: _load_facts(info.context.db, spec))
    return facts


async def summary(info: Info, spec: SessionSpec) -> SessionSummary:
    facts = await _facts(info, spec)
    row = facts.total
    return SessionSummary(
        total_sessions=row.sessions,
        total_cost=row.cost,
        total_tokens=int(row.input_tokens + row.output_tokens),
        input_tokens=int(row.input_tokens),
        output_tokens=int(row.output_tokens),
        cache_read_tokens=int(row.cache_read_tokens),
        cache_write_tokens=int(row.cache_write_tokens),
        average_duration_seconds=_float(row.average_duration),
        average_cost_per_session=row.average_cost,
        unique_users=len(facts.users),
        unpriced_sessions=row.unpriced,
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def buckets_of(spec: SessionSpec, interval: SessionInterval, timezone: str) -> Buckets:
    """Validates the zone and the bucket count up front (the same calendar arithmetic SQL applies)."""
    tz = zone(timezone)
    if spec.end - spec.start > MAX_RANGE:
        raise BadUserInput("a timeseries covers at most 10 years", argument="filter")
    first = spec.start.astimezone(tz).date()
    last = (spec.end - timedelta(microseconds=1)).astimezone(tz).date()
    days = 7 if interval == SessionInterval.WEEK else 1
    if days == 7:
        first -= timedelta(days=first.weekday())
        last -= timedelta(days=last.weekday())
    if (last - first).days // days + 1 > MAX_BUCKETS:
        raise BadUserInput(f"at most {MAX_BUCKETS} buckets; use a wider interval", argument="interval")
    return Buckets(unit="week" if days == 7 else "day", days=days, timezone=timezone)


def _point(row: Any) -> SessionPoint:
    return SessionPoint(
        start=row.bucket_start,
        end=row.bucket_end,
        sessions=row.sessions,
        cost=row.cost,
        tokens=int(row.tokens),
    )


async def timeseries(
    info: Info, spec: SessionSpec, interval: SessionInterval, timezone: str
) -> list[SessionPoint]:
    buckets = buckets_of(spec, interval, timezone)
    async with info.context.db.read() as conn:
        rows = await q.timeseries(conn, spec, buckets)
    return [_point(row) for row in rows]


async def by_agent(info: Info, spec: SessionSpec) -> list[AgentStats]:
    rows = (await _facts(info, spec)).agents
    return [
        AgentStats(
            agent=row.agent,
            sessions=row.sessions,
            users=row.users,
            total_cost=row.cost,
            average_cost=row.average_cost,
            average_duration_seconds=_float(row.average_duration),
            tokens=int(row.input_tokens + row.output_tokens),
        )
        for row in rows
    ]


async def cost_breakdown(info: Info, spec: SessionSpec, by: CostDimension) -> list[CostSlice]:
    if by == CostDimension.USER:
        return await _cost_by_user(info, spec)
    async with info.context.db.read() as conn:
        rows = await q.cost_breakdown(conn, spec, by.value)
    return [
        CostSlice(
            key=row.key,
            label=row.label,
            cost=row.cost,
            share=float(row.share),
            sessions=row.sessions,
            tokens=int(row.tokens),
        )
        for row in rows
    ]


async def _cost_by_user(info: Info, spec: SessionSpec) -> list[CostSlice]:
    rows = (await _facts(info, spec)).users
    found = await info.context.loaders.users([row.user_id for row in rows])
    return [
        CostSlice(
            key=str(row.user_id),
            label=found[row.user_id].username,
            cost=row.cost,
            share=float(row.share),
            sessions=row.sessions,
            tokens=int(row.input_tokens + row.output_tokens),
        )
        for row in rows
    ]


def _prefetch_series(info: Info, spec: SessionSpec) -> None:
    """When the users' own timeseries are selected, their statement starts now, alongside the one that
    lists the users, instead of after it; the users' timeseries fields then find it running. Arguments
    the field would refuse are left for the field to report."""
    for node in subfields(info):
        if node.name != "timeseries":
            continue
        try:
            interval = SessionInterval(node.arguments.get("interval", SessionInterval.DAY.value))
            _series_task(info, spec, buckets_of(spec, interval, str(node.arguments.get("timezone", "UTC"))))
        except (BadUserInput, ValueError, TypeError):
            continue


async def users(info: Info, spec: SessionSpec) -> list[UserSessionStats]:
    _prefetch_series(info, spec)
    rows = (await _facts(info, spec)).users
    found = await info.context.loaders.users([row.user_id for row in rows])
    bounds: list[float | None] = [float(bound) for bound in HISTOGRAM_BOUNDS]
    bounds.append(None)
    return [
        UserSessionStats(
            user=found[row.user_id],
            sessions=int(row.sessions),
            cost=row.cost,
            tokens=int(row.input_tokens + row.output_tokens),
            average_duration_seconds=_float(row.average_duration),
            favorite_agent=row.agents[0] if row.agents else None,
            agents=[
                AgentCount(agent=a, sessions=int(n))
                for a, n in zip(row.agents, row.agent_sessions, strict=True)
            ],
            duration_histogram=[
                DurationBucket(le=le, count=int(n)) for le, n in zip(bounds, row.histogram, strict=True)
            ],
            spec=spec,
            user_id=row.user_id,
        )
        for row in rows
    ]


_ZERO = Decimal(0)
_MICRO = Decimal("0.000001")


async def _all_user_series(
    info: Info, spec: SessionSpec, buckets: Buckets
) -> dict[uuid.UUID, Columns[SessionPoint]]:
    """Every user's points as columns over the grid (36,000 points for 400 users over 90 days): compiled
    execution builds their results without creating a point object each. The grid's users are the users
    list's, so their loading starts here, usually before the users list's own statement is done."""
    async with info.context.db.read() as conn:
        grid = await q.user_timeseries(conn, spec, buckets)
    primed = asyncio.ensure_future(info.context.loaders.users(grid.users))
    primed.add_done_callback(lambda done: done.cancelled() or done.exception())
    width = len(grid.buckets)
    starts = [b.bucket_start for b in grid.buckets]
    ends = [b.bucket_end for b in grid.buckets]
    sessions, tokens = grid.sessions.tolist(), grid.tokens.tolist()
    costs = [_ZERO if m == 0 else Decimal(m) * _MICRO for m in grid.cost_micros.ravel().tolist()]
    return {
        user: Columns(
            SessionPoint,
            {
                "start": starts,
                "end": ends,
                "sessions": sessions[i],
                "cost": costs[i * width : (i + 1) * width],
                "tokens": tokens[i],
            },
        )
        for i, user in enumerate(grid.users)
    }


async def user_timeseries(
    info: Info, stats: UserSessionStats, interval: SessionInterval, timezone: str
) -> Sequence[SessionPoint]:
    """The rows of a users list resolve their timeseries at different moments, so the first one starts
    a single statement for every user of the spec and the others await it (one per request)."""
    task = _series_task(info, stats.spec, buckets_of(stats.spec, interval, timezone))
    return (await task).get(stats.user_id, [])


def _series_task(
    info: Info, spec: SessionSpec, buckets: Buckets
) -> asyncio.Future[dict[uuid.UUID, Columns[SessionPoint]]]:
    task: asyncio.Future[dict[uuid.UUID, Columns[SessionPoint]]] = info.context.once(
        (_USER_SERIES, spec, buckets), lambda: _all_user_series(info, spec, buckets)
    )
    return task
