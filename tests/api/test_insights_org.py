"""Template Insights over one template or every template of an organization reads the range's whole UTC
days from per-day rows (insights_template_days or activity_day_vectors, insights_app_days,
insights_app_session_days) and only the rest from the minute rollup and the sessions. Its answers must
equal the general path's, which unites the selected templates' minutes cell by cell: a template without
activity is added to the organization, so that selecting a template with it (or every template but it)
takes the general path over the same activity. Random sessions (some crossing midnight, some in two
templates at the same minutes, some extended by a later ingest) are read in several zones, with ranges
cut at odd minutes and buckets cut inside UTC days."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asyncpg import BitString
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from usagegraph.db.database import Database
from usagegraph.db.queries import app_days, insights
from usagegraph.db.queries.app_days import ALL_TEMPLATES
from usagegraph.upkeep.periodic import refresh_insights_days

QUERY = """
query($org: ID!, $ids: [ID!], $start: DateTime!, $end: DateTime!, $interval: InsightsInterval, $tz: String!) {
  templateInsights(organizationId: $org, templateIds: $ids, start: $start, end: $end, interval: $interval,
                   timezone: $tz) {
    activeUsers
    activeUsersSeries { start end activeUsers complete }
    userActivity { user { username } seconds }
    appUsage { slug category seconds users timesUsed }
  }
}
"""
INGEST = "mutation($b: IngestBatch!) { ingest(batch: $b) { accepted rejected { message } } }"
BASE = datetime(2024, 3, 4, tzinfo=UTC)
CASES = [
    ("2024-03-04T00:00:00Z", "2024-03-14T00:00:00Z", "DAY", "UTC"),  # whole UTC days only
    ("2024-03-04T00:00:00Z", "2024-03-18T00:00:00Z", "WEEK", "UTC"),
    ("2024-03-04T07:13:00Z", "2024-03-13T19:41:00Z", "DAY", "UTC"),  # range cut at odd minutes
    ("2024-03-04T01:00:00Z", "2024-03-14T01:00:00Z", "DAY", "UTC"),  # every day cut by a bucket boundary
    ("2024-03-05T00:00:00Z", "2024-03-15T00:00:00Z", "DAY", "America/New_York"),  # DST on 03-10
    ("2024-03-04T18:15:00Z", "2024-03-16T05:45:00Z", "WEEK", "Asia/Kathmandu"),  # +5:45
    ("2024-03-06T10:07:00Z", "2024-03-06T22:31:00Z", "DAY", "UTC"),  # inside one day
    ("2024-03-01T00:00:00Z", "2024-03-31T00:00:00Z", "WEEK", "Asia/Kolkata"),  # +5:30, past the data
]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_every_template_of_an_organization_equals_the_general_path(
    gql: GraphQL, factory: Factory, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(20261202)
    org = await factory.organization("acme")
    owner = await factory.user("root", orgs={org: ["owner"]})
    token = await factory.token(owner)
    active = [await factory.template(org, name) for name in ("python", "go")]
    idle = await factory.template(org, "idle")
    users = [await factory.user(f"user{k}", orgs={org: ["member"]}) for k in range(7)]
    workspaces = {(u, t): await factory.workspace(org, t, u) for u in users for t in active}
    apps = [
        ("IDE", "vscode"),
        ("IDE", "jetbrains"),
        ("APP", "jupyter"),
        ("APP", "grafana"),
        ("TUNNEL", "ssh"),
    ]
    for _ in range(160):
        user, template = rng.choice(users), rng.choice(active)
        category, app = rng.choice(apps)
        start = BASE - timedelta(days=1) + timedelta(minutes=rng.randrange(15 * 1440))
        end = start + timedelta(minutes=rng.choice([1, 7, 45, 200, 900, 1700]), seconds=rng.randrange(60))
        await factory.activity(
            org, user, category, start, end, workspace_id=workspaces[user, template], app=app
        )
        if rng.random() < 0.2:  # the same minutes in the other template's workspace
            other = active[1 - active.index(template)]
            await factory.activity(
                org, user, "IDE", start, end, workspace_id=workspaces[user, other], app="vscode"
            )
        if rng.random() < 0.1:
            await factory.activity(org, user, "LOGIN", start)
    # sessions ingested through the mutation, then extended by a later snapshot
    ingested = []
    for k in range(12):
        start = BASE + timedelta(days=rng.randrange(10), minutes=rng.randrange(1440))
        ingested.append(
            {
                "id": str(uuid.uuid4()),
                "userId": str(users[k % len(users)]),
                "workspaceId": str(workspaces[users[k % len(users)], active[k % 2]]),
                "category": "APP",
                "app": "jupyter",
                "startedAt": _iso(start),
                "endedAt": _iso(start + timedelta(minutes=30)),
            }
        )
    for minutes in (30, 400):
        batch = [{**s, "endedAt": _iso(datetime.fromisoformat(s["startedAt"]) + timedelta(minutes=minutes))}
                 for s in ingested]  # fmt: skip
        body = await gql(INGEST, {"b": {"activity": batch}}, token=token)
        assert "errors" not in body and body["data"]["ingest"]["accepted"] == 12, body

    calls: list[int] = []
    by_day = insights.day_sections

    async def counted(*args: Any) -> Any:
        calls.append(1)
        return await by_day(*args)

    monkeypatch.setattr(insights, "day_sections", counted)
    # First with the days as ingest marked them (read from the minute rollup), then with the day rows the
    # background refresh computes (called here directly).
    seen = await _compare(gql, org, token, active, idle, calls)
    await refresh_insights_days(Database(engine=engine, read_engine=engine))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM insights_dirty_days"))).scalar_one() == 0
        assert (await conn.execute(text("SELECT count(*) FROM insights_template_days"))).scalar_one() > 20
    assert await _compare(gql, org, token, active, idle, calls) == seen
    assert len(calls) == 10 * len(CASES)
    assert seen > 40


async def _compare(
    gql: GraphQL, org: uuid.UUID, token: str, active: list[uuid.UUID], idle: uuid.UUID, calls: list[int]
) -> int:
    """Every case on the per-day path and on the general path, equal; returns the active users seen."""
    seen = 0
    for start, end, interval, tz in CASES:
        common = {"org": str(org), "start": start, "end": end, "interval": interval, "tz": tz}
        pairs = [
            (None, [str(t) for t in active]),  # every template vs all but the idle one
            ([str(active[0])], [str(active[0]), str(idle)]),  # one template vs it and the idle one
            ([str(active[1])], [str(active[1]), str(idle)]),
        ]
        for by_days, general_ids in pairs:
            fast = await gql(QUERY, {**common, "ids": by_days}, token=token)
            before = len(calls)
            general = await gql(QUERY, {**common, "ids": general_ids}, token=token)
            assert len(calls) == before, "two templates of three take the general path"
            assert "errors" not in fast and "errors" not in general, (fast, general)
            assert fast["data"] == general["data"], (start, end, interval, tz, by_days)
            seen += fast["data"]["templateInsights"]["activeUsers"]
        explicit = await gql(QUERY, {**common, "ids": [str(t) for t in [*active, idle]]}, token=token)
        assert explicit["data"] == (await gql(QUERY, {**common, "ids": None}, token=token))["data"]
    return seen


async def test_an_app_used_in_two_categories_equally_takes_the_first(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    """timesUsed's category is the app's most frequent one; between equally frequent ones, the first in
    order (as PostgreSQL's mode() picks it), on both paths."""
    org = await factory.organization("acme")
    token = await factory.token(await factory.user("root", orgs={org: ["owner"]}))
    used, idle = await factory.template(org, "used"), await factory.template(org, "idle")
    user = await factory.user("ann", orgs={org: ["member"]})
    ws = await factory.workspace(org, used, user)
    for category, hour in (("WEB_TERMINAL", 9), ("APP", 14)):
        start = BASE + timedelta(days=2, hours=hour)
        await factory.activity(org, user, category, start, start + timedelta(minutes=20), workspace_id=ws,
                               app="notebook")  # fmt: skip
    common = {"org": str(org), "start": "2024-03-04T00:00:00Z", "end": "2024-03-11T00:00:00Z", "interval": "DAY",
              "tz": "UTC"}  # fmt: skip
    await refresh_insights_days(Database(engine=engine, read_engine=engine))
    answers = [
        (await gql(QUERY, {**common, "ids": ids}, token=token))["data"]["templateInsights"]["appUsage"]
        for ids in (None, [str(used)], [str(used), str(idle)])
    ]
    assert answers[0] == answers[2]
    assert answers[0] == answers[1]
    notebook = next(app for app in answers[0] if app["slug"] == "notebook")
    assert notebook == {"slug": "notebook", "category": "APP", "seconds": 2400.0, "users": 1, "timesUsed": 2}


async def test_the_server_refreshes_marked_days_in_the_background(
    factory: Factory, make_client: Any, engine: AsyncEngine
) -> None:
    org = await factory.organization("acme")
    token = await factory.token(await factory.user("root", orgs={org: ["owner"]}))
    tpl = await factory.template(org)
    user = await factory.user("ann", orgs={org: ["member"]})
    ws = await factory.workspace(org, tpl, user)
    session = {"id": str(uuid.uuid4()), "userId": str(user), "workspaceId": str(ws), "category": "IDE",
               "app": "vscode", "startedAt": "2024-03-05T10:00:00Z", "endedAt": "2024-03-05T10:30:00Z"}  # fmt: skip
    marks = text("SELECT count(*) FROM insights_dirty_days")
    async for client in make_client(insights_refresh_seconds=0.1):
        body = await GraphQL(client)(INGEST, {"b": {"activity": [session]}}, token=token)
        assert body["data"]["ingest"]["accepted"] == 1
        for _ in range(100):
            async with engine.connect() as conn:
                if (await conn.execute(marks)).scalar_one() == 0:
                    break
            await asyncio.sleep(0.05)
    async with engine.connect() as conn:
        assert (await conn.execute(marks)).scalar_one() == 0
        rows = await conn.execute(text("SELECT template_id, app, minutes FROM insights_app_days ORDER BY 1"))
        assert [tuple(r) for r in rows] == [(ALL_TEMPLATES, "vscode", 30), (tpl, "vscode", 30)]


async def test_series_users_on_either_side_of_a_boundary_inside_a_day(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    """Buckets from 07:13 cut every UTC day; an organization's whole days still come from the day rows, the
    users of each piece from the user-day minutes: the minute before the boundary is the earlier bucket's,
    the boundary's minute the later one's, on both paths."""
    org = await factory.organization("acme")
    token = await factory.token(await factory.user("root", orgs={org: ["owner"]}))
    used, idle = await factory.template(org, "used"), await factory.template(org, "idle")
    before = await factory.user("ann", orgs={org: ["member"]})
    after = await factory.user("bob", orgs={org: ["member"]})
    for user, minute in ((before, 12), (after, 13)):
        ws = await factory.workspace(org, used, user)
        start = BASE + timedelta(days=1, hours=7, minutes=minute)
        await factory.activity(
            org, user, "IDE", start, start + timedelta(minutes=1), workspace_id=ws, app="vscode"
        )
    await refresh_insights_days(Database(engine=engine, read_engine=engine))
    common = {"org": str(org), "start": "2024-03-04T07:13:00Z", "end": "2024-03-07T07:13:00Z", "interval": "DAY",
              "tz": "UTC"}  # fmt: skip
    answers = [
        (await gql(QUERY, {**common, "ids": ids}, token=token))["data"]["templateInsights"]
        for ids in (None, [str(used), str(idle)])
    ]
    assert answers[0] == answers[1]
    assert [b["activeUsers"] for b in answers[0]["activeUsersSeries"]] == [1, 1, 0]
    assert answers[0]["activeUsers"] == 2


def test_app_day_bit_strings_of_different_lengths_name_the_union_of_their_users() -> None:
    users = [uuid.UUID(int=n + 1) for n in range(20)]
    strings = [BitString("1"), BitString("0000000001"), BitString("00000000000000000001"), BitString("")]
    assert app_days.bit_users(strings, users) == {users[0], users[9], users[19]}
    assert app_days.bit_users([BitString("0110")], users) == {users[1], users[2]}
