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

# ruff: noqa: S608  (SQL composed only from this module's constants)
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
_PATCH = "SELECT p.{column} FROM patches p WHERE p.organization_id = excluded.organization_id AND p.day = excluded.day"

UPSERT = f"""
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
    minutes = usagegraph_patch_int4(v.minutes, ({_PATCH.format(column="idxs")}), ({_PATCH.format(column="minutes")})),
    starts = usagegraph_patch_int4(v.starts, ({_PATCH.format(column="idxs")}), ({_PATCH.format(column="starts")})),
    carried = usagegraph_patch_int4(v.carried, ({_PATCH.format(column="idxs")}), ({_PATCH.format(column="carried")}))
"""


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
    marked: set[date]
    """The requested days marked for a Template Insights recompute (asked with `marks`)."""


# A year is about a thousand rows of 20 KB. One statement (one round trip, one snapshot): a row per
# organization with its numbering ("numbering"), a row per organization and requested day with its vectors
# ("day"), and, when asked, a row per requested day that Template Insights has marked for a recompute in
# the first organization ("marked", usagegraph.db.queries.app_days).
_READ = text(
    """
    SELECT 'numbering' AS kind, organization_id, NULL::date AS day, NULL::bytea AS minutes,
           NULL::bytea AS starts, NULL::bytea AS carried, array_agg(idx ORDER BY idx) AS idxs,
           array_agg(user_id ORDER BY idx) AS users
    FROM activity_user_bits WHERE organization_id = ANY(CAST(:orgs AS uuid[])) GROUP BY organization_id
  UNION ALL
    SELECT 'day', organization_id, day, minutes, starts, carried, NULL, NULL FROM activity_day_vectors
    WHERE organization_id = ANY(CAST(:orgs AS uuid[])) AND day = ANY(CAST(:days AS date[]))
  UNION ALL
    SELECT 'marked', organization_id, day, NULL, NULL, NULL, NULL, NULL
    FROM (
        SELECT DISTINCT organization_id, day FROM insights_dirty_days
        WHERE CAST(:marks AS boolean) AND organization_id = (CAST(:orgs AS uuid[]))[1]
          AND day = ANY(CAST(:days AS date[]))
    ) AS marks
    """
)


async def read(
    conn: AsyncConnection, organization_ids: Sequence[uuid.UUID], days: Sequence[date], marks: bool = False
) -> Vectors:
    """The vectors of these days (a row per day, in the given order), numbered as the organizations'
    users are in the same snapshot; with `marks`, also the days marked for a Template Insights recompute
    in the first organization. Through SQLAlchemy, so that a transaction the caller asked for (a snapshot
    shared with later statements) has begun when this returns."""
    rows = (
        await conn.execute(_READ, {"orgs": list(organization_ids), "days": list(days), "marks": marks})
    ).all()
    numbered = {row.organization_id: row for row in rows if row.kind == "numbering"}
    offsets: dict[uuid.UUID, int] = {}
    counts: dict[uuid.UUID, int] = {}
    user_ids: list[uuid.UUID] = []
    for org in organization_ids:
        if org not in numbered or org in offsets:
            continue
        idxs, users = numbered[org].idxs, numbered[org].users
        offsets[org], counts[org] = len(user_ids), idxs[-1] + 1
        if len(idxs) == counts[org]:
            user_ids.extend(users)
        else:  # a gap in the numbering (never made by ingest): its number stands for nobody
            slots = [uuid.UUID(int=0)] * counts[org]
            for idx, user in zip(idxs, users, strict=True):
                slots[idx] = user
            user_ids.extend(slots)
    shape = (len(days), len(user_ids))
    minutes, starts, carried = (np.zeros(shape, dtype=np.int32) for _ in range(3))
    position = {day: i for i, day in enumerate(days)}
    if days and user_ids:
        per_org: dict[uuid.UUID, list[Any]] = {}
        for row in rows:
            if row.kind == "day" and row.organization_id in offsets:
                per_org.setdefault(row.organization_id, []).append(row)
        for org, found in per_org.items():
            # One conversion per organization and vector: each packed vector cut or zero-padded to the
            # numbering read above (users numbered since are not in this report's numbering).
            width, first = 4 * counts[org], offsets[org]
            positions = [position[row.day] for row in found]
            for target, column in ((minutes, "minutes"), (starts, "starts"), (carried, "carried")):
                packed = b"".join(getattr(row, column)[:width].ljust(width, b"\0") for row in found)
                values = np.frombuffer(packed, dtype=">i4").reshape(len(found), counts[org])
                target[positions, first : first + counts[org]] = values
    at = np.array([offsets.get(org, 0) for org in organization_ids], dtype=np.int32)
    marked = {row.day for row in rows if row.kind == "marked"}
    return Vectors(user_ids, at, minutes, starts, carried, marked)
