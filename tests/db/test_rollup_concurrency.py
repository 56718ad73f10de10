"""Concurrent ingests of the same organization share rollup rows (minute masks, quarter-hour user
bitmaps) and number first-seen users at the same time: the rollup must neither deadlock, nor give two
users one bit, nor lose a bit written by the other transaction."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from usagegraph.db.database import Database
from usagegraph.db.queries import app_days
from usagegraph.db.queries.compose import sql
from usagegraph.db.queries.rollup import HOURS_BACKFILL, merge_sessions
from usagegraph.upkeep.periodic import refresh_insights_days

INGEST = "mutation($b: IngestBatch!) { ingest(batch: $b) { accepted duplicates rejected { message } } }"
METRICS = """
query($org: ID!, $category: ActivityCategory!) {
  organization(id: $org) {
    usageMetrics(start: "2024-03-01", end: "2024-03-04", category: $category, fill: NONE) { date dau }
  }
}
"""


def _session(user: uuid.UUID, ws: uuid.UUID, category: str, day: int, start: str, end: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "userId": str(user),
        "workspaceId": str(ws),
        "category": category,
        "app": "vscode",
        "startedAt": f"2024-03-0{day}T{start}:00Z",
        "endedAt": f"2024-03-0{day}T{end}:00Z",
    }


async def test_concurrent_batches_share_rollup_rows(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    org = await factory.organization("acme")
    tpl = await factory.template(org)
    owner = await factory.user("root", site_roles=["owner"])
    token = await factory.token(owner)
    users = [await factory.user(f"u{k}", orgs={org: ["member"]}) for k in range(21)]
    ws = await factory.workspace(org, tpl, users[0])

    # Each day: three users first seen in batch A (IDE), three in batch B (APP), and users 0-2 in both
    # with the same workspace, category and app, so both transactions merge into the same minute rows.
    for day in (1, 2, 3):
        fresh = users[6 * day - 3 : 6 * day + 3]
        a = [_session(u, ws, "IDE", day, "10:00", "11:30") for u in fresh[:3]]
        b = [_session(u, ws, "APP", day, "10:20", "12:00") for u in fresh[3:]]
        a += [_session(u, ws, "TUNNEL", day, "09:50", "10:40") for u in users[:3]]
        b += [_session(u, ws, "TUNNEL", day, "10:30", "11:10") for u in users[:3]]
        results = await asyncio.gather(
            gql(INGEST, {"b": {"activity": a}}, token=token), gql(INGEST, {"b": {"activity": b}}, token=token)
        )
        for body in results:
            assert "errors" not in body, body
            assert body["data"]["ingest"]["accepted"] == 6, body

    async def dau(category: str) -> list[tuple[str, int | None]]:
        body = await gql(METRICS, {"org": str(org), "category": category}, token=token)
        assert "errors" not in body, body
        return [(r["date"], r["dau"]) for r in body["data"]["organization"]["usageMetrics"]]

    assert await dau("ANY") == [("2024-03-01", 9), ("2024-03-02", 9), ("2024-03-03", 9), ("2024-03-04", 0)]
    assert await dau("IDE") == [("2024-03-01", 3), ("2024-03-02", 3), ("2024-03-03", 3), ("2024-03-04", 0)]
    assert await dau("TUNNEL") == [("2024-03-01", 3), ("2024-03-02", 3), ("2024-03-03", 3), ("2024-03-04", 0)]
    async with engine.connect() as conn:
        tunnel = (
            await conn.execute(
                text(
                    "SELECT hour, bit_count(bit_or(minutes)::bit(64)) AS n FROM activity_minutes "
                    "WHERE user_id = :u AND category = 'TUNNEL' GROUP BY hour ORDER BY hour"
                ),
                {"u": users[0]},
            )
        ).all()
        numbered = (
            await conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT idx) FROM activity_user_bits WHERE organization_id = :o"
                ),
                {"o": org},
            )
        ).one()
        # The hour bitmaps both transactions merged equal the OR of the stored quarters of each hour.
        hours = (
            await conn.execute(
                text(
                    "SELECT category, hour, users::text FROM activity_hour_users WHERE organization_id = :o "
                    "ORDER BY category, hour"
                ),
                {"o": org},
            )
        ).all()
        fresh = (
            await conn.execute(
                text(
                    "SELECT category, hour, users::text FROM ("
                    + HOURS_BACKFILL.split("\n", 2)[2]
                    + ") h(organization_id, category, hour, users) WHERE organization_id = :o ORDER BY category, hour"
                ),
                {"o": org},
            )
        ).all()
        # Both transactions marked the days for Template Insights; the background refresh recomputes them
        # (here called directly) and the rows equal a recomputation now: each day vscode has the six
        # fresh users' 90 and 100 minutes and users 0-2's TUNNEL union 09:50-11:10 (80 minutes).
        marks = (await conn.execute(text("SELECT count(*) FROM insights_dirty_days WHERE organization_id = :o"),
                                    {"o": org})).scalar_one()  # fmt: skip
        assert marks == 6  # one per batch and day
        await conn.commit()
        assert await refresh_insights_days(Database(engine=engine, read_engine=engine)) == 3
        assert await refresh_insights_days(Database(engine=engine, read_engine=engine)) == 0
        days = (
            "(SELECT CAST(:o AS uuid) AS organization_id, d AS day FROM unnest("
            "CAST(ARRAY['2024-03-01', '2024-03-02', '2024-03-03'] AS date[])) AS d)"
        )
        stored_and_fresh = []
        for table, rows, order in (
            ("insights_app_days", app_days.APP_ROWS, "day, template_id, app"),
            ("insights_template_days", app_days.TEMPLATE_ROWS, "day, template_id"),
            ("insights_app_session_days", app_days.SESSION_ROWS, "day, template_id, app, category"),
        ):
            kept = await conn.execute(
                text(f"SELECT * FROM {table} WHERE organization_id = :o ORDER BY {order}"), {"o": org}
            )  # noqa: S608
            again = await conn.execute(
                sql(f"SELECT * FROM ($ROWS) r ORDER BY {order}", ROWS=rows, DAYS=days), {"o": org}
            )
            stored_and_fresh.append(([tuple(r._mapping.values()) for r in kept], [r._mapping for r in again]))
    for stored_rows, fresh_rows in stored_and_fresh:
        assert len(stored_rows) == len(fresh_rows) > 0
        assert sorted(map(str, stored_rows)) == sorted(map(str, (tuple(r[k] for k in r) for r in fresh_rows)))
    app_rows, template_rows, session_rows = (stored for stored, _ in stored_and_fresh)
    # (organization_id, day, template_id, app, minutes, users): the template's and every template's rows
    assert [(r[2] == app_days.ALL_TEMPLATES, r[3], r[4], r[5].to_int().bit_count()) for r in app_rows] == [
        (True, "vscode", 810, 9),
        (False, "vscode", 810, 9),
    ] * 3
    assert [sorted(r[4]) for r in template_rows] == [[80] * 3 + [90] * 3 + [100] * 3] * 3
    assert [(r[3], r[4], r[5]) for r in session_rows] == [("vscode", "APP", 3), ("vscode", "IDE", 3),
                                                          ("vscode", "TUNNEL", 6)] * 3  # fmt: skip
    # 09:50-11:10 each day: minutes 50-59 of hour 9, all of hour 10, minutes 0-9 of hour 11.
    assert [row.n for row in tunnel] == [10, 60, 10] * 3
    assert tuple(numbered) == (21, 21)
    # Each day: IDE and APP in hours 10 and 11, TUNNEL and '*' in hours 9, 10 and 11.
    assert len(hours) == 3 * (2 + 2 + 3 + 3)
    assert hours == fresh


_SESSION = text(
    "INSERT INTO activity_sessions (organization_id, id, user_id, category, started_at) "
    "VALUES (:org, :id, :user, 'LOGIN', :at)"
)


async def test_a_longer_bitmap_committed_meanwhile_keeps_its_bits(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    org = await factory.organization("acme")
    owner = await factory.user("root", site_roles=["owner"])
    token = await factory.token(owner)
    alice = await factory.user("alice", orgs={org: ["member"]})
    bob = await factory.user("bob", orgs={org: ["member"]})
    await factory.activity(org, alice, "LOGIN", datetime(2024, 3, 1, 10, 0, tzinfo=UTC))
    async with engine.connect() as first, engine.connect() as second:
        # The first ingest numbers bob past 1,024 users and ORs a 2,048-bit string into the 10:00 quarter.
        one = await first.begin()
        await first.execute(
            text(
                "INSERT INTO activity_user_bits (organization_id, user_id, idx) "
                "SELECT :org, gen_random_uuid(), g FROM generate_series(1, 1100) g"
            ),
            {"org": org},
        )
        session = uuid.uuid4()
        await first.execute(
            _SESSION, {"org": org, "id": session, "user": bob, "at": datetime(2024, 3, 1, 10, 5, tzinfo=UTC)}
        )
        await merge_sessions(first, [(org, session)])
        # The second, started before that commit, still sizes its strings for 1,024 users and waits on the row.
        two = await second.begin()
        session = uuid.uuid4()
        await second.execute(
            _SESSION,
            {"org": org, "id": session, "user": alice, "at": datetime(2024, 3, 1, 10, 7, tzinfo=UTC)},
        )
        waiting = asyncio.create_task(merge_sessions(second, [(org, session)]))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await one.commit()
        await waiting
        await two.commit()
    query = """
    query($org: ID!, $category: ActivityCategory!) {
      organization(id: $org) {
        usageMetrics(start: "2024-03-01", end: "2024-03-01", category: $category, fill: NONE) { date dau }
      }
    }
    """
    for category in ("ANY", "LOGIN"):
        body = await gql(query, {"org": str(org), "category": category}, token=token)
        assert body["data"]["organization"]["usageMetrics"] == [{"date": "2024-03-01", "dau": 2}], body


async def test_a_mark_committed_during_a_refresh_waits_for_the_next(
    factory: Factory, engine: AsyncEngine
) -> None:
    """A refresh recomputes the marked days its statement sees and clears only those marks: an ingest that
    commits meanwhile keeps its mark (and its day is read from the minute rollup) until the next refresh."""
    org = await factory.organization("acme")
    tpl = await factory.template(org)
    user = await factory.user("ann", orgs={org: ["member"]})
    ws = await factory.workspace(org, tpl, user)
    db = Database(engine=engine, read_engine=engine)
    await factory.activity(org, user, "IDE", at := datetime(2024, 3, 1, 10, tzinfo=UTC), at.replace(hour=11),
                           workspace_id=ws, app="vscode")  # fmt: skip
    async with engine.connect() as pending:
        await pending.begin()
        session = uuid.uuid4()
        await pending.execute(
            text(
                "INSERT INTO activity_sessions (organization_id, id, user_id, workspace_id, template_id, category, "
                "app, started_at, ended_at) VALUES (:o, :id, :u, :w, :t, 'IDE', 'vscode', :s, :e)"
            ),
            {
                "o": org,
                "id": session,
                "u": user,
                "w": ws,
                "t": tpl,
                "s": at.replace(hour=12),
                "e": at.replace(hour=13),
            },
        )
        await merge_sessions(pending, [(org, session)])
        assert await refresh_insights_days(db) == 1  # the first session's day; the pending mark is not seen
        await pending.commit()
    async with engine.connect() as conn:
        query = text("SELECT minutes FROM insights_app_days WHERE organization_id = :o AND template_id = :t")
        assert (await conn.execute(query, {"o": org, "t": tpl})).scalar_one() == 60
        assert (await conn.execute(text("SELECT count(*) FROM insights_dirty_days"))).scalar_one() == 1
    assert await refresh_insights_days(db) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(query, {"o": org, "t": tpl})).scalar_one() == 120
        assert (await conn.execute(text("SELECT count(*) FROM insights_dirty_days"))).scalar_one() == 0
