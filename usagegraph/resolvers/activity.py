"""Activity report and DAU/WAU/MAU (docs/api.md 5.1-5.3): argument checks, then the rollup queries."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any, cast

from strawberry.types import Info

from usagegraph.auth.permissions import as_uuid
from usagegraph.db.queries import activity as q
from usagegraph.db.queries import usage_metrics as mq
from usagegraph.db.queries.buckets import MAX_BUCKETS
from usagegraph.errors import BadUserInput, NotFound
from usagegraph.execution.compiled import Columns
from usagegraph.resolvers.selection import selected_names
from usagegraph.resolvers.zones import zone
from usagegraph.schema.activity import (
    ActivityBucket,
    ActivityReport,
    UsageMetric,
    UserActivity,
    UserActivityTotal,
)
from usagegraph.schema.enums import ActiveWindow, ActivityCategory, FillPolicy
from usagegraph.schema.scalars import Interval
from usagegraph.upkeep import retention

MAX_RANGE = timedelta(days=3653)
MAX_PERIOD = 3660


def check_zone(timezone: str) -> str:
    zone(timezone)
    return timezone


def _whole_minute(value: datetime, argument: str) -> None:
    if value.second or value.microsecond:
        raise BadUserInput(f"{argument} must be a whole minute", argument)


def _category(category: ActivityCategory) -> str | None:
    return None if category is ActivityCategory.ANY else category.value


async def activity(
    info: Info,
    start: datetime,
    end: datetime,
    interval: Interval,
    category: ActivityCategory,
    organization_id: Any,
    timezone: str,
) -> ActivityReport:
    _whole_minute(start, "start")
    _whole_minute(end, "end")
    if end <= start:
        raise BadUserInput("end must be after start", "end")
    if end - start > MAX_RANGE:
        raise BadUserInput("at most 10 years per query", "end")
    if interval.count <= 0:
        raise BadUserInput("interval must be positive", "interval")
    check_zone(timezone)
    if _category(category) is not None:  # one category reads the raw sessions; ANY only the rollups
        retention.check_range(info.context.settings, start, "activity", "start", retention.ACTIVITY_SESSIONS)
    org = as_uuid(organization_id, "organizationId") if organization_id is not None else None
    async with info.context.db.read() as conn:
        starts = await q.bucket_starts(conn, start, end, interval.sql, timezone)
        if len(starts) > MAX_BUCKETS:
            raise BadUserInput(f"at most {MAX_BUCKETS} buckets per query; use a longer interval", "interval")
        all_orgs = await q.organization_ids(conn)
        if org is not None and org not in all_orgs:
            raise NotFound("organization not found")
        ends = [*starts[1:], end]
        rows = await q.report_rows(
            conn, q.ReportSpec([org] if org is not None else all_orgs, starts, ends, _category(category))
        )
    users = await info.context.loaders.users({user_id for row in rows for user_id in row.user_ids})
    # Rows go to the compiled executor as columns (usagegraph.execution.compiled.Columns): no object per user and bucket.
    per_bucket: dict[int, list[UserActivity]] = {}
    report_users: list[UserActivityTotal] = []
    for row in rows:
        people = [users[u] for u in row.user_ids]
        seconds = [m * 60.0 for m in row.minutes]
        if row.k is None:
            report_users = cast(
                list[UserActivityTotal],
                Columns(
                    UserActivityTotal,
                    {"user": people, "total_duration_seconds": seconds, "total_count": list(row.sessions)},
                ),
            )
        else:
            per_bucket[row.k] = cast(
                list[UserActivity],
                Columns(
                    UserActivity, {"user": people, "duration_seconds": seconds, "count": list(row.sessions)}
                ),
            )
    buckets = [
        ActivityBucket(
            start=bucket_start,
            end=bucket_end,
            duration_seconds=(bucket_end - bucket_start).total_seconds(),
            active_users=len(per_bucket.get(k, [])),
            user_activity=per_bucket.get(k, []),
        )
        for k, (bucket_start, bucket_end) in enumerate(zip(starts, ends, strict=True), start=1)
    ]
    return ActivityReport(
        start=start, end=end, interval=interval, category=category, buckets=buckets, users=report_users
    )


def _days(
    period_length: int | None, start: date | None, end: date | None, timezone: str
) -> tuple[date, date]:
    if period_length is not None and not 1 <= period_length <= MAX_PERIOD:
        raise BadUserInput(f"periodLength must be between 1 and {MAX_PERIOD}", "periodLength")
    if start is not None and end is None:
        raise BadUserInput("start needs end", "end")
    if end is not None and start is None:
        raise BadUserInput("end needs start", "start")
    if start is not None and end is not None:
        if end < start:
            raise BadUserInput("end must not be before start", "end")
        if (end - start).days > MAX_PERIOD:
            raise BadUserInput(f"at most {MAX_PERIOD + 1} days per query", "end")
        return start, end
    if period_length is None:
        raise BadUserInput("give periodLength, or start and end", "periodLength")
    today = datetime.now(zone(timezone)).date()
    return today - timedelta(days=period_length), today


async def usage_metrics(
    info: Info,
    organization_id: uuid.UUID,
    workspace_id: uuid.UUID | None,
    period_length: int | None,
    start: date | None,
    end: date | None,
    window: ActiveWindow,
    fill: FillPolicy,
    category: ActivityCategory,
    timezone: str,
) -> list[UsageMetric]:
    check_zone(timezone)
    first_day, last_day = _days(period_length, start, end, timezone)
    selected = selected_names(info)
    spec = mq.MetricsSpec(
        organization_id=organization_id,
        workspace_id=workspace_id,
        first_day=first_day,
        last_day=last_day,
        zone=timezone,
        category=_category(category),
        wau="wau" in selected,
        mau="mau" in selected,
        rolling=window is ActiveWindow.ROLLING,
        forward_fill=fill is FillPolicy.FORWARD,
    )
    async with info.context.db.read() as conn:
        rows = await mq.usage_rows(conn, spec)
    return [UsageMetric(date=day, dau=dau, wau=wau, mau=mau) for day, dau, wau, mau in rows]
