"""Initial schema: entities, tokens, roles, raw facts and the activity minute rollup.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    username text NOT NULL UNIQUE,
    name text NOT NULL,
    email text,
    created_at timestamptz NOT NULL,
    site_roles text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE memberships (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    roles text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id),
    name text NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE templates (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL,
    name text NOT NULL,
    display_name text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX templates_id ON templates (id);

CREATE TABLE template_parameters (
    organization_id uuid NOT NULL,
    template_id uuid NOT NULL,
    name text NOT NULL,
    position integer NOT NULL,
    display_name text NOT NULL,
    type text NOT NULL,
    default_value text,
    options jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (organization_id, template_id, name),
    FOREIGN KEY (organization_id, template_id) REFERENCES templates (organization_id, id)
);

CREATE TABLE workspaces (
    organization_id uuid NOT NULL,
    id uuid NOT NULL,
    template_id uuid NOT NULL,
    owner_id uuid NOT NULL REFERENCES users (id),
    name text NOT NULL,
    created_at timestamptz NOT NULL,
    deleted_at timestamptz,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, template_id) REFERENCES templates (organization_id, id)
);
CREATE INDEX workspaces_id ON workspaces (id);
CREATE INDEX workspaces_template ON workspaces (organization_id, template_id, created_at, id);
CREATE INDEX workspaces_owner ON workspaces (owner_id);

CREATE TABLE workspace_parameters (
    organization_id uuid NOT NULL,
    workspace_id uuid NOT NULL,
    name text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (organization_id, workspace_id, name),
    FOREIGN KEY (organization_id, workspace_id) REFERENCES workspaces (organization_id, id)
);

CREATE TABLE projects (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    id uuid NOT NULL,
    name text NOT NULL,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX projects_id ON projects (id);

CREATE TABLE activity_sessions (
    organization_id uuid NOT NULL,
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    workspace_id uuid,
    template_id uuid,
    category text NOT NULL,
    app text,
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX activity_sessions_id ON activity_sessions (id);
CREATE INDEX activity_sessions_time ON activity_sessions (organization_id, started_at);
CREATE INDEX activity_sessions_template ON activity_sessions (organization_id, template_id, started_at);
CREATE INDEX activity_sessions_workspace ON activity_sessions (organization_id, workspace_id, started_at);

CREATE TABLE activity_minutes (
    organization_id uuid NOT NULL,
    hour timestamptz NOT NULL,
    user_id uuid NOT NULL,
    workspace_id uuid NOT NULL,
    category text NOT NULL,
    app text NOT NULL,
    template_id uuid,
    minutes bigint NOT NULL,
    PRIMARY KEY (organization_id, hour, user_id, workspace_id, category, app)
);
CREATE INDEX activity_minutes_workspace ON activity_minutes (organization_id, workspace_id, hour);
CREATE INDEX activity_minutes_template ON activity_minutes (organization_id, template_id, hour);

CREATE TABLE latency_samples (
    organization_id uuid NOT NULL,
    workspace_id uuid NOT NULL,
    user_id uuid NOT NULL,
    at timestamptz NOT NULL,
    template_id uuid NOT NULL,
    latency_ms double precision NOT NULL,
    PRIMARY KEY (organization_id, workspace_id, user_id, at)
);
CREATE INDEX latency_samples_template ON latency_samples (organization_id, template_id, at);

CREATE TABLE resource_samples (
    organization_id uuid NOT NULL,
    workspace_id uuid NOT NULL,
    at timestamptz NOT NULL,
    node text,
    cpu_used_cores double precision NOT NULL,
    cpu_limit_cores double precision NOT NULL,
    memory_used_bytes double precision NOT NULL,
    memory_limit_bytes double precision NOT NULL,
    PRIMARY KEY (organization_id, workspace_id, at)
);
CREATE INDEX resource_samples_time ON resource_samples (organization_id, at);

CREATE TABLE node_samples (
    node text NOT NULL,
    at timestamptz NOT NULL,
    cpu_used_cores double precision NOT NULL,
    cpu_capacity_cores double precision NOT NULL,
    memory_used_bytes double precision NOT NULL,
    memory_capacity_bytes double precision NOT NULL,
    PRIMARY KEY (node, at)
);
CREATE INDEX node_samples_time ON node_samples (at);

CREATE TABLE ai_sessions (
    organization_id uuid NOT NULL,
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    project_id uuid,
    repository text,
    agent text NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    cost numeric(20, 6) NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cache_read_tokens bigint NOT NULL,
    cache_write_tokens bigint NOT NULL,
    unpriced boolean NOT NULL,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX ai_sessions_id ON ai_sessions (id);
CREATE INDEX ai_sessions_time ON ai_sessions (organization_id, started_at);
CREATE INDEX ai_sessions_user ON ai_sessions (organization_id, user_id, started_at);

CREATE TABLE ai_session_usage (
    organization_id uuid NOT NULL,
    session_id uuid NOT NULL,
    model text NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cache_read_tokens bigint NOT NULL,
    cache_write_tokens bigint NOT NULL,
    cost numeric(20, 6) NOT NULL,
    priced boolean NOT NULL,
    PRIMARY KEY (organization_id, session_id, model),
    FOREIGN KEY (organization_id, session_id) REFERENCES ai_sessions (organization_id, id)
);

CREATE TABLE insights_grants (
    organization_id uuid NOT NULL,
    template_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id),
    PRIMARY KEY (organization_id, template_id, user_id),
    FOREIGN KEY (organization_id, template_id) REFERENCES templates (organization_id, id)
);
CREATE INDEX insights_grants_user ON insights_grants (user_id);
"""

TABLES = [
    "insights_grants",
    "ai_session_usage",
    "ai_sessions",
    "node_samples",
    "resource_samples",
    "latency_samples",
    "activity_minutes",
    "activity_sessions",
    "projects",
    "workspace_parameters",
    "workspaces",
    "template_parameters",
    "templates",
    "api_tokens",
    "memberships",
    "users",
    "organizations",
]


def upgrade() -> None:
    for statement in UPGRADE.split(";\n"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE {table}")
