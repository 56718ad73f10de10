"""Ingestion and administration inputs and results (docs/api.md 4, 5.7)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from usagegraph.schema import costs
from usagegraph.schema.enums import ActivityCategory
from usagegraph.schema.inputs import fast_input
from usagegraph.schema.scalars import BigInt


@strawberry.input
class OrganizationInput:
    id: strawberry.ID
    name: str
    created_at: datetime | None = None


@strawberry.input
class UserInput:
    id: strawberry.ID
    username: str
    name: str | None = None
    email: str | None = None
    created_at: datetime | None = None
    site_roles: list[str] | None = None


@strawberry.input
class MembershipInput:
    user_id: strawberry.ID
    organization_id: strawberry.ID
    roles: list[str]


@strawberry.input
class ParameterOptionInput:
    value: str
    name: str | None = None


@strawberry.input
class TemplateParameterInput:
    name: str
    display_name: str | None = None
    type: str = "string"
    default_value: str | None = None
    options: list[ParameterOptionInput] | None = None


@strawberry.input
class TemplateInput:
    id: strawberry.ID
    organization_id: strawberry.ID
    name: str
    display_name: str | None = None
    created_at: datetime | None = None
    parameters: list[TemplateParameterInput] | None = None


@strawberry.input
class WorkspaceParameterInput:
    name: str
    value: str


@strawberry.input
class WorkspaceInput:
    id: strawberry.ID
    template_id: strawberry.ID
    owner_id: strawberry.ID
    name: str
    created_at: datetime | None = None
    deleted_at: datetime | None = None
    parameters: list[WorkspaceParameterInput] | None = None


@strawberry.input
class ProjectInput:
    id: strawberry.ID
    organization_id: strawberry.ID
    name: str


@strawberry.input(
    description="One usage session (or one login). Re-sending the same id is idempotent; a later endedAt extends it."
)
class ActivityEventInput:
    id: strawberry.ID
    user_id: strawberry.ID
    category: ActivityCategory
    started_at: datetime
    workspace_id: strawberry.ID | None = strawberry.field(
        default=None, description="required for every category but LOGIN"
    )
    organization_id: strawberry.ID | None = strawberry.field(
        default=None, description="organization of a LOGIN without workspace"
    )
    app: str | None = strawberry.field(
        default=None,
        description="app slug: vscode, jetbrains, ssh, web-terminal, code-server, jupyter, rstudio, or a custom app",
    )
    ended_at: datetime | None = strawberry.field(
        default=None, description="required for every category but LOGIN; >= startedAt"
    )


@strawberry.input
class LatencySampleInput:
    workspace_id: strawberry.ID
    user_id: strawberry.ID
    at: datetime
    latency_ms: float


@strawberry.input
class ResourceSampleInput:
    workspace_id: strawberry.ID
    at: datetime
    cpu_used_cores: float
    cpu_limit_cores: float
    memory_used_bytes: float
    memory_limit_bytes: float
    node: str | None = None


@strawberry.input
class NodeSampleInput:
    node: str
    at: datetime
    cpu_used_cores: float
    cpu_capacity_cores: float
    memory_used_bytes: float
    memory_capacity_bytes: float


@strawberry.input
class ModelUsageInput:
    model: str
    input_tokens: BigInt = 0
    output_tokens: BigInt = 0
    cache_read_tokens: BigInt = 0
    cache_write_tokens: BigInt = 0
    cost: Decimal | None = strawberry.field(
        default=None, description="estimated from the price table when omitted"
    )


@strawberry.input
class AiSessionInput:
    id: strawberry.ID
    organization_id: strawberry.ID
    user_id: strawberry.ID
    agent: str
    started_at: datetime
    usage: list[ModelUsageInput]
    project_id: strawberry.ID | None = None
    repository: str | None = None
    ended_at: datetime | None = None


@fast_input
@strawberry.input
class IngestBatch:
    organizations: list[OrganizationInput] | None = None
    users: list[UserInput] | None = None
    memberships: list[MembershipInput] | None = None
    templates: list[TemplateInput] | None = None
    workspaces: list[WorkspaceInput] | None = None
    projects: list[ProjectInput] | None = None
    activity: list[ActivityEventInput] | None = None
    latency: list[LatencySampleInput] | None = None
    resources: list[ResourceSampleInput] | None = None
    nodes: list[NodeSampleInput] | None = None
    ai_sessions: list[AiSessionInput] | None = None


@strawberry.type
class IngestRejection:
    kind: str
    index: int
    code: str
    message: str


@strawberry.type
class IngestResult:
    accepted: int
    duplicates: int
    rejected: list[IngestRejection] = strawberry.field(metadata=costs.bounded(costs.FEW))


@strawberry.type
class CreatedToken:
    id: strawberry.ID
    token: str = strawberry.field(description="shown once")
    expires_at: datetime | None
