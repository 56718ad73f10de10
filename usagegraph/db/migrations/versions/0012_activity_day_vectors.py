"""Whole-day activity as one row per organization and UTC day (usagegraph.db.queries.day_vectors).

activity_user_days answers any bucket exactly, but a year of them is 1.75 million rows for the benchmark
deployment, which PostgreSQL groups at a few hundred nanoseconds each: seconds. For the days that lie
wholly inside a bucket the report only needs three numbers per user (active minutes, sessions started,
sessions carried in); activity_day_vectors holds them per organization and UTC day as packed big-endian
int4 vectors indexed by the user numbering of activity_user_bits, so a year is about a thousand rows that
the server adds up per bucket with numpy. Days cut by a bucket boundary still read activity_user_days.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Frozen: the SQL below is the text this migration executed at its revision, written out in full so
# that later changes to the package's queries cannot change what the migration does.
_BACKFILL = """
INSERT INTO activity_day_vectors (organization_id, day, minutes, starts, carried)
WITH capacity AS (
    SELECT organization_id, max(idx) + 1 AS n FROM activity_user_bits GROUP BY organization_id
), days AS (
    SELECT DISTINCT organization_id, day FROM activity_user_days
)
SELECT d.organization_id, d.day,
       string_agg(int4send(coalesce(u.total, 0)::int), '' ORDER BY g.i),
       string_agg(int4send(coalesce(cardinality(u.starts), 0)), '' ORDER BY g.i),
       string_agg(int4send(coalesce(u.carried, 0)), '' ORDER BY g.i)
FROM days d
JOIN capacity c ON c.organization_id = d.organization_id
CROSS JOIN LATERAL generate_series(0, c.n - 1) AS g(i)
LEFT JOIN activity_user_bits b ON b.organization_id = d.organization_id AND b.idx = g.i
LEFT JOIN activity_user_days u ON u.organization_id = d.organization_id AND u.day = d.day AND u.user_id = b.user_id
GROUP BY d.organization_id, d.day
ORDER BY d.organization_id, d.day
"""


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE activity_day_vectors (
            organization_id uuid NOT NULL,
            day date NOT NULL,
            minutes bytea NOT NULL,
            starts bytea NOT NULL,
            carried bytea NOT NULL,
            PRIMARY KEY (organization_id, day)
        )
        """
    )
    # Stored uncompressed: a year of vectors decompressed from pglz took 100 ms, out of line as they are 30.
    op.execute(
        "ALTER TABLE activity_day_vectors ALTER COLUMN minutes SET STORAGE EXTERNAL, "
        "ALTER COLUMN starts SET STORAGE EXTERNAL, ALTER COLUMN carried SET STORAGE EXTERNAL"
    )
    # Set the int4 at each index (0-based) of a packed big-endian vector, growing it with zeros as needed.
    op.execute(
        """
        CREATE FUNCTION usagegraph_patch_int4(vec bytea, idxs integer[], vals integer[])
        RETURNS bytea LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
        DECLARE
            need integer := 4 * ((SELECT max(i) FROM unnest(idxs) AS i) + 1);
        BEGIN
            IF need IS NULL THEN
                RETURN vec;
            END IF;
            IF length(vec) < need THEN
                vec := vec || decode(repeat('00', need - length(vec)), 'hex');
            END IF;
            FOR k IN 1 .. cardinality(idxs) LOOP
                vec := overlay(vec PLACING int4send(vals[k]) FROM 4 * idxs[k] + 1 FOR 4);
            END LOOP;
            RETURN vec;
        END
        $$
        """
    )
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.execute("DROP TABLE activity_day_vectors")
    op.execute("DROP FUNCTION usagegraph_patch_int4(bytea, integer[], integer[])")
