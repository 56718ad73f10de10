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

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# Frozen: the SQL below is the text this migration executed at its revision, written out in full so
# that later changes to the package's queries cannot change what the migration does.
_INSTALL = [
    """
        CREATE FUNCTION ai_session_project_days_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO ai_session_project_days (organization_id, day, project_key, no_project, sessions, cost_micros, tokens) SELECT organization_id, day, project_key, no_project, sum(sessions), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day,
           coalesce(project_id, '00000000-0000-0000-0000-000000000000') AS project_key,
           project_id IS NULL AS no_project, 1 AS sessions, 1 * cost_micros AS cost_micros,
           1 * (input_tokens + output_tokens) AS tokens
    FROM new_rows
) AS d GROUP BY organization_id, day, project_key, no_project;
            ELSIF TG_OP = 'UPDATE' THEN
                INSERT INTO ai_session_project_days (organization_id, day, project_key, no_project, sessions, cost_micros, tokens) SELECT organization_id, day, project_key, no_project, sum(sessions), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day,
           coalesce(project_id, '00000000-0000-0000-0000-000000000000') AS project_key,
           project_id IS NULL AS no_project, 1 AS sessions, 1 * cost_micros AS cost_micros,
           1 * (input_tokens + output_tokens) AS tokens
    FROM new_rows
 UNION ALL 
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day,
           coalesce(project_id, '00000000-0000-0000-0000-000000000000') AS project_key,
           project_id IS NULL AS no_project, -1 AS sessions, -1 * cost_micros AS cost_micros,
           -1 * (input_tokens + output_tokens) AS tokens
    FROM old_rows
) AS d GROUP BY organization_id, day, project_key, no_project
                HAVING sum(sessions) <> 0 OR sum(cost_micros) <> 0 OR sum(tokens) <> 0;
            ELSE
                INSERT INTO ai_session_project_days (organization_id, day, project_key, no_project, sessions, cost_micros, tokens) SELECT organization_id, day, project_key, no_project, sum(sessions), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day,
           coalesce(project_id, '00000000-0000-0000-0000-000000000000') AS project_key,
           project_id IS NULL AS no_project, -1 AS sessions, -1 * cost_micros AS cost_micros,
           -1 * (input_tokens + output_tokens) AS tokens
    FROM old_rows
) AS d GROUP BY organization_id, day, project_key, no_project;
            END IF;
            RETURN NULL;
        END $$
    """,  # noqa: W291, W293
    """CREATE TRIGGER ai_session_project_days_apply_insert AFTER INSERT ON ai_sessions REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_project_days_apply()""",
    """CREATE TRIGGER ai_session_project_days_apply_update AFTER UPDATE ON ai_sessions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_project_days_apply()""",
    """CREATE TRIGGER ai_session_project_days_apply_delete AFTER DELETE ON ai_sessions REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_project_days_apply()""",
    """INSERT INTO ai_session_project_days (organization_id, day, project_key, no_project, sessions, cost_micros, tokens) SELECT organization_id, day, project_key, no_project, sum(sessions), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date) AS day,
           coalesce(project_id, '00000000-0000-0000-0000-000000000000') AS project_key,
           project_id IS NULL AS no_project, 1 AS sessions, 1 * cost_micros AS cost_micros,
           1 * (input_tokens + output_tokens) AS tokens
    FROM ai_sessions
) AS d GROUP BY organization_id, day, project_key, no_project ORDER BY organization_id, day, project_key, no_project""",
]
_TRUNCATE_FUNCTION = """
        CREATE OR REPLACE FUNCTION ai_rollups_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'ai_sessions' THEN
                DELETE FROM ai_session_hours; DELETE FROM ai_session_user_days; DELETE FROM ai_session_user_weeks; DELETE FROM ai_session_project_days;
            ELSE
                DELETE FROM ai_usage_hours;
            END IF;
            RETURN NULL;
        END $$
    """
_PREVIOUS_TRUNCATE_FUNCTION = """
        CREATE OR REPLACE FUNCTION ai_rollups_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'ai_sessions' THEN
                DELETE FROM ai_session_hours; DELETE FROM ai_session_user_days; DELETE FROM ai_session_user_weeks;
            ELSE
                DELETE FROM ai_usage_hours;
            END IF;
            RETURN NULL;
        END $$
    """
_UNINSTALL = [
    """DROP TRIGGER ai_session_project_days_apply_insert ON ai_sessions""",
    """DROP TRIGGER ai_session_project_days_apply_update ON ai_sessions""",
    """DROP TRIGGER ai_session_project_days_apply_delete ON ai_sessions""",
    """DROP FUNCTION ai_session_project_days_apply()""",
    """DROP TABLE ai_session_project_days""",
]


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
    for statement in _INSTALL:
        op.execute(statement)
    op.execute(_TRUNCATE_FUNCTION)


def downgrade() -> None:
    op.execute(_PREVIOUS_TRUNCATE_FUNCTION)
    for statement in _UNINSTALL:
        op.execute(statement)
