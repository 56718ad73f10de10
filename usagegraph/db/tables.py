"""SQLModel tables: one model per table the migrations create, with every column (type, nullability,
server default, generated expression), primary key, unique constraint, foreign key and index (key
columns, INCLUDE columns, expressions, partial predicate) the database has at the head revision.

The migrations in db/migrations are the source of truth for the DDL; these models describe their
result, and tests/db/test_table_models.py checks that they agree: it migrates a fresh database to head
and asserts that Alembic's autogenerate comparison finds no difference, and that a database built from
these models with create_all has the same columns, constraints and indexes, as PostgreSQL prints them,
as the migrated one.

What the models do not describe: the migrations also create trigger functions and triggers (the
ai_session_usage.started_at copy, the AI rollups kept by deltas, see usagegraph.db.delta_rollups), SQL
functions (usagegraph_date_add and its helpers, usagegraph_patch_int4) and per-column storage settings
(activity_day_vectors' vectors are STORAGE EXTERNAL); the migrations alone define them. There are no views
or materialized views at head. Should one be added, it is not a table and gets no model here: Alembic's
comparison and the catalog comparison of the test both look at tables only.

Six tables have no primary key in the database: the AI rollups kept by deltas (ai_session_hours,
ai_usage_hours, ai_session_user_days, ai_session_user_weeks, ai_session_project_days), where a key has
several rows until the server folds them into one, and insights_dirty_days, where a day may be marked
more than once. The ORM needs an identity to map a class, so their models name their key columns as the
mapper's primary key (`__mapper_args__`), which creates no constraint; read them with SQL aggregates, not
as ORM objects.

Every table that grows with usage carries organization_id first in its primary key (or, without one, in
its key index) so that it can become the distribution column of a distributed PostgreSQL without a
rewrite."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, BIT, BYTEA, DOUBLE_PRECISION, JSONB
from sqlalchemy.types import TypeEngine
from sqlmodel import Field, SQLModel

# PostgreSQL's own names for the constraints the migrations leave unnamed, so that a database built from
# these models names them as the migrated one does.
SQLModel.metadata.naming_convention = {
    "pk": "%(table_name)s_pkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
}


def _col(
    type_: TypeEngine[Any] | type[TypeEngine[Any]],
    *args: Any,
    pk: bool = False,
    null: bool = False,
    server_default: str | None = None,
) -> Any:
    """A column, NOT NULL unless `null`; `args` are a ForeignKey or a Computed, `server_default` is SQL."""
    return Field(
        default=None if null else ...,
        sa_column=Column(
            type_,
            *args,
            primary_key=pk,
            nullable=null,
            server_default=text(server_default) if server_default is not None else None,
        ),
    )


def _uuid(*args: Any, pk: bool = False, null: bool = False) -> Any:
    return _col(Uuid, *args, pk=pk, null=null)


def _text(*, pk: bool = False, null: bool = False) -> Any:
    return _col(Text, pk=pk, null=null)


def _ts(*, pk: bool = False, null: bool = False) -> Any:
    return _col(DateTime(timezone=True), pk=pk, null=null)


def _date(*, pk: bool = False) -> Any:
    return _col(Date, pk=pk)


def _bigint(*args: Any) -> Any:
    return _col(BigInteger, *args)


def _double() -> Any:
    return _col(DOUBLE_PRECISION)


def _money() -> Any:
    return _col(Numeric(20, 6))


# Entities


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"
    id: uuid.UUID = _uuid(pk=True)
    name: str = _text()
    created_at: datetime = _ts()


class User(SQLModel, table=True):
    __tablename__ = "users"
    # lower(email): the OpenTelemetry intake finds members by email (migration 0021)
    __table_args__ = (UniqueConstraint("username"), Index("users_email_lower", text("lower(email)")))
    id: uuid.UUID = _uuid(pk=True)
    username: str = _text()
    name: str = _text()
    email: str | None = _text(null=True)
    created_at: datetime = _ts()
    site_roles: list[str] = _col(ARRAY(Text), server_default="'{}'")


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (Index("memberships_user", "user_id"),)
    organization_id: uuid.UUID = _uuid(ForeignKey("organizations.id"), pk=True)
    user_id: uuid.UUID = _uuid(ForeignKey("users.id"), pk=True)
    roles: list[str] = _col(ARRAY(Text), server_default="'{}'")


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("token_hash"), Index("api_tokens_user", "user_id"))
    id: uuid.UUID = _uuid(pk=True)
    user_id: uuid.UUID = _uuid(ForeignKey("users.id"))
    name: str = _text()
    token_hash: bytes = _col(BYTEA)
    created_at: datetime = _ts()
    expires_at: datetime | None = _ts(null=True)
    revoked_at: datetime | None = _ts(null=True)


class Template(SQLModel, table=True):
    __tablename__ = "templates"
    __table_args__ = (Index("templates_id", "id"),)
    organization_id: uuid.UUID = _uuid(ForeignKey("organizations.id"), pk=True)
    id: uuid.UUID = _uuid(pk=True)
    name: str = _text()
    display_name: str = _text()
    created_at: datetime = _ts()


class TemplateParameter(SQLModel, table=True):
    __tablename__ = "template_parameters"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "template_id"], ["templates.organization_id", "templates.id"]
        ),
    )
    organization_id: uuid.UUID = _uuid(pk=True)
    template_id: uuid.UUID = _uuid(pk=True)
    name: str = _text(pk=True)
    position: int = _col(Integer)
    display_name: str = _text()
    type: str = _text()
    default_value: str | None = _text(null=True)
    options: list[dict[str, str]] = _col(JSONB, server_default="'[]'")


class Workspace(SQLModel, table=True):
    __tablename__ = "workspaces"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "template_id"], ["templates.organization_id", "templates.id"]
        ),
        Index("workspaces_id", "id"),
        Index("workspaces_template", "organization_id", "template_id", "created_at", "id"),
        Index("workspaces_owner", "owner_id"),
    )
    organization_id: uuid.UUID = _uuid(pk=True)
    id: uuid.UUID = _uuid(pk=True)
    template_id: uuid.UUID = _uuid()
    owner_id: uuid.UUID = _uuid(ForeignKey("users.id"))
    name: str = _text()
    created_at: datetime = _ts()
    deleted_at: datetime | None = _ts(null=True)


class WorkspaceParameter(SQLModel, table=True):
    __tablename__ = "workspace_parameters"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "workspace_id"], ["workspaces.organization_id", "workspaces.id"]
        ),
    )
    organization_id: uuid.UUID = _uuid(pk=True)
    workspace_id: uuid.UUID = _uuid(pk=True)
    name: str = _text(pk=True)
    value: str = _text()


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    __table_args__ = (Index("projects_id", "id"),)
    organization_id: uuid.UUID = _uuid(ForeignKey("organizations.id"), pk=True)
    id: uuid.UUID = _uuid(pk=True)
    name: str = _text()


class InsightsGrant(SQLModel, table=True):
    __tablename__ = "insights_grants"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "template_id"], ["templates.organization_id", "templates.id"]
        ),
        Index("insights_grants_user", "user_id"),
    )
    organization_id: uuid.UUID = _uuid(pk=True)
    template_id: uuid.UUID = _uuid(pk=True)
    user_id: uuid.UUID = _uuid(ForeignKey("users.id"), pk=True)


# Activity: raw sessions and their rollups


class ActivitySession(SQLModel, table=True):
    """One usage session or one login. category is the ActivityCategory name; template_id is copied from
    the workspace at ingest so insights never join workspaces on the hot path."""

    __tablename__ = "activity_sessions"
    __table_args__ = (
        Index("activity_sessions_id", "id"),
        Index("activity_sessions_workspace", "organization_id", "workspace_id", "started_at"),
        Index(
            "activity_sessions_span",
            "organization_id",
            "started_at",
            postgresql_include=["user_id", "category", "ended_at"],
        ),
        Index(
            "activity_sessions_template_length",
            "organization_id",
            "template_id",
            text("(ended_at - started_at)"),
            postgresql_where=text("ended_at IS NOT NULL"),
        ),
        Index(
            "activity_sessions_template_span",
            "organization_id",
            "template_id",
            "started_at",
            postgresql_include=["ended_at", "category", "app"],
        ),
        Index(
            "activity_sessions_user",
            "organization_id",
            "user_id",
            "started_at",
            postgresql_include=["category", "ended_at"],
        ),
    )
    organization_id: uuid.UUID = _uuid(pk=True)
    id: uuid.UUID = _uuid(pk=True)
    user_id: uuid.UUID = _uuid()
    workspace_id: uuid.UUID | None = _uuid(null=True)
    template_id: uuid.UUID | None = _uuid(null=True)
    category: str = _text()
    app: str | None = _text(null=True)
    started_at: datetime = _ts()
    ended_at: datetime | None = _ts(null=True)


class ActivityMinutes(SQLModel, table=True):
    """Rollup: bit k of `minutes` is set when the user was active in minute k of the UTC hour `hour`,
    per workspace (nil UUID for a LOGIN without workspace), category and app ('' when none). LOGINs set
    the bit of their instant. Maintained with bit_or in the ingest transaction."""

    __tablename__ = "activity_minutes"
    __table_args__ = (
        Index(
            "activity_minutes_workspace",
            "organization_id",
            "workspace_id",
            "hour",
            postgresql_include=["user_id", "category", "minutes"],
        ),
        Index(
            "activity_minutes_template_cover",
            "organization_id",
            "template_id",
            "hour",
            postgresql_include=["user_id", "category", "app", "minutes"],
        ),
        Index(
            "activity_minutes_category",
            "organization_id",
            "category",
            "hour",
            postgresql_include=["user_id", "minutes"],
        ),
    )
    organization_id: uuid.UUID = _uuid(pk=True)
    hour: datetime = _ts(pk=True)
    user_id: uuid.UUID = _uuid(pk=True)
    workspace_id: uuid.UUID = _uuid(pk=True)
    category: str = _text(pk=True)
    app: str = _text(pk=True)
    template_id: uuid.UUID | None = _uuid(null=True)
    minutes: int = _bigint()


class ActivitySessionSpan(SQLModel, table=True):
    """The longest session of an organization, in minutes from its first to its last active minute: the
    lookback that turns "sessions overlapping a range" into a bounded range on started_at."""

    __tablename__ = "activity_session_spans"
    organization_id: uuid.UUID = _uuid(pk=True)
    max_minutes: int = _col(Integer)


class ActivityUserBit(SQLModel, table=True):
    """The bit that stands for a user in the organization's activity_quarter_users bit strings."""

    __tablename__ = "activity_user_bits"
    __table_args__ = (UniqueConstraint("organization_id", "idx"),)
    organization_id: uuid.UUID = _uuid(pk=True)
    user_id: uuid.UUID = _uuid(pk=True)
    idx: int = _col(Integer)


class ActivityQuarterUsers(SQLModel, table=True):
    """Rollup: bit i of `users` is set when the user numbered i was active in this UTC quarter-hour in
    this category (a LOGIN at its instant). Merged with OR in the ingest transaction."""

    __tablename__ = "activity_quarter_users"
    organization_id: uuid.UUID = _uuid(pk=True)
    category: str = _text(pk=True)
    quarter: datetime = _ts(pk=True)
    users: str = _col(BIT(varying=True))


class ActivityHourUsers(SQLModel, table=True):
    """Rollup: the OR of activity_quarter_users over the four quarters of each UTC hour."""

    __tablename__ = "activity_hour_users"
    organization_id: uuid.UUID = _uuid(pk=True)
    category: str = _text(pk=True)
    hour: datetime = _ts(pk=True)
    users: str = _col(BIT(varying=True))


class ActivityUserDay(SQLModel, table=True):
    """Rollup: per user and UTC day, the union of active minutes (bit i = minute lo + i), the start minutes
    of the sessions starting that day, the end minutes of those ending that day and how many sessions were
    carried in (usagegraph.db.queries.user_days). Recomputed by ingest for the user-days it touches."""

    __tablename__ = "activity_user_days"
    organization_id: uuid.UUID = _uuid(pk=True)
    day: date = _date(pk=True)
    user_id: uuid.UUID = _uuid(pk=True)
    lo: int = _col(SmallInteger)
    minutes: str = _col(BIT(varying=True))
    # Generated, so PostgreSQL reports it nullable (it is NULL only if minutes were).
    total: int | None = _col(SmallInteger, Computed("bit_count(minutes)", persisted=True), null=True)
    starts: list[int] | None = _col(ARRAY(SmallInteger), null=True)
    ends: list[int] | None = _col(ARRAY(SmallInteger), null=True)
    carried: int = _col(Integer)


class ActivityDayVector(SQLModel, table=True):
    """Rollup: per organization and UTC day, the user-days' minutes, sessions started and sessions carried
    in as packed big-endian int4 vectors indexed by activity_user_bits.idx (usagegraph.db.queries.day_vectors).
    Kept in the statement that recomputes the user-days. The three vectors are STORAGE EXTERNAL (set by the
    migration, not described here)."""

    __tablename__ = "activity_day_vectors"
    organization_id: uuid.UUID = _uuid(pk=True)
    day: date = _date(pk=True)
    minutes: bytes = _col(BYTEA)
    starts: bytes = _col(BYTEA)
    carried: bytes = _col(BYTEA)


class ActivityPartVector(SQLModel, table=True):
    """Rollup: per organization, UTC day and part of it (an hour, span 60, or a quarter-hour, span 15, from
    its first minute of the day), the users with anything in it (activity_user_bits.idx, ascending) and
    their minutes, sessions started and sessions open at the part's start, as aligned arrays and as packed
    big-endian int4 records (usagegraph.db.queries.part_vectors). Kept in the statement that recomputes the user-days."""

    __tablename__ = "activity_part_vectors"
    organization_id: uuid.UUID = _uuid(pk=True)
    day: date = _date(pk=True)
    minute: int = _col(SmallInteger, pk=True)
    span: int = _col(SmallInteger, pk=True)
    idxs: list[int] = _col(ARRAY(Integer))
    minutes: list[int] = _col(ARRAY(Integer))
    starts: list[int] = _col(ARRAY(Integer))
    carried: list[int] = _col(ARRAY(Integer))
    packed: bytes = _col(BYTEA)


class ActivityWorkspaceDay(SQLModel, table=True):
    """Rollup: per workspace, user and UTC day, the first and last minute of the day in which the user was
    active in the workspace (usagegraph.db.queries.workspace_days). Merged with least / greatest by ingest."""

    __tablename__ = "activity_workspace_days"
    organization_id: uuid.UUID = _uuid(pk=True)
    workspace_id: uuid.UUID = _uuid(pk=True)
    day: date = _date(pk=True)
    user_id: uuid.UUID = _uuid(pk=True)
    first_minute: int = _col(SmallInteger)
    last_minute: int = _col(SmallInteger)


# Samples


class LatencySample(SQLModel, table=True):
    __tablename__ = "latency_samples"
    __table_args__ = (Index("latency_samples_template", "organization_id", "template_id", "at"),)
    organization_id: uuid.UUID = _uuid(pk=True)
    workspace_id: uuid.UUID = _uuid(pk=True)
    user_id: uuid.UUID = _uuid(pk=True)
    at: datetime = _ts(pk=True)
    template_id: uuid.UUID = _uuid()
    latency_ms: float = _double()


class ResourceSample(SQLModel, table=True):
    __tablename__ = "resource_samples"
    __table_args__ = (Index("resource_samples_time", "organization_id", "at"),)
    organization_id: uuid.UUID = _uuid(pk=True)
    workspace_id: uuid.UUID = _uuid(pk=True)
    at: datetime = _ts(pk=True)
    node: str | None = _text(null=True)
    cpu_used_cores: float = _double()
    cpu_limit_cores: float = _double()
    memory_used_bytes: float = _double()
    memory_limit_bytes: float = _double()


class NodeSample(SQLModel, table=True):
    """Nodes are shared infrastructure, not owned by an organization."""

    __tablename__ = "node_samples"
    __table_args__ = (Index("node_samples_time", "at"),)
    node: str = _text(pk=True)
    at: datetime = _ts(pk=True)
    cpu_used_cores: float = _double()
    cpu_capacity_cores: float = _double()
    memory_used_bytes: float = _double()
    memory_capacity_bytes: float = _double()


# AI sessions and their rollups

_COST_MICROS = "(cost * 1000000)::bigint"


class AiSession(SQLModel, table=True):
    """Totals are denormalized from the usage lines at ingest so analytics read one row per session.
    cost_micros and duration_seconds are generated by PostgreSQL."""

    __tablename__ = "ai_sessions"
    __table_args__ = (
        Index("ai_sessions_id", "id"),
        Index("ai_sessions_user", "organization_id", "user_id", "started_at"),
        Index(
            "ai_sessions_time_facts",
            "organization_id",
            "started_at",
            postgresql_include=[
                "user_id",
                "agent",
                "project_id",
                "duration_seconds",
                "cost_micros",
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
                "unpriced",
            ],
        ),
    )
    organization_id: uuid.UUID = _uuid(pk=True)
    id: uuid.UUID = _uuid(pk=True)
    user_id: uuid.UUID = _uuid()
    project_id: uuid.UUID | None = _uuid(null=True)
    repository: str | None = _text(null=True)
    agent: str = _text()
    started_at: datetime = _ts()
    ended_at: datetime | None = _ts(null=True)
    cost: Decimal = _money()
    input_tokens: int = _bigint()
    output_tokens: int = _bigint()
    cache_read_tokens: int = _bigint()
    cache_write_tokens: int = _bigint()
    unpriced: bool = _col(Boolean)
    cost_micros: int | None = _col(BigInteger, Computed(_COST_MICROS, persisted=True), null=True)
    duration_seconds: float | None = _col(
        DOUBLE_PRECISION, Computed("date_part('epoch', ended_at - started_at)", persisted=True), null=True
    )


class AiSessionUsage(SQLModel, table=True):
    __tablename__ = "ai_session_usage"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "session_id"], ["ai_sessions.organization_id", "ai_sessions.id"]
        ),
        Index(
            "ai_session_usage_time_facts",
            "organization_id",
            "started_at",
            postgresql_include=["session_id", "model", "input_tokens", "output_tokens", "cost_micros"],
        ),
    )
    organization_id: uuid.UUID = _uuid(pk=True)
    session_id: uuid.UUID = _uuid(pk=True)
    model: str = _text(pk=True)
    input_tokens: int = _bigint()
    output_tokens: int = _bigint()
    cache_read_tokens: int = _bigint()
    cache_write_tokens: int = _bigint()
    cost: Decimal = _money()
    priced: bool = _col(Boolean)
    # NOT NULL; a trigger copies it from the session row on every insert, so writers leave it out.
    started_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    cost_micros: int | None = _col(BigInteger, Computed(_COST_MICROS, persisted=True), null=True)


class AiSessionHours(SQLModel, table=True):
    """Delta rollup of ai_sessions per UTC hour (no primary key: see the module docstring)."""

    __tablename__ = "ai_session_hours"
    __table_args__ = (
        Index(
            "ai_session_hours_key",
            "organization_id",
            "hour",
            postgresql_include=["sessions", "cost_micros", "tokens"],
        ),
    )
    __mapper_args__: ClassVar[dict[str, Any]] = {"primary_key": ["organization_id", "hour"]}
    organization_id: uuid.UUID = _uuid()
    hour: datetime = _ts()
    sessions: int = _bigint()
    cost_micros: int = _bigint()
    tokens: int = _bigint()


class AiUsageHours(SQLModel, table=True):
    """Delta rollup of ai_session_usage per UTC hour and model (no primary key: see the module docstring)."""

    __tablename__ = "ai_usage_hours"
    __table_args__ = (
        Index(
            "ai_usage_hours_key",
            "organization_id",
            "hour",
            postgresql_include=["model", "lines", "cost_micros", "tokens"],
        ),
    )
    __mapper_args__: ClassVar[dict[str, Any]] = {"primary_key": ["organization_id", "hour", "model"]}
    organization_id: uuid.UUID = _uuid()
    hour: datetime = _ts()
    model: str = _text()
    lines: int = _bigint()
    cost_micros: int = _bigint()
    tokens: int = _bigint()


class AiSessionUserDays(SQLModel, table=True):
    """Delta rollup of ai_sessions per user and UTC day (no primary key: see the module docstring)."""

    __tablename__ = "ai_session_user_days"
    __table_args__ = (
        Index(
            "ai_session_user_days_key",
            "organization_id",
            "day",
            postgresql_include=["user_id", "sessions", "cost_micros", "tokens"],
        ),
    )
    __mapper_args__: ClassVar[dict[str, Any]] = {"primary_key": ["organization_id", "day", "user_id"]}
    organization_id: uuid.UUID = _uuid()
    day: date = _date()
    user_id: uuid.UUID = _uuid()
    sessions: int = _bigint()
    cost_micros: int = _bigint()
    tokens: int = _bigint()


class AiSessionUserWeeks(SQLModel, table=True):
    """Delta rollup of ai_sessions per user, agent and UTC (Monday) week: the sums of
    usagegraph.db.queries.sessions.WEEK_SUMS (no primary key: see the module docstring)."""

    __tablename__ = "ai_session_user_weeks"
    __table_args__ = (
        Index(
            "ai_session_user_weeks_key",
            "organization_id",
            "week",
            postgresql_include=[
                "user_id",
                "agent",
                "sessions",
                "cost_micros",
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
                "duration_us",
                "ended",
                "unpriced",
                "le0",
                "le1",
                "le2",
                "le3",
                "le4",
                "le5",
            ],
        ),
    )
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "primary_key": ["organization_id", "week", "user_id", "agent"]
    }
    organization_id: uuid.UUID = _uuid()
    week: date = _date()
    user_id: uuid.UUID = _uuid()
    agent: str = _text()
    sessions: int = _bigint()
    cost_micros: int = _bigint()
    input_tokens: int = _bigint()
    output_tokens: int = _bigint()
    cache_read_tokens: int = _bigint()
    cache_write_tokens: int = _bigint()
    duration_us: int = _bigint()
    ended: int = _bigint()
    unpriced: int = _bigint()
    le0: int = _bigint()
    le1: int = _bigint()
    le2: int = _bigint()
    le3: int = _bigint()
    le4: int = _bigint()
    le5: int = _bigint()


class AiSessionProjectDays(SQLModel, table=True):
    """Delta rollup of ai_sessions per project and UTC day; sessions without a project are under
    (nil UUID, no_project = true) (no primary key: see the module docstring)."""

    __tablename__ = "ai_session_project_days"
    __table_args__ = (
        Index(
            "ai_session_project_days_key",
            "organization_id",
            "day",
            postgresql_include=["project_key", "no_project", "sessions", "cost_micros", "tokens"],
        ),
    )
    __mapper_args__: ClassVar[dict[str, Any]] = {
        "primary_key": ["organization_id", "day", "project_key", "no_project"]
    }
    organization_id: uuid.UUID = _uuid()
    day: date = _date()
    project_key: uuid.UUID = _uuid()
    no_project: bool = _col(Boolean)
    sessions: int = _bigint()
    cost_micros: int = _bigint()
    tokens: int = _bigint()


# Template Insights per UTC day (usagegraph.db.queries.app_days)


class InsightsTemplateDay(SQLModel, table=True):
    """Per template and UTC day, each active user's minutes (user_ids[i] was active minutes[i] minutes)."""

    __tablename__ = "insights_template_days"
    organization_id: uuid.UUID = _uuid(pk=True)
    template_id: uuid.UUID = _uuid(pk=True)
    day: date = _date(pk=True)
    user_ids: list[uuid.UUID] = _col(ARRAY(Uuid))
    minutes: list[int] = _col(ARRAY(Integer))


class InsightsAppDay(SQLModel, table=True):
    """Per UTC day, template (or every template together) and app: summed user minutes and the users' bits."""

    __tablename__ = "insights_app_days"
    organization_id: uuid.UUID = _uuid(pk=True)
    day: date = _date(pk=True)
    template_id: uuid.UUID = _uuid(pk=True)
    app: str = _text(pk=True)
    minutes: int = _bigint()
    users: str = _col(BIT(varying=True))


class InsightsAppSessionDay(SQLModel, table=True):
    """Sessions started per UTC day, template, app and category."""

    __tablename__ = "insights_app_session_days"
    organization_id: uuid.UUID = _uuid(pk=True)
    day: date = _date(pk=True)
    template_id: uuid.UUID = _uuid(pk=True)
    app: str = _text(pk=True)
    category: str = _text(pk=True)
    sessions: int = _bigint()


class InsightsDirtyDay(SQLModel, table=True):
    """The UTC days ingest touched, to be recomputed in the background; a day may be marked several times
    (no primary key: see the module docstring)."""

    __tablename__ = "insights_dirty_days"
    __table_args__ = (Index("insights_dirty_days_key", "organization_id", "day"),)
    __mapper_args__: ClassVar[dict[str, Any]] = {"primary_key": ["organization_id", "day"]}
    organization_id: uuid.UUID = _uuid()
    day: date = _date()


# The OpenTelemetry intake's event ledger (migration 0021, docs/otlp.md)


class OtlpEvent(SQLModel, table=True):
    __tablename__ = "otlp_events"
    __table_args__ = (
        Index("otlp_events_session", "organization_id", "session_id", "occurred_at"),
        Index("otlp_events_time", "organization_id", "occurred_at"),
    )
    organization_id: uuid.UUID = _uuid(ForeignKey("organizations.id"), pk=True)
    event_id: uuid.UUID = _uuid(pk=True)
    session_id: uuid.UUID = _uuid()
    name: str = _text()
    occurred_at: datetime = _ts()
    model: str | None = _text(null=True)
    input_tokens: int = _col(BigInteger, server_default="0")
    output_tokens: int = _col(BigInteger, server_default="0")
    cache_read_tokens: int = _col(BigInteger, server_default="0")
    cache_write_tokens: int = _col(BigInteger, server_default="0")
    cost: Decimal | None = _col(Numeric(20, 6), null=True)
    received_at: datetime = _col(DateTime(timezone=True), server_default="now()")
