"""Template Insights (docs/api.md 5.4): validate the range, pick the interval, run the SQL of the sections the
query selects (each on a connection of its own, concurrently) and shape the answer.

The permission class has already authorized the selection of templates; Query.templateInsights reads
it back from the request context so that exactly what was authorized is queried."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info

from usagegraph.auth.permissions import CanViewInsights
from usagegraph.db.queries import insights as q
from usagegraph.db.queries.app_days import ALL_TEMPLATES
from usagegraph.db.queries.buckets import MAX_BUCKETS
from usagegraph.errors import BadUserInput, InsightsDisabled
from usagegraph.execution.compiled import Columns
from usagegraph.resolvers.selection import selected_names
from usagegraph.resolvers.zones import zone
from usagegraph.schema.entities import User
from usagegraph.schema.enums import ActivityCategory, AppKind, InsightsInterval, LatencyBand
from usagegraph.schema.insights import (
    AppUsage,
    IntervalActiveUsers,
    Latency,
    ParameterUsage,
    ParameterValueCount,
    TemplateInsights,
    UserLatency,
    UserUsage,
)
from usagegraph.upkeep import retention

T = TypeVar("T")

MAX_YEARS = 10
YOUNG_TEMPLATE = timedelta(weeks=5)
ROLLUP_SECTIONS = {
    "activeUsers": "users",
    "userActivity": "users",
    "activeUsersSeries": "series",
    "appUsage": "apps",
}
STEPS = {InsightsInterval.DAY: timedelta(days=1), InsightsInterval.WEEK: timedelta(days=7)}


@dataclass(frozen=True)
class BuiltinApp:
    slug: str
    display_name: str
    category: ActivityCategory


BUILTIN_APPS = (
    BuiltinApp("vscode", "Visual Studio Code", ActivityCategory.IDE),
    BuiltinApp("jetbrains", "JetBrains", ActivityCategory.IDE),
    BuiltinApp("ssh", "SSH", ActivityCategory.TUNNEL),
    BuiltinApp("web-terminal", "Web Terminal", ActivityCategory.WEB_TERMINAL),
    BuiltinApp("code-server", "code-server", ActivityCategory.IDE),
    BuiltinApp("jupyter", "Jupyter", ActivityCategory.APP),
    BuiltinApp("rstudio", "RStudio", ActivityCategory.APP),
)


def ensure_enabled(info: Info) -> None:
    if info.context.settings.disable_template_insights:
        raise InsightsDisabled("template insights are disabled on this deployment")


async def template_insights(
    info: Info,
    organization_id: uuid.UUID,
    template_ids: list[uuid.UUID],
    start: datetime,
    end: datetime,
    interval: InsightsInterval | None,
    timezone: str,
) -> TemplateInsights:
    """Template.insights: the parent template, already authorized by its field's permission class."""
    ensure_enabled(info)
    found = await info.context.loaders.template.load_many(template_ids)
    templates = [t for t in found if t is not None]
    return await _insights(info, organization_id, templates, start, end, interval, timezone)


async def query_template_insights(
    info: Info,
    organization_arg: Any,
    template_ids_arg: Any,
    start: datetime,
    end: datetime,
    interval: InsightsInterval | None,
    timezone: str,
) -> TemplateInsights:
    ensure_enabled(info)
    organization_id, templates = await CanViewInsights.scope(info, organization_arg, template_ids_arg)
    return await _insights(info, organization_id, templates, start, end, interval, timezone)


def validate_range(start: datetime, end: datetime, timezone: str) -> None:
    if start.second or start.microsecond:
        raise BadUserInput("start must be a whole minute", "start")
    if end.second or end.microsecond:
        raise BadUserInput("end must be a whole minute", "end")
    if end <= start:
        raise BadUserInput("end must be after start", "end")
    if end > _add_years(start, MAX_YEARS):
        raise BadUserInput(f"the range may not exceed {MAX_YEARS} years", "end")
    zone(timezone)


def _add_years(moment: datetime, years: int) -> datetime:
    moment = moment.astimezone(UTC)
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def default_interval(templates: Sequence[Any], end: datetime) -> InsightsInterval:
    """DAY while the oldest selected template is younger than five weeks at end, WEEK after."""
    if not templates:
        return InsightsInterval.DAY
    oldest = min(t.created_at for t in templates)
    return InsightsInterval.DAY if end - oldest < YOUNG_TEMPLATE else InsightsInterval.WEEK


def band(ms: float) -> LatencyBand:
    if ms < 150:
        return LatencyBand.GREEN
    if ms <= 300:
        return LatencyBand.YELLOW
    return LatencyBand.RED


async def _insights(
    info: Info,
    organization_id: uuid.UUID,
    templates: list[Any],
    start: datetime,
    end: datetime,
    interval: InsightsInterval | None,
    timezone: str,
) -> TemplateInsights:
    validate_range(start, end, timezone)
    chosen = interval or default_interval(templates, end)
    scope = q.Scope(organization_id, [t.uuid for t in templates], start, end)
    fields = selected_names(info)
    # appUsage counts sessions from the raw sessions at the range's edges; userLatency reads the raw samples.
    if "appUsage" in fields:
        retention.check_range(
            info.context.settings, start, "templateInsights.appUsage", "start", retention.ACTIVITY_SESSIONS
        )
    if "userLatency" in fields:
        retention.check_range(
            info.context.settings, start, "templateInsights.userLatency", "start", retention.LATENCY_SAMPLES
        )
    db = info.context.db

    async def run(query: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with db.read() as conn:
            return await query(conn)

    async def nothing() -> Any:
        return None

    def when(field: str, query: Callable[[AsyncConnection], Awaitable[T]]) -> Awaitable[T | None]:
        return run(query) if field in fields and templates else nothing()

    async with db.read() as conn:
        bounds = await q.bucket_starts(conn, start, end, STEPS[chosen], timezone, MAX_BUCKETS)
    if len(bounds) > MAX_BUCKETS + 1:
        raise BadUserInput(
            f"at most {MAX_BUCKETS} buckets per query; choose WEEK or a shorter range",
            "interval" if interval is not None else "end",
        )
    starts = bounds[:-1]
    wanted = {section for field, section in ROLLUP_SECTIONS.items() if field in fields}
    if "userActivity" in fields:
        wanted.add("ordered")
    rollup, latency, app_sessions, parameters = await asyncio.gather(
        run(await _sections(info, scope, starts, wanted)) if wanted and templates else nothing(),
        when("userLatency", lambda c: q.user_latency(c, scope)),
        when("appUsage", lambda c: q.day_app_sessions(c, scope)),
        when("parameters", lambda c: q.parameter_usage(c, scope)),
    )
    rollup = rollup or q.RollupSections((), {}, ())
    user_ids = [row.user_id for row in latency or ()]
    if "userActivity" in fields:
        user_ids += [row.user_id for row in rollup.users]
    users = await info.context.loaders.users(list(dict.fromkeys(user_ids))) if user_ids else {}
    return TemplateInsights(
        start=start,
        end=end,
        templates=templates,
        interval=chosen,
        active_users=len(rollup.users),
        active_users_series=_series(bounds, end, rollup.series),
        user_latency=_per_user(
            UserLatency,
            latency or (),
            users,
            lambda rows: {
                "p50": [Latency(ms=row.p50, band=band(row.p50)) for row in rows],
                "p95": [Latency(ms=row.p95, band=band(row.p95)) for row in rows],
                "samples": [row.samples for row in rows],
            },
        ),
        app_usage=_app_usage(rollup.apps, app_sessions or ()),
        user_activity=_per_user(
            UserUsage, rollup.users, users, lambda rows: {"seconds": [60.0 * row.minutes for row in rows]}
        ),
        parameters=_parameters(parameters or ()),
    )


def _per_user(
    factory: Callable[..., T],
    rows: Sequence[Any],
    users: dict[uuid.UUID, User],
    columns: Callable[[list[Any]], dict[str, list[Any]]],
) -> list[T]:
    """The rows whose user was found, as columns for the compiled executor
    (usagegraph.execution.compiled.Columns): `user` and what `columns` makes of the rows."""
    kept = [row for row in rows if row.user_id in users]
    return cast(list[T], Columns(factory, {"user": [users[row.user_id] for row in kept], **columns(kept)}))


async def _sections(
    info: Info, scope: q.Scope, starts: list[datetime], wanted: set[str]
) -> Callable[[AsyncConnection], Awaitable[q.RollupSections]]:
    """Per-day rows serve one template and every template of the organization; other selections unite
    the selected templates' minute cells."""
    selected = set(scope.template_ids)
    every = {t.uuid for t in await info.context.loaders.org_templates.load(scope.organization_id)}
    if len(selected) == 1 or selected == every:
        key = ALL_TEMPLATES if selected == every else next(iter(selected))
        return lambda conn: q.day_sections(conn, scope, starts, wanted, key)
    return lambda conn: q.rollup_sections(conn, scope, starts, wanted)


def _series(bounds: list[datetime], end: datetime, users: dict[int, int]) -> list[IntervalActiveUsers]:
    """bounds holds every bucket start and, last, where the last bucket would end uncut."""
    return [
        IntervalActiveUsers(
            start=bounds[i],
            end=min(bounds[i + 1], end),
            active_users=users.get(i + 1, 0),
            complete=bounds[i + 1] <= end,
        )
        for i in range(len(bounds) - 1)
    ]


def _app_usage(minutes: Iterable[Any], sessions: Iterable[Any]) -> list[AppUsage]:
    apps = {
        app.slug: AppUsage(
            slug=app.slug,
            display_name=app.display_name,
            kind=AppKind.BUILTIN,
            category=app.category,
            seconds=0.0,
            users=0,
            times_used=0,
        )
        for app in BUILTIN_APPS
    }

    def entry(slug: str, category: str | None) -> AppUsage:
        if slug not in apps:
            apps[slug] = AppUsage(
                slug=slug,
                display_name=slug,
                kind=AppKind.APP,
                category=ActivityCategory[category] if category else ActivityCategory.APP,
                seconds=0.0,
                users=0,
                times_used=0,
            )
        return apps[slug]

    for row in sessions:
        entry(row.app, row.category).times_used = row.sessions
    for row in minutes:
        usage = entry(row.app, None)
        usage.seconds = 60.0 * row.minutes
        usage.users = row.users
    return sorted(apps.values(), key=lambda app: (-app.seconds, app.slug))


def _parameters(rows: Iterable[Any]) -> list[ParameterUsage]:
    result: list[ParameterUsage] = []
    for row in rows:
        if not result or result[-1].name != row.name:
            result.append(
                ParameterUsage(name=row.name, display_name=row.display_name, type=row.type, values=[])
            )
        if row.value is not None:
            result[-1].values.append(ParameterValueCount(value=row.value, count=row.workspaces))
    return result
