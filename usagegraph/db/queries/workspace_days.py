"""activity_workspace_days: per workspace, user and UTC day, the first and last minute of the day in which
the user was active in the workspace (any category, LOGINs with a workspace included).

usageMetrics of one workspace needs the distinct (user, local day) pairs. A UTC day whose zone offset is
the same at its first and last minute holds at most one local midnight, at a minute m computed from the
offset: the user was active on the local day before m iff the day's first minute is before m, and on the
day after iff its last minute is at or after m. So those days need one row per user and nothing more. The
days in which the offset changes (a DST switch, a handful a year) are answered from the per-hour minute
rows, as a category is.

A session spanning several days gives each day its part (the first day from its start, the last up to its
last minute, whole days between). Sessions only grow, so rows are merged with least / greatest in the
statement that writes the other rollups (usagegraph.db.queries.rollup), and re-sending changes nothing."""

from __future__ import annotations

from usagegraph.db.queries.compose import splice
from usagegraph.db.queries.user_days import LAST_AT

COLUMNS = "organization_id, workspace_id, day, user_id, first_minute, last_minute"

# Rows from `$SOURCE` (organization_id, workspace_id, user_id, started_at, last_at), grouped per
# workspace, UTC day and user; minutes are counted from 1970-01-01 so that the day arithmetic is integer.
DAY_ROWS = """
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
            FROM $SOURCE
        ) t
    ) m
) e
GROUP BY organization_id, workspace_id, day, user_id
"""

# The merge of `$SOURCE`'s rows into the table, in key order (concurrent ingests lock rows alike); a row
# whose minutes would not move is left alone.
MERGE = splice(
    """
INSERT INTO activity_workspace_days AS w ($COLUMNS)
SELECT * FROM ($DAY_ROWS) r
ORDER BY organization_id, workspace_id, day, user_id
ON CONFLICT (organization_id, workspace_id, day, user_id) DO UPDATE
SET first_minute = least(w.first_minute, excluded.first_minute),
    last_minute = greatest(w.last_minute, excluded.last_minute)
WHERE excluded.first_minute < w.first_minute OR excluded.last_minute > w.last_minute
""",
    COLUMNS=COLUMNS,
    DAY_ROWS=DAY_ROWS,
)

_SESSIONS = splice(
    """(
    SELECT organization_id, workspace_id, user_id, started_at, $LAST_AT AS last_at
    FROM activity_sessions WHERE workspace_id IS NOT NULL
) a""",
    LAST_AT=LAST_AT,
)

# Every stored session with a workspace, for a backfill.
BACKFILL = splice(
    """
INSERT INTO activity_workspace_days ($COLUMNS)
$DAY_ROWS
ORDER BY organization_id, workspace_id, day, user_id
""",
    COLUMNS=COLUMNS,
    DAY_ROWS=DAY_ROWS,
    SOURCE=_SESSIONS,
)
