"""activity_day_vectors: per organization and UTC day, three packed big-endian int4 vectors indexed by
the user numbering of activity_user_bits (element i = the user numbered i; a vector may be shorter than
the numbering, the missing elements are 0):

- `minutes`: the user's active minutes that day (activity_user_days.total);
- `starts`: sessions (LOGINs included) that start that day;
- `carried`: sessions started before the day and still active at its first minute.

They are the whole-day part of activity_user_days, kept in the same statement that recomputes a user-day
(`UPSERT`, appended to usagegraph.db.queries.user_days), so the two never disagree. A report adds up the
vectors of the days that lie wholly inside each bucket with numpy: a year of a deployment is about a
thousand rows instead of one row per active user and day."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries.compose import splice

# Every day of every organization, built at once: the numbering's full range per day, the user-day (if
# any) of each number, packed in number order.
BACKFILL = """
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

# The tail of a statement whose CTE `changed` holds the user-days just written (organization_id, day,
# user_id, total, starts, carried): their elements are set in the day's vectors.
_PATCH = "SELECT p.$COLUMN FROM patches p WHERE p.organization_id = excluded.organization_id AND p.day = excluded.day"

UPSERT = splice(
    """
, patches AS (
    SELECT c.organization_id, c.day, array_agg(b.idx) AS idxs, array_agg(c.total::int) AS minutes,
           array_agg(coalesce(cardinality(c.starts), 0)) AS starts, array_agg(c.carried) AS carried
    FROM changed c
    JOIN activity_user_bits b ON b.organization_id = c.organization_id AND b.user_id = c.user_id
    GROUP BY c.organization_id, c.day
)
INSERT INTO activity_day_vectors AS v (organization_id, day, minutes, starts, carried)
SELECT organization_id, day, usagegraph_patch_int4('', idxs, minutes), usagegraph_patch_int4('', idxs, starts),
       usagegraph_patch_int4('', idxs, carried)
FROM patches
ORDER BY organization_id, day
ON CONFLICT (organization_id, day) DO UPDATE SET
    minutes = usagegraph_patch_int4(v.minutes, ($IDXS), ($MINUTES)),
    starts = usagegraph_patch_int4(v.starts, ($IDXS), ($STARTS)),
    carried = usagegraph_patch_int4(v.carried, ($IDXS), ($CARRIED))
""",
    **{column.upper(): splice(_PATCH, COLUMN=column) for column in ("idxs", "minutes", "starts", "carried")},
)


@dataclass
class Vectors:
    """Whole days of some organizations: the users as one numbering (the organizations' numberings one
    after the other), and one row per requested day of each vector."""

    user_ids: list[uuid.UUID]
    offsets: npt.NDArray[np.int32]
    """Where each organization's numbering starts, in the order the organizations were given."""
    minutes: npt.NDArray[np.int32]
    starts: npt.NDArray[np.int32]
    carried: npt.NDArray[np.int32]


# A year is about a thousand rows of 20 KB. One statement (one round trip, one snapshot): a row per
# organization with its numbering (day NULL), then a row per organization and requested day.
_READ = text(
    """
    SELECT organization_id, NULL::date AS day, NULL::bytea AS minutes, NULL::bytea AS starts,
           NULL::bytea AS carried, array_agg(idx ORDER BY idx) AS idxs, array_agg(user_id ORDER BY idx) AS users
    FROM activity_user_bits WHERE organization_id = ANY(CAST(:orgs AS uuid[])) GROUP BY organization_id
  UNION ALL
    SELECT organization_id, day, minutes, starts, carried, NULL, NULL FROM activity_day_vectors
    WHERE organization_id = ANY(CAST(:orgs AS uuid[])) AND day = ANY(CAST(:days AS date[]))
    """
)


async def read(conn: AsyncConnection, organization_ids: Sequence[uuid.UUID], days: Sequence[date]) -> Vectors:
    """The vectors of these days (a row per day, in the given order), numbered as the organizations'
    users are in the same snapshot."""
    rows = (await conn.execute(_READ, {"orgs": list(organization_ids), "days": list(days)})).all()
    numbering = {row.organization_id: (row.idxs, row.users) for row in rows if row.day is None}
    packed = [(row.organization_id, row.day, row.minutes, row.starts, row.carried) for row in rows if row.day]
    return unpack(organization_ids, days, numbering, packed)


def unpack(
    organization_ids: Sequence[uuid.UUID],
    days: Sequence[date],
    numbering: dict[uuid.UUID, tuple[list[int], list[uuid.UUID]]],
    packed: Sequence[tuple[uuid.UUID, date, bytes | None, bytes | None, bytes | None]],
) -> Vectors:
    """Vectors from the rows read: each organization's numbering (its numbers in order and their users)
    and (organization, day, minutes, starts, carried) packed rows (None: that vector is not needed, left
    at 0), read in one snapshot."""
    offsets: dict[uuid.UUID, int] = {}
    counts: dict[uuid.UUID, int] = {}
    user_ids: list[uuid.UUID] = []
    for org in organization_ids:
        if org not in numbering or org in offsets:
            continue
        idxs, users = numbering[org]
        offsets[org], counts[org] = len(user_ids), idxs[-1] + 1
        if len(idxs) == counts[org]:
            user_ids.extend(users)
        else:  # a gap in the numbering (never made by ingest): its number stands for nobody
            slots = [uuid.UUID(int=0)] * counts[org]
            for idx, user in zip(idxs, users, strict=True):
                slots[idx] = user
            user_ids.extend(slots)
    shape = (len(days), len(user_ids))
    vectors = [np.zeros(shape, dtype=np.int32) for _ in range(3)]
    position = {day: i for i, day in enumerate(days)}
    if days and user_ids:
        per_org: dict[uuid.UUID, list[Any]] = {}
        for row in packed:
            if row[0] in offsets:
                per_org.setdefault(row[0], []).append(row)
        for org, found in per_org.items():
            # One conversion per organization and vector: each packed vector cut or zero-padded to the
            # numbering read with it (users numbered since are not in this report's numbering).
            width, first = 4 * counts[org], offsets[org]
            positions = [position[row[1]] for row in found]
            for column, target in enumerate(vectors, start=2):
                if found[0][column] is None:
                    continue
                joined = b"".join(row[column][:width].ljust(width, b"\0") for row in found)
                values = np.frombuffer(joined, dtype=">i4").reshape(len(found), counts[org])
                target[positions, first : first + counts[org]] = values
    at = np.array([offsets.get(org, 0) for org in organization_ids], dtype=np.int32)
    return Vectors(user_ids, at, *vectors)
