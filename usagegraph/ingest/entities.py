"""Entities of a batch, written before the facts so that facts of the same batch can refer to them:
organizations, users and memberships (people.py), then templates, workspaces and projects (here).

A record describes the entity's current state: fields it omits keep their stored value (or a default for
a new entity), so a collector may re-send a partial record without erasing anything. Identity fields
(the organization of a template or project, the template and owner of a workspace) never change: a record
that contradicts them is rejected."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from usagegraph.db.queries import ingest as q
from usagegraph.ingest.outcome import (
    INSIGHTS_DISABLED,
    NOT_FOUND,
    Outcome,
    Rejected,
    Scope,
    bad,
    parse_uuid,
    required_text,
)
from usagegraph.ingest.table import Row, Table, anyone, columns, immutable, parsed_records


def _template_parameters(r: Any) -> tuple[tuple[Any, ...], ...] | None:
    if r.parameters is None:
        return None
    params = []
    names: set[str] = set()
    for p in r.parameters:
        name = required_text(p.name, "parameters.name")
        if name in names:
            raise bad(f"parameter {name!r} is listed twice")
        names.add(name)
        options = tuple((o.value, o.name if o.name is not None else o.value) for o in p.options or [])
        params.append(
            (name, p.display_name or name, required_text(p.type, "parameters.type"), p.default_value, options)
        )
    return tuple(params)


async def templates(conn: AsyncConnection, records: list[Any], scope: Scope, out: Outcome) -> None:
    kind = "templates"

    def parse(r: Any) -> tuple[uuid.UUID, uuid.UUID, str, Any]:
        return (
            parse_uuid(r.id, "id"),
            parse_uuid(r.organization_id, "organizationId"),
            required_text(r.name, "name"),
            _template_parameters(r),
        )

    parsed = parsed_records(kind, records, out, parse)
    ids = [p[0] for _, _, p in parsed]
    orgs = await q.existing_organizations(conn, (p[1] for _, _, p in parsed))
    params: dict[uuid.UUID, list[tuple[Any, ...]]] = {}
    for row in await q.template_parameters(conn, ids):
        options = tuple((o["value"], o.get("name", o["value"])) for o in row.options)
        params.setdefault(row.template_id, []).append(
            (row.name, row.display_name, row.type, row.default_value, options)
        )
    table = Table(
        kind,
        out,
        {
            row.id: {**row._asdict(), "parameters": tuple(params.get(row.id, ()))}
            for row in await q.templates(conn, ids)
        },
    )
    for index, record, (tpl_id, org_id, name, tpl_params) in parsed:

        def build(
            current: Row | None,
            tpl_id: uuid.UUID = tpl_id,
            org_id: uuid.UUID = org_id,
            name: str = name,
            tpl_params: Any = tpl_params,
            r: Any = record,
        ) -> Row:
            scope.require_named_org(org_id)
            if org_id not in orgs:
                raise Rejected(NOT_FOUND, f"unknown organization {org_id}")
            new = {
                "organization_id": org_id,
                "id": tpl_id,
                "name": name,
                "display_name": r.display_name or (current["display_name"] if current else name),
                "created_at": r.created_at or (current["created_at"] if current else scope.now),
                "parameters": tpl_params
                if tpl_params is not None
                else (current["parameters"] if current else ()),
            }
            immutable(current, new, "template", "organization_id")
            return new

        table.offer(index, tpl_id, build, anyone)
    changed = table.changed()
    await q.upsert_templates(
        conn, columns(changed, "organization_id", "id", "name", "display_name", "created_at")
    )
    replaced = table.changed_field("parameters")
    await q.replace_template_parameters(
        conn,
        [(row["organization_id"], row["id"]) for row in replaced],
        [
            {
                "organization_id": row["organization_id"],
                "template_id": row["id"],
                "name": p[0],
                "position": position,
                "display_name": p[1],
                "type": p[2],
                "default_value": p[3],
                "options": json.dumps([{"value": v, "name": n} for v, n in p[4]]),
            }
            for row in replaced
            for position, p in enumerate(row["parameters"])
        ],
    )


def _workspace_parameters(r: Any) -> frozenset[tuple[str, str]] | None:
    if r.parameters is None:
        return None
    values: dict[str, str] = {}
    for p in r.parameters:
        name = required_text(p.name, "parameters.name")
        if name in values:
            raise bad(f"parameter {name!r} is listed twice")
        values[name] = p.value
    return frozenset(values.items())


async def workspaces(conn: AsyncConnection, records: list[Any], scope: Scope, out: Outcome) -> None:
    """With template insights disabled, parameter values are neither stored nor changed, and each
    workspace that carried some is reported as kind ``workspaceParameters`` (docs/api.md 5.4)."""
    kind = "workspaces"

    def parse(r: Any) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, str, Any]:
        return (
            parse_uuid(r.id, "id"),
            parse_uuid(r.template_id, "templateId"),
            parse_uuid(r.owner_id, "ownerId"),
            required_text(r.name, "name"),
            None if scope.insights_disabled else _workspace_parameters(r),
        )

    parsed = parsed_records(kind, records, out, parse)
    ids = [p[0] for _, _, p in parsed]
    template_orgs = await q.template_orgs(conn, (p[1] for _, _, p in parsed))
    owners = await q.existing_users(conn, (p[2] for _, _, p in parsed))
    params: dict[uuid.UUID, set[tuple[str, str]]] = {}
    for row in await q.workspace_parameters(conn, ids):
        params.setdefault(row.workspace_id, set()).add((row.name, row.value))
    table = Table(
        kind,
        out,
        {
            row.id: {**row._asdict(), "parameters": frozenset(params.get(row.id, ()))}
            for row in await q.workspaces(conn, ids)
        },
    )
    for index, record, (ws_id, tpl_id, owner_id, name, ws_params) in parsed:

        def build(
            current: Row | None,
            ws_id: uuid.UUID = ws_id,
            tpl_id: uuid.UUID = tpl_id,
            owner_id: uuid.UUID = owner_id,
            name: str = name,
            ws_params: Any = ws_params,
            r: Any = record,
        ) -> Row:
            org_id = template_orgs.get(tpl_id)
            if org_id is None:
                raise Rejected(NOT_FOUND, f"unknown template {tpl_id}")
            scope.require_reached_org(org_id, f"template {tpl_id}")
            if owner_id not in owners:
                raise Rejected(NOT_FOUND, f"unknown user {owner_id}")
            new = {
                "organization_id": org_id,
                "id": ws_id,
                "template_id": tpl_id,
                "owner_id": owner_id,
                "name": name,
                "created_at": r.created_at or (current["created_at"] if current else scope.now),
                "deleted_at": r.deleted_at or (current["deleted_at"] if current else None),
                "parameters": ws_params
                if ws_params is not None
                else (current["parameters"] if current else frozenset()),
            }
            immutable(current, new, "workspace", "organization_id", "template_id", "owner_id")
            return new

        status = table.offer(index, ws_id, build, anyone)
        if scope.insights_disabled and record.parameters and status != "rejected":
            out.reject(
                "workspaceParameters",
                index,
                Rejected(
                    INSIGHTS_DISABLED, "template insights are disabled: workspace parameters are not stored"
                ),
            )
    changed = table.changed()
    await q.upsert_workspaces(
        conn,
        columns(
            changed, "organization_id", "id", "template_id", "owner_id", "name", "created_at", "deleted_at"
        ),
    )
    replaced = table.changed_field("parameters")
    await q.replace_workspace_parameters(
        conn,
        [(row["organization_id"], row["id"]) for row in replaced],
        [
            {"organization_id": row["organization_id"], "workspace_id": row["id"], "name": n, "value": v}
            for row in replaced
            for n, v in sorted(row["parameters"])
        ],
    )


async def projects(conn: AsyncConnection, records: list[Any], scope: Scope, out: Outcome) -> None:
    kind = "projects"

    def parse(r: Any) -> tuple[uuid.UUID, uuid.UUID, str]:
        return (
            parse_uuid(r.id, "id"),
            parse_uuid(r.organization_id, "organizationId"),
            required_text(r.name, "name"),
        )

    parsed = parsed_records(kind, records, out, parse)
    orgs = await q.existing_organizations(conn, (p[1] for _, _, p in parsed))
    table = Table(
        kind, out, {row.id: row._asdict() for row in await q.projects(conn, (p[0] for _, _, p in parsed))}
    )
    for index, _, (project_id, org_id, name) in parsed:

        def build(
            current: Row | None,
            project_id: uuid.UUID = project_id,
            org_id: uuid.UUID = org_id,
            name: str = name,
        ) -> Row:
            scope.require_named_org(org_id)
            if org_id not in orgs:
                raise Rejected(NOT_FOUND, f"unknown organization {org_id}")
            new = {"organization_id": org_id, "id": project_id, "name": name}
            immutable(current, new, "project", "organization_id")
            return new

        table.offer(index, project_id, build, anyone)
    await q.upsert_projects(conn, table.changed())
