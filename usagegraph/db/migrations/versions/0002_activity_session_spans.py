"""Session-level reads for the activity report: the longest session span per organization and a
covering index on session start.

Counting the sessions that overlap a bucket needs session-level data (the minute rollup merges
sessions). A session overlaps [start, end) iff its first minute is before end and its last minute is at
or after start; with the longest span of the organization known, that becomes a bounded range on
started_at, which the index answers without touching the heap.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE activity_session_spans (
            organization_id uuid PRIMARY KEY,
            max_minutes integer NOT NULL
        )
        """
    )
    op.execute(
        """
        INSERT INTO activity_session_spans (organization_id, max_minutes)
        SELECT organization_id,
               max(extract(epoch FROM date_trunc('minute', greatest(ended_at - interval '1 microsecond', started_at))
                   - date_trunc('minute', started_at))::integer / 60)
        FROM activity_sessions
        WHERE category <> 'LOGIN' AND ended_at IS NOT NULL
        GROUP BY organization_id
        """
    )
    op.execute(
        "CREATE INDEX activity_sessions_span ON activity_sessions (organization_id, started_at) "
        "INCLUDE (user_id, category, ended_at)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX activity_sessions_span")
    op.execute("DROP TABLE activity_session_spans")
