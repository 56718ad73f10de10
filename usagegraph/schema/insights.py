"""Template Insights types (docs/api.md 5.4)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from usagegraph.schema import costs
from usagegraph.schema.common import TemplateRef, UserRef
from usagegraph.schema.enums import ActivityCategory, AppKind, InsightsInterval, LatencyBand


@strawberry.type
class IntervalActiveUsers:
    start: datetime
    end: datetime
    active_users: int
    complete: bool


@strawberry.type
class Latency:
    ms: float
    band: LatencyBand


@strawberry.type
class UserLatency:
    user: UserRef
    p50: Latency
    p95: Latency
    samples: int


@strawberry.type
class AppUsage:
    slug: str
    display_name: str
    kind: AppKind
    category: ActivityCategory
    seconds: float
    users: int
    times_used: int


@strawberry.type
class UserUsage:
    user: UserRef
    seconds: float


@strawberry.type
class ParameterValueCount:
    value: str
    count: int


@strawberry.type
class ParameterUsage:
    name: str
    display_name: str
    type: str
    values: list[ParameterValueCount] = strawberry.field(metadata=costs.bounded(costs.FEW))


@strawberry.type
class TemplateInsights:
    start: datetime
    end: datetime
    templates: list[TemplateRef] = strawberry.field(metadata=costs.bounded(costs.FEW))
    interval: InsightsInterval
    active_users: int
    active_users_series: list[IntervalActiveUsers] = strawberry.field(metadata=costs.bounded(costs.FEW))
    user_latency: list[UserLatency] = strawberry.field(metadata=costs.bounded(costs.ROWS))
    app_usage: list[AppUsage] = strawberry.field(metadata=costs.bounded(costs.FEW))
    user_activity: list[UserUsage] = strawberry.field(metadata=costs.bounded(costs.ROWS))
    parameters: list[ParameterUsage] = strawberry.field(metadata=costs.bounded(costs.FEW))
