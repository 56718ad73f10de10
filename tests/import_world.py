"""A deterministic NDJSON history for `usagegraph import`: entities first, then facts of every kind over two
years, with re-sent duplicates, re-sent sessions with later ends, entity updates and a sprinkling of bad
records whose rejections are known. Used by the import tests and by bench/import_bench.py."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

END = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 730
CATEGORIES = ("IDE", "APP", "TUNNEL", "WEB_TERMINAL")
APPS = ("vscode", "jetbrains", "ssh", "web-terminal", "code-server", "jupyter", "rstudio", "grafana")
MODELS = ("claude-sonnet-4", "claude-opus-4", "gpt-4o", "in-house-model")
REGIONS = ("us-east", "us-west", "eu-west", "ap-south")


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ts(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def records(events: int, seed: int = 1, *, bad: bool = True) -> Iterator[dict[str, Any]]:
    """About `events` records (entities included), as dicts with their `kind`."""
    rng = random.Random(seed)
    n_users = max(12, events // 1000)
    n_workspaces = max(16, n_users * 6 // 5)
    orgs = [_id(rng) for _ in range(3)]
    for k, org in enumerate(orgs):
        yield {"kind": "organizations", "id": org, "name": f"org-{k}", "createdAt": "2023-06-01T00:00:00Z"}
    users = [_id(rng) for _ in range(n_users)]
    user_org = [orgs[k % 3] for k in range(n_users)]
    for k, user in enumerate(users):
        yield {
            "kind": "users",
            "id": user,
            "username": f"user{k}",
            "email": f"user{k}@example.com",
            "createdAt": "2023-06-02T00:00:00Z",
            **({"siteRoles": ["owner"]} if k == 0 else {}),
        }
        yield {
            "kind": "memberships",
            "userId": user,
            "organizationId": user_org[k],
            "roles": ["admin"] if k < 3 else ["basic"],
        }
    templates = [(_id(rng), orgs[k % 3]) for k in range(12)]
    for k, (tpl, org) in enumerate(templates):
        yield {
            "kind": "templates",
            "id": tpl,
            "organizationId": org,
            "name": f"template-{k}",
            "createdAt": "2023-06-03T00:00:00Z",
            "parameters": [
                {"name": "region", "options": [{"value": r} for r in REGIONS]},
                {"name": "cpu", "type": "number", "defaultValue": "2"},
            ],
        }
    workspaces: list[tuple[str, str, int]] = []  # (id, organization, user index)
    for k in range(n_workspaces):
        user = k % n_users
        org = user_org[user]
        tpl = [t for t, o in templates if o == org][k % 4]
        ws = _id(rng)
        workspaces.append((ws, org, user))
        yield {
            "kind": "workspaces",
            "id": ws,
            "templateId": tpl,
            "ownerId": users[user],
            "name": f"ws-{k}",
            "createdAt": "2023-07-01T00:00:00Z",
            "parameters": [{"name": "region", "value": REGIONS[k % 4]}],
        }
    projects = [(_id(rng), orgs[k % 3]) for k in range(6)]
    for k, (project, org) in enumerate(projects):
        yield {"kind": "projects", "id": project, "organizationId": org, "name": f"project-{k}"}
    # updates and re-sends of entities: one accepted change, one duplicate, one rejected
    yield {"kind": "users", "id": users[1], "username": "user1", "name": "Renamed One"}
    yield {"kind": "organizations", "id": orgs[0], "name": "org-0", "createdAt": "2023-06-01T00:00:00Z"}
    if bad:
        yield {"kind": "memberships", "userId": users[2], "organizationId": orgs[2], "roles": ["wizard"]}
        yield {"kind": "users", "id": users[3], "username": "user4"}

    nodes = [f"node-{k}" for k in range(8)]
    recent_sessions: list[dict[str, Any]] = []
    recent: list[dict[str, Any]] = []
    emitted = 0
    total = max(0, events - 3 - 2 * n_users - 12 - n_workspaces - 6)
    while emitted < total:
        emitted += 1
        roll = rng.random()
        if recent and roll < 0.02:
            yield dict(recent[rng.randrange(len(recent))])  # re-sent as is: a duplicate
            continue
        if recent_sessions and roll < 0.03:
            again = dict(recent_sessions[rng.randrange(len(recent_sessions))])
            ended = datetime.fromisoformat(again["endedAt"]) + timedelta(minutes=rng.randrange(1, 240))
            again["endedAt"] = _ts(ended)
            yield again  # a later end: the session is extended
            continue
        if bad and roll < 0.034:
            yield _bad(rng, users, workspaces, orgs, recent_sessions)
            continue
        day = rng.randrange(DAYS)
        at = END - timedelta(days=DAYS - day) + timedelta(seconds=rng.randrange(86_400))
        ws, org, user = workspaces[rng.randrange(len(workspaces))]
        pick = rng.random()
        record: dict[str, Any]
        if pick < 0.45:
            record = {
                "kind": "activity",
                "id": _id(rng),
                "userId": users[user],
                "workspaceId": ws,
                "category": CATEGORIES[rng.randrange(4)],
                "app": APPS[rng.randrange(len(APPS))],
                "startedAt": _ts(at),
                "endedAt": _ts(at + timedelta(seconds=rng.randrange(30, 3 * 3600))),
            }
            recent_sessions.append(record)
            if len(recent_sessions) > 500:
                recent_sessions.pop(0)
        elif pick < 0.55:
            record = {
                "kind": "activity",
                "id": _id(rng),
                "userId": users[user],
                "organizationId": org,
                "category": "LOGIN",
                "startedAt": _ts(at),
            }
        elif pick < 0.75:
            record = {
                "kind": "latency",
                "workspaceId": ws,
                "userId": users[user],
                "at": _ts(at),
                "latencyMs": round(rng.uniform(5, 400), 2),
            }
        elif pick < 0.87:
            record = {
                "kind": "resources",
                "workspaceId": ws,
                "at": _ts(at),
                "node": nodes[rng.randrange(len(nodes))],
                "cpuUsedCores": round(rng.uniform(0, 4), 3),
                "cpuLimitCores": 4,
                "memoryUsedBytes": rng.randrange(1 << 30, 8 << 30),
                "memoryLimitBytes": 8 << 30,
            }
        elif pick < 0.92:
            record = {
                "kind": "nodes",
                "node": nodes[rng.randrange(len(nodes))],
                "at": _ts(at),
                "cpuUsedCores": round(rng.uniform(0, 64), 3),
                "cpuCapacityCores": 64,
                "memoryUsedBytes": rng.randrange(1 << 34, 1 << 37),
                "memoryCapacityBytes": 1 << 37,
            }
        else:
            project = [p for p, o in projects if o == org][rng.randrange(2)]
            usage = [
                {
                    "model": model,
                    "inputTokens": rng.randrange(1000, 200_000),
                    "outputTokens": rng.randrange(100, 20_000),
                    "cacheReadTokens": rng.randrange(0, 100_000),
                    **({"cost": f"{rng.uniform(0, 3):.4f}"} if model == "gpt-4o" else {}),
                }
                for model in rng.sample(MODELS, rng.randrange(1, 3))
            ]
            record = {
                "kind": "aiSessions",
                "id": _id(rng),
                "organizationId": org,
                "userId": users[user],
                "projectId": project,
                "repository": f"git@example.com:team/repo-{rng.randrange(5)}.git",
                "agent": "claude-code" if rng.random() < 0.7 else "cursor",
                "startedAt": _ts(at),
                "endedAt": _ts(at + timedelta(minutes=rng.randrange(1, 120))),
                "usage": usage,
            }
            if rng.random() < 0.05:
                later = dict(record)
                later["endedAt"] = _ts(at + timedelta(minutes=rng.randrange(120, 240)))
                later["usage"] = [{**line, "outputTokens": line["outputTokens"] + 500} for line in usage]
                recent.append(record)
                yield record
                record = later  # the cumulative snapshot, re-sent later: replaces the lines
        recent.append(record)
        if len(recent) > 500:
            recent.pop(0)
        yield record


def _bad(
    rng: random.Random,
    users: list[str],
    workspaces: list[tuple[str, str, int]],
    orgs: list[str],
    recent_sessions: list[dict[str, Any]],
) -> dict[str, Any]:
    ws, org, user = workspaces[rng.randrange(len(workspaces))]
    at = END - timedelta(days=rng.randrange(1, DAYS))
    which = rng.randrange(7)
    if which == 0:  # NOT_FOUND: unknown workspace
        return {
            "kind": "activity",
            "id": _id(rng),
            "userId": users[user],
            "workspaceId": _id(rng),
            "category": "IDE",
            "startedAt": _ts(at),
            "endedAt": _ts(at + timedelta(minutes=5)),
        }
    if which == 1:  # BAD_USER_INPUT: ends before it starts
        return {
            "kind": "activity",
            "id": _id(rng),
            "userId": users[user],
            "workspaceId": ws,
            "category": "APP",
            "app": "jupyter",
            "startedAt": _ts(at),
            "endedAt": _ts(at - timedelta(minutes=5)),
        }
    if which == 2 and recent_sessions:  # an earlier end than stored (or a changed app): rejected
        again = dict(recent_sessions[rng.randrange(len(recent_sessions))])
        again["app"] = "changed-app"
        return again
    if which == 3:  # negative latency
        return {"kind": "latency", "workspaceId": ws, "userId": users[user], "at": _ts(at), "latencyMs": -1}
    if which == 4:  # zero limit
        return {
            "kind": "resources",
            "workspaceId": ws,
            "at": _ts(at),
            "cpuUsedCores": 1,
            "cpuLimitCores": 0,
            "memoryUsedBytes": 1,
            "memoryLimitBytes": 1,
        }
    if which == 5:  # a model twice
        return {
            "kind": "aiSessions",
            "id": _id(rng),
            "organizationId": org,
            "userId": users[user],
            "agent": "cursor",
            "startedAt": _ts(at),
            "usage": [{"model": "gpt-4o"}, {"model": "gpt-4o"}],
        }
    return {  # NOT_FOUND: unknown user
        "kind": "activity",
        "id": _id(rng),
        "userId": _id(rng),
        "organizationId": orgs[0],
        "category": "LOGIN",
        "startedAt": _ts(at),
    }


def write(path: Path, events: int, seed: int = 1, *, bad: bool = True) -> int:
    """Writes the NDJSON file; returns its number of lines."""
    lines = 0
    with path.open("wb") as out:
        for record in records(events, seed, bad=bad):
            out.write(orjson.dumps(record))
            out.write(b"\n")
            lines += 1
    return lines
