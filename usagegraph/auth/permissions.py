"""Strawberry permission classes for docs/api.md section 3. Each runs once per guarded field and raises the
error the client should see: NOT_FOUND when the object is not visible at all, FORBIDDEN when it is."""

from __future__ import annotations

import uuid
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from usagegraph.auth import roles
from usagegraph.auth.principal import Principal
from usagegraph.db.queries import auth as auth_queries
from usagegraph.errors import BadUserInput, Forbidden, InsightsDisabled, NotFound


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


class CanReadControlPlane(BasePermission):
    """The deployment's own metrics (every organization's traffic): monitoring:read from a site-wide role."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if not principal_of(info).has(roles.MONITORING_READ):
            raise Forbidden("the control plane requires a site-wide role with monitoring:read")
        return True


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
    """view_insights (docs/api.md section 3): insights:read in the template's organization (or site-wide),
    or a per-template grant. Asking for a template without it is FORBIDDEN; a template or organization the
    caller cannot see at all is NOT_FOUND. With templateIds omitted the selection is every template of
    the organization the caller may view insights of (FORBIDDEN when there is none).

    The check runs once per field. The selection it computes is kept on the request context so that
    the resolver applies exactly what was authorized; grants are read at most once per request, and not
    at all when a role already allows everything."""

    _GRANTS = "insights.grants"
    _SCOPES = "insights.scopes"

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.context.settings.disable_template_insights:
            raise InsightsDisabled("template insights are disabled on this deployment")
        if "organization_id" in kwargs:
            await self.scope(info, kwargs["organization_id"], kwargs.get("template_ids"))
        else:
            await self.require_template(info, source.organization_id, source.uuid)
        return True

    @classmethod
    async def require_template(cls, info: Info, organization_id: uuid.UUID, template_id: uuid.UUID) -> None:
        principal = principal_of(info)
        if principal.has(roles.INSIGHTS_READ, organization_id):
            return
        grants = await cls.grants(info)
        if template_id in grants:
            return
        if not principal.sees_org(organization_id):
            raise NotFound("template not found")
        raise Forbidden("requires insights:read in this organization or an insights grant on this template")

    @classmethod
    async def scope(
        cls, info: Info, organization_arg: Any, template_ids_arg: Any
    ) -> tuple[uuid.UUID, list[Any]]:
        """The organization and the templates (loader objects) an insights query covers, authorized."""
        organization_id = as_uuid(organization_arg, "organizationId")
        requested: list[uuid.UUID] | None = None
        if template_ids_arg is not None:
            requested = list(dict.fromkeys(as_uuid(value, "templateIds") for value in template_ids_arg))
            if not requested:
                raise BadUserInput("templateIds must not be empty; omit it for every template", "templateIds")
        key = (organization_id, None if requested is None else tuple(requested))
        scopes: dict[Any, tuple[uuid.UUID, list[Any]]] = info.context.state.setdefault(cls._SCOPES, {})
        if key not in scopes:
            scopes[key] = (organization_id, await cls._authorize(info, organization_id, requested))
        return scopes[key]

    @classmethod
    async def _authorize(
        cls, info: Info, organization_id: uuid.UUID, requested: list[uuid.UUID] | None
    ) -> list[Any]:
        principal = principal_of(info)
        loaders = info.context.loaders
        read_all = principal.has(roles.INSIGHTS_READ, organization_id)
        granted: set[uuid.UUID] = set()
        if not read_all:
            granted = {t for t, org in (await cls.grants(info)).items() if org == organization_id}
        if not (principal.sees_org(organization_id) or granted):
            raise NotFound("organization not found")
        if requested is None:
            if read_all:
                return list(await loaders.org_templates.load(organization_id))
            if not granted:
                raise Forbidden(
                    "requires insights:read in this organization or an insights grant on one of its templates"
                )
            found = [t for t in await loaders.template.load_many(sorted(granted)) if t is not None]
            return sorted(found, key=lambda t: (t.name, t.uuid))
        templates = await loaders.template.load_many(requested)
        for template_id, template in zip(requested, templates, strict=True):
            if template is None or template.organization_id != organization_id:
                raise NotFound(f"template {template_id} not found in this organization")
        denied = [str(t) for t in requested if not read_all and t not in granted]
        if denied:
            raise Forbidden(
                f"requires insights:read in this organization or an insights grant on {', '.join(denied)}"
            )
        return list(templates)

    @classmethod
    async def grants(cls, info: Info) -> dict[uuid.UUID, uuid.UUID]:
        """template id -> organization id of the caller's grants, fetched once per request even when
        several guarded fields ask at the same time."""
        grants: dict[uuid.UUID, uuid.UUID] = await info.context.once(
            cls._GRANTS, lambda: cls._fetch_grants(info)
        )
        return grants

    @staticmethod
    async def _fetch_grants(info: Info) -> dict[uuid.UUID, uuid.UUID]:
        async with info.context.db.read() as conn:
            return await auth_queries.insights_grants(conn, principal_of(info).user_id)


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
