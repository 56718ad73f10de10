"""SQLModel tables. The migrations in db/migrations are the source of truth for the DDL; a test checks
that these models and the migrated database agree.

Every table that grows with usage carries organization_id first in its primary key so that it can
become the distribution column of a distributed PostgreSQL without a rewrite."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Column, Computed, DateTime, Numeric, SmallInteger, Text
from sqlalchemy.dialects.postgresql import ARRAY, BIT, BYTEA, JSONB
from sqlmodel import Field, SQLModel


def _ts(nullable: bool = False) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable))


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"
    id: uuid.UUID = Field(primary_key=True)
    name: str
    created_at: datetime = _ts()


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: uuid.UUID = Field(primary_key=True)
    username: str = Field(unique=True)
    name: str
    email: str | None = None
    created_at: datetime = _ts()
    site_roles: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    organization_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    roles: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"
    id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID
    name: str
    token_hash: bytes = Field(sa_column=Column(BYTEA, nullable=False, unique=True))
    created_at: datetime = _ts()
    expires_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class Template(SQLModel, table=True):
    __tablename__ = "templates"
    organization_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(primary_key=True)
    name: str
    display_name: str
    created_at: datetime = _ts()


class TemplateParameter(SQLModel, table=True):
    __tablename__ = "template_parameters"
    organization_id: uuid.UUID = Field(primary_key=True)
    template_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(primary_key=True)
    position: int
    display_name: str
    type: str
    default_value: str | None = None
    options: list[dict[str, str]] = Field(sa_column=Column(JSONB, nullable=False))


class Workspace(SQLModel, table=True):
    __tablename__ = "workspaces"
    organization_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(primary_key=True)
    template_id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    created_at: datetime = _ts()
    deleted_at: datetime | None = _ts(nullable=True)


class WorkspaceParameter(SQLModel, table=True):
    __tablename__ = "workspace_parameters"
    organization_id: uuid.UUID = Field(primary_key=True)
    workspace_id: uuid.UUID = Field(primary_key=True)
    name: str = Field(primary_key=True)
    value: str


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    organization_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(primary_key=True)
    name: str


class ActivitySession(SQLModel, table=True):
    """One usage session or one login. category is the ActivityCategory name; template_id is copied from
    the workspace at ingest so insights never join workspaces on the hot path."""

    __tablename__ = "activity_sessions"
    organization_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID
    workspace_id: uuid.UUID | None = None
    template_id: uuid.UUID | None = None
    category: str
    app: str | None = None
    started_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)


class ActivityMinutes(SQLModel, table=True):
    """Rollup: bit k of `minutes` is set when the user was active in minute k of the UTC hour `hour`,
    per workspace (nil UUID for a LOGIN without workspace), category and app ('' when none). LOGINs set
    the bit of their instant. Maintained with bit_or in the ingest transaction."""

    __tablename__ = "activity_minutes"
    organization_id: uuid.UUID = Field(primary_key=True)
    hour: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    user_id: uuid.UUID = Field(primary_key=True)
    workspace_id: uuid.UUID = Field(primary_key=True)
    category: str = Field(primary_key=True)
    app: str = Field(primary_key=True)
    template_id: uuid.UUID | None = None
    minutes: int = Field(sa_column=Column(BigInteger, nullable=False))


class ActivitySessionSpan(SQLModel, table=True):
    """The longest session of an organization, in minutes from its first to its last active minute: the
    lookback that turns "sessions overlapping a range" into a bounded range on started_at."""

    __tablename__ = "activity_session_spans"
    organization_id: uuid.UUID = Field(primary_key=True)
    max_minutes: int


class ActivityUserBit(SQLModel, table=True):
    """The bit that stands for a user in the organization's activity_quarter_users bit strings."""

    __tablename__ = "activity_user_bits"
    organization_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    idx: int


class ActivityUserDay(SQLModel, table=True):
    """Rollup: per user and UTC day, the union of active minutes (bit i = minute lo + i), the start minutes
    of the sessions starting that day, the end minutes of those ending that day and how many sessions were
    carried in (usagegraph.db.queries.user_days). Recomputed by ingest for the user-days it touches."""

    __tablename__ = "activity_user_days"
    organization_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    lo: int = Field(sa_column=Column(SmallInteger, nullable=False))
    minutes: str = Field(sa_column=Column(BIT(varying=True), nullable=False))
    total: int = Field(sa_column=Column(SmallInteger, Computed("bit_count(minutes)", persisted=True)))
    starts: list[int] | None = Field(default=None, sa_column=Column(ARRAY(SmallInteger), nullable=True))
    ends: list[int] | None = Field(default=None, sa_column=Column(ARRAY(SmallInteger), nullable=True))
    carried: int


class ActivityDayVector(SQLModel, table=True):
    """Rollup: per organization and UTC day, the user-days' minutes, sessions started and sessions carried
    in as packed big-endian int4 vectors indexed by activity_user_bits.idx (usagegraph.db.queries.day_vectors).
    Kept in the statement that recomputes the user-days."""

    __tablename__ = "activity_day_vectors"
    organization_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(primary_key=True)
    minutes: bytes = Field(sa_column=Column(BYTEA, nullable=False))
    starts: bytes = Field(sa_column=Column(BYTEA, nullable=False))
    carried: bytes = Field(sa_column=Column(BYTEA, nullable=False))


class ActivityWorkspaceDay(SQLModel, table=True):
    """Rollup: per workspace, user and UTC day, the first and last minute of the day in which the user was
    active in the workspace (usagegraph.db.queries.workspace_days). Merged with least / greatest by ingest."""

    __tablename__ = "activity_workspace_days"
    organization_id: uuid.UUID = Field(primary_key=True)
    workspace_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    first_minute: int = Field(sa_column=Column(SmallInteger, nullable=False))
    last_minute: int = Field(sa_column=Column(SmallInteger, nullable=False))


class ActivityQuarterUsers(SQLModel, table=True):
    """Rollup: bit i of `users` is set when the user numbered i was active in this UTC quarter-hour in
    this category (a LOGIN at its instant). Merged with OR in the ingest transaction."""

    __tablename__ = "activity_quarter_users"
    organization_id: uuid.UUID = Field(primary_key=True)
    category: str = Field(primary_key=True)
    quarter: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    users: str = Field(sa_column=Column(BIT(varying=True), nullable=False))


class LatencySample(SQLModel, table=True):
    __tablename__ = "latency_samples"
    organization_id: uuid.UUID = Field(primary_key=True)
    workspace_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    template_id: uuid.UUID
    latency_ms: float


class ResourceSample(SQLModel, table=True):
    __tablename__ = "resource_samples"
    organization_id: uuid.UUID = Field(primary_key=True)
    workspace_id: uuid.UUID = Field(primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    node: str | None = None
    cpu_used_cores: float
    cpu_limit_cores: float
    memory_used_bytes: float
    memory_limit_bytes: float


class NodeSample(SQLModel, table=True):
    """Nodes are shared infrastructure, not owned by an organization."""

    __tablename__ = "node_samples"
    node: str = Field(primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    cpu_used_cores: float
    cpu_capacity_cores: float
    memory_used_bytes: float
    memory_capacity_bytes: float


class AiSession(SQLModel, table=True):
    """Totals are denormalized from the usage lines at ingest so analytics read one row per session."""

    __tablename__ = "ai_sessions"
    organization_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID
    project_id: uuid.UUID | None = None
    repository: str | None = None
    agent: str
    started_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)
    cost: Decimal = Field(sa_column=Column(Numeric(20, 6), nullable=False))
    input_tokens: int = Field(sa_column=Column(BigInteger, nullable=False))
    output_tokens: int = Field(sa_column=Column(BigInteger, nullable=False))
    cache_read_tokens: int = Field(sa_column=Column(BigInteger, nullable=False))
    cache_write_tokens: int = Field(sa_column=Column(BigInteger, nullable=False))
    unpriced: bool


class AiSessionUsage(SQLModel, table=True):
    __tablename__ = "ai_session_usage"
    organization_id: uuid.UUID = Field(primary_key=True)
    session_id: uuid.UUID = Field(primary_key=True)
    model: str = Field(primary_key=True)
    input_tokens: int = Field(sa_column=Column(BigInteger, nullable=False))
    output_tokens: int = Field(sa_column=Column(BigInteger, nullable=False))
    cache_read_tokens: int = Field(sa_column=Column(BigInteger, nullable=False))
    cache_write_tokens: int = Field(sa_column=Column(BigInteger, nullable=False))
    cost: Decimal = Field(sa_column=Column(Numeric(20, 6), nullable=False))
    priced: bool
    # NOT NULL in the database; a trigger copies it from the session row on every insert.
    started_at: datetime | None = _ts(nullable=True)


class InsightsGrant(SQLModel, table=True):
    __tablename__ = "insights_grants"
    organization_id: uuid.UUID = Field(primary_key=True)
    template_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
