"""Who is asking: the authenticated user with the permissions of their roles, per organization."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from usagegraph.auth.roles import permissions_of


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    username: str
    site_roles: tuple[str, ...]
    org_roles: dict[uuid.UUID, tuple[str, ...]]
    token_id: uuid.UUID | None = None
    site_permissions: frozenset[str] = field(init=False)
    org_permissions: dict[uuid.UUID, frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "site_permissions", permissions_of(self.site_roles))
        object.__setattr__(
            self, "org_permissions", {org: permissions_of(roles) for org, roles in self.org_roles.items()}
        )

    @property
    def site_wide(self) -> bool:
        """Site-wide roles see every organization."""
        return bool(self.site_roles)

    def sees_org(self, organization_id: uuid.UUID) -> bool:
        return self.site_wide or organization_id in self.org_roles

    def visible_orgs(self) -> list[uuid.UUID] | None:
        """Organization ids the caller may see, or None for all of them (SQL applies it)."""
        return None if self.site_wide else list(self.org_roles)

    def has(self, permission: str, organization_id: uuid.UUID | None = None) -> bool:
        if permission in self.site_permissions:
            return True
        if organization_id is None:
            return False
        return permission in self.org_permissions.get(organization_id, frozenset())

    def has_anywhere(self, permission: str) -> bool:
        return permission in self.site_permissions or any(
            permission in perms for perms in self.org_permissions.values()
        )
