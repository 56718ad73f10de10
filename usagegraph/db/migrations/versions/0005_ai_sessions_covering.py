"""AI sessions analytics: read a time range without touching the heap.

Every analytics section reads the sessions of one organization started in a range. A covering index on
(organization_id, started_at) holding every column the sections aggregate answers them with index-only
scans; it replaces ai_sessions_time, which had the same key.

Usage lines had no time of their own, so the cost by model had to join every line of the organization
to the sessions in range. Each line now carries its session's started_at, set by a trigger from the
session row (whoever writes the lines) and moved with it if a session's start ever changes, and a
covering index on (organization_id, started_at) answers the model breakdown from the lines in range.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ai_sessions_time_covering ON ai_sessions (organization_id, started_at) "
        "INCLUDE (user_id, agent, project_id, ended_at, cost, input_tokens, output_tokens, cache_read_tokens, "
        "cache_write_tokens, unpriced)"
    )
    op.execute("DROP INDEX ai_sessions_time")
    op.execute("ALTER TABLE ai_session_usage ADD COLUMN started_at timestamptz")
    op.execute(
        """
        CREATE FUNCTION ai_session_usage_started_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            SELECT s.started_at INTO NEW.started_at FROM ai_sessions s
            WHERE s.organization_id = NEW.organization_id AND s.id = NEW.session_id;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER ai_session_usage_started_at BEFORE INSERT OR UPDATE OF organization_id, session_id "
        "ON ai_session_usage FOR EACH ROW EXECUTE FUNCTION ai_session_usage_started_at()"
    )
    op.execute(
        """
        CREATE FUNCTION ai_sessions_started_at_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE ai_session_usage SET started_at = NEW.started_at
            WHERE organization_id = NEW.organization_id AND session_id = NEW.id;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER ai_sessions_started_at_moved AFTER UPDATE OF started_at ON ai_sessions FOR EACH ROW "
        "WHEN (OLD.started_at IS DISTINCT FROM NEW.started_at) EXECUTE FUNCTION ai_sessions_started_at_moved()"
    )
    op.execute(
        "UPDATE ai_session_usage u SET started_at = s.started_at FROM ai_sessions s "
        "WHERE s.organization_id = u.organization_id AND s.id = u.session_id"
    )
    op.execute("ALTER TABLE ai_session_usage ALTER COLUMN started_at SET NOT NULL")
    op.execute(
        "CREATE INDEX ai_session_usage_time ON ai_session_usage (organization_id, started_at) "
        "INCLUDE (session_id, model, input_tokens, output_tokens, cost)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ai_session_usage_time")
    op.execute("DROP TRIGGER ai_sessions_started_at_moved ON ai_sessions")
    op.execute("DROP FUNCTION ai_sessions_started_at_moved()")
    op.execute("DROP TRIGGER ai_session_usage_started_at ON ai_session_usage")
    op.execute("DROP FUNCTION ai_session_usage_started_at()")
    op.execute("ALTER TABLE ai_session_usage DROP COLUMN started_at")
    op.execute("CREATE INDEX ai_sessions_time ON ai_sessions (organization_id, started_at)")
    op.execute("DROP INDEX ai_sessions_time_covering")
