"""usageMetrics of one workspace from one row per user and UTC day (usagegraph.db.queries.workspace_days).

A workspace's series read its per-hour minute rows (about 1,500 for two years of a benchmark workspace)
and split each at local midnights. activity_workspace_days keeps the first and last active minute per
workspace, user and UTC day, which decides the local days of every UTC day whose zone offset does not
change within it: a few hundred small rows for two years. Days with an offset change still read the hour
rows.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

from usagegraph.db.queries.workspace_days import BACKFILL

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE activity_workspace_days (
            organization_id uuid NOT NULL,
            workspace_id uuid NOT NULL,
            day date NOT NULL,
            user_id uuid NOT NULL,
            first_minute smallint NOT NULL,
            last_minute smallint NOT NULL,
            PRIMARY KEY (organization_id, workspace_id, day, user_id)
        )
        """
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute("DROP TABLE activity_workspace_days")
