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

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# Frozen: the SQL below is the text this migration executed at its revision, written out in full so
# that later changes to the package's queries cannot change what the migration does.
_BACKFILLS = [
    """INSERT INTO insights_template_days (organization_id, template_id, day, user_ids, minutes) 
SELECT d.organization_id, u.template_id, d.day, array_agg(u.user_id ORDER BY u.user_id) AS user_ids,
       array_agg(u.minutes ORDER BY u.user_id) AS minutes
FROM (
    SELECT o.id AS organization_id, CAST(h.hour AT TIME ZONE 'UTC' AS date) AS day
    FROM organizations o
    CROSS JOIN LATERAL (
        SELECT DISTINCT date_trunc('day', a.hour, 'UTC') AS hour FROM activity_minutes a
        WHERE a.organization_id = o.id AND a.category <> 'LOGIN' AND a.template_id IS NOT NULL
    ) h
) d
CROSS JOIN LATERAL (
    SELECT h.template_id, h.user_id, CAST(sum(bit_count(CAST(h.bits AS bit(64)))) AS int) AS minutes
    FROM (
        SELECT a.template_id, a.user_id, a.hour, bit_or(a.minutes) AS bits
        FROM activity_minutes a
        WHERE a.organization_id = d.organization_id AND a.hour >= CAST(d.day AS timestamp) AT TIME ZONE 'UTC' AND a.hour < CAST(d.day + 1 AS timestamp) AT TIME ZONE 'UTC'
          AND a.category <> 'LOGIN' AND a.template_id IS NOT NULL
        GROUP BY a.template_id, a.user_id, a.hour
    ) h
    GROUP BY h.template_id, h.user_id
    HAVING sum(bit_count(CAST(h.bits AS bit(64)))) > 0
) u
GROUP BY d.organization_id, u.template_id, d.day
 ORDER BY 1, 2, 3""",  # noqa: W291, W293
    """INSERT INTO insights_app_days (organization_id, day, template_id, app, minutes, users) 
SELECT d.organization_id, d.day, c.template_id, c.app, CAST(sum(c.minutes) AS bigint) AS minutes,
       bit_or(set_bit(z.zeros, b.idx, 1)) AS users
FROM (
    SELECT o.id AS organization_id, CAST(h.hour AT TIME ZONE 'UTC' AS date) AS day
    FROM organizations o
    CROSS JOIN LATERAL (
        SELECT DISTINCT date_trunc('day', a.hour, 'UTC') AS hour FROM activity_minutes a
        WHERE a.organization_id = o.id AND a.category <> 'LOGIN' AND a.template_id IS NOT NULL
    ) h
) d
CROSS JOIN LATERAL (
    SELECT coalesce(h.template_id, CAST('00000000-0000-0000-0000-000000000000' AS uuid)) AS template_id, h.app, h.user_id,
           sum(bit_count(CAST(h.bits AS bit(64)))) AS minutes
    FROM (
        SELECT a.template_id, a.app, a.user_id, a.hour, bit_or(a.minutes) AS bits
        FROM activity_minutes a
        WHERE a.organization_id = d.organization_id AND a.hour >= CAST(d.day AS timestamp) AT TIME ZONE 'UTC' AND a.hour < CAST(d.day + 1 AS timestamp) AT TIME ZONE 'UTC'
          AND a.category <> 'LOGIN' AND a.app <> '' AND a.template_id IS NOT NULL
        GROUP BY GROUPING SETS ((a.template_id, a.app, a.user_id, a.hour), (a.app, a.user_id, a.hour))
    ) h
    GROUP BY 1, 2, 3
) c
JOIN activity_user_bits b ON b.organization_id = d.organization_id AND b.user_id = c.user_id
JOIN (
    SELECT organization_id, CAST(repeat('0', 1024 * ((max(idx) + 1024) / 1024)) AS bit varying) AS zeros
    FROM activity_user_bits GROUP BY organization_id
) z ON z.organization_id = d.organization_id
WHERE c.minutes > 0
GROUP BY d.organization_id, d.day, c.template_id, c.app
 ORDER BY 1, 2, 3, 4""",  # noqa: W291, W293
    """INSERT INTO insights_app_session_days (organization_id, day, template_id, app, category, sessions)
        SELECT organization_id, CAST(started_at AT TIME ZONE 'UTC' AS date), template_id, app, category, count(*)
        FROM activity_sessions
        WHERE category <> 'LOGIN' AND app IS NOT NULL AND app <> '' AND template_id IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5""",
]


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
    for statement in _BACKFILLS:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "insights_dirty_days",
        "insights_app_session_days",
        "insights_app_days",
        "insights_template_days",
    ):
        op.execute(f"DROP TABLE {table}")
