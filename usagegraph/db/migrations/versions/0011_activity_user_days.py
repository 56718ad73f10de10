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

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Frozen: the SQL below is the text this migration executed at its revision, written out in full so
# that later changes to the package's queries cannot change what the migration does.
_BACKFILL = """
INSERT INTO activity_user_days (organization_id, day, user_id, lo, minutes, starts, ends, carried)

SELECT organization_id, DATE '1970-01-01' + day AS day, user_id,
       coalesce(min(lo) FILTER (WHERE category <> 'LOGIN'), 0)::smallint AS lo,
       coalesce(substring(bit_or((CAST(repeat('1', 1440) AS bit(1440)) >> lo) # (CAST(repeat('1', 1440) AS bit(1440)) >> hi)) FILTER (WHERE category <> 'LOGIN')
                          FROM min(lo) FILTER (WHERE category <> 'LOGIN') + 1
                          FOR max(hi) FILTER (WHERE category <> 'LOGIN') - min(lo) FILTER (WHERE category <> 'LOGIN')),
                CAST(B'' AS bit varying)) AS minutes,
       array_agg(lo::smallint ORDER BY lo) FILTER (WHERE day = first_day) AS starts,
       array_agg(hi::smallint ORDER BY hi) FILTER (WHERE day = last_day) AS ends,
       (count(*) FILTER (WHERE day > first_day))::int AS carried
FROM (
    SELECT organization_id, user_id, category, first_day, last_day, d AS day,
           CASE WHEN d = first_day THEN first_off ELSE 0 END AS lo,
           CASE WHEN d = last_day THEN last_off + 1 ELSE 1440 END AS hi
    FROM (
        SELECT organization_id, user_id, category, d1, d2,
               CAST(first_at AS date) - DATE '1970-01-01' AS first_day,
               CAST(last_at AS date) - DATE '1970-01-01' AS last_day,
               (extract(hour FROM first_at) * 60 + extract(minute FROM first_at))::int AS first_off,
               (extract(hour FROM last_at) * 60 + extract(minute FROM last_at))::int AS last_off
        FROM (
            SELECT organization_id, user_id, category, d1, d2, started_at AT TIME ZONE 'UTC' AS first_at,
                   CASE WHEN category = 'LOGIN' OR ended_at IS NULL THEN started_at
                        ELSE greatest(ended_at - interval '1 microsecond', started_at) END AT TIME ZONE 'UTC'
                       AS last_at
            FROM (SELECT *, CAST(NULL AS int) AS d1, CAST(NULL AS int) AS d2 FROM activity_sessions) a
        ) t
    ) s
    CROSS JOIN LATERAL generate_series(greatest(first_day, coalesce(d1, first_day)),
                                       least(last_day, coalesce(d2, last_day))) AS d
) e
GROUP BY organization_id, day, user_id

"""


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
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.execute("DROP INDEX activity_sessions_user")
    op.execute("DROP TABLE activity_user_days")
