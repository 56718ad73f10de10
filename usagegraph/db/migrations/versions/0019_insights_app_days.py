"""Template Insights over every template of an organization: app usage per UTC day.

appUsage united each user's minutes in an app across workspaces, templates and categories from every
(user, hour, app) cell of activity_minutes in range (about 240,000 for 30 days of the benchmark
organization), and timesUsed counted the sessions overlapping the range (about 18,000 a day).
insights_app_days keeps, per organization, UTC day and app, the sum over users of their distinct minutes
and the bit string of the users, insights_app_session_days the sessions starting that day per app and
category (usagegraph.db.queries.app_days), so that the whole days of a range are a few hundred rows;
ingest recomputes the days it touches.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

from usagegraph.db.queries.app_days import BACKFILL, SESSIONS_BACKFILL

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE insights_app_days (
            organization_id uuid NOT NULL,
            day date NOT NULL,
            app text NOT NULL,
            minutes bigint NOT NULL,
            users bit varying NOT NULL,
            PRIMARY KEY (organization_id, day, app)
        )
        """
    )
    op.execute(BACKFILL)
    op.execute(
        """
        CREATE TABLE insights_app_session_days (
            organization_id uuid NOT NULL,
            day date NOT NULL,
            app text NOT NULL,
            category text NOT NULL,
            sessions bigint NOT NULL,
            PRIMARY KEY (organization_id, day, app, category)
        )
        """
    )
    op.execute(SESSIONS_BACKFILL)


def downgrade() -> None:
    op.execute("DROP TABLE insights_app_session_days")
    op.execute("DROP TABLE insights_app_days")
