"""Template Insights: counting the sessions of a template that overlap a range.

timesUsed needs session-level rows (the minute rollup merges sessions). A session overlaps [start, end)
iff it starts before end and is still active at or after start, an open-ended condition on two
columns. The longest session of a template, read from the end of an index on the session length,
bounds the lookback, so the overlap becomes one range on started_at; the covering index answers it
without touching the heap.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX activity_sessions_template_length ON activity_sessions "
        "(organization_id, template_id, (ended_at - started_at)) WHERE ended_at IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX activity_sessions_template_span ON activity_sessions "
        "(organization_id, template_id, started_at) INCLUDE (ended_at, category, app)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX activity_sessions_template_span")
    op.execute("DROP INDEX activity_sessions_template_length")
