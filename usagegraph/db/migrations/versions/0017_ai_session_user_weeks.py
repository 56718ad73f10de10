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
from usagegraph.db.queries.sessions import WEEK_SUMS

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_BOUNDS = (60, 300, 900, 1800, 3600, 7200)
_ROWS = (
    """
    SELECT organization_id, CAST(date_trunc('week', started_at AT TIME ZONE 'UTC') AS date) AS week, user_id,
           agent, {sign} AS sessions, {sign} * cost_micros AS cost_micros, {sign} * input_tokens AS input_tokens,
           {sign} * output_tokens AS output_tokens, {sign} * cache_read_tokens AS cache_read_tokens,
           {sign} * cache_write_tokens AS cache_write_tokens,
           {sign} * coalesce(CAST(round(duration_seconds * 1000000) AS bigint), 0) AS duration_us,
           {sign} * CAST(duration_seconds IS NOT NULL AS int) AS ended, {sign} * CAST(unpriced AS int) AS unpriced,
    """
    + ",\n".join(
        f"           {{sign}} * coalesce(CAST(duration_seconds <= {bound} AS int), 0) AS le{k}"
        for k, bound in enumerate(_BOUNDS)
    )
    + """
    FROM {table}
"""
)
_KEYS = "organization_id, week, user_id, agent"
_SUMS = ", ".join(f"sum({name})" for name in WEEK_SUMS)
_COLUMNS = _SUMS.replace("sum(", "").replace(")", "")


def upgrade() -> None:
    op.execute(
        "CREATE TABLE ai_session_user_weeks (organization_id uuid NOT NULL, week date NOT NULL, "
        "user_id uuid NOT NULL, agent text NOT NULL, "
        + ", ".join(f"{name} bigint NOT NULL" for name in _COLUMNS.split(", "))
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
