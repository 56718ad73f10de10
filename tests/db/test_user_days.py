"""activity_user_days (the per user and UTC day rollup behind the ANY activity report): hand-computed rows
for sessions across midnights, zero-length sessions, LOGINs and an extended session; and, after
concurrent and repeated ingests, rows equal to a recomputation from every stored session."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from usagegraph.db.queries.compose import splice
from usagegraph.db.queries.day_vectors import BACKFILL as VECTORS
from usagegraph.db.queries.part_vectors import BACKFILL as PARTS
from usagegraph.db.queries.rollup import merge_rows, merge_sessions, stored_sessions
from usagegraph.db.queries.user_days import DAY_ROWS
from usagegraph.db.queries.workspace_days import BACKFILL as WORKSPACE_DAYS

INGEST = "mutation($b: IngestBatch!) { ingest(batch: $b) { accepted duplicates rejected { message } } }"
REPORT = """
query($start: DateTime!, $end: DateTime!, $interval: Interval!, $org: ID, $tz: String!) {
  activity(start: $start, end: $end, interval: $interval, category: ANY, organizationId: $org, timezone: $tz) {
    buckets { userActivity { durationSeconds count } }
    users { totalDurationSeconds totalCount }
  }
}
"""
STORED = (
    "SELECT day, user_id, lo, minutes::text AS minutes, total, starts, ends, carried "
    "FROM activity_user_days WHERE organization_id = :org ORDER BY day, user_id"
)
FRESH = splice(
    "SELECT day, user_id, lo, minutes::text AS minutes, bit_count(minutes) AS total, starts, ends, carried FROM ("
    "$DAY_ROWS) r ORDER BY day, user_id",
    DAY_ROWS=DAY_ROWS,
    SOURCE="(SELECT *, CAST(NULL AS int) AS d1, CAST(NULL AS int) AS d2 FROM activity_sessions "
    "WHERE organization_id = :org) a",
)

STORED_WORKSPACE_DAYS = (
    "SELECT workspace_id, day, user_id, first_minute, last_minute FROM activity_workspace_days "
    "WHERE organization_id = :org ORDER BY workspace_id, day, user_id"
)
FRESH_WORKSPACE_DAYS = (
    "SELECT workspace_id, day, user_id, first_minute, last_minute FROM ("
    + WORKSPACE_DAYS.split("\n", 2)[2].replace(
        "WHERE workspace_id IS NOT NULL", "WHERE workspace_id IS NOT NULL AND organization_id = :org"
    )
    + ") r ORDER BY workspace_id, day, user_id"
)

STORED_VECTORS = (
    "SELECT day, minutes, starts, carried FROM activity_day_vectors WHERE organization_id = :org ORDER BY day"
)
FRESH_VECTORS = (
    "SELECT day, minutes, starts, carried FROM ("
    + VECTORS.split("\n", 2)[2].replace(
        "GROUP BY d.organization_id", "WHERE d.organization_id = :org GROUP BY d.organization_id"
    )
    + ") v(organization_id, day, minutes, starts, carried) ORDER BY day"
)

STORED_PARTS = (
    "SELECT day, minute, span, idxs, minutes, starts, carried, packed FROM activity_part_vectors "
    "WHERE organization_id = :org "
    "ORDER BY day, minute, span"
)
FRESH_PARTS = (
    "SELECT day, minute, span, idxs, minutes, starts, carried, packed FROM ("
    + PARTS.split("\n", 2)[2]
    .replace("GROUP BY organization_id", "AND organization_id = :org GROUP BY organization_id")
    .replace("WHERE minutes <> 0", "WHERE (minutes <> 0")
    .replace("OR carried <> 0", "OR carried <> 0)")
    + ") v(organization_id, day, minute, span, idxs, minutes, starts, carried, packed) ORDER BY day, minute, span"
)


def _ints(packed: bytes) -> list[int]:
    """A packed big-endian int4 vector as a list, without its trailing zeros (its length is not a value)."""
    values = [int.from_bytes(packed[i : i + 4], "big", signed=True) for i in range(0, len(packed), 4)]
    while values and values[-1] == 0:
        values.pop()
    return values


async def _vectors(engine: AsyncEngine, sql: str, org: uuid.UUID) -> list[tuple[Any, ...]]:
    return [(row[0], *(_ints(bytes(v)) for v in row[1:])) for row in await _rows(engine, sql, org=org)]


async def _rows(engine: AsyncEngine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(text(sql), params)]


async def _report(
    gql: GraphQL, token: str, org: uuid.UUID, start: str, end: str, interval: str, tz: str
) -> Any:
    variables = {"start": start, "end": end, "interval": interval, "org": str(org), "tz": tz}
    body = await gql(REPORT, variables, token=token)
    assert "errors" not in body, body
    return body["data"]["activity"]


async def _ingest(gql: GraphQL, token: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    body = await gql(INGEST, {"b": {"activity": records}}, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["ingest"]
    assert result["rejected"] == [], result
    return result


def _record(
    org: uuid.UUID,
    ws: uuid.UUID,
    user: uuid.UUID,
    category: str,
    start: str,
    end: str | None,
    sid: str | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": sid or str(uuid.uuid4()),
        "userId": str(user),
        "category": category,
        "startedAt": start,
        "endedAt": end,
    }
    if category == "LOGIN":
        record["organizationId"] = str(org)
    else:
        record["workspaceId"] = str(ws)
        record["app"] = "vscode"
    return record


async def _world(factory: Factory) -> tuple[uuid.UUID, uuid.UUID, str]:
    """An organization, a template of it and a site owner's token."""
    org = await factory.organization("acme")
    tpl = await factory.template(org)
    return org, tpl, await factory.token(await factory.user("root", site_roles=["owner"]))


def _ones(first: int, last: int) -> str:
    return "1" * (last - first + 1)


async def test_rows_by_hand_and_an_extended_session(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    org, tpl, token = await _world(factory)
    alice = await factory.user("alice", orgs={org: ["member"]})
    ws = await factory.workspace(org, tpl, alice)
    later_id = str(uuid.uuid4())
    await _ingest(
        gql,
        token,
        [
            _record(org, ws, alice, "IDE", "2024-05-01T23:30:20Z", "2024-05-03T00:10:00Z"),
            _record(org, ws, alice, "APP", "2024-05-02T10:00:00Z", "2024-05-02T10:00:00Z"),
            _record(org, ws, alice, "LOGIN", "2024-05-02T12:34:56Z", None),
            _record(org, ws, alice, "IDE", "2024-05-03T08:00:30Z", "2024-05-03T08:00:30Z", later_id),
        ],
    )
    d = datetime(2024, 5, 1).date()
    assert await _rows(engine, STORED, org=org) == [
        # 23:30-23:59; the IDE session starts at minute 1410.
        (d, alice, 1410, _ones(1410, 1439), 30, [1410], None, 0),
        # Active all day; the APP session (minute 600, ends before 601) and the LOGIN (12:34) start and end
        # here; the IDE session is carried in.
        (d + timedelta(days=1), alice, 0, _ones(0, 1439), 1440, [600, 754], [601, 755], 1),
        # 00:00-00:09 of the IDE session, then the zero-length session's single minute 08:00 (480).
        (d + timedelta(days=2), alice, 0, _ones(0, 9) + "0" * 470 + "1", 11, [480], [10, 481], 1),
    ]

    # Per workspace: the first and last active minute of each UTC day (the LOGIN has no workspace).
    assert await _rows(engine, STORED_WORKSPACE_DAYS, org=org) == [
        (ws, d, alice, 1410, 1439),
        (ws, d + timedelta(days=1), alice, 0, 1439),
        (ws, d + timedelta(days=2), alice, 0, 480),
    ]

    # The zero-length session is re-sent ending the next day at 01:00: its end moves, it is carried into
    # 2024-05-04.
    await _ingest(
        gql, token, [_record(org, ws, alice, "IDE", "2024-05-03T08:00:30Z", "2024-05-04T01:00:00Z", later_id)]
    )
    # The day vectors hold each user-day's total, start count and carried count at alice's number.
    vectors = await _vectors(engine, STORED_VECTORS, org)
    assert [(v[1][-1], v[2][-1] if v[2] else 0, v[3][-1] if v[3] else 0) for v in vectors] == [
        (30, 1, 0),
        (1440, 2, 1),
        (970, 1, 1),
        (60, 0, 1),
    ]
    assert (await _rows(engine, STORED_WORKSPACE_DAYS, org=org))[2:] == [
        (ws, d + timedelta(days=2), alice, 0, 1439),
        (ws, d + timedelta(days=3), alice, 0, 59),
    ]
    rows = await _rows(engine, STORED, org=org)
    assert rows[2] == (
        d + timedelta(days=2),
        alice,
        0,
        _ones(0, 9) + "0" * 470 + _ones(480, 1439),
        970,
        [480],
        [10],
        1,
    )
    assert rows[3] == (d + timedelta(days=3), alice, 0, _ones(0, 59), 60, None, [60], 1)

    # 23:00-01:00 across the midnight of 2024-05-02/03 by hour: the long IDE session is open at 23:00
    # (carried 1 + 2 starts before it - 2 ends by then) and counts in both buckets but once in the total.
    report = await _report(gql, token, org, "2024-05-02T23:00:00Z", "2024-05-03T01:00:00Z", "1 hour", "UTC")
    assert [b["userActivity"] for b in report["buckets"]] == [
        [{"durationSeconds": 3600.0, "count": 1}],
        [{"durationSeconds": 600.0, "count": 1}],
    ]
    assert report["users"] == [{"totalDurationSeconds": 4200.0, "totalCount": 1}]

    # In Kathmandu (+5:45) the day 2024-05-03 starts at 2024-05-02T18:15Z: the IDE session is open then,
    # the extended session starts that day; the LOGIN and the APP session were the day before.
    report = await _report(
        gql, token, org, "2024-05-02T18:15:00Z", "2024-05-04T18:15:00Z", "1 day", "Asia/Kathmandu"
    )
    # Day 1: 18:15-24:00 (345) + 00:00-00:09 (10) + 08:00-18:14 (615) = 970 minutes; day 2: 18:15-01:00 = 405.
    assert [b["userActivity"] for b in report["buckets"]] == [
        [{"durationSeconds": 970 * 60.0, "count": 2}],
        [{"durationSeconds": 405 * 60.0, "count": 1}],
    ]
    assert report["users"] == [{"totalDurationSeconds": 1375 * 60.0, "totalCount": 2}]


async def test_concurrent_and_repeated_ingests_match_a_recomputation(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    org, tpl, token = await _world(factory)
    users = [await factory.user(f"u{k}", orgs={org: ["member"]}) for k in range(3)]
    spaces = [await factory.workspace(org, tpl, users[0]) for _ in range(4)]
    rng = random.Random(7)
    base = datetime(2024, 5, 1, tzinfo=UTC)

    def at(minutes: int, seconds: int) -> str:
        return (base + timedelta(minutes=minutes, seconds=seconds)).isoformat().replace("+00:00", "Z")

    # Four batches sent at once, all touching the same user-days but in their own workspace and quarter of
    # each day, so that no other rollup row makes one wait for the other before the user-days.
    batches: list[list[dict[str, Any]]] = [[] for _ in spaces]
    for n in range(160):
        k = n % 4
        category = rng.choice(["IDE", "APP", "TUNNEL", "WEB_TERMINAL", "LOGIN"])
        start = rng.randrange(4) * 1440 + k * 360 + rng.randrange(300)
        length = rng.choice([0, 0, 1, 30, 200, 1500])
        seconds = rng.choice([0, 0, 17])
        end = None if category == "LOGIN" else at(start + length, seconds)
        batches[k].append(_record(org, spaces[k], rng.choice(users), category, at(start, seconds), end))
    await asyncio.gather(*(_ingest(gql, token, batch) for batch in batches))
    # Every row so far was built by adding sessions to it, batch after batch (never re-read).
    stored = await _rows(engine, STORED, org=org)
    assert stored == await _rows(engine, FRESH, org=org)
    assert await _vectors(engine, STORED_VECTORS, org) == await _vectors(engine, FRESH_VECTORS, org)
    assert await _rows(engine, STORED_PARTS, org=org) == await _rows(engine, FRESH_PARTS, org=org)
    records = [record for batch in batches for record in batch]
    # Then half of the sessions extended (re-sent with a later end), again concurrently.
    later = []
    for record in records:
        if record["category"] != "LOGIN" and rng.random() < 0.5:
            ended = datetime.fromisoformat(record["endedAt"])
            later.append(
                {**record, "endedAt": (ended + timedelta(minutes=rng.randrange(1, 3000))).isoformat()}
            )
    assert later
    await asyncio.gather(*(_ingest(gql, token, later[k::3]) for k in range(3)))
    # And new sessions added to rows that extensions recomputed.
    more = [
        _record(org, spaces[n % 4], rng.choice(users), "IDE", at(rng.randrange(4 * 1440), 0), at(4 * 1440, 0))
        for n in range(12)
    ]
    await asyncio.gather(*(_ingest(gql, token, more[k::4]) for k in range(4)))

    stored = await _rows(engine, STORED, org=org)
    assert len(stored) >= 10
    assert stored == await _rows(engine, FRESH, org=org)
    assert await _vectors(engine, STORED_VECTORS, org) == await _vectors(engine, FRESH_VECTORS, org)
    parts = await _rows(engine, STORED_PARTS, org=org)
    assert {row[2] for row in parts} == {15, 60, 240}
    assert parts == await _rows(engine, FRESH_PARTS, org=org)
    workspace_days = await _rows(engine, STORED_WORKSPACE_DAYS, org=org)
    assert len({row[0] for row in workspace_days}) == 4
    assert workspace_days == await _rows(engine, FRESH_WORKSPACE_DAYS, org=org)


_SESSION = text(
    "INSERT INTO activity_sessions (organization_id, id, user_id, workspace_id, category, app, started_at, ended_at) "
    "VALUES (:org, :id, :user, :ws, 'IDE', 'vscode', :start, :end)"
)


async def test_a_recompute_waits_for_an_add_of_the_organization(
    factory: Factory, engine: AsyncEngine
) -> None:
    """An extended session's user-days are recomputed from the committed sessions: the recompute waits for
    a transaction of the organization that is adding a session of another user (no rollup row in common,
    only the organization's lock), and its rows then agree with a recomputation from scratch."""
    org = await factory.organization("acme")
    tpl = await factory.template(org)
    alice = await factory.user("alice", orgs={org: ["member"]})
    bob = await factory.user("bob", orgs={org: ["member"]})
    alice_ws = await factory.workspace(org, tpl, alice)
    bob_ws = await factory.workspace(org, tpl, bob)
    day = datetime(2024, 3, 1, tzinfo=UTC)
    await factory.activity(
        org, alice, "IDE", day - timedelta(days=2), day - timedelta(days=1), workspace_id=alice_ws
    )
    extended = await factory.activity(
        org, bob, "IDE", day.replace(hour=9), day.replace(hour=10), workspace_id=bob_ws
    )
    async with engine.connect() as adding, engine.connect() as recomputing:
        one = await adding.begin()
        session = uuid.uuid4()
        params = {"org": org, "id": session, "user": alice, "ws": alice_ws}
        later = day + timedelta(days=5)  # another day: not even the day's vector row in common
        await adding.execute(
            _SESSION, {**params, "start": later.replace(hour=15), "end": later.replace(hour=16)}
        )
        await merge_sessions(adding, [(org, session)])
        two = await recomputing.begin()
        await recomputing.execute(
            text("UPDATE activity_sessions SET ended_at = :end WHERE id = :id"),
            {"id": extended, "end": day.replace(hour=11)},
        )
        waiting = asyncio.create_task(
            merge_rows(recomputing, [], await stored_sessions(recomputing, [(org, extended)]))
        )
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await one.commit()
        await waiting
        await two.commit()
    assert await _rows(engine, STORED, org=org) == await _rows(engine, FRESH, org=org)
    assert await _vectors(engine, STORED_VECTORS, org) == await _vectors(engine, FRESH_VECTORS, org)


async def test_an_add_waits_for_the_other_add_of_the_same_user_day(
    factory: Factory, engine: AsyncEngine
) -> None:
    """Two transactions add sessions of the same user-day in different workspaces and hours (no shared
    minute or quarter-hour row): the second add waits for the first's user-day row and then adds to it."""
    org = await factory.organization("acme")
    tpl = await factory.template(org)
    alice = await factory.user("alice", orgs={org: ["member"]})
    one_ws = await factory.workspace(org, tpl, alice)
    two_ws = await factory.workspace(org, tpl, alice)
    day = datetime(2024, 3, 1, tzinfo=UTC)
    # alice numbered and the organization's longest session already longer: neither transaction below takes
    # the numbering lock or writes the longest-span row.
    await factory.activity(
        org, alice, "IDE", day - timedelta(days=2), day - timedelta(days=1), workspace_id=one_ws
    )
    async with engine.connect() as first, engine.connect() as second:
        one = await first.begin()
        session = uuid.uuid4()
        params = {"org": org, "id": session, "user": alice, "ws": one_ws}
        await first.execute(_SESSION, {**params, "start": day.replace(hour=9), "end": day.replace(hour=10)})
        await merge_sessions(first, [(org, session)])
        two = await second.begin()
        session = uuid.uuid4()
        params = {"org": org, "id": session, "user": alice, "ws": two_ws}
        await second.execute(_SESSION, {**params, "start": day.replace(hour=15), "end": day.replace(hour=16)})
        waiting = asyncio.create_task(merge_sessions(second, [(org, session)]))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await one.commit()
        await waiting
        await two.commit()
    stored = await _rows(engine, STORED, org=org)
    assert [(row[4], row[5]) for row in stored][-1] == (120, [540, 900])  # 09:00-10:00, 15:00-16:00
    assert stored == await _rows(engine, FRESH, org=org)
    assert await _vectors(engine, STORED_VECTORS, org) == await _vectors(engine, FRESH_VECTORS, org)
