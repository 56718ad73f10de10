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

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Frozen: the SQL below is the text this migration executed at its revision, written out in full so
# that later changes to the package's queries cannot change what the migration does.
_CREATE_TABLE = """CREATE TABLE ai_session_user_weeks (organization_id uuid NOT NULL, week date NOT NULL, user_id uuid NOT NULL, agent text NOT NULL, sessions bigint NOT NULL, cost_micros bigint NOT NULL, input_tokens bigint NOT NULL, output_tokens bigint NOT NULL, cache_read_tokens bigint NOT NULL, cache_write_tokens bigint NOT NULL, duration_us bigint NOT NULL, ended bigint NOT NULL, unpriced bigint NOT NULL, le0 bigint NOT NULL, le1 bigint NOT NULL, le2 bigint NOT NULL, le3 bigint NOT NULL, le4 bigint NOT NULL, le5 bigint NOT NULL)"""
_CREATE_INDEX = """CREATE INDEX ai_session_user_weeks_key ON ai_session_user_weeks (organization_id, week) INCLUDE (user_id, agent, sessions, cost_micros, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, duration_us, ended, unpriced, le0, le1, le2, le3, le4, le5)"""
_INSTALL = [
    """
        CREATE FUNCTION ai_session_user_weeks_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO ai_session_user_weeks (organization_id, week, user_id, agent, sessions, cost_micros, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, duration_us, ended, unpriced, le0, le1, le2, le3, le4, le5) SELECT organization_id, week, user_id, agent, sum(sessions), sum(cost_micros), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(duration_us), sum(ended), sum(unpriced), sum(le0), sum(le1), sum(le2), sum(le3), sum(le4), sum(le5) FROM (SELECT organization_id, week, user_id, agent, 1 * sessions AS sessions, 1 * cost_micros AS cost_micros, 1 * input_tokens AS input_tokens, 1 * output_tokens AS output_tokens, 1 * cache_read_tokens AS cache_read_tokens, 1 * cache_write_tokens AS cache_write_tokens, 1 * duration_us AS duration_us, 1 * ended AS ended, 1 * unpriced AS unpriced, 1 * le0 AS le0, 1 * le1 AS le1, 1 * le2 AS le2, 1 * le3 AS le3, 1 * le4 AS le4, 1 * le5 AS le5
    FROM (SELECT s.organization_id, CAST(date_trunc('week', s.started_at AT TIME ZONE 'UTC') AS date) AS week, s.user_id, s.agent, 1 AS sessions, s.cost_micros, s.input_tokens, s.output_tokens,
           s.cache_read_tokens, s.cache_write_tokens,
           coalesce(CAST(round(s.duration_seconds * 1000000) AS bigint), 0) AS duration_us,
           CAST(s.duration_seconds IS NOT NULL AS int) AS ended, CAST(s.unpriced AS int) AS unpriced, coalesce(CAST(s.duration_seconds <= 60 AS int), 0) AS le0, coalesce(CAST(s.duration_seconds <= 300 AS int), 0) AS le1, coalesce(CAST(s.duration_seconds <= 900 AS int), 0) AS le2, coalesce(CAST(s.duration_seconds <= 1800 AS int), 0) AS le3, coalesce(CAST(s.duration_seconds <= 3600 AS int), 0) AS le4, coalesce(CAST(s.duration_seconds <= 7200 AS int), 0) AS le5
          FROM new_rows s) AS f
) AS d GROUP BY organization_id, week, user_id, agent;
            ELSIF TG_OP = 'UPDATE' THEN
                INSERT INTO ai_session_user_weeks (organization_id, week, user_id, agent, sessions, cost_micros, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, duration_us, ended, unpriced, le0, le1, le2, le3, le4, le5) SELECT organization_id, week, user_id, agent, sum(sessions), sum(cost_micros), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(duration_us), sum(ended), sum(unpriced), sum(le0), sum(le1), sum(le2), sum(le3), sum(le4), sum(le5) FROM (SELECT organization_id, week, user_id, agent, 1 * sessions AS sessions, 1 * cost_micros AS cost_micros, 1 * input_tokens AS input_tokens, 1 * output_tokens AS output_tokens, 1 * cache_read_tokens AS cache_read_tokens, 1 * cache_write_tokens AS cache_write_tokens, 1 * duration_us AS duration_us, 1 * ended AS ended, 1 * unpriced AS unpriced, 1 * le0 AS le0, 1 * le1 AS le1, 1 * le2 AS le2, 1 * le3 AS le3, 1 * le4 AS le4, 1 * le5 AS le5
    FROM (SELECT s.organization_id, CAST(date_trunc('week', s.started_at AT TIME ZONE 'UTC') AS date) AS week, s.user_id, s.agent, 1 AS sessions, s.cost_micros, s.input_tokens, s.output_tokens,
           s.cache_read_tokens, s.cache_write_tokens,
           coalesce(CAST(round(s.duration_seconds * 1000000) AS bigint), 0) AS duration_us,
           CAST(s.duration_seconds IS NOT NULL AS int) AS ended, CAST(s.unpriced AS int) AS unpriced, coalesce(CAST(s.duration_seconds <= 60 AS int), 0) AS le0, coalesce(CAST(s.duration_seconds <= 300 AS int), 0) AS le1, coalesce(CAST(s.duration_seconds <= 900 AS int), 0) AS le2, coalesce(CAST(s.duration_seconds <= 1800 AS int), 0) AS le3, coalesce(CAST(s.duration_seconds <= 3600 AS int), 0) AS le4, coalesce(CAST(s.duration_seconds <= 7200 AS int), 0) AS le5
          FROM new_rows s) AS f
 UNION ALL SELECT organization_id, week, user_id, agent, -1 * sessions AS sessions, -1 * cost_micros AS cost_micros, -1 * input_tokens AS input_tokens, -1 * output_tokens AS output_tokens, -1 * cache_read_tokens AS cache_read_tokens, -1 * cache_write_tokens AS cache_write_tokens, -1 * duration_us AS duration_us, -1 * ended AS ended, -1 * unpriced AS unpriced, -1 * le0 AS le0, -1 * le1 AS le1, -1 * le2 AS le2, -1 * le3 AS le3, -1 * le4 AS le4, -1 * le5 AS le5
    FROM (SELECT s.organization_id, CAST(date_trunc('week', s.started_at AT TIME ZONE 'UTC') AS date) AS week, s.user_id, s.agent, 1 AS sessions, s.cost_micros, s.input_tokens, s.output_tokens,
           s.cache_read_tokens, s.cache_write_tokens,
           coalesce(CAST(round(s.duration_seconds * 1000000) AS bigint), 0) AS duration_us,
           CAST(s.duration_seconds IS NOT NULL AS int) AS ended, CAST(s.unpriced AS int) AS unpriced, coalesce(CAST(s.duration_seconds <= 60 AS int), 0) AS le0, coalesce(CAST(s.duration_seconds <= 300 AS int), 0) AS le1, coalesce(CAST(s.duration_seconds <= 900 AS int), 0) AS le2, coalesce(CAST(s.duration_seconds <= 1800 AS int), 0) AS le3, coalesce(CAST(s.duration_seconds <= 3600 AS int), 0) AS le4, coalesce(CAST(s.duration_seconds <= 7200 AS int), 0) AS le5
          FROM old_rows s) AS f
) AS d GROUP BY organization_id, week, user_id, agent
                HAVING sum(sessions) <> 0 OR sum(cost_micros) <> 0 OR sum(input_tokens) <> 0 OR sum(output_tokens) <> 0 OR sum(cache_read_tokens) <> 0 OR sum(cache_write_tokens) <> 0 OR sum(duration_us) <> 0 OR sum(ended) <> 0 OR sum(unpriced) <> 0 OR sum(le0) <> 0 OR sum(le1) <> 0 OR sum(le2) <> 0 OR sum(le3) <> 0 OR sum(le4) <> 0 OR sum(le5) <> 0;
            ELSE
                INSERT INTO ai_session_user_weeks (organization_id, week, user_id, agent, sessions, cost_micros, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, duration_us, ended, unpriced, le0, le1, le2, le3, le4, le5) SELECT organization_id, week, user_id, agent, sum(sessions), sum(cost_micros), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(duration_us), sum(ended), sum(unpriced), sum(le0), sum(le1), sum(le2), sum(le3), sum(le4), sum(le5) FROM (SELECT organization_id, week, user_id, agent, -1 * sessions AS sessions, -1 * cost_micros AS cost_micros, -1 * input_tokens AS input_tokens, -1 * output_tokens AS output_tokens, -1 * cache_read_tokens AS cache_read_tokens, -1 * cache_write_tokens AS cache_write_tokens, -1 * duration_us AS duration_us, -1 * ended AS ended, -1 * unpriced AS unpriced, -1 * le0 AS le0, -1 * le1 AS le1, -1 * le2 AS le2, -1 * le3 AS le3, -1 * le4 AS le4, -1 * le5 AS le5
    FROM (SELECT s.organization_id, CAST(date_trunc('week', s.started_at AT TIME ZONE 'UTC') AS date) AS week, s.user_id, s.agent, 1 AS sessions, s.cost_micros, s.input_tokens, s.output_tokens,
           s.cache_read_tokens, s.cache_write_tokens,
           coalesce(CAST(round(s.duration_seconds * 1000000) AS bigint), 0) AS duration_us,
           CAST(s.duration_seconds IS NOT NULL AS int) AS ended, CAST(s.unpriced AS int) AS unpriced, coalesce(CAST(s.duration_seconds <= 60 AS int), 0) AS le0, coalesce(CAST(s.duration_seconds <= 300 AS int), 0) AS le1, coalesce(CAST(s.duration_seconds <= 900 AS int), 0) AS le2, coalesce(CAST(s.duration_seconds <= 1800 AS int), 0) AS le3, coalesce(CAST(s.duration_seconds <= 3600 AS int), 0) AS le4, coalesce(CAST(s.duration_seconds <= 7200 AS int), 0) AS le5
          FROM old_rows s) AS f
) AS d GROUP BY organization_id, week, user_id, agent;
            END IF;
            RETURN NULL;
        END $$
    """,
    """CREATE TRIGGER ai_session_user_weeks_apply_insert AFTER INSERT ON ai_sessions REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_user_weeks_apply()""",
    """CREATE TRIGGER ai_session_user_weeks_apply_update AFTER UPDATE ON ai_sessions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_user_weeks_apply()""",
    """CREATE TRIGGER ai_session_user_weeks_apply_delete AFTER DELETE ON ai_sessions REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_user_weeks_apply()""",
    """INSERT INTO ai_session_user_weeks (organization_id, week, user_id, agent, sessions, cost_micros, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, duration_us, ended, unpriced, le0, le1, le2, le3, le4, le5) SELECT organization_id, week, user_id, agent, sum(sessions), sum(cost_micros), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(duration_us), sum(ended), sum(unpriced), sum(le0), sum(le1), sum(le2), sum(le3), sum(le4), sum(le5) FROM (SELECT organization_id, week, user_id, agent, 1 * sessions AS sessions, 1 * cost_micros AS cost_micros, 1 * input_tokens AS input_tokens, 1 * output_tokens AS output_tokens, 1 * cache_read_tokens AS cache_read_tokens, 1 * cache_write_tokens AS cache_write_tokens, 1 * duration_us AS duration_us, 1 * ended AS ended, 1 * unpriced AS unpriced, 1 * le0 AS le0, 1 * le1 AS le1, 1 * le2 AS le2, 1 * le3 AS le3, 1 * le4 AS le4, 1 * le5 AS le5
    FROM (SELECT s.organization_id, CAST(date_trunc('week', s.started_at AT TIME ZONE 'UTC') AS date) AS week, s.user_id, s.agent, 1 AS sessions, s.cost_micros, s.input_tokens, s.output_tokens,
           s.cache_read_tokens, s.cache_write_tokens,
           coalesce(CAST(round(s.duration_seconds * 1000000) AS bigint), 0) AS duration_us,
           CAST(s.duration_seconds IS NOT NULL AS int) AS ended, CAST(s.unpriced AS int) AS unpriced, coalesce(CAST(s.duration_seconds <= 60 AS int), 0) AS le0, coalesce(CAST(s.duration_seconds <= 300 AS int), 0) AS le1, coalesce(CAST(s.duration_seconds <= 900 AS int), 0) AS le2, coalesce(CAST(s.duration_seconds <= 1800 AS int), 0) AS le3, coalesce(CAST(s.duration_seconds <= 3600 AS int), 0) AS le4, coalesce(CAST(s.duration_seconds <= 7200 AS int), 0) AS le5
          FROM ai_sessions s) AS f
) AS d GROUP BY organization_id, week, user_id, agent ORDER BY organization_id, week, user_id, agent""",
]
_TRUNCATE_FUNCTION = """
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
_PREVIOUS_TRUNCATE_FUNCTION = """
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
_UNINSTALL = [
    """DROP TRIGGER ai_session_user_weeks_apply_insert ON ai_sessions""",
    """DROP TRIGGER ai_session_user_weeks_apply_update ON ai_sessions""",
    """DROP TRIGGER ai_session_user_weeks_apply_delete ON ai_sessions""",
    """DROP FUNCTION ai_session_user_weeks_apply()""",
    """DROP TABLE ai_session_user_weeks""",
]


def upgrade() -> None:
    op.execute(_CREATE_TABLE)
    op.execute(_CREATE_INDEX)
    for statement in _INSTALL:
        op.execute(statement)
    op.execute(_TRUNCATE_FUNCTION)


def downgrade() -> None:
    op.execute(_PREVIOUS_TRUNCATE_FUNCTION)
    for statement in _UNINSTALL:
        op.execute(statement)
