"""A workspace's minute rows from the index alone.

usageMetrics of one workspace reads its minute rows over up to two years: about 1,500 rows of the
benchmark deployment, each on a page of its own (the table is in hour order), so the read was 1,500 page
visits. Covering the workspace index with the columns the read needs (user, category, minutes) makes it an
index-only range of a few pages.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX activity_minutes_workspace")
    op.execute(
        "CREATE INDEX activity_minutes_workspace ON activity_minutes (organization_id, workspace_id, hour) "
        "INCLUDE (user_id, category, minutes)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX activity_minutes_workspace")
    op.execute(
        "CREATE INDEX activity_minutes_workspace ON activity_minutes (organization_id, workspace_id, hour)"
    )
