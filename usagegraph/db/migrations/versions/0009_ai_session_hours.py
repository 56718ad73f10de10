"""AI sessions analytics: hourly totals for the timeseries and the cost by model.

Without filters, the timeseries and the cost by model read every session (and every usage line) in range
only to add them up per bucket or per model, a few counts and sums over hundreds of thousands of rows. Two
rollups hold those sums per organization and UTC hour (and model): a 90-day range is then about 2,000
hour rows, plus the sessions of the partial hours at the edges of each bucket, read raw.

The rollups are kept by statement-level triggers on the session and usage tables, so every writer (ingest,
imports, tests, bulk loads) keeps them right in the same transaction. The triggers only append deltas
(+ for new rows, - for old ones): no row of a rollup is ever updated by a writer, so concurrent ingests
never wait for each other or deadlock on them. Readers sum whatever rows an hour has; the server folds
each hour's rows into one from time to time (`compact_ai_rollups`), which changes no sum.

Revision ID: 0009
Revises: 0008
"""

# ruff: noqa: S608  (DDL composed only from this module's constants)
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_SESSION_ROWS = """
    SELECT organization_id, date_trunc('hour', started_at, 'UTC') AS hour, {sign} AS sessions,
           {sign} * cost_micros AS cost_micros, {sign} * (input_tokens + output_tokens) AS tokens
    FROM {table}
"""
_USAGE_ROWS = """
    SELECT organization_id, date_trunc('hour', started_at, 'UTC') AS hour, model, {sign} AS lines,
           {sign} * cost_micros AS cost_micros, {sign} * (input_tokens + output_tokens) AS tokens
    FROM {table}
"""

# Frozen: the SQL below is the text this migration executed at its revision, written out in full so
# that later changes to the package's queries cannot change what the migration does.
_SESSION_HOURS_APPLY = """
        CREATE FUNCTION ai_session_hours_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO ai_session_hours (organization_id, hour, sessions, cost_micros, tokens) SELECT organization_id, hour, sum(sessions), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, date_trunc('hour', started_at, 'UTC') AS hour, 1 AS sessions,
           1 * cost_micros AS cost_micros, 1 * (input_tokens + output_tokens) AS tokens
    FROM new_rows
) AS d GROUP BY organization_id, hour;
            ELSIF TG_OP = 'UPDATE' THEN
                INSERT INTO ai_session_hours (organization_id, hour, sessions, cost_micros, tokens) SELECT organization_id, hour, sum(sessions), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, date_trunc('hour', started_at, 'UTC') AS hour, 1 AS sessions,
           1 * cost_micros AS cost_micros, 1 * (input_tokens + output_tokens) AS tokens
    FROM new_rows
 UNION ALL 
    SELECT organization_id, date_trunc('hour', started_at, 'UTC') AS hour, -1 AS sessions,
           -1 * cost_micros AS cost_micros, -1 * (input_tokens + output_tokens) AS tokens
    FROM old_rows
) AS d GROUP BY organization_id, hour
                HAVING sum(sessions) <> 0 OR sum(cost_micros) <> 0 OR sum(tokens) <> 0;
            ELSE
                INSERT INTO ai_session_hours (organization_id, hour, sessions, cost_micros, tokens) SELECT organization_id, hour, sum(sessions), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, date_trunc('hour', started_at, 'UTC') AS hour, -1 AS sessions,
           -1 * cost_micros AS cost_micros, -1 * (input_tokens + output_tokens) AS tokens
    FROM old_rows
) AS d GROUP BY organization_id, hour;
            END IF;
            RETURN NULL;
        END $$
    """  # noqa: W291, W293
_USAGE_HOURS_APPLY = """
        CREATE FUNCTION ai_usage_hours_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO ai_usage_hours (organization_id, hour, model, lines, cost_micros, tokens) SELECT organization_id, hour, model, sum(lines), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, date_trunc('hour', started_at, 'UTC') AS hour, model, 1 AS lines,
           1 * cost_micros AS cost_micros, 1 * (input_tokens + output_tokens) AS tokens
    FROM new_rows
) AS d GROUP BY organization_id, hour, model;
            ELSIF TG_OP = 'UPDATE' THEN
                INSERT INTO ai_usage_hours (organization_id, hour, model, lines, cost_micros, tokens) SELECT organization_id, hour, model, sum(lines), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, date_trunc('hour', started_at, 'UTC') AS hour, model, 1 AS lines,
           1 * cost_micros AS cost_micros, 1 * (input_tokens + output_tokens) AS tokens
    FROM new_rows
 UNION ALL 
    SELECT organization_id, date_trunc('hour', started_at, 'UTC') AS hour, model, -1 AS lines,
           -1 * cost_micros AS cost_micros, -1 * (input_tokens + output_tokens) AS tokens
    FROM old_rows
) AS d GROUP BY organization_id, hour, model
                HAVING sum(lines) <> 0 OR sum(cost_micros) <> 0 OR sum(tokens) <> 0;
            ELSE
                INSERT INTO ai_usage_hours (organization_id, hour, model, lines, cost_micros, tokens) SELECT organization_id, hour, model, sum(lines), sum(cost_micros), sum(tokens) FROM (
    SELECT organization_id, date_trunc('hour', started_at, 'UTC') AS hour, model, -1 AS lines,
           -1 * cost_micros AS cost_micros, -1 * (input_tokens + output_tokens) AS tokens
    FROM old_rows
) AS d GROUP BY organization_id, hour, model;
            END IF;
            RETURN NULL;
        END $$
    """  # noqa: W291, W293
_SESSION_HOURS_TRIGGERS = [
    """CREATE TRIGGER ai_session_hours_apply_insert AFTER INSERT ON ai_sessions REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_hours_apply()""",
    """CREATE TRIGGER ai_session_hours_apply_update AFTER UPDATE ON ai_sessions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_hours_apply()""",
    """CREATE TRIGGER ai_session_hours_apply_delete AFTER DELETE ON ai_sessions REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_session_hours_apply()""",
]
_USAGE_HOURS_TRIGGERS = [
    """CREATE TRIGGER ai_usage_hours_apply_insert AFTER INSERT ON ai_session_usage REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_usage_hours_apply()""",
    """CREATE TRIGGER ai_usage_hours_apply_update AFTER UPDATE ON ai_session_usage REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_usage_hours_apply()""",
    """CREATE TRIGGER ai_usage_hours_apply_delete AFTER DELETE ON ai_session_usage REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ai_usage_hours_apply()""",
]


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE ai_session_hours (
            organization_id uuid NOT NULL,
            hour timestamptz NOT NULL,
            sessions bigint NOT NULL,
            cost_micros bigint NOT NULL,
            tokens bigint NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX ai_session_hours_key ON ai_session_hours (organization_id, hour) "
        "INCLUDE (sessions, cost_micros, tokens)"
    )
    op.execute(
        """
        CREATE TABLE ai_usage_hours (
            organization_id uuid NOT NULL,
            hour timestamptz NOT NULL,
            model text NOT NULL,
            lines bigint NOT NULL,
            cost_micros bigint NOT NULL,
            tokens bigint NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX ai_usage_hours_key ON ai_usage_hours (organization_id, hour) "
        "INCLUDE (model, lines, cost_micros, tokens)"
    )
    op.execute(_SESSION_HOURS_APPLY)
    op.execute(_USAGE_HOURS_APPLY)
    for statement in _SESSION_HOURS_TRIGGERS:
        op.execute(statement)
    for statement in _USAGE_HOURS_TRIGGERS:
        op.execute(statement)
    op.execute(
        """
        CREATE FUNCTION ai_rollups_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
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
    )
    op.execute(
        "CREATE TRIGGER ai_session_hours_truncate AFTER TRUNCATE ON ai_sessions "
        "FOR EACH STATEMENT EXECUTE FUNCTION ai_rollups_truncate()"
    )
    op.execute(
        "CREATE TRIGGER ai_usage_hours_truncate AFTER TRUNCATE ON ai_session_usage "
        "FOR EACH STATEMENT EXECUTE FUNCTION ai_rollups_truncate()"
    )
    op.execute(
        "INSERT INTO ai_session_hours (organization_id, hour, sessions, cost_micros, tokens) "
        "SELECT organization_id, hour, sum(sessions), sum(cost_micros), sum(tokens) FROM ("
        + _SESSION_ROWS.format(sign=1, table="ai_sessions")
        + ") AS d GROUP BY organization_id, hour"
    )
    op.execute(
        "INSERT INTO ai_usage_hours (organization_id, hour, model, lines, cost_micros, tokens) "
        "SELECT organization_id, hour, model, sum(lines), sum(cost_micros), sum(tokens) FROM ("
        + _USAGE_ROWS.format(sign=1, table="ai_session_usage")
        + ") AS d GROUP BY organization_id, hour, model"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER ai_usage_hours_truncate ON ai_session_usage")
    op.execute("DROP TRIGGER ai_session_hours_truncate ON ai_sessions")
    op.execute("DROP FUNCTION ai_rollups_truncate()")
    for table, function in (
        ("ai_sessions", "ai_session_hours_apply"),
        ("ai_session_usage", "ai_usage_hours_apply"),
    ):
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {function}_{event} ON {table}")
        op.execute(f"DROP FUNCTION {function}()")
    op.execute("DROP TABLE ai_usage_hours")
    op.execute("DROP TABLE ai_session_hours")
