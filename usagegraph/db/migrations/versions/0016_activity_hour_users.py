"""Organization-wide DAU / WAU / MAU from bitmaps of users per UTC hour.

usageMetrics of an organization OR-ed the quarter-hour user bitmaps of its range: 70,000 bit strings of
640 bytes for two years of the benchmark organization. activity_hour_users keeps the same bitmaps per UTC
hour (the OR of the hour's four quarters), so a local day is its whole hours (24 rows) plus, in a zone
whose offset is not a whole number of hours, the quarters of the one hour its midnight cuts: a quarter
of the rows in most zones.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

from usagegraph.db.queries.rollup import HOURS_BACKFILL

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE activity_hour_users (
            organization_id uuid NOT NULL,
            category text NOT NULL,
            hour timestamptz NOT NULL,
            users bit varying NOT NULL,
            PRIMARY KEY (organization_id, category, hour)
        )
        """
    )
    op.execute(HOURS_BACKFILL)


def downgrade() -> None:
    op.execute("DROP TABLE activity_hour_users")
