"""Activity sessions and samples. Activity sessions have ids (re-sent events are duplicates, a later
endedAt extends the session and its rollup); samples are identified by their natural key (latency:
workspace, user and instant; resources: workspace and instant; nodes: node and instant), and a re-sent
sample is a duplicate even when its values differ."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import ingest_facts as q
from usagegraph.db.queries.rollup import merge_rows, stored_sessions
from usagegraph.ingest.outcome import (
    FORBIDDEN,
    INSIGHTS_DISABLED,
    NOT_FOUND,
    Outcome,
    Rejected,
    Scope,
    bad,
    measure,
    optional_uuid,
    parse_uuid,
    required_text,
)
from usagegraph.ingest.references import References
from usagegraph.schema import bounds

_IMMUTABLE = ("organization", "user", "workspace", "category", "app", "startedAt")


# A year is far above any real session and is written in about a second (bounds.MAX_SESSION).
MAX_SESSION = bounds.MAX_SESSION


def _parse_activity(r: Any) -> tuple[Any, ...]:
    session_id = parse_uuid(r.id, "id")
    user_id = parse_uuid(r.user_id, "userId")
    category = r.category.value
    workspace_id = optional_uuid(r.workspace_id, "workspaceId")
    org_id = optional_uuid(r.organization_id, "organizationId")
    started: datetime = r.started_at
    ended: datetime | None = r.ended_at
    if category == "ANY":
        raise bad("category ANY is a filter, not the category of an event")
    if category == "LOGIN":
        if workspace_id is None and org_id is None:
            raise bad("a LOGIN needs organizationId or workspaceId")
        ended = None
    else:
        if workspace_id is None:
            raise bad(f"workspaceId is required for category {category}")
        if ended is None:
            raise bad(f"endedAt is required for category {category}")
        if ended < started:
            raise bad("endedAt must be >= startedAt")
        if ended - started > MAX_SESSION:
            raise bad(f"a session lasts at most {MAX_SESSION.days} days: endedAt is too far after startedAt")
    app = (r.app.strip() or None) if r.app is not None else None
    return session_id, user_id, workspace_id, org_id, category, app, started, ended


async def activity(
    conn: AsyncConnection, records: list[Any], scope: Scope, out: Outcome, refs: References
) -> None:
    """A LOGIN is an instant: its endedAt is ignored. Rows are (org, id, user, workspace, template,
    category, app, startedAt, endedAt). The rollup is maintained by the shared rollup merge for
    exactly the rows inserted or extended, so every structure it keeps sees ingested data: inserted rows
    are passed as written; extended ones are re-read, as their template is not known here."""
    kind = "activity"
    parsed: list[tuple[int, tuple[Any, ...]]] = []
    for index, record in enumerate(records):
        try:
            parsed.append((index, _parse_activity(record)))
        except Rejected as error:
            out.reject(kind, index, error)
    users = await refs.users({p[1] for _, p in parsed})
    workspaces = await refs.workspaces({p[2] for _, p in parsed if p[2] is not None})
    orgs = await refs.organizations({p[3] for _, p in parsed if p[2] is None})
    state: dict[uuid.UUID, list[Any]] = {
        row.id: [
            row.organization_id,
            row.id,
            row.user_id,
            row.workspace_id,
            None,
            row.category,
            row.app,
            row.started_at,
            row.ended_at,
        ]
        for row in await q.activity_sessions(conn, (p[0] for _, p in parsed))
    }
    stored_ends = {key: row[8] for key, row in state.items()}
    new: dict[uuid.UUID, None] = {}
    extended: dict[uuid.UUID, None] = {}
    accepted = duplicates = 0
    for index, (session_id, user_id, workspace_id, org_id, category, app, started, ended) in parsed:
        try:
            template_id = None
            if workspace_id is not None:
                ws = workspaces[workspace_id]
                if ws is None:
                    raise Rejected(NOT_FOUND, f"unknown workspace {workspace_id}")
                scope.require_reached_org(ws.organization_id, f"workspace {workspace_id}")
                if org_id is not None and org_id != ws.organization_id:
                    raise bad("organizationId is not the organization of the workspace")
                org_id, template_id = ws.organization_id, ws.template_id
            else:
                scope.require_named_org(org_id)
                if not orgs[org_id]:
                    raise Rejected(NOT_FOUND, f"unknown organization {org_id}")
            if not users[user_id]:
                raise Rejected(NOT_FOUND, f"unknown user {user_id}")
            current = state.get(session_id)
            if current is None:
                state[session_id] = [
                    org_id,
                    session_id,
                    user_id,
                    workspace_id,
                    template_id,
                    category,
                    app,
                    started,
                    ended,
                ]
                new[session_id] = None
                accepted += 1
                continue
            mine = (org_id, user_id, workspace_id, category, app, started)
            theirs = (current[0], current[2], current[3], current[5], current[6], current[7])
            if mine != theirs:
                fields = [name for name, a, b in zip(_IMMUTABLE, mine, theirs, strict=True) if a != b]
                raise bad(
                    f"activity event {session_id} was already ingested with another {', '.join(fields)}"
                )
            if ended == current[8]:
                duplicates += 1
                continue
            if ended is None or current[8] is None or ended < current[8]:
                raise bad(
                    f"activity event {session_id} was already ingested with a later endedAt; "
                    "a session can only be extended"
                )
            current[8] = ended
            if session_id not in new:
                extended[session_id] = None
            accepted += 1
        except Rejected as error:
            out.reject(kind, index, error)
    written, inserted = await q.write_activity(
        conn,
        [tuple(state[key]) for key in new],
        [(state[key][0], key, state[key][8]) for key in extended if state[key][8] != stored_ends[key]],
    )
    extended_rows = await stored_sessions(conn, [key for key in written if key[1] not in new])
    await merge_rows(conn, [tuple(state[key[1]]) for key in written if key[1] in new], extended_rows)
    lost = len(new) - inserted
    out.accepted[kind] += accepted - lost
    out.duplicates[kind] += duplicates + lost


async def _samples(
    kind: str,
    records: list[Any],
    out: Outcome,
    parse: Callable[[Any], tuple[Any, ...]],
    resolve: Callable[[tuple[Any, ...]], tuple[tuple[Any, ...], tuple[Any, ...]]],
) -> list[tuple[Any, ...]]:
    """Validated rows, first copy of each natural key only; later copies count as duplicates here, rows
    already stored count when the insert skips them."""
    rows: list[tuple[Any, ...]] = []
    seen: set[tuple[Any, ...]] = set()
    for index, record in enumerate(records):
        try:
            key, row = resolve(parse(record))
        except Rejected as error:
            out.reject(kind, index, error)
            continue
        if key in seen:
            out.duplicates[kind] += 1
            continue
        seen.add(key)
        rows.append(row)
    return rows


def _count(kind: str, out: Outcome, offered: int, inserted: int) -> None:
    out.accepted[kind] += inserted
    out.duplicates[kind] += offered - inserted


async def latency(
    conn: AsyncConnection, records: list[Any], scope: Scope, out: Outcome, refs: References
) -> None:
    kind = "latency"
    if scope.insights_disabled:
        for index in range(len(records)):
            out.reject(
                kind,
                index,
                Rejected(INSIGHTS_DISABLED, "template insights are disabled: latency samples are not stored"),
            )
        return

    def parse(r: Any) -> tuple[Any, ...]:
        return (
            parse_uuid(r.workspace_id, "workspaceId"),
            parse_uuid(r.user_id, "userId"),
            r.at,
            measure(r.latency_ms, "latencyMs", 0, bounds.MAX_LATENCY_MS),
        )

    workspaces = await refs.workspaces(_ids(records, "workspace_id"))
    users = await refs.users(_ids(records, "user_id"))

    def resolve(p: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        ws_id, user_id, at, value = p
        ws = _workspace(workspaces, ws_id, scope)
        if not users.get(user_id):
            raise Rejected(NOT_FOUND, f"unknown user {user_id}")
        return (ws_id, user_id, at), (ws.organization_id, ws_id, user_id, at, ws.template_id, value)

    rows = await _samples(kind, records, out, parse, resolve)
    _count(kind, out, len(rows), await q.insert_latency(conn, rows))


async def resources(
    conn: AsyncConnection, records: list[Any], scope: Scope, out: Outcome, refs: References
) -> None:
    kind = "resources"

    def parse(r: Any) -> tuple[Any, ...]:
        node = (r.node.strip() or None) if r.node is not None else None
        return (
            parse_uuid(r.workspace_id, "workspaceId"),
            r.at,
            node,
            measure(r.cpu_used_cores, "cpuUsedCores", 0, bounds.MAX_CORES),
            measure(r.cpu_limit_cores, "cpuLimitCores", bounds.MIN_CORES_LIMIT, bounds.MAX_CORES),
            measure(r.memory_used_bytes, "memoryUsedBytes", 0, bounds.MAX_BYTES),
            measure(r.memory_limit_bytes, "memoryLimitBytes", bounds.MIN_BYTES_LIMIT, bounds.MAX_BYTES),
        )

    workspaces = await refs.workspaces(_ids(records, "workspace_id"))

    def resolve(p: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        ws = _workspace(workspaces, p[0], scope)
        return (p[0], p[1]), (ws.organization_id, *p)

    rows = await _samples(kind, records, out, parse, resolve)
    _count(kind, out, len(rows), await q.insert_resources(conn, rows))


async def nodes(
    conn: AsyncConnection, records: list[Any], scope: Scope, out: Outcome, refs: References
) -> None:
    """Nodes are shared by every organization of the deployment, so only site-wide collectors write them."""
    kind = "nodes"

    def parse(r: Any) -> tuple[Any, ...]:
        if not scope.site_wide:
            raise Rejected(FORBIDDEN, "node samples require site-wide ingest:write")
        return (
            required_text(r.node, "node"),
            r.at,
            measure(r.cpu_used_cores, "cpuUsedCores", 0, bounds.MAX_CORES),
            measure(r.cpu_capacity_cores, "cpuCapacityCores", bounds.MIN_CORES_LIMIT, bounds.MAX_CORES),
            measure(r.memory_used_bytes, "memoryUsedBytes", 0, bounds.MAX_BYTES),
            measure(r.memory_capacity_bytes, "memoryCapacityBytes", bounds.MIN_BYTES_LIMIT, bounds.MAX_BYTES),
        )

    rows = await _samples(kind, records, out, parse, lambda p: ((p[0], p[1]), p))
    _count(kind, out, len(rows), await q.insert_nodes(conn, rows))


def _ids(records: list[Any], attr: str) -> set[uuid.UUID]:
    ids = set()
    for record in records:
        try:
            ids.add(uuid.UUID(str(getattr(record, attr))))
        except ValueError:
            continue
    return ids


def _workspace(workspaces: dict[uuid.UUID, Any], ws_id: uuid.UUID, scope: Scope) -> Any:
    ws = workspaces.get(ws_id)
    if ws is None:
        raise Rejected(NOT_FOUND, f"unknown workspace {ws_id}")
    scope.require_reached_org(ws.organization_id, f"workspace {ws_id}")
    return ws
