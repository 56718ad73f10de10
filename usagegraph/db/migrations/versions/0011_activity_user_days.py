"""The activity report from one row per active user and UTC day (usagegraph.db.queries.user_days).

The report read every per-hour minute row of the range (1.5 million for 30 days of the benchmark
organization set) and every session overlapping it, to count sessions per bucket. activity_user_days
keeps per user and UTC day the union of active minutes, the minutes at which sessions start and end, and
how many sessions are carried into the day: every bucket bounded by whole minutes, in any zone, is
answered from those rows alone. Ingest recomputes the user-days it touches from the sessions, found by
the new per-user index.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

from usagegraph.db.queries.user_days import BACKFILL

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE activity_user_days (
            organization_id uuid NOT NULL,
            day date NOT NULL,
            user_id uuid NOT NULL,
            lo smallint NOT NULL,
            minutes bit varying NOT NULL,
            total smallint GENERATED ALWAYS AS (bit_count(minutes)) STORED,
            starts smallint[],
            ends smallint[],
            carried integer NOT NULL,
            PRIMARY KEY (organization_id, day, user_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX activity_sessions_user ON activity_sessions (organization_id, user_id, started_at) "
        "INCLUDE (category, ended_at)"
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute("DROP INDEX activity_sessions_user")
    op.execute("DROP TABLE activity_user_days")
