"""activity_part_vectors: per organization, UTC day and part of the day (each UTC four hours from midnight,
span 240, each UTC hour, span 60, and each UTC quarter-hour, span 15, given by its first minute of the
day), the users with anything in the part
(`idxs`: their numbers in activity_user_bits, ascending) and, in the same order:

- `minutes`: the user's active minutes in the part;
- `starts`: sessions (LOGINs included) that start in the part;
- `carried`: sessions started before the part and still active at its first minute.

A part with nothing in it has no row. `packed` holds the same entries as big-endian int4 records (idx,
minutes, starts, carried), ascending: what a report reads and decodes with numpy, half the bytes of the
arrays' binary form; the arrays are what ingest merges into. The entries are sparse, unlike
activity_day_vectors' packed vectors: an hour holds a fraction of a day's users, and a piece of a day is
read as the few users it has.

Why: a local day of a zone other than UTC runs from a local midnight to the next, and each local midnight
cuts a UTC day. Every zone offset in use is a multiple of 15 minutes, so a local midnight is a UTC
quarter-hour boundary c of some UTC day, and the piece [0, c) of that day is at most five four-hour parts,
three hours and three quarters (or the day's vector less the parts of [c, 1440), whichever needs fewer
rows); the
sessions open at c are the `carried` of the part that starts at c. The activity report thus reads a
handful of organization rows per local day instead of a row per active user and day
(usagegraph.db.queries.activity).

The parts are derived from activity_user_days rows, in the statement that rewrites them (`UPSERT`, put in
front of usagegraph.db.queries.day_vectors.UPSERT by usagegraph.db.queries.user_days), so the three never
disagree: every part that the rewritten user-day's minutes or session starts touch has the user's element
set. Sessions only grow (added, or their end moved later), so a part's elements never go back to 0 and
every part that held something for a user is rewritten with it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import day_vectors
from usagegraph.db.queries.compose import splice

# The parts of user-day rows `$ROWS` (organization_id, day, user_id, lo, minutes, starts, ends, carried),
# one entry per part with anything in it: the user's number, minutes, sessions started, sessions open at
# the part's first minute. Candidate parts are those from the first to the last active minute or start.
ENTRIES = """
SELECT r.organization_id, r.day, p.minute::smallint AS minute, s.span::smallint AS span, b.idx,
       coalesce(bit_count(substring(r.minutes FROM p.minute - r.lo + 1 FOR s.span)), 0)::int AS minutes,
       (coalesce(width_bucket(CAST(p.minute + s.span - 1 AS smallint), r.starts), 0)
        - coalesce(width_bucket(CAST(p.minute - 1 AS smallint), r.starts), 0))::int AS starts,
       (r.carried + coalesce(width_bucket(CAST(p.minute - 1 AS smallint), r.starts), 0)
        - coalesce(width_bucket(CAST(p.minute AS smallint), r.ends), 0))::int AS carried
FROM $ROWS r
JOIN activity_user_bits b ON b.organization_id = r.organization_id AND b.user_id = r.user_id
CROSS JOIN LATERAL (
    SELECT least(CASE WHEN length(r.minutes) > 0 THEN r.lo END, r.starts[1]) AS first,
           greatest(CASE WHEN length(r.minutes) > 0 THEN r.lo + length(r.minutes) - 1 END,
                    r.starts[cardinality(r.starts)]) AS last
) e
CROSS JOIN LATERAL (VALUES (240), (60), (15)) AS s(span)
CROSS JOIN LATERAL generate_series(s.span * (e.first / s.span), e.last, s.span) AS p(minute)
"""

_NONZERO = "WHERE minutes <> 0 OR starts <> 0 OR carried <> 0"

# Every part of every organization, for a backfill.
BACKFILL = splice(
    """
INSERT INTO activity_part_vectors (organization_id, day, minute, span, idxs, minutes, starts, carried, packed)
SELECT organization_id, day, minute, span, array_agg(idx ORDER BY idx), array_agg(minutes ORDER BY idx),
       array_agg(starts ORDER BY idx), array_agg(carried ORDER BY idx),
       string_agg(int4send(idx) || int4send(minutes) || int4send(starts) || int4send(carried), '' ORDER BY idx)
FROM ($ENTRIES) x
$NONZERO
GROUP BY organization_id, day, minute, span
ORDER BY organization_id, day, minute, span
""",
    ENTRIES=splice(ENTRIES, ROWS="activity_user_days"),
    NONZERO=_NONZERO,
)

# Data-modifying CTEs for a statement whose CTE `changed` holds the user-days just written (every column):
# their users' entries are set in their parts (the union of the numbers, the new value where there is
# one). Spliced in before day_vectors.UPSERT (which starts with a comma).
UPSERT = splice(
    """
, part_patches AS (
    SELECT organization_id, day, minute, span, array_agg(idx ORDER BY idx) AS idxs,
           array_agg(minutes ORDER BY idx) AS minutes, array_agg(starts ORDER BY idx) AS starts,
           array_agg(carried ORDER BY idx) AS carried,
           string_agg(int4send(idx) || int4send(minutes) || int4send(starts) || int4send(carried), '' ORDER BY idx)
               AS packed
    FROM ($ENTRIES) x
    $NONZERO
    GROUP BY organization_id, day, minute, span
), part_upsert AS (
    INSERT INTO activity_part_vectors AS v
        (organization_id, day, minute, span, idxs, minutes, starts, carried, packed)
    SELECT organization_id, day, minute, span, idxs, minutes, starts, carried, packed
    FROM part_patches
    ORDER BY organization_id, day, minute, span
    ON CONFLICT (organization_id, day, minute, span) DO UPDATE SET (idxs, minutes, starts, carried, packed) = (
        SELECT array_agg(i ORDER BY i), array_agg(m ORDER BY i), array_agg(st ORDER BY i), array_agg(c ORDER BY i),
               string_agg(int4send(i) || int4send(m) || int4send(st) || int4send(c), '' ORDER BY i)
        FROM (
            SELECT coalesce(n.i, o.i) AS i, coalesce(n.m, o.m) AS m, coalesce(n.st, o.st) AS st,
                   coalesce(n.c, o.c) AS c
            FROM unnest(v.idxs, v.minutes, v.starts, v.carried) AS o(i, m, st, c)
            FULL JOIN unnest(excluded.idxs, excluded.minutes, excluded.starts, excluded.carried) AS n(i, m, st, c)
                ON n.i = o.i
        ) merged
    )
    RETURNING 1
)""",
    ENTRIES=splice(ENTRIES, ROWS="changed"),
    NONZERO=_NONZERO,
)

Part = tuple[date, int, int]
"""(UTC day, first minute of the day, span in minutes: 240, 60 or 15)."""

# One statement (one snapshot): each organization's numbering (kind 0), the requested days' vectors
# (kind 1), and the requested parts (kind 2), a row each with its position in the request and its packed
# entries (a row per part, not one aggregate per organization: concatenating them on the server cost more
# than sending them apart).
_READ = text(
    """
    SELECT 0 AS kind, organization_id, NULL::date AS day, NULL::bytea AS minutes, NULL::bytea AS starts,
           NULL::bytea AS carried, NULL::int AS n, NULL::bytea AS entries,
           array_agg(idx ORDER BY idx) AS idxs, array_agg(user_id ORDER BY idx) AS users
    FROM activity_user_bits WHERE organization_id = ANY(CAST(:orgs AS uuid[])) GROUP BY organization_id
  UNION ALL
    SELECT 1, organization_id, day, minutes, starts, carried, NULL, NULL, NULL, NULL
    FROM activity_day_vectors
    WHERE organization_id = ANY(CAST(:orgs AS uuid[])) AND day = ANY(CAST(:days AS date[]))
  UNION ALL
    SELECT 2, v.organization_id, NULL, NULL, NULL, NULL, CAST(p.n AS int), v.packed, NULL, NULL
    FROM unnest(CAST(:part_days AS date[]), CAST(:part_minutes AS smallint[]), CAST(:part_spans AS smallint[]))
        WITH ORDINALITY AS p(day, minute, span, n)
    JOIN activity_part_vectors v ON v.day = p.day AND v.minute = p.minute AND v.span = p.span
    WHERE v.organization_id = ANY(CAST(:orgs AS uuid[]))
    """
)


@dataclass
class Entries:
    """Sparse part rows: entry j is user `users[j]` (in the numbering of the day vectors read with them) in
    part `parts[j]` (its position in the requested parts), with its minutes, sessions started and sessions
    open at the part's first minute."""

    parts: npt.NDArray[np.int64]
    users: npt.NDArray[np.int64]
    minutes: npt.NDArray[np.int32]
    starts: npt.NDArray[np.int32]
    carried: npt.NDArray[np.int32]


async def read(
    conn: AsyncConnection, organization_ids: Sequence[uuid.UUID], days: Sequence[date], parts: Sequence[Part]
) -> tuple[day_vectors.Vectors, Entries]:
    """The vectors of these days (a row each, in the given order) and the entries of these parts, numbered
    alike, as the organizations' users are in the same snapshot."""
    params = {
        "orgs": list(organization_ids),
        "days": list(days),
        "part_days": [part[0] for part in parts],
        "part_minutes": [part[1] for part in parts],
        "part_spans": [part[2] for part in parts],
    }
    rows = (await conn.execute(_READ, params)).all()
    numbering = {row.organization_id: (row.idxs, row.users) for row in rows if row.kind == 0}
    whole = [
        (row.organization_id, row.day, row.minutes, row.starts, row.carried) for row in rows if row.kind == 1
    ]
    vectors = day_vectors.unpack(organization_ids, days, numbering, whole)
    offset = dict(zip(organization_ids, vectors.offsets.tolist(), strict=True))
    width = {org: idxs[-1] + 1 for org, (idxs, _) in numbering.items()}
    parts_of: list[int] = []
    sizes_of: list[int] = []
    values_of: list[bytes] = []
    base: list[int] = []
    limit: list[int] = []
    for row in rows:
        if row.kind != 2 or row.organization_id not in width:
            continue
        parts_of.append(row.n - 1)
        sizes_of.append(len(row.entries) // 16)
        values_of.append(row.entries)
        base.append(offset[row.organization_id])
        limit.append(width[row.organization_id])
    if not parts_of:
        empty = np.zeros(0, dtype=np.int32)
        return vectors, Entries(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), empty, empty, empty)
    sizes = np.array(sizes_of, dtype=np.int64)
    # (idx, minutes, starts, carried) per entry, as native integers, a column each
    records = np.frombuffer(b"".join(values_of), dtype=">i4").reshape(-1, 4).astype(np.int32).T
    part_of = np.repeat(np.arange(len(sizes)), sizes)  # the row each entry came in
    idxs = records[0]
    entries = Entries(
        np.array(parts_of, dtype=np.int64)[part_of],
        np.array(base, dtype=np.int64)[part_of] + idxs,
        records[1],
        records[2],
        records[3],
    )
    # Users numbered after the numbering was read are not in this report.
    keep = idxs < np.array(limit)[part_of]
    if not keep.all():
        entries = Entries(
            entries.parts[keep],
            entries.users[keep],
            entries.minutes[keep],
            entries.starts[keep],
            entries.carried[keep],
        )
    return vectors, entries
