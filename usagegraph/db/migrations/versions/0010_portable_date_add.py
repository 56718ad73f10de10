"""`usagegraph_date_add(ts, step, zone)`: PostgreSQL 16's three-argument `date_add`, for PostgreSQL 15.

Buckets of any interval are `start + k * step` computed in the requested zone. PostgreSQL 16 added
`date_add(timestamptz, interval, text)` for exactly that; PostgreSQL 15 lacks it, so the server failed
there. This function does what PostgreSQL's own implementation does (timestamptz_pl_interval_internal):
the months of the step are added to the local date (the day clamped to the month's length) and converted
back in the zone, then the days likewise, then the time part is added as elapsed time. It is written in
SQL and marked STABLE (it reads the zone rules), so the planner inlines it into the statements.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Each part converts to local time and back only when it is not zero, as PostgreSQL does: the round
    # trip is not the identity for an instant in the repeated hour of a DST change.
    op.execute(
        """
        CREATE FUNCTION usagegraph_add_months(ts timestamptz, months int, zone text)
        RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN months = 0 THEN ts
                        ELSE ((ts AT TIME ZONE zone) + make_interval(months => months)) AT TIME ZONE zone END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION usagegraph_add_days(ts timestamptz, days int, zone text)
        RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN days = 0 THEN ts
                        ELSE ((ts AT TIME ZONE zone) + make_interval(days => days)) AT TIME ZONE zone END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION usagegraph_date_add(ts timestamptz, step interval, zone text)
        RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT usagegraph_add_days(
                       usagegraph_add_months(ts, CAST(extract(year FROM step) * 12 + extract(month FROM step) AS int), zone),
                       CAST(extract(day FROM step) AS int), zone)
                   + (step - make_interval(months => CAST(extract(year FROM step) * 12 + extract(month FROM step) AS int),
                                           days => CAST(extract(day FROM step) AS int)))
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION usagegraph_date_add(timestamptz, interval, text)")
    op.execute("DROP FUNCTION usagegraph_add_days(timestamptz, int, text)")
    op.execute("DROP FUNCTION usagegraph_add_months(timestamptz, int, text)")
