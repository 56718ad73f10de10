"""AI sessions analytics: per user and UTC day totals for the users' own timeseries.

`users { timeseries }` grouped every session of the range by bucket and user (246,000 sessions for 90
days of the benchmark organization). ai_session_user_days holds sessions, cost and tokens per
organization, user and UTC day, kept like ai_session_hours by statement-level triggers that append
deltas; a bucket then reads its whole UTC days from it (about 36,000 rows for 400 users over 90 days)
and only the sessions of its partial days at the edges.

Revision ID: 0015
Revises: 0014
"""

# ruff: noqa: S608  (DDL composed only from this module's constants)
from alembic import op

from usagegraph.db.delta_rollups import ai_truncate_function, install, uninstall

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_ROWS = """
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day, user_id, {sign} AS sessions,
           {sign} * cost_micros AS cost_micros, {sign} * (input_tokens + output_tokens) AS tokens
    FROM {table}
"""
_KEYS = "organization_id, day, user_id"
_SUMS = "sum(sessions), sum(cost_micros), sum(tokens)"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE ai_session_user_days (
            organization_id uuid NOT NULL,
            day date NOT NULL,
            user_id uuid NOT NULL,
            sessions bigint NOT NULL,
            cost_micros bigint NOT NULL,
            tokens bigint NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX ai_session_user_days_key ON ai_session_user_days (organization_id, day) "
        "INCLUDE (user_id, sessions, cost_micros, tokens)"
    )
    for statement in install("ai_session_user_days", "ai_sessions", _ROWS, _KEYS, _SUMS):
        op.execute(statement)
    op.execute(ai_truncate_function(["ai_session_hours", "ai_session_user_days"]))


def downgrade() -> None:
    op.execute(ai_truncate_function(["ai_session_hours"]))
    for statement in uninstall("ai_session_user_days", "ai_sessions"):
        op.execute(statement)
