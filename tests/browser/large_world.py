"""A large world for the dashboard: one organization with 5,000 active users, each with a workspace of one
template, one or two activity sessions (an IDE and sometimes an SSH tunnel), a few latency samples and one
AI session in the two days before the current hour; plus an admin (site owner) with a token. Loaded
through the ingest mutation in a few batches, in a database of its own. Shared with bench/ui_large_bench.py."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from usagegraph.auth.tokens import new_token, token_digest
from usagegraph.cli import _settle
from usagegraph.db.queries import auth
from usagegraph.local import local
from usagegraph.settings import Settings

USERS = 5_000
AGENTS = ("claude-code", "codex", "cursor")
MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1")
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Niklaus")
LAST_NAMES = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Wirth",
)


@dataclass
class LargeWorld:
    database_url: str
    admin_token: str
    organization_id: str
    first_day: str
    """The range holding every fact, in UTC days (the pages' `from` and `to`)."""
    last_day: str


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def batches(now: datetime, users: int = USERS, seed: int = 5000) -> tuple[str, list[dict[str, Any]]]:
    """The organization's id and the ingest batches: entities, then activity and latency, then AI sessions."""
    rng = random.Random(seed)
    org = str(uuid.UUID(int=rng.getrandbits(128)))
    template = str(uuid.UUID(int=rng.getrandbits(128)))
    project = str(uuid.UUID(int=rng.getrandbits(128)))
    created = _iso(now - timedelta(days=30))
    entities: dict[str, list[dict[str, Any]]] = {
        "organizations": [{"id": org, "name": "large", "createdAt": created}],
        "templates": [
            {"id": template, "organizationId": org, "name": "dev", "displayName": "Dev", "createdAt": created}
        ],
        "projects": [{"id": project, "organizationId": org, "name": "platform"}],
        "users": [],
        "memberships": [],
        "workspaces": [],
    }
    activity: list[dict[str, Any]] = []
    latency: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    start = now - timedelta(days=2)
    for i in range(users):
        user = str(uuid.UUID(int=rng.getrandbits(128)))
        ws = str(uuid.UUID(int=rng.getrandbits(128)))
        username = f"user{i:05d}"
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} {i}"
        entities["users"].append({"id": user, "username": username, "name": name, "createdAt": created})
        entities["memberships"].append({"userId": user, "organizationId": org, "roles": ["member"]})
        entities["workspaces"].append(
            {"id": ws, "templateId": template, "ownerId": user, "name": "main", "createdAt": created}
        )
        at = start + timedelta(seconds=rng.randrange(36 * 3600))
        length = timedelta(seconds=rng.randrange(60, 4 * 3600))
        activity.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128))),
                "userId": user,
                "workspaceId": ws,
                "category": "IDE",
                "app": "vscode",
                "startedAt": _iso(at),
                "endedAt": _iso(at + length),
            }
        )
        if rng.random() < 0.4:
            side = at + length + timedelta(minutes=rng.randrange(1, 60))
            activity.append(
                {
                    "id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "userId": user,
                    "workspaceId": ws,
                    "category": "TUNNEL",
                    "app": "ssh",
                    "startedAt": _iso(side),
                    "endedAt": _iso(side + timedelta(seconds=rng.randrange(60, 3600))),
                }
            )
        for k in range(rng.randint(1, 3)):
            latency.append(
                {
                    "workspaceId": ws,
                    "userId": user,
                    "at": _iso(at + timedelta(seconds=k * 17 + 1)),
                    "latencyMs": round(rng.lognormvariate(4.6, 0.6), 1),
                }
            )
        ai_start = start + timedelta(seconds=rng.randrange(36 * 3600))
        input_tokens = rng.randrange(500, 400_000)
        sessions.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128))),
                "organizationId": org,
                "userId": user,
                "projectId": project if rng.random() < 0.7 else None,
                "repository": "large/platform",
                "agent": rng.choice(AGENTS),
                "startedAt": _iso(ai_start),
                "endedAt": _iso(ai_start + timedelta(seconds=rng.randrange(30, 7200))),
                "usage": [
                    {
                        "model": rng.choice(MODELS),
                        "inputTokens": input_tokens,
                        "outputTokens": input_tokens // rng.randint(4, 12),
                        "cacheReadTokens": input_tokens * rng.randint(1, 8),
                        "cacheWriteTokens": input_tokens // 2,
                    }
                ],
            }
        )
    return org, [entities, {"activity": activity, "latency": latency}, {"aiSessions": sessions}]


@asynccontextmanager
async def large_database(server_url: str, users: int = USERS) -> AsyncIterator[LargeWorld]:
    """A new database on the server of `server_url` holding the large world; dropped on exit."""
    server = make_url(server_url)
    name = f"usagegraph_large_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    try:
        settings = Settings(database_url=url, statement_timeout_ms=600_000)
        org, loads = batches(now, users)
        admin_id = str(uuid.uuid4())
        loads[0]["users"].append(
            {"id": admin_id, "username": "admin", "name": "Admin", "siteRoles": ["owner"]}
        )
        async with local(settings) as loc:
            for batch in loads:
                outcome = await loc.ingest(batch)
                assert not outcome["rejected"], outcome["rejected"][:3]
            await _settle(loc)
            async with loc.engine.begin() as conn:
                user_id = await auth.user_id_by_username(conn, "admin")
                assert user_id is not None
                token = new_token()
                await auth.insert_token(conn, user_id, "large dashboard", token_digest(token), None)
        first = (now - timedelta(days=3)).date().isoformat()
        last = now.date().isoformat()
        yield LargeWorld(url, token, org, first, last)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
