"""AI sessions analytics: per project and UTC day totals for costBreakdown(by: PROJECT).

The cost by project grouped every session of the range by project (246,000 sessions for 90 days of the
benchmark organization, about 80 ms). ai_session_project_days holds sessions, micro-dollars and tokens per
organization, UTC day and project, kept like the other AI rollups by statement-level triggers that append
deltas; without filters the whole UTC days of a range are read from it (about 3,700 rows for 90 days) and
only the sessions of its partial days at the edges. Sessions without a project are kept under the key
(nil UUID, no_project = true), so that every key column is NOT NULL (compaction matches keys with =) and a
project whose id happens to be the nil UUID stays apart from them.

Revision ID: 0018
Revises: 0017
"""

# ruff: noqa: S608  (DDL composed only from this module's constants)
from alembic import op

from usagegraph.db.delta_rollups import ai_truncate_function, install, uninstall

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ROWS = """
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day,
           coalesce(project_id, '00000000-0000-0000-0000-000000000000') AS project_key,
           project_id IS NULL AS no_project, {sign} AS sessions, {sign} * cost_micros AS cost_micros,
           {sign} * (input_tokens + output_tokens) AS tokens
    FROM {table}
"""
_KEYS = "organization_id, day, project_key, no_project"
_SUMS = "sum(sessions), sum(cost_micros), sum(tokens)"
_BEFORE = ["ai_session_hours", "ai_session_user_days", "ai_session_user_weeks"]


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE ai_session_project_days (
            organization_id uuid NOT NULL,
            day date NOT NULL,
            project_key uuid NOT NULL,
            no_project boolean NOT NULL,
            sessions bigint NOT NULL,
            cost_micros bigint NOT NULL,
            tokens bigint NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX ai_session_project_days_key ON ai_session_project_days (organization_id, day) "
        "INCLUDE (project_key, no_project, sessions, cost_micros, tokens)"
    )
    for statement in install("ai_session_project_days", "ai_sessions", _ROWS, _KEYS, _SUMS):
        op.execute(statement)
    op.execute(ai_truncate_function([*_BEFORE, "ai_session_project_days"]))


def downgrade() -> None:
    op.execute(ai_truncate_function(_BEFORE))
    for statement in uninstall("ai_session_project_days", "ai_sessions"):
        op.execute(statement)
