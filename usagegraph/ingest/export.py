"""`usagegraph export`: every record of a deployment (or of one organization) as the NDJSON that
`usagegraph import` reads (docs/ingest.md), streamed from server-side cursors in one read-only snapshot.

Entities come first (organizations, users, memberships, templates, workspaces, projects), then the facts
(activity, latency, resources, nodes, aiSessions), so that every record refers only to what an earlier line
carried. Fields hold what was stored: an AI usage line carries its cost when it had one (given, or priced
when it was ingested), so the same totals come back whatever the importing deployment's price table; a
line that had no price is exported without a cost, and stays unpriced unless the importer's table prices it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.schema.scalars import serialize_datetime

FETCH = 2_000  # rows per round trip of a server-side cursor

# Users an organization's records refer to: its members, its workspaces' owners, the users of its facts.
_ORG_USERS = """u.id IN (
    SELECT user_id FROM memberships WHERE organization_id = :org
    UNION SELECT owner_id FROM workspaces WHERE organization_id = :org
    UNION SELECT user_id FROM activity_sessions WHERE organization_id = :org
    UNION SELECT user_id FROM latency_samples WHERE organization_id = :org
    UNION SELECT user_id FROM ai_sessions WHERE organization_id = :org)"""


def _ts(value: datetime | None) -> str | None:
    return None if value is None else serialize_datetime(value)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def _organization(r: Any) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "createdAt": _ts(r.created_at)}


def _user(r: Any) -> dict[str, Any]:
    record = {
        "id": r.id,
        "username": r.username,
        "name": r.name,
        "email": r.email,
        "createdAt": _ts(r.created_at),
    }
    if r.site_roles is not None:
        record["siteRoles"] = list(r.site_roles)
    return record


def _membership(r: Any) -> dict[str, Any]:
    return {"userId": r.user_id, "organizationId": r.organization_id, "roles": list(r.roles)}


def _template(r: Any) -> dict[str, Any]:
    parameters = [
        {
            "name": p["name"],
            "displayName": p["display_name"],
            "type": p["type"],
            "defaultValue": p["default_value"],
            "options": p["options"],
        }
        for p in _json(r.parameters)
    ]
    record = {
        "id": r.id,
        "organizationId": r.organization_id,
        "name": r.name,
        "displayName": r.display_name,
        "createdAt": _ts(r.created_at),
    }
    if parameters:
        record["parameters"] = parameters
    return record


def _workspace(r: Any) -> dict[str, Any]:
    record = {
        "id": r.id,
        "templateId": r.template_id,
        "ownerId": r.owner_id,
        "name": r.name,
        "createdAt": _ts(r.created_at),
        "deletedAt": _ts(r.deleted_at),
    }
    parameters = _json(r.parameters)
    if parameters:
        record["parameters"] = parameters
    return record


def _project(r: Any) -> dict[str, Any]:
    return {"id": r.id, "organizationId": r.organization_id, "name": r.name}


def _activity(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "userId": r.user_id,
        "organizationId": r.organization_id,
        "workspaceId": r.workspace_id,
        "category": r.category,
        "app": r.app,
        "startedAt": _ts(r.started_at),
        "endedAt": _ts(r.ended_at),
    }


def _latency(r: Any) -> dict[str, Any]:
    return {"workspaceId": r.workspace_id, "userId": r.user_id, "at": _ts(r.at), "latencyMs": r.latency_ms}


def _resource(r: Any) -> dict[str, Any]:
    return {
        "workspaceId": r.workspace_id,
        "at": _ts(r.at),
        "cpuUsedCores": r.cpu_used_cores,
        "cpuLimitCores": r.cpu_limit_cores,
        "memoryUsedBytes": r.memory_used_bytes,
        "memoryLimitBytes": r.memory_limit_bytes,
        "node": r.node,
    }


def _node(r: Any) -> dict[str, Any]:
    return {
        "node": r.node,
        "at": _ts(r.at),
        "cpuUsedCores": r.cpu_used_cores,
        "cpuCapacityCores": r.cpu_capacity_cores,
        "memoryUsedBytes": r.memory_used_bytes,
        "memoryCapacityBytes": r.memory_capacity_bytes,
    }


def _ai_session(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "organizationId": r.organization_id,
        "userId": r.user_id,
        "agent": r.agent,
        "startedAt": _ts(r.started_at),
        "endedAt": _ts(r.ended_at),
        "projectId": r.project_id,
        "repository": r.repository,
        "usage": _json(r.usage),
    }


# (kind, table for the size estimate, SELECT with {org...} and {since:...} conditions, row -> record)
Query = tuple[str, str, str, Callable[[Any], dict[str, Any]]]

QUERIES: tuple[Query, ...] = (
    (
        "organizations",
        "organizations",
        "SELECT * FROM organizations WHERE {org_id} ORDER BY id",
        _organization,
    ),
    ("users", "users", "SELECT u.* FROM users u WHERE {org_users} ORDER BY u.id", _user),
    (
        "memberships",
        "memberships",
        "SELECT * FROM memberships WHERE {org} ORDER BY organization_id, user_id",
        _membership,
    ),
    (
        "templates",
        "templates",
        """SELECT t.*, (SELECT coalesce(jsonb_agg(jsonb_build_object('name', p.name, 'display_name',
               p.display_name, 'type', p.type, 'default_value', p.default_value, 'options', p.options)
               ORDER BY p.position), '[]') FROM template_parameters p
             WHERE p.organization_id = t.organization_id AND p.template_id = t.id) AS parameters
           FROM templates t WHERE {org} ORDER BY t.organization_id, t.id""",
        _template,
    ),
    (
        "workspaces",
        "workspaces",
        """SELECT w.*, (SELECT coalesce(jsonb_agg(jsonb_build_object('name', p.name, 'value', p.value)
               ORDER BY p.name), '[]') FROM workspace_parameters p
             WHERE p.organization_id = w.organization_id AND p.workspace_id = w.id) AS parameters
           FROM workspaces w WHERE {org} ORDER BY w.organization_id, w.id""",
        _workspace,
    ),
    ("projects", "projects", "SELECT * FROM projects WHERE {org} ORDER BY organization_id, id", _project),
    (
        "activity",
        "activity_sessions",
        "SELECT * FROM activity_sessions WHERE {org} AND {since:(started_at >= :since OR ended_at IS NULL OR ended_at >= :since)}",
        _activity,
    ),
    (
        "latency",
        "latency_samples",
        "SELECT * FROM latency_samples WHERE {org} AND {since:at >= :since}",
        _latency,
    ),
    (
        "resources",
        "resource_samples",
        "SELECT * FROM resource_samples WHERE {org} AND {since:at >= :since}",
        _resource,
    ),
    (
        "nodes",
        "node_samples",
        "SELECT * FROM node_samples WHERE {node_org} AND {since:at >= :since}",
        _node,
    ),
    (
        "aiSessions",
        "ai_sessions",
        """SELECT s.*, (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('model', u.model,
               'inputTokens', u.input_tokens, 'outputTokens', u.output_tokens,
               'cacheReadTokens', u.cache_read_tokens, 'cacheWriteTokens', u.cache_write_tokens,
               'cost', CASE WHEN u.priced THEN u.cost::text END)) ORDER BY u.model)
             FROM ai_session_usage u WHERE u.organization_id = s.organization_id AND u.session_id = s.id) AS usage
           FROM ai_sessions s WHERE {org} AND {since:(s.started_at >= :since OR s.ended_at IS NULL OR s.ended_at >= :since)}""",
        _ai_session,
    ),
)


def _statement(sql: str, organization: uuid.UUID | None, since: datetime | None) -> str:
    conditions = {
        "{org_id}": "id = :org" if organization else "true",
        "{org_users}": _ORG_USERS if organization else "true",
        "{org}": "organization_id = :org" if organization else "true",
        "{node_org}": (
            "node IN (SELECT DISTINCT node FROM resource_samples WHERE organization_id = :org)"
            if organization
            else "true"
        ),
    }
    for placeholder, condition in conditions.items():
        sql = sql.replace(placeholder, condition)
    while "{since:" in sql:
        head, rest = sql.split("{since:", 1)
        condition, tail = rest.split("}", 1)
        sql = head + (condition if since else "true") + tail
    return sql


async def estimate(conn: AsyncConnection) -> int:
    """Rows the export will write without filters, from the planner's statistics (for a progress bar)."""
    tables = [table for _, table, _, _ in QUERIES]
    result = await conn.execute(
        text("SELECT coalesce(sum(greatest(reltuples, 0)), 0) FROM pg_class WHERE relname = ANY(:tables)"),
        {"tables": tables},
    )
    return int(result.scalar_one())


async def records(
    conn: AsyncConnection, organization: uuid.UUID | None = None, since: datetime | None = None
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(kind, record) for every record, entities first. `conn` must be in a transaction (the cursors are
    server-side); a REPEATABLE READ one makes the export one consistent snapshot. With `organization`,
    the records of that organization, the users they refer to (without site-wide roles, which belong
    to the deployment) and the node samples of the nodes its workspaces ran on. With `since`, the
    activity and AI sessions that started, ended or were still running at or after it and the samples
    taken since; entities are always exported whole, so that the facts find what they refer to."""
    params: dict[str, Any] = {}
    if organization is not None:
        params["org"] = organization
    if since is not None:
        params["since"] = since
    for kind, _, sql, convert in QUERIES:
        result = await conn.stream(
            text(_statement(sql, organization, since)).execution_options(yield_per=FETCH), params
        )
        async for partition in result.partitions(FETCH):
            for row in partition:
                record = convert(row)
                if kind == "users" and organization is not None:
                    record.pop("siteRoles", None)
                yield kind, {key: value for key, value in record.items() if value is not None}


def line(kind: str, record: dict[str, Any]) -> bytes:
    """One NDJSON line in the format `usagegraph import` reads."""
    return orjson.dumps({"kind": kind, **record}, default=_default) + b"\n"


def _default(value: Any) -> Any:
    if (
        isinstance(value, (Decimal, uuid.UUID)) or type(value).__name__ == "UUID"
    ):  # asyncpg's own UUID type too
        return str(value)
    raise TypeError(f"cannot export {type(value).__name__}")
