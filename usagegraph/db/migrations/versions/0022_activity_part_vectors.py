"""Activity per organization and UTC hour and quarter-hour (usagegraph.db.queries.part_vectors).

A local day of a zone other than UTC starts at a local midnight that cuts a UTC day, so every day of a
report in such a zone was read per user from activity_user_days, four to seven times slower than the same
report in UTC. Every zone offset in use is a multiple of 15 minutes: activity_part_vectors holds, per
organization, UTC day and UTC four hours from midnight (span 240), hour (span 60) or quarter-hour (span
15), the users with anything in the part
and their active minutes, sessions started and sessions open at the part's first minute (sparse arrays, and
the same as packed int4 records for reading), so a piece of a day up to a local midnight is a few
organization rows.

Revision ID: 0022
Revises: 0021
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# Frozen: the SQL below is the text this migration executed at its revision, written out in full so
# that later changes to the package's queries cannot change what the migration does.
_BACKFILL = """

INSERT INTO activity_part_vectors (organization_id, day, minute, span, idxs, minutes, starts, carried, packed)
SELECT organization_id, day, minute, span, array_agg(idx ORDER BY idx), array_agg(minutes ORDER BY idx),
       array_agg(starts ORDER BY idx), array_agg(carried ORDER BY idx),
       string_agg(int4send(idx) || int4send(minutes) || int4send(starts) || int4send(carried), '' ORDER BY idx)
FROM (
SELECT r.organization_id, r.day, p.minute::smallint AS minute, s.span::smallint AS span, b.idx,
       coalesce(bit_count(substring(r.minutes FROM p.minute - r.lo + 1 FOR s.span)), 0)::int AS minutes,
       (coalesce(width_bucket(CAST(p.minute + s.span - 1 AS smallint), r.starts), 0)
        - coalesce(width_bucket(CAST(p.minute - 1 AS smallint), r.starts), 0))::int AS starts,
       (r.carried + coalesce(width_bucket(CAST(p.minute - 1 AS smallint), r.starts), 0)
        - coalesce(width_bucket(CAST(p.minute AS smallint), r.ends), 0))::int AS carried
FROM activity_user_days r
JOIN activity_user_bits b ON b.organization_id = r.organization_id AND b.user_id = r.user_id
CROSS JOIN LATERAL (
    SELECT least(CASE WHEN length(r.minutes) > 0 THEN r.lo END, r.starts[1]) AS first,
           greatest(CASE WHEN length(r.minutes) > 0 THEN r.lo + length(r.minutes) - 1 END,
                    r.starts[cardinality(r.starts)]) AS last
) e
CROSS JOIN LATERAL (VALUES (240), (60), (15)) AS s(span)
CROSS JOIN LATERAL generate_series(s.span * (e.first / s.span), e.last, s.span) AS p(minute)
) x
WHERE minutes <> 0 OR starts <> 0 OR carried <> 0
GROUP BY organization_id, day, minute, span
ORDER BY organization_id, day, minute, span

"""


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE activity_part_vectors (
            organization_id uuid NOT NULL,
            day date NOT NULL,
            minute smallint NOT NULL,
            span smallint NOT NULL,
            idxs integer[] NOT NULL,
            minutes integer[] NOT NULL,
            starts integer[] NOT NULL,
            carried integer[] NOT NULL,
            packed bytea NOT NULL,
            PRIMARY KEY (organization_id, day, minute, span)
        )
        """
    )
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.execute("DROP TABLE activity_part_vectors")
