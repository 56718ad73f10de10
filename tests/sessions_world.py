"""The world of the AI sessions tests, and helpers that write sessions as ingest stores them.

Organization acme with a manager (team rights) and three members, two projects, five sessions
in [2024-03-01, 2024-03-04) plus one just before and one exactly at the end of that range, and a session
of another organization. The tests compute their expectations by hand from this table:

    id  user   agent        project  repository  started (UTC)     duration  tokens in/out   cost
    S1  alice  claude-code  web      acme/web    03-01 10:00       1800 s    1000/200        0.12  (sonnet)
    S2  alice  cursor       api      acme/api    03-02 09:00       45 s      800/160         0.06  (sonnet .05 + haiku .01)
    S3  bob    claude-code  web      acme/web    03-02 23:30       9000 s    2000/400        1.50  (opus)
    S4  bob    claude-code  -        -           03-03 12:00       open      100/20          0.01  (sonnet)
    S5  carol  aider        api      acme/api    03-03 20:00       600 s     10/5            0     (mystery, unpriced)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory

Usage = tuple[str, int, int, int, int, str | None]
"""(model, input, output, cache read, cache write, cost); cost None = no cost and no price: unpriced."""

START = "2024-03-01T00:00:00Z"
END = "2024-03-04T00:00:00Z"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


async def ai_session(
    engine: AsyncEngine,
    org: uuid.UUID,
    user: uuid.UUID,
    started: datetime,
    ended: datetime | None = None,
    *,
    agent: str = "claude-code",
    project: uuid.UUID | None = None,
    repository: str | None = None,
    usage: list[Usage] | None = None,
    session_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Writes a session and its usage lines with the denormalized totals the ingest path maintains."""
    lines = usage if usage is not None else [("sonnet", 10, 5, 0, 0, "0.001000")]
    session_id = session_id or uuid.uuid4()
    totals = [sum(line[k] or 0 for line in lines) for k in (1, 2, 3, 4)]
    cost = sum((Decimal(line[5] or "0") for line in lines), Decimal(0))
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO ai_sessions (organization_id, id, user_id, project_id, repository, agent, started_at, "
                "ended_at, cost, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, unpriced) "
                "VALUES (:org, :id, :user, :project, :repo, :agent, :start, :end, :cost, :i, :o, :cr, :cw, :unpriced)"
            ),
            {
                "org": org, "id": session_id, "user": user, "project": project, "repo": repository,
                "agent": agent, "start": started, "end": ended, "cost": cost, "i": totals[0], "o": totals[1],
                "cr": totals[2], "cw": totals[3], "unpriced": any(line[5] is None for line in lines),
            },
        )  # fmt: skip
        for model, i, o, cr, cw, line_cost in lines:
            await conn.execute(
                text(
                    "INSERT INTO ai_session_usage (organization_id, session_id, model, input_tokens, output_tokens, "
                    "cache_read_tokens, cache_write_tokens, cost, priced) "
                    "VALUES (:org, :id, :model, :i, :o, :cr, :cw, :cost, :priced)"
                ),
                {
                    "org": org, "id": session_id, "model": model, "i": i, "o": o, "cr": cr, "cw": cw,
                    "cost": Decimal(line_cost or "0"), "priced": line_cost is not None,
                },
            )  # fmt: skip
    return session_id


@dataclass
class World:
    org: uuid.UUID
    other_org: uuid.UUID
    web: uuid.UUID
    api: uuid.UUID
    alice: uuid.UUID
    bob: uuid.UUID
    carol: uuid.UUID
    sessions: dict[str, uuid.UUID]
    manager_token: str
    alice_token: str
    outsider_token: str
    controller_token: str


async def build_world(factory: Factory, engine: AsyncEngine) -> World:
    org = await factory.organization("acme")
    other = await factory.organization("globex")
    web = await factory.project(org, "web")
    api = await factory.project(org, "api")
    manager = await factory.user("mona", orgs={org: ["manager"]})
    alice = await factory.user("alice", orgs={org: ["member"]})
    bob = await factory.user("bob", orgs={org: ["member"]})
    carol = await factory.user("carol", orgs={org: ["member"]})
    outsider = await factory.user("olga", orgs={other: ["owner"]})
    controller = await factory.user("cole", orgs={org: ["controller"]})
    s: dict[str, uuid.UUID] = {}
    s["S1"] = await ai_session(
        engine, org, alice, at(1, 10), at(1, 10, 30), project=web, repository="acme/web",
        usage=[("sonnet", 1000, 200, 50, 10, "0.120000")],
    )  # fmt: skip
    s["S2"] = await ai_session(
        engine, org, alice, at(2, 9), at(2, 9) + timedelta(seconds=45), agent="cursor", project=api,
        repository="acme/api", usage=[("sonnet", 500, 100, 0, 0, "0.050000"), ("haiku", 300, 60, 0, 0, "0.010000")],
    )  # fmt: skip
    s["S3"] = await ai_session(
        engine, org, bob, at(2, 23, 30), at(3, 2), project=web, repository="acme/web",
        usage=[("opus", 2000, 400, 100, 20, "1.500000")],
    )  # fmt: skip
    s["S4"] = await ai_session(
        engine, org, bob, at(3, 12), None, usage=[("sonnet", 100, 20, 0, 0, "0.010000")]
    )
    s["S5"] = await ai_session(
        engine, org, carol, at(3, 20), at(3, 20, 10), agent="aider", project=api, repository="acme/api",
        usage=[("mystery", 10, 5, 0, 0, None)],
    )  # fmt: skip
    s["before"] = await ai_session(engine, org, alice, at(1, 0) - timedelta(minutes=1), at(1, 0))
    s["at_end"] = await ai_session(engine, org, bob, at(4, 0), at(4, 1))
    s["other_org"] = await ai_session(engine, other, outsider, at(2, 12), at(2, 13))
    return World(
        org=org, other_org=other, web=web, api=api, alice=alice, bob=bob, carol=carol, sessions=s,
        manager_token=await factory.token(manager), alice_token=await factory.token(alice),
        outsider_token=await factory.token(outsider), controller_token=await factory.token(controller),
    )  # fmt: skip


ANALYTICS = """
query($org: ID!, $filter: SessionFilter) {
  organization(id: $org) {
    sessionAnalytics(filter: $filter) { scope start end %s }
  }
}
"""


def in_range(**extra: Any) -> dict[str, Any]:
    return {"start": START, "end": END, **extra}


async def analytics(gql: GraphQL, world: World, selection: str, token: str, **filter: Any) -> dict[str, Any]:
    body = await gql(
        ANALYTICS % selection, {"org": str(world.org), "filter": in_range(**filter)}, token=token
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["organization"]["sessionAnalytics"]
    return result
