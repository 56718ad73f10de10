"""Organization-wide DAU / WAU / MAU from bitmaps of users per quarter-hour.

Every zone offset in use is a multiple of 15 minutes, so a local day in any zone is a whole number of
UTC quarter-hours. activity_quarter_users keeps, per organization, category ('*' for every category)
and UTC quarter-hour, a bit string with bit i set when the user numbered i (activity_user_bits) was
active in it. The users of a local day are the OR of its quarters, its DAU their bit count, and a week
or month window the OR of its days: the work grows with the number of quarter-hours, not with the
number of user-days.

Rows are merged with OR (idempotent, like the minute rollup). Bit strings grow in steps of 1,024 bits
as users are numbered; readers pad shorter (older) rows with zeros.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE activity_user_bits (
            organization_id uuid NOT NULL,
            user_id uuid NOT NULL,
            idx integer NOT NULL,
            PRIMARY KEY (organization_id, user_id),
            UNIQUE (organization_id, idx)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE activity_quarter_users (
            organization_id uuid NOT NULL,
            category text NOT NULL,
            quarter timestamptz NOT NULL,
            users bit varying NOT NULL,
            PRIMARY KEY (organization_id, category, quarter)
        )
        """
    )
    op.execute(
        """
        INSERT INTO activity_user_bits (organization_id, user_id, idx)
        SELECT organization_id, user_id,
               (row_number() OVER (PARTITION BY organization_id ORDER BY user_id) - 1)::int
        FROM (SELECT DISTINCT organization_id, user_id FROM activity_minutes) u
        """
    )
    op.execute(
        """
        INSERT INTO activity_quarter_users (organization_id, category, quarter, users)
        SELECT m.organization_id, k.category, m.hour + j * interval '15 minutes',
               bit_or(set_bit(c.zeros, b.idx, 1))
        FROM activity_minutes m
        JOIN activity_user_bits b ON b.organization_id = m.organization_id AND b.user_id = m.user_id
        JOIN (
            SELECT organization_id,
                   CAST(repeat('0', 1024 * ((max(idx) + 1024) / 1024)) AS bit varying) AS zeros
            FROM activity_user_bits GROUP BY organization_id
        ) c ON c.organization_id = m.organization_id
        CROSS JOIN generate_series(0, 3) AS j
        CROSS JOIN LATERAL (VALUES (m.category), ('*')) AS k(category)
        WHERE (m.minutes >> (15 * j)) & 32767 <> 0
        GROUP BY m.organization_id, k.category, m.hour + j * interval '15 minutes'
        ORDER BY 1, 2, 3
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE activity_quarter_users")
    op.execute("DROP TABLE activity_user_bits")
