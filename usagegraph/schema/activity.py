"""Activity report and DAU/WAU/MAU types (docs/api.md 5.1-5.3)."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from usagegraph.schema import costs
from usagegraph.schema.common import UserRef
from usagegraph.schema.enums import ActivityCategory
from usagegraph.schema.scalars import Interval


@strawberry.type
class UserActivity:
    user: UserRef
    duration_seconds: float
    count: int


@strawberry.type
class UserActivityTotal:
    user: UserRef
    total_duration_seconds: float
    total_count: int


@strawberry.type
class ActivityBucket:
    start: datetime
    end: datetime
    duration_seconds: float
    active_users: int
    user_activity: list[UserActivity] = strawberry.field(
        metadata=costs.bounded(costs.ROWS), description="by durationSeconds desc, then user id"
    )


@strawberry.type
class ActivityReport:
    start: datetime
    end: datetime
    interval: Interval
    category: ActivityCategory
    buckets: list[ActivityBucket] = strawberry.field(metadata=costs.bounded(costs.FEW))
    users: list[UserActivityTotal] = strawberry.field(
        metadata=costs.bounded(costs.ROWS),
        description="every user active in [start, end), by totalDurationSeconds desc, then user id",
    )


@strawberry.type
class UsageMetric:
    date: date
    dau: int | None
    wau: int | None
    mau: int | None
