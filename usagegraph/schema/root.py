"""Query and Mutation roots."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from usagegraph.auth.permissions import (
    Authenticated,
    CanAdminUsers,
    CanIngest,
    CanReadActivity,
    CanReadControlPlane,
    CanViewInsights,
)
from usagegraph.schema import costs
from usagegraph.schema.entities import Organization, Template, User, Workspace
from usagegraph.schema.enums import ActivityCategory, InsightsInterval
from usagegraph.schema.ingest import CreatedToken, IngestBatch, IngestResult
from usagegraph.schema.lazy import resolvers
from usagegraph.schema.scalars import Interval

if TYPE_CHECKING:
    from usagegraph.schema.activity import ActivityReport
    from usagegraph.schema.control_plane import ControlPlane
    from usagegraph.schema.insights import TemplateInsights

ActivityReportRef = Annotated["ActivityReport", strawberry.lazy("usagegraph.schema.activity")]
ControlPlaneRef = Annotated["ControlPlane", strawberry.lazy("usagegraph.schema.control_plane")]
TemplateInsightsRef = Annotated["TemplateInsights", strawberry.lazy("usagegraph.schema.insights")]

entities = resolvers("entities")
activity = resolvers("activity")
insights = resolvers("insights")
admin = resolvers("admin")
ingest = resolvers("ingest")


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[Authenticated])
    async def viewer(self, info: Info) -> User:
        return await entities.viewer(info)

    @strawberry.field(metadata=costs.bounded(costs.FEW), permission_classes=[Authenticated])
    async def organizations(self, info: Info) -> list[Organization]:
        return await entities.organizations(info)

    @strawberry.field(permission_classes=[Authenticated])
    async def organization(self, info: Info, id: strawberry.ID) -> Organization | None:
        return await entities.organization(info, id)

    @strawberry.field(permission_classes=[Authenticated])
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        return await entities.user(info, id)

    @strawberry.field(permission_classes=[Authenticated])
    async def template(self, info: Info, id: strawberry.ID) -> Template | None:
        return await entities.template(info, id)

    @strawberry.field(permission_classes=[Authenticated])
    async def workspace(self, info: Info, id: strawberry.ID) -> Workspace | None:
        return await entities.workspace(info, id)

    @strawberry.field(
        permission_classes=[CanReadActivity],
        description="Coder Manage > Metrics: per-user activity in buckets. Deployment-wide unless organizationId is given.",
    )
    async def activity(
        self,
        info: Info,
        start: datetime,
        end: datetime,
        interval: Interval,
        category: ActivityCategory = ActivityCategory.ANY,
        organization_id: strawberry.ID | None = None,
        timezone: str = "UTC",
    ) -> ActivityReportRef:
        return await activity.activity(info, start, end, interval, category, organization_id, timezone)

    @strawberry.field(
        permission_classes=[CanViewInsights],
        description="Template Insights over several templates; templateIds omitted = every template the viewer may see in the organization.",
    )
    async def template_insights(
        self,
        info: Info,
        organization_id: strawberry.ID,
        start: datetime,
        end: datetime,
        template_ids: list[strawberry.ID] | None = None,
        interval: InsightsInterval | None = None,
        timezone: str = "UTC",
    ) -> TemplateInsightsRef:
        return await insights.query_template_insights(
            info, organization_id, template_ids, start, end, interval, timezone
        )

    @strawberry.field(
        permission_classes=[CanReadControlPlane],
        description="The deployment's own metrics from Prometheus (USAGEGRAPH_PROMETHEUS_URL), for the compute page. Requires monitoring:read from a site-wide role.",
    )
    def control_plane(self) -> ControlPlaneRef | None:
        from usagegraph.schema.control_plane import ControlPlane

        return ControlPlane()


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[CanIngest])
    async def ingest(self, info: Info, batch: IngestBatch) -> IngestResult:
        return await ingest.ingest(info, batch)

    @strawberry.mutation(permission_classes=[CanAdminUsers])
    async def create_token(
        self, info: Info, user_id: strawberry.ID, name: str, expires_at: datetime | None = None
    ) -> CreatedToken:
        return await admin.create_token(info, user_id, name, expires_at)

    @strawberry.mutation(permission_classes=[CanAdminUsers])
    async def revoke_token(self, info: Info, id: strawberry.ID) -> bool:
        return await admin.revoke_token(info, id)

    @strawberry.mutation(permission_classes=[CanAdminUsers])
    async def set_roles(
        self,
        info: Info,
        user_id: strawberry.ID,
        roles: list[str],
        organization_id: strawberry.ID | None = None,
    ) -> User:
        return await admin.set_roles(info, user_id, organization_id, roles)

    @strawberry.mutation(permission_classes=[CanAdminUsers])
    async def grant_template_insights(
        self, info: Info, template_id: strawberry.ID, user_id: strawberry.ID
    ) -> bool:
        return await admin.grant_template_insights(info, template_id, user_id)

    @strawberry.mutation(permission_classes=[CanAdminUsers])
    async def revoke_template_insights(
        self, info: Info, template_id: strawberry.ID, user_id: strawberry.ID
    ) -> bool:
        return await admin.revoke_template_insights(info, template_id, user_id)
