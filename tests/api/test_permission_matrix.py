"""docs/api.md section 3 as a table: every role and alias of the catalog, held in an organization and held
site-wide, against every guarded field. The expected answer of each cell is computed from
`permissions_of`, so a change of the catalog changes the expectations and a guard that drifts from the
catalog fails here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.reliability_world import END, INGEST, START, World, build_world
from usagegraph.auth import roles as r
from usagegraph.auth.tokens import token_digest


@dataclass(frozen=True)
class Caller:
    role: str
    site: bool
    user: uuid.UUID
    token: str
    permissions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.role}-{'site' if self.site else 'org'}"

    @property
    def email(self) -> str:
        return f"{self}@corp.test"


Expect = str | None
"""None: allowed; otherwise the error code the caller must get."""


@dataclass(frozen=True)
class Check:
    field: str
    query: str
    variables: Callable[[World, Caller, dict[str, Any]], dict[str, Any]]
    expect: Callable[[Caller], Expect]
    path: tuple[str, ...]
    verify: Callable[[Any, Caller, World], str | None] | None = None


def _need(permission: str) -> Callable[[Caller], Expect]:
    return lambda c: None if permission in c.permissions else "FORBIDDEN"


def _need_site(permission: str) -> Callable[[Caller], Expect]:
    return lambda c: None if c.site and permission in c.permissions else "FORBIDDEN"


def _sessions(c: Caller) -> Expect:
    return None if {r.SESSIONS_READ_TEAM, r.SESSIONS_READ_OWN} & c.permissions else "FORBIDDEN"


def _scope(data: Any, c: Caller, w: World) -> str | None:
    want = "TEAM" if r.SESSIONS_READ_TEAM in c.permissions else "SELF"
    got = data["scope"], data["summary"]["totalSessions"]
    expected = (want, w.ai_sessions if want == "TEAM" else 0)
    return None if got == expected else f"scope/totalSessions {got} != {expected}"


def _session_list(data: Any, c: Caller, w: World) -> str | None:
    want = w.ai_sessions if r.SESSIONS_READ_TEAM in c.permissions else 0
    return None if data["totalCount"] == want else f"totalCount {data['totalCount']} != {want}"


def _activity(data: Any, c: Caller, w: World) -> str | None:
    users = [u["user"]["id"] for u in data["users"]]
    return None if str(w.holder) in users else f"holder missing from {users}"


def _accepted(data: Any, c: Caller, w: World) -> str | None:
    return None if data["accepted"] == 1 else f"ingest answered {data}"


def _email(data: Any, c: Caller, w: World) -> str | None:
    visible = r.USERS_ADMIN in c.permissions
    got = data["email"]
    if visible and got != f"{w.name}-holder@corp.test":
        return f"email hidden from an admin: {got!r}"
    if not visible and got is not None:
        return f"email leaked: {got!r}"
    return None


def _org(w: World, c: Caller, x: dict[str, Any]) -> dict[str, Any]:
    return {"org": str(w.org)}


def _ws(w: World, c: Caller, x: dict[str, Any]) -> dict[str, Any]:
    return {"ws": str(w.workspace)}


def _tpl(w: World, c: Caller, x: dict[str, Any]) -> dict[str, Any]:
    return {"t": str(w.template)}


def _holder(w: World, c: Caller, x: dict[str, Any]) -> dict[str, Any]:
    return {"u": str(w.holder)}


def _grant(w: World, c: Caller, x: dict[str, Any]) -> dict[str, Any]:
    return {"t": str(w.template), "u": str(w.holder)}


RANGE = f'start: "{START}", end: "{END}"'

CHECKS: list[Check] = [
    Check(
        "Query.activity (deployment-wide)",
        f'{{ activity({RANGE}, interval: "1 day") {{ users {{ user {{ id }} }} }} }}',
        lambda w, c, x: {},
        _need_site(r.ACTIVITY_READ),
        ("activity",),
        _activity,
    ),
    Check(
        "Query.activity(organizationId)",
        f'query($org: ID!) {{ activity({RANGE}, interval: "1 day", organizationId: $org) '
        "{ users { user { id } } } }",
        _org,
        _need(r.ACTIVITY_READ),
        ("activity",),
        _activity,
    ),
    Check(
        "Organization.usageMetrics",
        'query($org: ID!) { organization(id: $org) { usageMetrics(start: "2024-03-01", end: "2024-03-07") '
        "{ date dau } } }",
        _org,
        _need(r.WORKSPACE_METRICS_READ),
        ("organization", "usageMetrics"),
    ),
    Check(
        "Workspace.usageMetrics",
        'query($ws: ID!) { workspace(id: $ws) { usageMetrics(start: "2024-03-01", end: "2024-03-07") '
        "{ date dau } } }",
        _ws,
        _need(r.WORKSPACE_METRICS_READ),
        ("workspace", "usageMetrics"),
    ),
    Check(
        "Template.insights",
        f"query($t: ID!) {{ template(id: $t) {{ insights({RANGE}) {{ activeUsers }} }} }}",
        _tpl,
        _need(r.INSIGHTS_READ),
        ("template", "insights"),
    ),
    Check(
        "Query.templateInsights",
        f"query($org: ID!) {{ templateInsights(organizationId: $org, {RANGE}) {{ activeUsers }} }}",
        _org,
        _need(r.INSIGHTS_READ),
        ("templateInsights",),
    ),
    Check(
        "Organization.sessionAnalytics",
        "query($org: ID!) { organization(id: $org) { sessionAnalytics("
        f"filter: {{ {RANGE} }}) {{ scope summary {{ totalSessions }} }} }} }}",
        _org,
        _sessions,
        ("organization", "sessionAnalytics"),
        _scope,
    ),
    Check(
        "Organization.sessions",
        f"query($org: ID!) {{ organization(id: $org) {{ sessions(filter: {{ {RANGE} }}) {{ totalCount }} }} }}",
        _org,
        _sessions,
        ("organization", "sessions"),
        _session_list,
    ),
    Check(
        "Organization.compute",
        f'query($org: ID!) {{ organization(id: $org) {{ compute({RANGE}, interval: "1 day") '
        "{ workspaces { samples } } } }",
        _org,
        _need(r.MONITORING_READ),
        ("organization", "compute"),
    ),
    Check(
        "Workspace.utilization",
        f'query($ws: ID!) {{ workspace(id: $ws) {{ utilization({RANGE}, interval: "1 day") {{ cpu }} }} }}',
        _ws,
        _need(r.MONITORING_READ),
        ("workspace", "utilization"),
    ),
    Check(
        "Mutation.ingest",
        INGEST,
        lambda w, c, x: {
            "b": {"projects": [{"id": str(uuid.uuid4()), "organizationId": str(w.org), "name": f"p-{c}"}]}
        },
        _need(r.INGEST_WRITE),
        ("ingest",),
        _accepted,
    ),
    Check(
        "Mutation.createToken",
        'mutation($u: ID!) { createToken(userId: $u, name: "matrix") { id token } }',
        _holder,
        _need(r.USERS_ADMIN),
        ("createToken",),
    ),
    Check(
        "Mutation.revokeToken",
        "mutation($id: ID!) { revokeToken(id: $id) }",
        lambda w, c, x: {"id": x["holder_token_id"]},
        _need(r.USERS_ADMIN),
        ("revokeToken",),
    ),
    Check(
        "Mutation.setRoles(organizationId)",
        'mutation($u: ID!, $org: ID!) { setRoles(userId: $u, organizationId: $org, roles: ["basic"]) { id } }',
        lambda w, c, x: {"u": str(w.holder), "org": str(w.org)},
        _need(r.USERS_ADMIN),
        ("setRoles",),
    ),
    Check(
        "Mutation.setRoles (site-wide)",
        "mutation($u: ID!) { setRoles(userId: $u, roles: []) { id } }",
        _holder,
        _need_site(r.USERS_ADMIN),
        ("setRoles",),
    ),
    Check(
        "Mutation.grantTemplateInsights",
        "mutation($t: ID!, $u: ID!) { grantTemplateInsights(templateId: $t, userId: $u) }",
        _grant,
        _need(r.USERS_ADMIN),
        ("grantTemplateInsights",),
    ),
    Check(
        "Mutation.revokeTemplateInsights",
        "mutation($t: ID!, $u: ID!) { revokeTemplateInsights(templateId: $t, userId: $u) }",
        _grant,
        _need(r.USERS_ADMIN),
        ("revokeTemplateInsights",),
    ),
    Check(
        "User.email (another member)",
        "query($u: ID!) { user(id: $u) { email } }",
        _holder,
        lambda c: None,
        ("user",),
        _email,
    ),
    Check(
        "User.email (viewer)",
        "{ viewer { email } }",
        lambda w, c, x: {},
        lambda c: None,
        ("viewer",),
        lambda d, c, w: None if d["email"] == c.email else f"own email hidden: {d['email']!r}",
    ),
]


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def judge(check: Check, caller: Caller, world: World, body: dict[str, Any]) -> str | None:
    """A mismatch between the answer and the catalog, described; None when they agree."""
    expected = check.expect(caller)
    errors = body.get("errors") or []
    codes = [e.get("extensions", {}).get("code") for e in errors]
    value = _dig(body.get("data"), check.path)
    if expected is None:
        if errors or value is None:
            return f"expected data, got status {body['_status']} codes {codes} value {value!r}"
        return check.verify(value, caller, world) if check.verify else None
    if expected not in codes:
        return f"expected {expected}, got codes {codes} (status {body['_status']})"
    if value:
        return f"denied but data leaked: {value!r}"
    return None


async def token_id(engine: AsyncEngine, token: str) -> str:
    async with engine.connect() as conn:
        row = await conn.execute(
            text("SELECT id FROM api_tokens WHERE token_hash = :d"), {"d": token_digest(token)}
        )
        return str(row.scalar_one())


async def test_every_role_and_alias_against_every_guarded_field(
    factory: Factory, gql: GraphQL, engine: AsyncEngine
) -> None:
    root = await factory.token(await factory.user("root", site_roles=["owner"]))
    world = await build_world(factory, gql, root, "acme")
    names = r.role_names()
    assert set(names) == set(r.ROLES) | set(r.ALIASES)
    mismatches: list[str] = []
    cells = 0
    for role in names:
        for site in (False, True):
            username = f"{role}-{'site' if site else 'org'}"
            user = await factory.user(
                username,
                site_roles=[role] if site else None,
                orgs=None if site else {world.org: [role]},
                email=f"{username}@corp.test",
            )
            caller = Caller(role, site, user, await factory.token(user), r.permissions_of([role]))
            extra = {"holder_token_id": await token_id(engine, await factory.token(world.holder))}
            visible = await gql(
                "query($org: ID!) { organization(id: $org) { name } }",
                _org(world, caller, extra),
                token=caller.token,
            )
            if visible.get("data", {}).get("organization") != {"name": world.name}:
                mismatches.append(f"{caller}: cannot see its organization: {visible}")
            for check in CHECKS:
                cells += 1
                body = await gql(check.query, check.variables(world, caller, extra), token=caller.token)
                problem = judge(check, caller, world, body)
                if problem:
                    mismatches.append(f"{caller} {check.field}: {problem}")
    assert cells == len(names) * 2 * len(CHECKS)
    assert not mismatches, "\n".join(mismatches)


def test_the_matrix_is_not_trivial() -> None:
    """Every check is allowed for some role and denied for another (or compares data for all), so no
    column of the table passes by answering the same thing to everybody."""
    for check in CHECKS:
        outcomes = {
            check.expect(Caller(role, site, uuid.uuid4(), "", r.permissions_of([role])))
            for role in r.role_names()
            for site in (False, True)
        }
        assert len(outcomes) == 2 or check.verify is not None, check.field


def test_catalog_matches_api_md_section_3() -> None:
    """The derivation above is only as good as the catalog: pin it to the contract's table."""
    assert r.permissions_of(["superadmin"]) == r.ALL_PERMISSIONS
    assert r.permissions_of(["site-manager"]) == {r.ACTIVITY_READ, r.SESSIONS_READ_TEAM, r.MONITORING_READ}
    assert r.permissions_of(["basic"]) == r.permissions_of(["site-member"]) == {r.SESSIONS_READ_OWN}
    assert r.permissions_of(["collector"]) == {r.INGEST_WRITE}
    assert r.permissions_of(["admin"]) - r.permissions_of(["auditor"]) == {r.USERS_ADMIN}
    assert r.permissions_of(["Owner "]) == r.ALL_PERMISSIONS
    assert r.permissions_of(["nonsense"]) == frozenset()
