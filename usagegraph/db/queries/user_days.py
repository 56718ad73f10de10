"""activity_user_days: one row per user and UTC day with what the activity report needs for every
category together (ANY), so that a report reads a row per active user-day instead of every session and
every per-hour minute row.

A row holds, for the sessions (LOGINs included) that overlap the day:
- `lo`, `minutes`: the union of the non-LOGIN active minutes as a bit string, bit i = minute `lo + i` of
  the day (trimmed to the first and last active minute; empty when the day only has LOGINs), and `total`,
  its bit count.
- `starts`: the minute of the day at which each session starting that day starts (sorted, repeated when
  several start in the same minute).
- `ends`: for each session whose last active minute is in that day, the minute after it (1..1440, sorted).
- `carried`: how many sessions started before the day and are still active at its first minute.

With those, every question of the report is answered exactly for any bucket bounded by whole minutes,
in any time zone: the user's minutes in [a, b) of a day are the ones of a substring of `minutes`; the
sessions starting in [a, b) are counted by two binary searches over `starts` (width_bucket); and the
sessions open at minute a (started before it and still active) are `carried` + starts before a - ends at
or before a. A session overlaps a bucket iff it starts in it or is open at its first minute, so a
bucket's count is a sum over its days plus one "open" term, and no session is counted twice.

The rows are derived from activity_sessions and kept as sessions arrive (sessions only grow: they are added
or their end moves later). A session written for the first time is added to its user-days (`ADD`): its
minutes ORed into the day's, its start and end merged into the sorted arrays, `carried` counted up; the
row is never re-read from the sessions, so the cost of an ingest does not grow with how many sessions its
users already have that day. The user-days of an extended session are recomputed from the stored
sessions (`_RECOMPUTE`), as its old end has to leave `ends`. A transaction-scoped advisory lock per
organization, held until commit, keeps a recompute apart from every other add or recompute of the
organization (adds share it: they commute), so that no ingest overwrites another's row with a stale one. The
same statements set the rewritten user-days' elements of activity_day_vectors
(usagegraph.db.queries.day_vectors) and of activity_part_vectors (usagegraph.db.queries.part_vectors)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import day_vectors, part_vectors
from usagegraph.db.queries.compose import splice, sql

_ONES = "CAST(repeat('1', 1440) AS bit(1440))"

# A session's last active minute starts here (docs/api.md 5.1; a LOGIN is its instant).
LAST_AT = (
    "CASE WHEN category = 'LOGIN' OR ended_at IS NULL THEN started_at "
    "ELSE greatest(ended_at - interval '1 microsecond', started_at) END"
)

# Rows of activity_user_days from `$SOURCE` (organization_id, user_id, category, started_at, ended_at,
# d1, d2): each session expanded into the UTC days it is active in, restricted to days d1..d2 (day numbers
# since 1970-01-01; NULL for no restriction), then grouped per user and day.
DAY_ROWS = splice(
    """
SELECT organization_id, DATE '1970-01-01' + day AS day, user_id,
       coalesce(min(lo) FILTER (WHERE category <> 'LOGIN'), 0)::smallint AS lo,
       coalesce(substring(bit_or(($ONES >> lo) # ($ONES >> hi)) FILTER (WHERE category <> 'LOGIN')
                          FROM min(lo) FILTER (WHERE category <> 'LOGIN') + 1
                          FOR max(hi) FILTER (WHERE category <> 'LOGIN') - min(lo) FILTER (WHERE category <> 'LOGIN')),
                CAST(B'' AS bit varying)) AS minutes,
       array_agg(lo::smallint ORDER BY lo) FILTER (WHERE day = first_day) AS starts,
       array_agg(hi::smallint ORDER BY hi) FILTER (WHERE day = last_day) AS ends,
       (count(*) FILTER (WHERE day > first_day))::int AS carried
FROM (
    SELECT organization_id, user_id, category, first_day, last_day, day,
           CASE WHEN day = first_day THEN first_off ELSE 0 END AS lo,
           CASE WHEN day = last_day THEN last_off + 1 ELSE 1440 END AS hi
    FROM (
    SELECT organization_id, user_id, category, first_day, last_day, first_off, last_off,
           generate_series(greatest(first_day, coalesce(d1, first_day)), least(last_day, coalesce(d2, last_day))) AS day
    FROM (
        SELECT organization_id, user_id, category, d1, d2, first_day, last_day,
               first_minute - first_day * 1440 AS first_off, last_minute - last_day * 1440 AS last_off
        FROM (
            SELECT organization_id, user_id, category, d1, d2, first_minute, last_minute,
                   floor(first_minute / CAST(1440 AS float8))::int AS first_day,
                   floor(last_minute / CAST(1440 AS float8))::int AS last_day
            FROM (
                SELECT organization_id, user_id, category, d1, d2,
                       floor(date_part('epoch', started_at) / 60)::int AS first_minute,
                       floor(date_part('epoch', $LAST_AT) / 60)::int AS last_minute
                FROM $SOURCE
            ) t
        ) m
    ) s
    ) x
) e
GROUP BY organization_id, day, user_id
""",
    ONES=_ONES,
    LAST_AT=LAST_AT,
)

COLUMNS = "organization_id, day, user_id, lo, minutes, starts, ends, carried"

# Every session, for a backfill; written in key order, so that a range of days is a range of pages.
BACKFILL = splice(
    """
INSERT INTO activity_user_days ($COLUMNS)
$DAY_ROWS
ORDER BY organization_id, day, user_id
""",
    COLUMNS=COLUMNS,
    DAY_ROWS=DAY_ROWS,
    SOURCE="(SELECT *, CAST(NULL AS int) AS d1, CAST(NULL AS int) AS d2 FROM activity_sessions) a",
)

_LOCK = """
    SELECT $FUNCTION(hashtextextended(:name || ':' || o::text, 0))
    FROM (SELECT DISTINCT o FROM unnest(CAST(:orgs AS uuid[])) AS o ORDER BY o) orgs
    """
_LOCKS = {
    shared: sql(_LOCK, FUNCTION="pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock")
    for shared in (False, True)
}


async def lock_organizations(
    conn: AsyncConnection, name: str, organization_ids: Sequence[uuid.UUID], *, shared: bool = False
) -> None:
    """Take the transaction-scoped lock `name` of each organization, in id order (so two transactions
    never wait for each other crosswise); `shared` ones only wait for and exclude exclusive ones."""
    await conn.execute(_LOCKS[shared], {"name": name, "orgs": list(set(organization_ids))})


_PARTS = {
    "COLUMNS": COLUMNS,
    "DAY_ROWS": splice(DAY_ROWS, SOURCE="src"),
    "LAST_AT": LAST_AT,
    "UPSERT": part_vectors.UPSERT + day_vectors.UPSERT,
}

_RECOMPUTE = sql(
    """
    WITH batch AS (
        SELECT organization_id, user_id,
               CAST(started_at AT TIME ZONE 'UTC' AS date) - DATE '1970-01-01' AS first_day,
               CAST(($LAST_AT) AT TIME ZONE 'UTC' AS date) - DATE '1970-01-01' AS last_day
        FROM unnest(CAST(:orgs AS uuid[]), CAST(:users AS uuid[]), CAST(:categories AS text[]),
                    CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]))
            AS b(organization_id, user_id, category, started_at, ended_at)
    ), keys AS (
        SELECT DISTINCT b.organization_id, b.user_id, d AS day, coalesce(sp.max_minutes, 0) AS lookback
        FROM batch b
        CROSS JOIN LATERAL generate_series(b.first_day, b.last_day) AS d
        LEFT JOIN activity_session_spans sp ON sp.organization_id = b.organization_id
    ), src AS (
        SELECT k.organization_id, k.user_id, a.category, a.started_at, a.ended_at, k.day AS d1, k.day AS d2
        FROM keys k
        CROSS JOIN LATERAL (
            SELECT a.category, a.started_at, a.ended_at FROM activity_sessions a
            WHERE a.organization_id = k.organization_id AND a.user_id = k.user_id
              AND a.started_at >= CAST(DATE '1970-01-01' + k.day AS timestamp) AT TIME ZONE 'UTC'
                                  - make_interval(mins => k.lookback)
              AND a.started_at < CAST(DATE '1970-01-01' + k.day + 1 AS timestamp) AT TIME ZONE 'UTC'
            OFFSET 0  -- kept as a lookup per key: flattened, the planner may scan every session of the index
        ) a
    ), changed AS (
        INSERT INTO activity_user_days AS u ($COLUMNS)
        SELECT * FROM ($DAY_ROWS) r
        ORDER BY organization_id, day, user_id
        ON CONFLICT (organization_id, day, user_id) DO UPDATE
        SET lo = excluded.lo, minutes = excluded.minutes, starts = excluded.starts, ends = excluded.ends,
            carried = excluded.carried
        WHERE (u.lo, u.minutes, u.starts, u.ends, u.carried)
              IS DISTINCT FROM (excluded.lo, excluded.minutes, excluded.starts, excluded.ends, excluded.carried)
        RETURNING u.organization_id, u.day, u.user_id, u.lo, u.minutes, u.total, u.starts, u.ends, u.carried
    )
    $UPSERT
    """,
    **_PARTS,
)


# A stored row's minutes as the whole day's 1,440 bits.
_WHOLE_DAY = "CAST(rpad(repeat('0', $ROW.lo) || CAST($ROW.minutes AS text), 1440, '0') AS bit(1440))"
# The sorted union (repeats kept) of two sorted arrays, NULL when both are empty, as DAY_ROWS writes it.
_SORTED = "(SELECT array_agg(v ORDER BY v) FROM unnest(u.$COLUMN || excluded.$COLUMN) AS v)"

_ADD = sql(
    """
    WITH src AS (
        SELECT organization_id, user_id, category, started_at, ended_at, CAST(NULL AS int) AS d1,
               CAST(NULL AS int) AS d2
        FROM unnest(CAST(:orgs AS uuid[]), CAST(:users AS uuid[]), CAST(:categories AS text[]),
                    CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]))
            AS b(organization_id, user_id, category, started_at, ended_at)
    ), changed AS (
        INSERT INTO activity_user_days AS u ($COLUMNS)
        SELECT * FROM ($DAY_ROWS) r
        ORDER BY organization_id, day, user_id
        ON CONFLICT (organization_id, day, user_id) DO UPDATE
        SET lo = CASE WHEN length(excluded.minutes) = 0 THEN u.lo
                      WHEN length(u.minutes) = 0 THEN excluded.lo
                      ELSE least(u.lo, excluded.lo) END,
            minutes = CASE WHEN length(excluded.minutes) = 0 THEN u.minutes
                           WHEN length(u.minutes) = 0 THEN excluded.minutes
                           ELSE substring(($U_WHOLE_DAY) | ($EXCLUDED_WHOLE_DAY)
                                          FROM least(u.lo, excluded.lo) + 1
                                          FOR greatest(u.lo + length(u.minutes), excluded.lo + length(excluded.minutes))
                                              - least(u.lo, excluded.lo)) END,
            starts = $SORTED_STARTS,
            ends = $SORTED_ENDS,
            carried = u.carried + excluded.carried
        RETURNING u.organization_id, u.day, u.user_id, u.lo, u.minutes, u.total, u.starts, u.ends, u.carried
    )
    $UPSERT
    """,
    **_PARTS,
    U_WHOLE_DAY=splice(_WHOLE_DAY, ROW="u"),
    EXCLUDED_WHOLE_DAY=splice(_WHOLE_DAY, ROW="excluded"),
    SORTED_STARTS=splice(_SORTED, COLUMN="starts"),
    SORTED_ENDS=splice(_SORTED, COLUMN="ends"),
)


def _columns(sessions: Sequence[Sequence[Any]]) -> dict[str, list[Any]]:
    return {
        "orgs": [row[0] for row in sessions],
        "users": [row[2] for row in sessions],
        "categories": [row[5] for row in sessions],
        "starts": [row[7] for row in sessions],
        "ends": [row[8] for row in sessions],
    }


async def lock(
    conn: AsyncConnection, added: Sequence[Sequence[Any]], extended: Sequence[Sequence[Any]] = ()
) -> None:
    """Take the organizations' user-day lock for `merge`, before the transaction locks any rollup row that
    other ingests wait for. Adding commutes (each statement applies its sessions to the rows' latest
    versions), so adds share the lock; a recompute reads the committed sessions and replaces rows, so it
    waits until no other transaction of the organization is adding or recomputing, and holds them off."""
    if added or extended:
        orgs = [row[0] for row in (*added, *extended)]
        await lock_organizations(conn, "activity_user_days", orgs, shared=not extended)


async def merge(
    conn: AsyncConnection, added: Sequence[Sequence[Any]], extended: Sequence[Sequence[Any]] = ()
) -> None:
    """Bring the user-days up to date with stored sessions (organization_id, id, user_id, workspace_id,
    template_id, category, app, started_at, ended_at) after they were written, under `lock`: `added` ones
    written for the first time (each must be given exactly once), `extended` ones whose end moved later."""
    if added:
        await conn.execute(_ADD, _columns(added))
    if extended:
        await conn.execute(_RECOMPUTE, _columns(extended))
