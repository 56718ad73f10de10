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

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Frozen: the SQL below is the text this migration executed at its revision, written out in full so
# that later changes to the package's queries cannot change what the migration does.
_HOURS_BACKFILL = """
INSERT INTO activity_hour_users (organization_id, category, hour, users)
SELECT q.organization_id, q.category, date_bin('1 hour', q.quarter, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
       bit_or(substring(q.users || c.zeros FROM 1 FOR c.n))
FROM activity_quarter_users q
JOIN (
    SELECT organization_id, n, CAST(repeat('0', n) AS bit varying) AS zeros
    FROM (SELECT organization_id, 1024 * ((max(idx) + 1024) / 1024) AS n FROM activity_user_bits
          GROUP BY organization_id) c
) c ON c.organization_id = q.organization_id
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""


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
    op.execute(_HOURS_BACKFILL)


def downgrade() -> None:
    op.execute("DROP TABLE activity_hour_users")
