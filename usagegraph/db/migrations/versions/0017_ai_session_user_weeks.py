"""AI sessions analytics: per user, agent and UTC week totals for the shared facts read.

summary, byAgent, costBreakdown(by: USER) and users share one read that groups every session of the range
by user and agent (246,000 sessions for 90 days of the benchmark organization). ai_session_user_weeks
holds, per organization, UTC (Monday) week, user and agent, every sum that read needs: sessions, micro-
dollars, the four token counts, ended sessions and their duration in whole microseconds, unpriced
sessions and the duration histogram's cumulative counts. Without filters, the whole weeks of a range are
read from it (about 34,000 rows for 90 days) and only the sessions of its partial weeks at the edges.
Kept like the other AI rollups by statement-level triggers that append deltas.

Revision ID: 0017
Revises: 0016
"""

# ruff: noqa: S608  (DDL composed only from this module's constants)
from alembic import op

from usagegraph.db.delta_rollups import ai_truncate_function, install, uninstall
from usagegraph.db.queries.sessions import SESSION_FACTS, WEEK_SUMS

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ROWS = (
    "SELECT organization_id, week, user_id, agent, "
    + ", ".join(f"{{sign}} * {name} AS {name}" for name in WEEK_SUMS)
    + """
    FROM (SELECT s.organization_id, CAST(date_trunc('week', s.started_at AT TIME ZONE 'UTC') AS date) AS week, """
    + SESSION_FACTS
    + """
          FROM {table} s) AS f
"""
)
_KEYS = "organization_id, week, user_id, agent"
_SUMS = ", ".join(f"sum({name})" for name in WEEK_SUMS)
_COLUMNS = ", ".join(WEEK_SUMS)


def upgrade() -> None:
    op.execute(
        "CREATE TABLE ai_session_user_weeks (organization_id uuid NOT NULL, week date NOT NULL, "
        "user_id uuid NOT NULL, agent text NOT NULL, "
        + ", ".join(f"{name} bigint NOT NULL" for name in WEEK_SUMS)
        + ")"
    )
    op.execute(
        "CREATE INDEX ai_session_user_weeks_key ON ai_session_user_weeks (organization_id, week) "
        f"INCLUDE (user_id, agent, {_COLUMNS})"
    )
    for statement in install("ai_session_user_weeks", "ai_sessions", _ROWS, _KEYS, _SUMS):
        op.execute(statement)
    op.execute(ai_truncate_function(["ai_session_hours", "ai_session_user_days", "ai_session_user_weeks"]))


def downgrade() -> None:
    op.execute(ai_truncate_function(["ai_session_hours", "ai_session_user_days"]))
    for statement in uninstall("ai_session_user_weeks", "ai_sessions"):
        op.execute(statement)
