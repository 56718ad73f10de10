"""AI coding sessions analytics types (docs/api.md 5.5)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry import Private
from strawberry.types import Info

from usagegraph.db.queries.sessions import SessionSpec
from usagegraph.schema import costs
from usagegraph.schema.common import PageInfo, UserRef
from usagegraph.schema.enums import AnalyticsScope, CostDimension, SessionInterval
from usagegraph.schema.lazy import resolvers
from usagegraph.schema.scalars import BigInt

sessions = resolvers("sessions")


@strawberry.input
class SessionFilter:
    start: datetime | None = None
    end: datetime | None = None
    project_ids: list[strawberry.ID] | None = None
    repositories: list[str] | None = None
    agents: list[str] | None = None
    user_ids: list[strawberry.ID] | None = None


@strawberry.type
class SessionSummary:
    total_sessions: int
    total_cost: Decimal
    total_tokens: BigInt = strawberry.field(description="input + output tokens")
    input_tokens: BigInt
    output_tokens: BigInt
    cache_read_tokens: BigInt
    cache_write_tokens: BigInt
    average_duration_seconds: float | None
    average_cost_per_session: Decimal | None
    unique_users: int
    unpriced_sessions: int = strawberry.field(
        description="sessions with at least one usage line that had no cost and no price in the table (priced at 0)"
    )


@strawberry.type
class SessionPoint:
    start: datetime
    end: datetime
    sessions: int
    cost: Decimal
    tokens: BigInt


@strawberry.type
class AgentStats:
    agent: str
    sessions: int
    users: int
    total_cost: Decimal
    average_cost: Decimal
    average_duration_seconds: float | None
    tokens: BigInt


@strawberry.type
class CostSlice:
    key: str
    label: str
    cost: Decimal
    share: float
    sessions: int
    tokens: BigInt


@strawberry.type
class AgentCount:
    agent: str
    sessions: int


@strawberry.type
class DurationBucket:
    le: float | None = strawberry.field(description="upper bound in seconds; null = unbounded")
    count: int


@strawberry.type
class UserSessionStats:
    user: UserRef
    sessions: int
    cost: Decimal
    tokens: BigInt
    average_duration_seconds: float | None
    favorite_agent: str | None
    agents: list[AgentCount] = strawberry.field(metadata=costs.bounded(costs.FEW))
    duration_histogram: list[DurationBucket] = strawberry.field(metadata=costs.bounded(costs.FEW))
    spec: Private[SessionSpec]
    user_id: Private[uuid.UUID]

    @strawberry.field(metadata=costs.bounded(costs.FEW))
    async def timeseries(
        self, info: Info, interval: SessionInterval = SessionInterval.DAY, timezone: str = "UTC"
    ) -> Sequence[SessionPoint]:
        return await sessions.user_timeseries(info, self, interval, timezone)


@strawberry.type
class SessionAnalytics:
    scope: AnalyticsScope
    start: datetime
    end: datetime
    spec: Private[SessionSpec]

    @strawberry.field
    async def summary(self, info: Info) -> SessionSummary:
        return await sessions.summary(info, self.spec)

    @strawberry.field(metadata=costs.bounded(costs.FEW))
    async def timeseries(
        self, info: Info, interval: SessionInterval = SessionInterval.DAY, timezone: str = "UTC"
    ) -> list[SessionPoint]:
        return await sessions.timeseries(info, self.spec, interval, timezone)

    @strawberry.field(metadata=costs.bounded(costs.FEW))
    async def by_agent(self, info: Info) -> list[AgentStats]:
        return await sessions.by_agent(info, self.spec)

    @strawberry.field(metadata=costs.bounded(costs.FEW))
    async def cost_breakdown(self, info: Info, by: CostDimension) -> list[CostSlice]:
        return await sessions.cost_breakdown(info, self.spec, by)

    @strawberry.field(metadata=costs.bounded(costs.ROWS))
    async def users(self, info: Info) -> list[UserSessionStats]:
        return await sessions.users(info, self.spec)


@strawberry.type
class ModelUsage:
    model: str
    input_tokens: BigInt
    output_tokens: BigInt
    cache_read_tokens: BigInt
    cache_write_tokens: BigInt
    cost: Decimal


@strawberry.type
class AiSession:
    id: strawberry.ID
    user: UserRef
    project_id: strawberry.ID | None
    project_name: str | None
    repository: str | None
    agent: str
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: float | None
    cost: Decimal
    tokens: BigInt
    models: list[ModelUsage] = strawberry.field(metadata=costs.bounded(costs.FEW))


@strawberry.type
class AiSessionConnection:
    nodes: list[AiSession] = strawberry.field(metadata=costs.page())
    page_info: PageInfo
    total_count: int
