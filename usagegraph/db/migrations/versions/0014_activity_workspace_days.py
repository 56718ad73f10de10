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

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# Frozen: the SQL below is the text this migration executed at its revision, written out in full so
# that later changes to the package's queries cannot change what the migration does.
_BACKFILL = """
INSERT INTO activity_workspace_days (organization_id, workspace_id, day, user_id, first_minute, last_minute)

SELECT organization_id, workspace_id, DATE '1970-01-01' + day AS day, user_id,
       min(CASE WHEN day = first_day THEN first_minute - first_day * 1440 ELSE 0 END)::smallint AS first_minute,
       max(CASE WHEN day = last_day THEN last_minute - last_day * 1440 ELSE 1439 END)::smallint AS last_minute
FROM (
    SELECT organization_id, workspace_id, user_id, first_minute, last_minute, first_day, last_day,
           generate_series(first_day, last_day) AS day
    FROM (
        SELECT organization_id, workspace_id, user_id, first_minute, last_minute,
               floor(first_minute / CAST(1440 AS float8))::int AS first_day,
               floor(last_minute / CAST(1440 AS float8))::int AS last_day
        FROM (
            SELECT organization_id, workspace_id, user_id,
                   floor(date_part('epoch', started_at) / 60)::int AS first_minute,
                   floor(date_part('epoch', last_at) / 60)::int AS last_minute
            FROM (
    SELECT organization_id, workspace_id, user_id, started_at, CASE WHEN category = 'LOGIN' OR ended_at IS NULL THEN started_at ELSE greatest(ended_at - interval '1 microsecond', started_at) END AS last_at
    FROM activity_sessions WHERE workspace_id IS NOT NULL
) a
        ) t
    ) m
) e
GROUP BY organization_id, workspace_id, day, user_id

ORDER BY organization_id, workspace_id, day, user_id
"""


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
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.execute("DROP TABLE activity_workspace_days")
