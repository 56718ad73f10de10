"""Entity types: organizations, users, templates, workspaces and their parameters."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry import Private
from strawberry.types import Info

from usagegraph.auth.permissions import (
    Authenticated,
    CanReadMonitoring,
    CanReadSessions,
    CanReadWorkspaceMetrics,
    CanViewInsights,
    OrgMember,
)
from usagegraph.schema import costs
from usagegraph.schema.common import PageInfo
from usagegraph.schema.enums import ActiveWindow, ActivityCategory, FillPolicy, InsightsInterval
from usagegraph.schema.lazy import resolvers
from usagegraph.schema.scalars import Interval

if TYPE_CHECKING:
    from usagegraph.schema.activity import UsageMetric
    from usagegraph.schema.compute import ComputeUsage, UtilizationPoint
    from usagegraph.schema.insights import TemplateInsights
    from usagegraph.schema.sessions import AiSessionConnection, SessionAnalytics, SessionFilter

activity = resolvers("activity")
compute = resolvers("compute")
entities = resolvers("entities")
insights = resolvers("insights")
sessions = resolvers("sessions")

UsageMetricRef = Annotated["UsageMetric", strawberry.lazy("usagegraph.schema.activity")]
ComputeUsageRef = Annotated["ComputeUsage", strawberry.lazy("usagegraph.schema.compute")]
UtilizationPointRef = Annotated["UtilizationPoint", strawberry.lazy("usagegraph.schema.compute")]
TemplateInsightsRef = Annotated["TemplateInsights", strawberry.lazy("usagegraph.schema.insights")]
SessionAnalyticsRef = Annotated["SessionAnalytics", strawberry.lazy("usagegraph.schema.sessions")]
AiSessionConnectionRef = Annotated["AiSessionConnection", strawberry.lazy("usagegraph.schema.sessions")]
SessionFilterRef = Annotated["SessionFilter", strawberry.lazy("usagegraph.schema.sessions")]


@strawberry.type
class ParameterOption:
    value: str
    name: str


@strawberry.type
class TemplateParameter:
    name: str
    display_name: str
    type: str
    default_value: str | None
    options: list[ParameterOption] = strawberry.field(metadata=costs.bounded(costs.FEW))


@strawberry.type
class WorkspaceParameter:
    name: str
    value: str


@strawberry.type
class Organization:
    id: strawberry.ID
    name: str
    created_at: datetime
    uuid: Private[uuid.UUID]

    @property
    def organization_id(self) -> uuid.UUID:
        return self.uuid

    @strawberry.field(metadata=costs.connection(), permission_classes=[OrgMember])
    async def members(self, info: Info, first: int | None = 50, after: str | None = None) -> UserConnection:
        return await entities.members(info, self.uuid, first, after)

    @strawberry.field(metadata=costs.bounded(costs.FEW), permission_classes=[OrgMember])
    async def templates(self, info: Info) -> list[Template]:
        return await info.context.loaders.org_templates.load(self.uuid)

    @strawberry.field(metadata=costs.connection(), permission_classes=[OrgMember])
    async def workspaces(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> WorkspaceConnection:
        return await entities.workspaces(info, self.uuid, None, first, after)

    @strawberry.field(metadata=costs.days(), permission_classes=[CanReadWorkspaceMetrics])
    async def usage_metrics(
        self,
        info: Info,
        period_length: int | None = 365,
        start: date | None = None,
        end: date | None = None,
        window: ActiveWindow = ActiveWindow.CALENDAR,
        fill: FillPolicy = FillPolicy.FORWARD,
        category: ActivityCategory = ActivityCategory.LOGIN,
        timezone: str = "UTC",
    ) -> list[UsageMetricRef]:
        return await activity.usage_metrics(
            info, self.uuid, None, period_length, start, end, window, fill, category, timezone
        )

    @strawberry.field(permission_classes=[CanReadSessions])
    async def session_analytics(
        self, info: Info, filter: SessionFilterRef | None = None
    ) -> SessionAnalyticsRef:
        return await sessions.session_analytics(info, self.uuid, filter)

    @strawberry.field(metadata=costs.connection(), permission_classes=[CanReadSessions])
    async def sessions(
        self,
        info: Info,
        filter: SessionFilterRef | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> AiSessionConnectionRef:
        return await sessions.sessions(info, self.uuid, filter, first, after)

    @strawberry.field(permission_classes=[CanReadMonitoring])
    async def compute(
        self, info: Info, start: datetime, end: datetime, interval: Interval, timezone: str = "UTC"
    ) -> ComputeUsageRef:
        return await compute.organization_compute(info, self.uuid, start, end, interval, timezone)


@strawberry.type
class User:
    id: strawberry.ID
    username: str
    name: str
    created_at: datetime
    uuid: Private[uuid.UUID]
    raw_email: Private[str | None]
    site_roles: Private[tuple[str, ...]]
    org_ids: Private[tuple[uuid.UUID, ...]]

    @strawberry.field
    def email(self, info: Info) -> str | None:
        return entities.user_email(info, self)

    @strawberry.field(description="sha256 hex of the lower-cased, trimmed email (Gravatar style)")
    def avatar_hash(self) -> str:
        return entities.avatar_hash(self.raw_email)

    @strawberry.field(
        metadata=costs.bounded(costs.FEW),
        description="role names in organizationId, or site-wide roles when omitted",
        permission_classes=[Authenticated],
    )
    async def roles(self, info: Info, organization_id: strawberry.ID | None = None) -> list[str]:
        return await entities.user_roles(info, self, organization_id)

    @strawberry.field(metadata=costs.bounded(costs.FEW), permission_classes=[Authenticated])
    async def organizations(self, info: Info) -> list[Organization]:
        return await entities.user_organizations(info, self)

    @strawberry.field(metadata=costs.bounded(costs.ROWS), permission_classes=[Authenticated])
    async def workspaces(self, info: Info) -> list[Workspace]:
        return await entities.user_workspaces(info, self)


@strawberry.type
class Template:
    id: strawberry.ID
    name: str
    display_name: str
    created_at: datetime
    uuid: Private[uuid.UUID]
    organization_id: Private[uuid.UUID]

    @strawberry.field(permission_classes=[OrgMember])
    async def organization(self, info: Info) -> Organization:
        return await info.context.loaders.organization.load(self.organization_id)

    @strawberry.field(metadata=costs.bounded(costs.FEW), permission_classes=[OrgMember])
    async def parameters(self, info: Info) -> list[TemplateParameter]:
        return await info.context.loaders.template_parameters.load(self.uuid)

    @strawberry.field(metadata=costs.connection(), permission_classes=[OrgMember])
    async def workspaces(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> WorkspaceConnection:
        return await entities.workspaces(info, self.organization_id, self.uuid, first, after)

    @strawberry.field(permission_classes=[CanViewInsights])
    async def insights(
        self,
        info: Info,
        start: datetime,
        end: datetime,
        interval: InsightsInterval | None = None,
        timezone: str = "UTC",
    ) -> TemplateInsightsRef:
        return await insights.template_insights(
            info, self.organization_id, [self.uuid], start, end, interval, timezone
        )


@strawberry.type
class Workspace:
    id: strawberry.ID
    name: str
    created_at: datetime
    deleted_at: datetime | None
    uuid: Private[uuid.UUID]
    organization_id: Private[uuid.UUID]
    template_id: Private[uuid.UUID]
    owner_id: Private[uuid.UUID]
    owner_row: Private[User | None] = None
    """the owner when a page of workspaces loaded it ahead (usagegraph.resolvers.entities.workspaces)"""
    template_row: Private[Template | None] = None

    # Synchronous, so that a preloaded owner or template costs no task; otherwise the loader's future is
    # returned, which the executor awaits like an async resolver's result.
    @strawberry.field(permission_classes=[OrgMember])
    def owner(self, info: Info) -> User:
        if self.owner_row is not None:
            return self.owner_row
        return cast(User, info.context.loaders.user.load(self.owner_id))

    @strawberry.field(permission_classes=[OrgMember])
    def template(self, info: Info) -> Template:
        if self.template_row is not None:
            return self.template_row
        return cast(Template, info.context.loaders.template.load(self.template_id))

    @strawberry.field(permission_classes=[OrgMember])
    async def organization(self, info: Info) -> Organization:
        return await info.context.loaders.organization.load(self.organization_id)

    @strawberry.field(metadata=costs.bounded(costs.FEW), permission_classes=[OrgMember])
    async def parameters(self, info: Info) -> list[WorkspaceParameter]:
        return await info.context.loaders.workspace_parameters.load(self.uuid)

    @strawberry.field(metadata=costs.days(), permission_classes=[CanReadWorkspaceMetrics])
    async def usage_metrics(
        self,
        info: Info,
        period_length: int | None = 365,
        start: date | None = None,
        end: date | None = None,
        window: ActiveWindow = ActiveWindow.CALENDAR,
        fill: FillPolicy = FillPolicy.FORWARD,
        category: ActivityCategory = ActivityCategory.LOGIN,
        timezone: str = "UTC",
    ) -> list[UsageMetricRef]:
        return await activity.usage_metrics(
            info, self.organization_id, self.uuid, period_length, start, end, window, fill, category, timezone
        )

    @strawberry.field(metadata=costs.buckets(), permission_classes=[CanReadMonitoring])
    async def utilization(
        self, info: Info, start: datetime, end: datetime, interval: Interval, timezone: str = "UTC"
    ) -> list[UtilizationPointRef]:
        return await compute.workspace_utilization(
            info, self.organization_id, self.uuid, start, end, interval, timezone
        )


@strawberry.type
class UserConnection:
    nodes: list[User] = strawberry.field(metadata=costs.page())
    page_info: PageInfo
    total_count: int


@strawberry.type
class WorkspaceConnection:
    nodes: list[Workspace] = strawberry.field(metadata=costs.page())
    page_info: PageInfo
    total_count: int
