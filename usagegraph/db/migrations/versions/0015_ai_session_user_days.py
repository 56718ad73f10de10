"""AI sessions analytics: per user and UTC day totals for the users' own timeseries.

`users { timeseries }` grouped every session of the range by bucket and user (246,000 sessions for 90
days of the benchmark organization). ai_session_user_days holds sessions, cost and tokens per
organization, user and UTC day, kept like ai_session_hours by statement-level triggers that append
deltas; a bucket then reads its whole UTC days from it (about 36,000 rows for 400 users over 90 days)
and only the sessions of its partial days at the edges.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Frozen: the SQL below is the text this migration executed at its revision, written out in full so
# that later changes to the package's queries cannot change what the migration does.
_INSTALL = [
    """
        CREATE FUNCTION ai_session_user_days_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO ai_session_user_days (organization_id, day, user_id, sessions, cost_micros, tokens) SELECT organization_id, day, user_id, sum(sessions), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day, user_id, 1 AS sessions,
           1 * cost_micros AS cost_micros, 1 * (input_tokens + output_tokens) AS tokens
    FROM new_rows
) AS d GROUP BY organization_id, day, user_id;
            ELSIF TG_OP = 'UPDATE' THEN
                INSERT INTO ai_session_user_days (organization_id, day, user_id, sessions, cost_micros, tokens) SELECT organization_id, day, user_id, sum(sessions), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day, user_id, 1 AS sessions,
           1 * cost_micros AS cost_micros, 1 * (input_tokens + output_tokens) AS tokens
    FROM new_rows
 UNION ALL 
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day, user_id, -1 AS sessions,
           -1 * cost_micros AS cost_micros, -1 * (input_tokens + output_tokens) AS tokens
    FROM old_rows
) AS d GROUP BY organization_id, day, user_id
                HAVING sum(sessions) <> 0 OR sum(cost_micros) <> 0 OR sum(tokens) <> 0;
            ELSE
                INSERT INTO ai_session_user_days (organization_id, day, user_id, sessions, cost_micros, tokens) SELECT organization_id, day, user_id, sum(sessions), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day, user_id, -1 AS sessions,
           -1 * cost_micros AS cost_micros, -1 * (input_tokens + output_tokens) AS tokens
    FROM old_rows
) AS d GROUP BY organization_id, day, user_id;
            END IF;
            RETURN NULL;
        END $$
    """,  # noqa: W291, W293
    """CREATE TRIGGER ai_session_user_days_apply_insert AFTER INSERT ON ai_sessions REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_user_days_apply()""",
    """CREATE TRIGGER ai_session_user_days_apply_update AFTER UPDATE ON ai_sessions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_user_days_apply()""",
    """CREATE TRIGGER ai_session_user_days_apply_delete AFTER DELETE ON ai_sessions REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_user_days_apply()""",
    """INSERT INTO ai_session_user_days (organization_id, day, user_id, sessions, cost_micros, tokens) SELECT organization_id, day, user_id, sum(sessions), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day, user_id, 1 AS sessions,
           1 * cost_micros AS cost_micros, 1 * (input_tokens + output_tokens) AS tokens
    FROM ai_sessions
) AS d GROUP BY organization_id, day, user_id ORDER BY organization_id, day, user_id""",
]
_TRUNCATE_FUNCTION = """
        CREATE OR REPLACE FUNCTION ai_rollups_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'ai_sessions' THEN
                DELETE FROM ai_session_hours; DELETE FROM ai_session_user_days;
            ELSE
                DELETE FROM ai_usage_hours;
            END IF;
            RETURN NULL;
        END $$
    """
# The downgrade restores the function exactly as 0009 wrote it (its comment included).
_PREVIOUS_TRUNCATE_FUNCTION = """
        CREATE OR REPLACE FUNCTION ai_rollups_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- DELETE, not TRUNCATE: the rollup may be truncated by the same statement
            IF TG_TABLE_NAME = 'ai_sessions' THEN
                DELETE FROM ai_session_hours;
            ELSE
                DELETE FROM ai_usage_hours;
            END IF;
            RETURN NULL;
        END $$
    """
_UNINSTALL = [
    """DROP TRIGGER ai_session_user_days_apply_insert ON ai_sessions""",
    """DROP TRIGGER ai_session_user_days_apply_update ON ai_sessions""",
    """DROP TRIGGER ai_session_user_days_apply_delete ON ai_sessions""",
    """DROP FUNCTION ai_session_user_days_apply()""",
    """DROP TABLE ai_session_user_days""",
]


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
    for statement in _INSTALL:
        op.execute(statement)
    op.execute(_TRUNCATE_FUNCTION)


def downgrade() -> None:
    op.execute(_PREVIOUS_TRUNCATE_FUNCTION)
    for statement in _UNINSTALL:
        op.execute(statement)
