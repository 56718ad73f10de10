"""Two duplicate activity session indexes dropped.

activity_sessions_time (organization_id, started_at) and activity_sessions_template (organization_id,
template_id, started_at) are prefixes of activity_sessions_span and activity_sessions_template_span, which
serve every query they served; each index costs every ingested session a write, under the locks ingest
holds.

Revision ID: 0020
Revises: 0019
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX activity_sessions_time")
    op.execute("DROP INDEX activity_sessions_template")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX activity_sessions_template ON activity_sessions (organization_id, template_id, started_at)"
    )
    op.execute("CREATE INDEX activity_sessions_time ON activity_sessions (organization_id, started_at)")
