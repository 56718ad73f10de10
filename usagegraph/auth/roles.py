"""The role catalog: role names (with the aliases of the source systems) to permissions."""

from __future__ import annotations

from collections.abc import Iterable

ACTIVITY_READ = "activity:read"
WORKSPACE_METRICS_READ = "workspace_metrics:read"
INSIGHTS_READ = "insights:read"
SESSIONS_READ_TEAM = "sessions:read:team"
SESSIONS_READ_OWN = "sessions:read:own"
MONITORING_READ = "monitoring:read"
USERS_ADMIN = "users:admin"
INGEST_WRITE = "ingest:write"

ALL_PERMISSIONS = frozenset(
    {
        ACTIVITY_READ,
        WORKSPACE_METRICS_READ,
        INSIGHTS_READ,
        SESSIONS_READ_TEAM,
        SESSIONS_READ_OWN,
        MONITORING_READ,
        USERS_ADMIN,
        INGEST_WRITE,
    }
)

_AUDIT = frozenset(
    {ACTIVITY_READ, WORKSPACE_METRICS_READ, INSIGHTS_READ, SESSIONS_READ_TEAM, MONITORING_READ}
)

ROLES: dict[str, frozenset[str]] = {
    "owner": ALL_PERMISSIONS,
    "admin": _AUDIT | {USERS_ADMIN},
    "auditor": _AUDIT,
    "manager": frozenset({ACTIVITY_READ, SESSIONS_READ_TEAM, MONITORING_READ}),
    "controller": frozenset({WORKSPACE_METRICS_READ}),
    "curator": frozenset({WORKSPACE_METRICS_READ}),
    "template-admin": frozenset({INSIGHTS_READ}),
    "member": frozenset({SESSIONS_READ_OWN}),
    "collector": frozenset({INGEST_WRITE}),
}

ALIASES: dict[str, str] = {
    "superadmin": "owner",
    "site-manager": "manager",
    "basic": "member",
    "site-member": "member",
}


def canonical_role(name: str) -> str | None:
    """The catalog name of a role or alias (case-insensitive), or None when unknown."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return key if key in ROLES else None


def permissions_of(roles: Iterable[str]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        canonical = canonical_role(role)
        if canonical is not None:
            granted |= ROLES[canonical]
    return frozenset(granted)


def role_names() -> list[str]:
    return sorted([*ROLES, *ALIASES])
