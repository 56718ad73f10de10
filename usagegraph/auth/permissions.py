"""Strawberry permission classes for API.md section 3. Each runs once per guarded field and raises the
error the client should see: NOT_FOUND when the object is not visible at all, FORBIDDEN when it is."""

from __future__ import annotations

import uuid
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from usagegraph.auth import roles
from usagegraph.auth.principal import Principal
from usagegraph.errors import BadUserInput, Forbidden, NotFound


def principal_of(info: Info) -> Principal:
    return info.context.principal  # type: ignore[no-any-return]


def organization_of(source: Any) -> uuid.UUID:
    """The organization a parent object belongs to (an Organization is its own)."""
    org = getattr(source, "organization_id", None)
    return org if org is not None else source.id  # type: ignore[no-any-return]


def as_uuid(value: Any, argument: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BadUserInput(f"{argument} must be a UUID", argument=argument) from None


def require_org_permission(principal: Principal, permission: str, organization_id: uuid.UUID) -> None:
    if not principal.sees_org(organization_id):
        raise NotFound("organization not found")
    if not principal.has(permission, organization_id):
        raise Forbidden(f"requires {permission} in this organization")


class Authenticated(BasePermission):
    """The caller is authenticated (the HTTP layer refuses anonymous requests); results are scoped to the
    organizations the caller can see by the query itself."""

    message = "authentication required"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal is not None


class OrgMember(BasePermission):
    """Entity data of the parent's organization: any member (any role) or a site-wide role."""

    message = "not found"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if not principal_of(info).sees_org(organization_of(source)):
            raise NotFound("not found")
        return True


class _OrgPermission(BasePermission):
    permission: str

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        require_org_permission(principal_of(info), self.permission, organization_of(source))
        return True


class CanReadWorkspaceMetrics(_OrgPermission):
    permission = roles.WORKSPACE_METRICS_READ


class CanReadMonitoring(_OrgPermission):
    permission = roles.MONITORING_READ


class CanReadSessions(BasePermission):
    """Team or own sessions; the resolver turns which one into a SQL predicate."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = principal_of(info)
        org = organization_of(source)
        if not principal.sees_org(org):
            raise NotFound("organization not found")
        if not (principal.has(roles.SESSIONS_READ_TEAM, org) or principal.has(roles.SESSIONS_READ_OWN, org)):
            raise Forbidden("requires sessions:read:team or sessions:read:own in this organization")
        return True


class CanReadActivity(BasePermission):
    """activity:read site-wide without organizationId, in that organization with it."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = principal_of(info)
        org_arg = kwargs.get("organization_id")
        if org_arg is None:
            if not principal.has(roles.ACTIVITY_READ):
                raise Forbidden("deployment-wide activity requires a site-wide role with activity:read")
            return True
        require_org_permission(principal, roles.ACTIVITY_READ, as_uuid(org_arg, "organizationId"))
        return True


class CanViewInsights(BasePermission):
    """view_insights: insights:read in the organization, or per-template grants. The exact set of
    templates is checked by the resolver (it needs the templates' organizations); this class refuses
    callers who can view insights nowhere."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return True


class CanIngest(BasePermission):
    """ingest:write somewhere; the ingest path checks every organization the batch touches."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if not principal_of(info).has_anywhere(roles.INGEST_WRITE):
            raise Forbidden("requires ingest:write")
        return True


class CanAdminUsers(BasePermission):
    """users:admin somewhere; the resolver checks the organizations the change touches."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if not principal_of(info).has_anywhere(roles.USERS_ADMIN):
            raise Forbidden("requires users:admin")
        return True
