"""Organizations, people, memberships, templates, workspaces and projects. They are drawn before any
fact, so the facts can only refer to what already exists."""

from __future__ import annotations

import random
from collections.abc import Iterator

from usagegraph.demo.catalog import (
    AGENTS,
    DAY,
    DEMO_ADMIN_USERNAME,
    DEMO_MEMBER_USERNAME,
    FIRST_NAMES,
    HOUR,
    LAST_NAMES,
    MINUTE,
    ORG_SPECS,
    PROJECT_SPECS,
    REGIONS,
    ROLE_WEIGHTS,
    TEMPLATE_SPECS,
    USER_COUNT,
    WORKSPACE_COUNT,
    WORKSPACE_NAMES,
    Record,
)
from usagegraph.demo.world import Org, Project, Template, User, Workspace, World, iso, new_id


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def build_world(rng: random.Random, now: int, days: int) -> World:
    start = now - days * DAY

    orgs: list[Org] = []
    for name, slug, _, region_weights in ORG_SPECS:
        created = now - days * DAY - int(rng.uniform(650, 1000) * DAY)
        orgs.append(Org(new_id(rng), name, slug, created, dict(region_weights)))
    for org, projects in zip(orgs, PROJECT_SPECS, strict=True):
        org.projects = [Project(new_id(rng), name, repos) for name, repos in projects]
    org_weights = [spec[2] for spec in ORG_SPECS]

    users: list[User] = []
    taken: set[str] = {DEMO_ADMIN_USERNAME, DEMO_MEMBER_USERNAME}
    latest_join = now - 2 * DAY
    for idx in range(USER_COUNT):
        primary = 0 if idx < 2 else rng.choices(range(len(orgs)), weights=org_weights)[0]
        org = orgs[primary]
        if idx == 0:
            username, name = DEMO_ADMIN_USERNAME, "Demo Admin"
        elif idx == 1:
            username, name = DEMO_MEMBER_USERNAME, "Demo Member"
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            name = f"{first} {last}"
            base = f"{first}-{last}".lower()
            username, n = base, 1
            while username in taken:
                n += 1
                username = f"{base}{n}"
            taken.add(username)
        if idx < 2 or rng.random() < 0.55:
            created = int(rng.uniform(org.created + DAY, min(start, latest_join)))
        else:
            created = int(start + (latest_join - start) * rng.random() ** 0.9)
        region = _pick(rng, org.region_weights)
        propensity = rng.choices((0.95, 0.8, 0.5, 0.15), weights=(0.3, 0.4, 0.2, 0.1))[0]
        propensity = min(0.97, propensity * rng.uniform(0.85, 1.1))
        uses_ai = idx == 1 or rng.random() < 0.6
        user = User(
            idx=idx,
            id=new_id(rng),
            username=username,
            name=name,
            created=created,
            region=region,
            utc_offset=REGIONS[region].utc_offset,
            propensity=0.8 if idx == 1 else propensity,
            ide=rng.choices(("vscode", "jetbrains", "code-server"), weights=(0.6, 0.25, 0.15))[0],
            ai_rate=rng.lognormvariate(0.0, 0.6) * 0.95 if uses_ai else 0.0,
            agent=rng.choices([a for a, _ in AGENTS], weights=[w for _, w in AGENTS])[0],
            appetite=2.0 if idx < 2 else rng.lognormvariate(0.0, 0.7),
            orgs=[primary],
        )
        users.append(user)
    users[0].site_roles = ["owner"]
    users[rng.randrange(2, USER_COUNT)].site_roles = ["auditor"]

    memberships: list[tuple[int, int, list[str]]] = []
    role_names = [role for role, _ in ROLE_WEIGHTS]
    role_weights = [weight for _, weight in ROLE_WEIGHTS]
    for user in users:
        if user.idx == 0:
            roles = ["owner"]
        elif user.idx == 1:
            roles = ["member"]
        else:
            roles = [rng.choices(role_names, weights=role_weights)[0]]
            if roles[0] not in ("member", "basic", "site-member") and rng.random() < 0.3:
                roles.append("member")
        memberships.append((user.idx, user.orgs[0], roles))
        if user.idx >= 2 and rng.random() < 0.12:
            second = rng.choice([i for i in range(len(orgs)) if i != user.orgs[0]])
            user.orgs.append(second)
            memberships.append((user.idx, second, [rng.choices(role_names, weights=role_weights)[0]]))
    used_roles = {role for _, _, roles in memberships for role in roles}
    for role in role_names:
        if role not in used_roles:
            rng.choice(memberships[2:])[2].append(role)
    for user_idx, org_idx, _ in memberships:
        orgs[org_idx].members.append(user_idx)

    templates: list[Template] = []
    for org_idx, tname, display, age_days, flavour, params in TEMPLATE_SPECS:
        age = age_days if age_days is not None else rng.uniform(60, 600)
        created = max(orgs[org_idx].created + DAY, now - int(age * DAY) - rng.randrange(12 * HOUR))
        templates.append(Template(new_id(rng), org_idx, tname, display, created, flavour, params))

    workspaces: list[Workspace] = []
    template_weights = [rng.uniform(0.6, 1.6) if spec[3] is None else 0.35 for spec in TEMPLATE_SPECS]
    names_taken: set[tuple[int, str]] = set()
    forced = [(templates[0], users[1]), (templates[0], users[0])]
    while len(workspaces) < WORKSPACE_COUNT:
        if forced:
            template, owner = forced.pop(0)
        else:
            template = rng.choices(templates, weights=template_weights)[0]
            members = orgs[template.org].members
            owner = users[rng.choices(members, weights=[users[m].appetite for m in members])[0]]
        lower = max(template.created, owner.created) + 10 * MINUTE
        upper = now - HOUR
        if lower >= upper:
            continue
        if owner.workspaces:
            created = int(lower + (upper - lower) * rng.random() ** 1.3)
        else:
            created = int(min(upper, lower + rng.expovariate(1.0 / (7 * DAY))))
        deleted: int | None = None
        if rng.random() < 0.13 and now - created > 2 * DAY and owner.idx >= 2:
            deleted = created + max(HOUR, int((now - created) * rng.uniform(0.2, 0.95)))
        workspaces.append(
            _make_workspace(rng, len(workspaces), template, owner, created, deleted, names_taken)
        )

    return World(now, start, orgs, users, memberships, templates, workspaces)


def _make_workspace(
    rng: random.Random,
    idx: int,
    template: Template,
    owner: User,
    created: int,
    deleted: int | None,
    names_taken: set[tuple[int, str]],
) -> Workspace:
    values: list[tuple[str, str]] = []
    for param in template.params:
        options = [value for value, _ in param.options]
        if param.name == "region" and owner.region in options and rng.random() < 0.7:
            value = owner.region
        else:
            value = rng.choices(options, weights=param.weights)[0]
        values.append((param.name, value))
    chosen = dict(values)
    region = chosen["region"]
    memory_gb = int(chosen["memory_gb"])
    cpu_cores = float(max(1, min(16, memory_gb // 4)))
    if chosen.get("gpu") == "true":
        cpu_cores = max(cpu_cores, 8.0)

    base = rng.choice(WORKSPACE_NAMES)
    name, n = base, 1
    while (owner.idx, name) in names_taken:
        n += 1
        name = f"{base}-{n}"
    names_taken.add((owner.idx, name))

    ide_value = chosen.get("ide")
    if template.flavour == "jetbrains":
        ide = "jetbrains"
    elif ide_value in ("vscode", "jetbrains", "code-server"):
        ide = ide_value
    else:
        ide = owner.ide
    kinds: list[tuple[str, str, float, float]]
    if template.flavour == "data":
        notebook = "rstudio" if chosen.get("image") == "rocker/rstudio" else "jupyter"
        kinds = [
            ("APP", notebook, 35.0, 0.50),
            ("IDE", ide, 30.0, 0.20),
            ("APP", "ml-dashboard", 15.0, 0.12),
            ("TUNNEL", "ssh", 20.0, 0.08),
            ("WEB_TERMINAL", "web-terminal", 8.0, 0.10),
        ]
    else:
        kinds = [
            ("IDE", ide, 30.0, 0.62),
            ("TUNNEL", "ssh", 15.0, 0.17),
            ("WEB_TERMINAL", "web-terminal", 8.0, 0.10),
            ("APP", "filebrowser", 10.0, 0.06),
            ("APP", "jupyter", 40.0, 0.05),
        ]
    cum: list[float] = []
    total = 0.0
    for *_, weight in kinds:
        total += weight
        cum.append(total)
    workspace = Workspace(
        idx=idx,
        id=new_id(rng),
        template=template,
        owner=owner,
        name=name,
        created=created,
        deleted=deleted,
        values=values,
        region=region,
        memory_gb=memory_gb,
        cpu_cores=cpu_cores,
        node=rng.choice(REGIONS[region].nodes),
        weight=3.0 if not owner.workspaces else rng.uniform(0.3, 1.2),
        session_kinds=[(category, app, median) for category, app, median, _ in kinds],
        session_cum_weights=cum,
    )
    owner.workspaces.append(workspace)
    return workspace


def entity_records(world: World) -> Iterator[tuple[str, Record]]:
    for org in world.orgs:
        yield "organizations", {"id": org.id, "name": org.name, "createdAt": iso(org.created)}
    for user in world.users:
        domain = world.orgs[user.orgs[0]].slug
        yield (
            "users",
            {
                "id": user.id,
                "username": user.username,
                "name": user.name,
                "email": f"{user.username}@{domain}.example.com",
                "createdAt": iso(user.created),
                "siteRoles": list(user.site_roles),
            },
        )
    for user_idx, org_idx, roles in world.memberships:
        yield (
            "memberships",
            {
                "userId": world.users[user_idx].id,
                "organizationId": world.orgs[org_idx].id,
                "roles": list(roles),
            },
        )
    for template in world.templates:
        yield (
            "templates",
            {
                "id": template.id,
                "organizationId": world.orgs[template.org].id,
                "name": template.name,
                "displayName": template.display,
                "createdAt": iso(template.created),
                "parameters": [param.record() for param in template.params],
            },
        )
    for ws in world.workspaces:
        yield (
            "workspaces",
            {
                "id": ws.id,
                "templateId": ws.template.id,
                "ownerId": ws.owner.id,
                "name": ws.name,
                "createdAt": iso(ws.created),
                "deletedAt": iso(ws.deleted) if ws.deleted is not None else None,
                "parameters": [{"name": name, "value": value} for name, value in ws.values],
            },
        )
    for org in world.orgs:
        for project in org.projects:
            yield "projects", {"id": project.id, "organizationId": org.id, "name": project.name}
