"""Rows to GraphQL objects: the one place that knows both shapes."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy import Row

from usagegraph.schema.entities import (
    Organization,
    ParameterOption,
    Template,
    TemplateParameter,
    User,
    Workspace,
    WorkspaceParameter,
)


def organization(row: Row[Any]) -> Organization:
    return Organization(id=strawberry.ID(str(row.id)), name=row.name, created_at=row.created_at, uuid=row.id)


def user(row: Row[Any]) -> User:
    return User(
        id=strawberry.ID(str(row.id)),
        username=row.username,
        name=row.name,
        created_at=row.created_at,
        uuid=row.id,
        raw_email=row.email,
        site_roles=tuple(row.site_roles),
        org_ids=tuple(row.org_ids),
    )


def template(row: Row[Any]) -> Template:
    return Template(
        id=strawberry.ID(str(row.id)),
        name=row.name,
        display_name=row.display_name,
        created_at=row.created_at,
        uuid=row.id,
        organization_id=row.organization_id,
    )


def template_parameter(row: Row[Any]) -> TemplateParameter:
    return TemplateParameter(
        name=row.name,
        display_name=row.display_name,
        type=row.type,
        default_value=row.default_value,
        options=[ParameterOption(value=o["value"], name=o.get("name") or o["value"]) for o in row.options],
    )


def workspace(row: Row[Any]) -> Workspace:
    return Workspace(
        id=strawberry.ID(str(row.id)),
        name=row.name,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
        uuid=row.id,
        organization_id=row.organization_id,
        template_id=row.template_id,
        owner_id=row.owner_id,
    )


def workspace_parameter(row: Row[Any]) -> WorkspaceParameter:
    return WorkspaceParameter(name=row.name, value=row.value)
