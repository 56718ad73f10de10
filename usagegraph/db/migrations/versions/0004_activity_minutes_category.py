"""DAU / WAU / MAU of one category read the minute rollup by (organization, category, hour) without
touching the heap: the primary key leads with the hour, so a LOGIN-only read would otherwise visit
every row of the organization in the range.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX activity_minutes_category ON activity_minutes (organization_id, category, hour) "
        "INCLUDE (user_id, minutes)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX activity_minutes_category")
