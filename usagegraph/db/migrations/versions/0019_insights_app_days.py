"""Template Insights from per UTC day rows.

For a month of the benchmark organization, Template Insights united each user's minutes across workspaces,
templates and apps from every (user, hour, app) cell of activity_minutes in range (about 240,000 for all
four templates, 60,000 for one) and counted timesUsed over the sessions overlapping the range (about
18,000 a day). Three tables keep what the whole UTC days of a range need (usagegraph.db.queries.app_days):
insights_template_days (per template and day, each active user's minutes), insights_app_days (per day,
template or every template together, and app: summed user minutes and the bit string of the users) and
insights_app_session_days (sessions started per day, template, app and category). Ingest marks the days
it touches in insights_dirty_days; the server recomputes them in the background, and readers read marked
days from the minute rollup.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

from usagegraph.db.queries.app_days import BACKFILLS

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE insights_template_days (
            organization_id uuid NOT NULL,
            template_id uuid NOT NULL,
            day date NOT NULL,
            user_ids uuid[] NOT NULL,
            minutes integer[] NOT NULL,
            PRIMARY KEY (organization_id, template_id, day)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE insights_app_days (
            organization_id uuid NOT NULL,
            day date NOT NULL,
            template_id uuid NOT NULL,
            app text NOT NULL,
            minutes bigint NOT NULL,
            users bit varying NOT NULL,
            PRIMARY KEY (organization_id, day, template_id, app)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE insights_app_session_days (
            organization_id uuid NOT NULL,
            day date NOT NULL,
            template_id uuid NOT NULL,
            app text NOT NULL,
            category text NOT NULL,
            sessions bigint NOT NULL,
            PRIMARY KEY (organization_id, day, template_id, app, category)
        )
        """
    )
    op.execute("CREATE TABLE insights_dirty_days (organization_id uuid NOT NULL, day date NOT NULL)")
    op.execute("CREATE INDEX insights_dirty_days_key ON insights_dirty_days (organization_id, day)")
    for statement in BACKFILLS:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "insights_dirty_days",
        "insights_app_session_days",
        "insights_app_days",
        "insights_template_days",
    ):
        op.execute(f"DROP TABLE {table}")
