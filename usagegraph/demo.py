"""Deterministic demo data: a believable deployment (organizations, people, templates, workspaces,
projects) and months of usage, shaped as `IngestBatch` inputs (API.md 4) so that it travels through the
ordinary ingest path and meets the same validation as the data of real clients.

Everything is drawn from one `random.Random(seed)`, ids included, so a seed and a fixed `now` give the
same bytes on every run and every machine; the split into batches does not change the records."""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Record = dict[str, Any]
Batch = dict[str, list[Record]]

DEMO_ADMIN_USERNAME = "admin"
DEMO_MEMBER_USERNAME = "member"

ENTITY_KINDS = ("organizations", "users", "memberships", "templates", "workspaces", "projects")
FACT_KINDS = ("activity", "latency", "resources", "nodes", "aiSessions")

USER_COUNT = 300
TEMPLATE_COUNT = 12
WORKSPACE_COUNT = 600
RESOURCE_DAYS = 14

_MINUTE = 60
_HOUR = 3_600
_DAY = 86_400
_GIB = 1 << 30


@dataclass(frozen=True, slots=True)
class _Region:
    label: str
    latency_ms: float
    utc_offset: int
    """UTC offset, in seconds, of the people who mostly work close to this region."""
    weight: float
    nodes: tuple[str, ...]


_REGIONS: dict[str, _Region] = {
    "us-east": _Region("US East (Virginia)", 40.0, -5 * _HOUR, 0.45, ("us-east-node-1", "us-east-node-2")),
    "us-west": _Region("US West (Oregon)", 75.0, -8 * _HOUR, 0.15, ("us-west-node-1",)),
    "eu-west": _Region("EU West (Ireland)", 120.0, 0, 0.30, ("eu-west-node-1", "eu-west-node-2")),
    "ap-south": _Region("Asia Pacific (Mumbai)", 260.0, 5 * _HOUR + 30 * _MINUTE, 0.10, ("ap-south-node-1",)),
}
_ALL_REGIONS = tuple(_REGIONS)
_NODES = tuple(node for region in _REGIONS.values() for node in region.nodes)


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    display: str
    type: str
    default: str
    options: tuple[tuple[str, str], ...]
    weights: tuple[float, ...]
    """Popularity of each option: real parameter choices are skewed towards the defaults."""

    def record(self) -> Record:
        return {
            "name": self.name,
            "displayName": self.display,
            "type": self.type,
            "defaultValue": self.default,
            "options": [{"value": value, "name": name} for value, name in self.options],
        }


def _region_param(regions: Sequence[str]) -> _Param:
    return _Param(
        "region",
        "Region",
        "string",
        regions[0],
        tuple((r, _REGIONS[r].label) for r in regions),
        tuple(_REGIONS[r].weight for r in regions),
    )


def _memory_param(sizes: Sequence[int], weights: Sequence[float], default: int) -> _Param:
    return _Param(
        "memory_gb",
        "Memory (GiB)",
        "number",
        str(default),
        tuple((str(size), f"{size} GiB") for size in sizes),
        tuple(weights),
    )


def _string_param(
    name: str, display: str, options: Sequence[tuple[str, str, float]], default: str | None = None
) -> _Param:
    return _Param(
        name,
        display,
        "string",
        default if default is not None else options[0][0],
        tuple((value, label) for value, label, _ in options),
        tuple(weight for _, _, weight in options),
    )


_MEMORY = _memory_param((4, 8, 16, 32), (0.15, 0.45, 0.30, 0.10), 8)
_MEMORY_LARGE = _memory_param((8, 16, 32, 64), (0.10, 0.35, 0.40, 0.15), 16)
_IDE = _string_param(
    "ide",
    "IDE",
    (
        ("vscode", "VS Code", 0.55),
        ("jetbrains", "JetBrains Gateway", 0.30),
        ("code-server", "code-server", 0.15),
    ),
)
_JETBRAINS_IDE = _string_param(
    "ide",
    "JetBrains IDE",
    (("intellij", "IntelliJ IDEA", 0.5), ("pycharm", "PyCharm", 0.3), ("goland", "GoLand", 0.2)),
)
_PYTHON_IMAGE = _string_param(
    "image",
    "Container image",
    (
        ("python:3.11", "Python 3.11", 0.25),
        ("python:3.12", "Python 3.12", 0.55),
        ("python:3.13", "Python 3.13", 0.20),
    ),
    "python:3.12",
)
_DATA_IMAGE = _string_param(
    "image",
    "Container image",
    (
        ("jupyter/scipy-notebook", "Jupyter SciPy", 0.50),
        ("rocker/rstudio", "RStudio", 0.20),
        ("pytorch/pytorch", "PyTorch", 0.30),
    ),
)
_NODE_IMAGE = _string_param(
    "image", "Container image", (("node:20", "Node.js 20", 0.35), ("node:22", "Node.js 22", 0.65))
)
_JAVA_IMAGE = _string_param(
    "image",
    "Container image",
    (("eclipse-temurin:17", "Java 17", 0.4), ("eclipse-temurin:21", "Java 21", 0.6)),
    "eclipse-temurin:21",
)
_GO_IMAGE = _string_param(
    "image", "Container image", (("golang:1.23", "Go 1.23", 0.3), ("golang:1.24", "Go 1.24", 0.7))
)
_GPU = _Param("gpu", "GPU", "bool", "false", (("false", "No GPU"), ("true", "NVIDIA L4")), (0.6, 0.4))

_TEMPLATE_SPECS: tuple[tuple[int, str, str, float | None, str, tuple[_Param, ...]], ...] = (
    (0, "kubernetes-dev", "Kubernetes Dev", None, "general", (_region_param(_ALL_REGIONS), _MEMORY, _IDE)),
    (
        0,
        "docker-python",
        "Python on Docker",
        None,
        "general",
        (_region_param(("us-east", "us-west", "eu-west")), _MEMORY, _PYTHON_IMAGE),
    ),
    (0, "aws-linux", "AWS Linux VM", None, "general", (_region_param(_ALL_REGIONS), _MEMORY, _IDE)),
    (
        0,
        "data-science",
        "Data Science",
        None,
        "data",
        (_region_param(("us-east", "eu-west", "ap-south")), _MEMORY_LARGE, _DATA_IMAGE, _GPU),
    ),
    (
        0,
        "jetbrains-gateway",
        "JetBrains Gateway",
        23.5,
        "jetbrains",
        (_region_param(_ALL_REGIONS), _MEMORY, _JETBRAINS_IDE),
    ),
    (
        0,
        "go-services",
        "Go Services",
        8.5,
        "general",
        (_region_param(("us-east", "us-west")), _MEMORY, _GO_IMAGE),
    ),
    (
        1,
        "globex-workstation",
        "Globex Workstation",
        None,
        "general",
        (_region_param(("eu-west", "us-east", "ap-south")), _MEMORY, _IDE),
    ),
    (
        1,
        "node-frontend",
        "Node.js Frontend",
        None,
        "general",
        (_region_param(("eu-west", "us-east")), _MEMORY, _NODE_IMAGE),
    ),
    (
        1,
        "java-backend",
        "Java Backend",
        None,
        "general",
        (_region_param(("eu-west", "us-east", "ap-south")), _MEMORY_LARGE, _JAVA_IMAGE),
    ),
    (
        1,
        "gpu-notebooks",
        "GPU Notebooks",
        30.5,
        "data",
        (_region_param(("eu-west", "us-east")), _MEMORY_LARGE, _DATA_IMAGE, _GPU),
    ),
    (
        2,
        "initech-dev",
        "Initech Dev Box",
        None,
        "general",
        (_region_param(("ap-south", "us-west", "eu-west")), _MEMORY, _IDE),
    ),
    (
        2,
        "tps-sandbox",
        "TPS Reports Sandbox",
        15.5,
        "general",
        (_region_param(("ap-south", "us-west")), _MEMORY, _PYTHON_IMAGE),
    ),
)

_ORG_SPECS: tuple[tuple[str, str, float, dict[str, float]], ...] = (
    ("Acme Corp", "acme", 0.50, {"us-east": 5, "us-west": 3, "eu-west": 2}),
    ("Globex", "globex", 0.32, {"eu-west": 6, "us-east": 2, "ap-south": 2}),
    ("Initech", "initech", 0.18, {"ap-south": 5, "us-west": 3, "eu-west": 2}),
)

_PROJECT_SPECS: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...] = (
    (
        ("Payments", ("acme/payments-api", "acme/payments-web")),
        ("Mobile", ("acme/mobile-app",)),
        ("Platform", ("acme/api", "acme/infra")),
        ("Data", ("acme/warehouse",)),
    ),
    (
        ("Storefront", ("globex/storefront", "globex/checkout")),
        ("Analytics", ("globex/analytics-pipeline",)),
        ("Core services", ("globex/core-services", "globex/api")),
    ),
    (
        ("TPS", ("initech/tps-reports",)),
        ("Billing", ("initech/billing",)),
        ("Intranet", ("initech/intranet", "initech/api")),
    ),
)

# Membership roles: mostly plain members, every catalog role and the aliases of the source systems.
_ROLE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("member", 60.0),
    ("basic", 4.0),
    ("site-member", 3.0),
    ("admin", 3.0),
    ("auditor", 3.0),
    ("manager", 5.0),
    ("site-manager", 1.5),
    ("controller", 2.0),
    ("curator", 2.0),
    ("template-admin", 4.0),
    ("collector", 1.0),
    ("owner", 1.5),
    ("superadmin", 1.0),
)
ROLE_NAMES = tuple(role for role, _ in _ROLE_WEIGHTS)

_FIRST_NAMES = (
    "Aaliyah Aarav Abigail Adrian Aisha Alejandro Amara Andrei Ananya Arjun Astrid Ben Camila Carlos Chen "
    "Chloe Daniel Diego Elena Elif Emma Erik Fatima Felix Freya Gabriel Hana Hiro Ines Isaac Ivan Jamal "
    "Jasmine Javier Kai Karin Kenji Lars Layla Leo Lucia Luis Maya Mei Mohammed Nadia Noah Olga Omar Priya "
    "Rahul Rosa Sara Sofia Tariq Theo Uma Valentina Wei Yara Yusuf Zoe"
).split()
_LAST_NAMES = (
    "Abe Adeyemi Alvarez Andersen Bauer Becker Brown Chen Costa Das Dubois Eriksson Fernandes Fischer "
    "Garcia Gupta Haddad Hansen Ito Iyer Jensen Johnson Kaur Kim Kowalski Kumar Larsen Lee Lopez Martin "
    "Meyer Moreau Murphy Nakamura Nguyen Novak Okafor Olsen Park Patel Petrov Reddy Rossi Sato Schmidt "
    "Silva Singh Smith Tanaka Wagner Wang Weber Williams Yamamoto Yilmaz Zhang"
).split()

_WORKSPACE_NAMES = (
    "dev",
    "main",
    "sandbox",
    "api",
    "frontend",
    "backend",
    "scratch",
    "ml",
    "experiments",
    "review",
    "hotfix",
    "docs",
    "perf",
    "spike",
)

_AGENTS: tuple[tuple[str, float], ...] = (
    ("claude-code", 0.45),
    ("cursor", 0.25),
    ("copilot", 0.18),
    ("aider", 0.12),
)
# Per agent: the primary model of a session (with popularity) and the helper models it may add.
_AGENT_MODELS: dict[str, tuple[tuple[tuple[str, float], ...], tuple[str, ...]]] = {
    "claude-code": ((("claude-sonnet-4-5", 0.7), ("claude-opus-4-1", 0.3)), ("claude-haiku-4-5",)),
    "cursor": (
        (("claude-sonnet-4-5", 0.55), ("claude-opus-4-1", 0.15), ("cursor-small", 0.30)),
        ("claude-haiku-4-5",),
    ),
    "copilot": ((("claude-sonnet-4-5", 0.6), ("claude-haiku-4-5", 0.4)), ("claude-haiku-4-5",)),
    "aider": ((("claude-sonnet-4-5", 0.4), ("claude-opus-4-1", 0.2), ("local-llama", 0.4)), ("local-llama",)),
}
# USD per million input, output, cache-read and cache-write tokens, for the costs that clients report
# themselves; models missing here have no reported cost.
_PRICES: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {
    "claude-opus-4-1": (Decimal("15"), Decimal("75"), Decimal("1.5"), Decimal("18.75")),
    "claude-sonnet-4-5": (Decimal("3"), Decimal("15"), Decimal("0.3"), Decimal("3.75")),
    "claude-haiku-4-5": (Decimal("1"), Decimal("5"), Decimal("0.1"), Decimal("1.25")),
}
_MICRO_USD = Decimal("0.000001")
_MILLION = Decimal(1_000_000)


@dataclass(slots=True)
class _Project:
    id: str
    name: str
    repositories: tuple[str, ...]


@dataclass(slots=True)
class _Org:
    id: str
    name: str
    slug: str
    created: int
    region_weights: dict[str, float]
    members: list[int] = field(default_factory=list)
    projects: list[_Project] = field(default_factory=list)


@dataclass(slots=True)
class _User:
    idx: int
    id: str
    username: str
    name: str
    created: int
    region: str
    utc_offset: int
    propensity: float
    """Chance of being active on a working day once the deployment has fully grown."""
    ide: str
    ai_rate: float
    """Mean AI sessions per active day at full adoption; 0 for people who never use an agent."""
    agent: str
    appetite: float
    """Relative number of workspaces this person tends to own."""
    orgs: list[int] = field(default_factory=list)
    site_roles: list[str] = field(default_factory=list)
    workspaces: list[_Workspace] = field(default_factory=list)


@dataclass(slots=True)
class _Template:
    id: str
    org: int
    name: str
    display: str
    created: int
    flavour: str
    params: tuple[_Param, ...]


@dataclass(slots=True)
class _Workspace:
    idx: int
    id: str
    template: _Template
    owner: _User
    name: str
    created: int
    deleted: int | None
    values: list[tuple[str, str]]
    region: str
    memory_gb: int
    cpu_cores: float
    node: str
    weight: float
    """Relative share of its owner's sessions: people have a favourite workspace."""
    session_kinds: list[tuple[str, str, float]]
    session_cum_weights: list[float]

    def alive(self, at: int) -> bool:
        return self.created <= at and (self.deleted is None or at < self.deleted)


@dataclass(slots=True)
class _World:
    now: int
    start: int
    orgs: list[_Org]
    users: list[_User]
    memberships: list[tuple[int, int, list[str]]]
    templates: list[_Template]
    workspaces: list[_Workspace]


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _poisson(rng: random.Random, lam: float) -> int:
    limit = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _to_timestamp(now: datetime | None) -> int:
    if now is None:
        current = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        return int(current.timestamp())
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return math.floor(now.timestamp())


def _build_world(rng: random.Random, now: int, days: int) -> _World:
    start = now - days * _DAY

    orgs: list[_Org] = []
    for name, slug, _, region_weights in _ORG_SPECS:
        created = now - days * _DAY - int(rng.uniform(650, 1000) * _DAY)
        orgs.append(_Org(_new_id(rng), name, slug, created, dict(region_weights)))
    for org, projects in zip(orgs, _PROJECT_SPECS, strict=True):
        org.projects = [_Project(_new_id(rng), name, repos) for name, repos in projects]
    org_weights = [spec[2] for spec in _ORG_SPECS]

    users: list[_User] = []
    taken: set[str] = {DEMO_ADMIN_USERNAME, DEMO_MEMBER_USERNAME}
    latest_join = now - 2 * _DAY
    for idx in range(USER_COUNT):
        primary = 0 if idx < 2 else rng.choices(range(len(orgs)), weights=org_weights)[0]
        org = orgs[primary]
        if idx == 0:
            username, name = DEMO_ADMIN_USERNAME, "Demo Admin"
        elif idx == 1:
            username, name = DEMO_MEMBER_USERNAME, "Demo Member"
        else:
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            name = f"{first} {last}"
            base = f"{first}-{last}".lower()
            username, n = base, 1
            while username in taken:
                n += 1
                username = f"{base}{n}"
            taken.add(username)
        if idx < 2 or rng.random() < 0.55:
            created = int(rng.uniform(org.created + _DAY, min(start, latest_join)))
        else:
            created = int(start + (latest_join - start) * rng.random() ** 0.9)
        region = _pick(rng, org.region_weights)
        propensity = rng.choices((0.95, 0.8, 0.5, 0.15), weights=(0.3, 0.4, 0.2, 0.1))[0]
        propensity = min(0.97, propensity * rng.uniform(0.85, 1.1))
        uses_ai = idx == 1 or rng.random() < 0.6
        user = _User(
            idx=idx,
            id=_new_id(rng),
            username=username,
            name=name,
            created=created,
            region=region,
            utc_offset=_REGIONS[region].utc_offset,
            propensity=0.8 if idx == 1 else propensity,
            ide=rng.choices(("vscode", "jetbrains", "code-server"), weights=(0.6, 0.25, 0.15))[0],
            ai_rate=rng.lognormvariate(0.0, 0.6) * 0.95 if uses_ai else 0.0,
            agent=rng.choices([a for a, _ in _AGENTS], weights=[w for _, w in _AGENTS])[0],
            appetite=2.0 if idx < 2 else rng.lognormvariate(0.0, 0.7),
            orgs=[primary],
        )
        users.append(user)
    users[0].site_roles = ["owner"]
    users[rng.randrange(2, USER_COUNT)].site_roles = ["auditor"]

    memberships: list[tuple[int, int, list[str]]] = []
    role_names = [role for role, _ in _ROLE_WEIGHTS]
    role_weights = [weight for _, weight in _ROLE_WEIGHTS]
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

    templates: list[_Template] = []
    for org_idx, tname, display, age_days, flavour, params in _TEMPLATE_SPECS:
        age = age_days if age_days is not None else rng.uniform(60, 600)
        created = max(orgs[org_idx].created + _DAY, now - int(age * _DAY) - rng.randrange(12 * _HOUR))
        templates.append(_Template(_new_id(rng), org_idx, tname, display, created, flavour, params))

    workspaces: list[_Workspace] = []
    template_weights = [rng.uniform(0.6, 1.6) if spec[3] is None else 0.35 for spec in _TEMPLATE_SPECS]
    names_taken: set[tuple[int, str]] = set()
    forced = [(templates[0], users[1]), (templates[0], users[0])]
    while len(workspaces) < WORKSPACE_COUNT:
        if forced:
            template, owner = forced.pop(0)
        else:
            template = rng.choices(templates, weights=template_weights)[0]
            members = orgs[template.org].members
            owner = users[rng.choices(members, weights=[users[m].appetite for m in members])[0]]
        lower = max(template.created, owner.created) + 10 * _MINUTE
        upper = now - _HOUR
        if lower >= upper:
            continue
        if owner.workspaces:
            created = int(lower + (upper - lower) * rng.random() ** 1.3)
        else:
            created = int(min(upper, lower + rng.expovariate(1.0 / (7 * _DAY))))
        deleted: int | None = None
        if rng.random() < 0.13 and now - created > 2 * _DAY and owner.idx >= 2:
            deleted = created + max(_HOUR, int((now - created) * rng.uniform(0.2, 0.95)))
        workspaces.append(
            _make_workspace(rng, len(workspaces), template, owner, created, deleted, names_taken)
        )

    return _World(now, start, orgs, users, memberships, templates, workspaces)


def _make_workspace(
    rng: random.Random,
    idx: int,
    template: _Template,
    owner: _User,
    created: int,
    deleted: int | None,
    names_taken: set[tuple[int, str]],
) -> _Workspace:
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

    base = rng.choice(_WORKSPACE_NAMES)
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
    workspace = _Workspace(
        idx=idx,
        id=_new_id(rng),
        template=template,
        owner=owner,
        name=name,
        created=created,
        deleted=deleted,
        values=values,
        region=region,
        memory_gb=memory_gb,
        cpu_cores=cpu_cores,
        node=rng.choice(_REGIONS[region].nodes),
        weight=3.0 if not owner.workspaces else rng.uniform(0.3, 1.2),
        session_kinds=[(category, app, median) for category, app, median, _ in kinds],
        session_cum_weights=cum,
    )
    owner.workspaces.append(workspace)
    return workspace


def _entity_records(world: _World) -> Iterator[tuple[str, Record]]:
    for org in world.orgs:
        yield "organizations", {"id": org.id, "name": org.name, "createdAt": _iso(org.created)}
    for user in world.users:
        domain = world.orgs[user.orgs[0]].slug
        yield (
            "users",
            {
                "id": user.id,
                "username": user.username,
                "name": user.name,
                "email": f"{user.username}@{domain}.example.com",
                "createdAt": _iso(user.created),
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
                "createdAt": _iso(template.created),
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
                "createdAt": _iso(ws.created),
                "deletedAt": _iso(ws.deleted) if ws.deleted is not None else None,
                "parameters": [{"name": name, "value": value} for name, value in ws.values],
            },
        )
    for org in world.orgs:
        for project in org.projects:
            yield "projects", {"id": project.id, "organizationId": org.id, "name": project.name}


class _FactGenerator:
    """Usage is produced one local calendar day at a time, so memory stays bounded by a day of facts
    whatever the length of the period."""

    def __init__(self, rng: random.Random, world: _World) -> None:
        self.rng = rng
        self.world = world
        self.resource_start = max(world.start, world.now - RESOURCE_DAYS * _DAY)
        self.latency_seen: set[tuple[int, int]] = set()
        candidates = [
            ws
            for ws in world.workspaces
            if ws.created < world.now and (ws.deleted is None or ws.deleted > self.resource_start)
        ]
        self.monitored = sorted(rng.sample(candidates, min(len(candidates), 215)), key=lambda ws: ws.idx)
        self.always_on = {ws.idx: rng.random() < 0.45 for ws in self.monitored}
        self.sample_minute = {ws.idx: rng.randint(3, 56) for ws in self.monitored}
        self.memory_level = {ws.idx: rng.uniform(0.3, 0.7) for ws in self.monitored}
        cpu_limits: dict[str, float] = dict.fromkeys(_NODES, 0.0)
        mem_limits: dict[str, float] = dict.fromkeys(_NODES, 0.0)
        for ws in self.monitored:
            cpu_limits[ws.node] += ws.cpu_cores
            mem_limits[ws.node] += ws.memory_gb * _GIB
        self.cpu_capacity = {
            node: float(max(16, math.ceil(cpu_limits[node] * 0.45 / 8) * 8)) for node in _NODES
        }
        self.mem_capacity = {
            node: float(max(64 * _GIB, math.ceil(mem_limits[node] * 0.7 / (64 * _GIB)) * 64 * _GIB))
            for node in _NODES
        }

    def run(self) -> Iterator[tuple[str, Record]]:
        world = self.world
        first_day = world.start // _DAY - 1
        last_day = (world.now - 1) // _DAY + 1
        for day in range(first_day, last_day + 1):
            yield from self._day(day)

    def _day(self, day: int) -> Iterator[tuple[str, Record]]:
        world, rng = self.world, self.rng
        day_ts = day * _DAY
        weekday = (day + 3) % 7
        progress = min(1.0, max(0.0, (day_ts - world.start) / max(1, world.now - world.start)))
        growth = 0.6 + 0.4 * progress
        ai_adoption = 0.3 + 0.9 * progress
        day_factor = (1.0, 1.0, 1.0, 0.97, 0.85, 0.1, 0.07)[weekday]

        activity: list[tuple[int, Record]] = []
        latency: list[tuple[int, Record]] = []
        ai_sessions: list[tuple[int, Record]] = []
        self.latency_seen.clear()
        for user in world.users:
            midnight = day_ts - user.utc_offset
            if user.created > midnight + 20 * _HOUR:
                continue
            if rng.random() >= user.propensity * growth * day_factor:
                continue
            hour = min(11.5, max(6.5, rng.gauss(8.9, 0.8)))
            login = midnight + int(hour * _HOUR) + rng.randrange(_MINUTE)
            if login < user.created:
                continue
            day_end = login + int(rng.uniform(6.5, 10.0) * _HOUR)
            self._login(user, login, activity)
            if rng.random() < 0.3:
                self._login(user, login + int(rng.uniform(3.5, 6.0) * _HOUR), activity)
            live = [ws for ws in user.workspaces if ws.alive(login) or ws.alive(day_end)]
            if live:
                self._sessions(user, live, login, day_end, activity, latency)
            if user.ai_rate > 0:
                for _ in range(_poisson(rng, user.ai_rate * ai_adoption)):
                    self._ai_session(user, rng.uniform(login, day_end), ai_sessions)

        activity.sort(key=lambda item: item[0])
        latency.sort(key=lambda item: item[0])
        ai_sessions.sort(key=lambda item: item[0])
        for _, record in activity:
            yield "activity", record
        for _, record in latency:
            yield "latency", record
        for _, record in ai_sessions:
            yield "aiSessions", record
        yield from self._compute(day_ts)

    def _login(self, user: _User, at: int, activity: list[tuple[int, Record]]) -> None:
        world, rng = self.world, self.rng
        if not world.start <= at < world.now:
            return
        org = user.orgs[0] if len(user.orgs) == 1 or rng.random() < 0.85 else rng.choice(user.orgs[1:])
        activity.append(
            (
                at,
                {
                    "id": _new_id(rng),
                    "userId": user.id,
                    "organizationId": world.orgs[org].id,
                    "category": "LOGIN",
                    "startedAt": _iso(at),
                },
            )
        )

    def _sessions(
        self,
        user: _User,
        live: list[_Workspace],
        login: int,
        day_end: int,
        activity: list[tuple[int, Record]],
        latency: list[tuple[int, Record]],
    ) -> None:
        rng = self.rng
        weights = [ws.weight for ws in live]
        lunch_taken = False
        t = login + rng.randint(_MINUTE, 15 * _MINUTE)
        while t < day_end:
            ws = live[0] if len(live) == 1 else rng.choices(live, weights=weights)[0]
            category, app, median = rng.choices(ws.session_kinds, cum_weights=ws.session_cum_weights)[0]
            minutes = min(240.0, max(1.0, median * rng.lognormvariate(0.0, 0.6)))
            length = int(minutes * _MINUTE) + rng.randrange(_MINUTE)
            self._session(ws, category, app, t, length, activity, latency)
            if category == "IDE" and rng.random() < 0.3:
                side_category, side_app = (
                    ("TUNNEL", "ssh") if rng.random() < 0.6 else ("WEB_TERMINAL", "web-terminal")
                )
                side_start = t + rng.randrange(max(1, length))
                side_length = int(min(90.0, max(1.0, 10.0 * rng.lognormvariate(0.0, 0.7))) * _MINUTE)
                self._session(ws, side_category, side_app, side_start, side_length, activity, latency)
            gap = rng.uniform(2, 20) * _MINUTE
            if not lunch_taken and t + length - login > 3.5 * _HOUR:
                lunch_taken = True
                gap += rng.uniform(25, 60) * _MINUTE
            t += length + int(gap)

    def _session(
        self,
        ws: _Workspace,
        category: str,
        app: str,
        started: int,
        length: int,
        activity: list[tuple[int, Record]],
        latency: list[tuple[int, Record]],
    ) -> None:
        world, rng = self.world, self.rng
        ended = started + length
        if ws.deleted is not None:
            ended = min(ended, ws.deleted - 1)
        ended = min(ended, world.now)
        if started < world.start or started < ws.created or ended < started or started >= world.now:
            return
        activity.append(
            (
                started,
                {
                    "id": _new_id(rng),
                    "userId": ws.owner.id,
                    "workspaceId": ws.id,
                    "category": category,
                    "app": app,
                    "startedAt": _iso(started),
                    "endedAt": _iso(ended),
                },
            )
        )
        if rng.random() < 0.35:
            at = started + rng.randrange(max(1, ended - started))
            while (ws.idx, at) in self.latency_seen:
                at += 1
            if at >= world.now:
                return
            self.latency_seen.add((ws.idx, at))
            level = _REGIONS[ws.region].latency_ms * rng.lognormvariate(0.0, 0.2)
            if rng.random() < 0.02:
                level *= rng.uniform(2.0, 4.0)
            latency.append(
                (
                    at,
                    {
                        "workspaceId": ws.id,
                        "userId": ws.owner.id,
                        "at": _iso(at),
                        "latencyMs": round(level, 1),
                    },
                )
            )

    def _ai_session(self, user: _User, started_at: float, out: list[tuple[int, Record]]) -> None:
        world, rng = self.world, self.rng
        started = int(started_at)
        if started < world.start or started >= world.now or started < user.created:
            return
        org = world.orgs[
            user.orgs[0] if len(user.orgs) == 1 or rng.random() < 0.85 else rng.choice(user.orgs[1:])
        ]
        agent = user.agent if rng.random() < 0.8 else rng.choice([a for a, _ in _AGENTS])
        minutes = min(180.0, max(0.5, 14.0 * rng.lognormvariate(0.0, 0.9)))
        finished = started + int(minutes * _MINUTE)
        ended = None if finished > world.now or rng.random() < 0.003 else finished
        project: _Project | None = rng.choice(org.projects) if rng.random() < 0.75 else None
        if project is not None:
            repository: str | None = rng.choice(project.repositories)
        elif rng.random() < 0.6:
            repository = f"{org.slug}/{rng.choice(('sandbox', 'dotfiles', 'scripts'))}"
        else:
            repository = None

        primaries, helpers = _AGENT_MODELS[agent]
        models = [rng.choices([m for m, _ in primaries], weights=[w for _, w in primaries])[0]]
        for helper in helpers:
            if helper not in models and rng.random() < 0.45:
                models.append(helper)
        if len(models) < 3 and rng.random() < 0.05:
            extra = rng.choice(("claude-opus-4-1", "claude-sonnet-4-5", "local-llama"))
            if extra not in models:
                models.append(extra)
        usage = [
            self._usage_line(model, minutes, share=1.0 if i == 0 else rng.uniform(0.05, 0.3))
            for i, model in enumerate(models)
        ]
        out.append(
            (
                started,
                {
                    "id": _new_id(rng),
                    "organizationId": org.id,
                    "userId": user.id,
                    "projectId": project.id if project is not None else None,
                    "repository": repository,
                    "agent": agent,
                    "startedAt": _iso(started),
                    "endedAt": _iso(ended) if ended is not None else None,
                    "usage": usage,
                },
            )
        )

    def _usage_line(self, model: str, minutes: float, share: float) -> Record:
        rng = self.rng
        input_tokens = max(200, int(minutes * share * rng.lognormvariate(8.3, 0.5)))
        output_tokens = int(input_tokens * rng.uniform(0.08, 0.25))
        local = model == "local-llama"
        cache_read = 0 if local else int(input_tokens * rng.uniform(3.0, 12.0))
        cache_write = 0 if local else int(input_tokens * rng.uniform(0.3, 1.0))
        line: Record = {
            "model": model,
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "cacheReadTokens": cache_read,
            "cacheWriteTokens": cache_write,
        }
        prices = _PRICES.get(model)
        if prices is not None and rng.random() < 0.4:
            tokens = (input_tokens, output_tokens, cache_read, cache_write)
            cost = (
                sum((Decimal(n) * price for n, price in zip(tokens, prices, strict=True)), Decimal(0))
                / _MILLION
            )
            line["cost"] = str(cost.quantize(_MICRO_USD, rounding=ROUND_HALF_UP))
        elif local and rng.random() < 0.3:
            line["cost"] = "0.000000"
        return line

    def _compute(self, day_ts: int) -> Iterator[tuple[str, Record]]:
        world, rng = self.world, self.rng
        if day_ts + _DAY <= self.resource_start or day_ts >= world.now:
            return
        for hour in range(24):
            hour_ts = day_ts + hour * _HOUR
            if hour_ts + _HOUR <= self.resource_start or hour_ts >= world.now:
                continue
            node_cpu = dict.fromkeys(_NODES, 0.0)
            node_mem = dict.fromkeys(_NODES, 0.0)
            for ws in self.monitored:
                at = (
                    hour_ts
                    + (self.sample_minute[ws.idx] + rng.randint(-2, 2)) * _MINUTE
                    + rng.randrange(_MINUTE)
                )
                if at < self.resource_start or at >= world.now or not ws.alive(at):
                    continue
                local = at + ws.owner.utc_offset
                local_hour = (local % _DAY) / _HOUR
                weekday = (local // _DAY + 3) % 7 < 5
                if not self.always_on[ws.idx] and not (weekday and 7.0 <= local_hour < 20.0):
                    continue
                busy = weekday and 8.5 <= local_hour < 18.5
                cpu_share = 0.02 + 0.88 * rng.betavariate(2.0, 4.0) if busy else rng.uniform(0.01, 0.08)
                level = min(0.92, max(0.15, self.memory_level[ws.idx] + rng.gauss(0.0, 0.03)))
                self.memory_level[ws.idx] = level
                cpu_used = round(ws.cpu_cores * cpu_share, 3)
                mem_limit = float(ws.memory_gb * _GIB)
                mem_used = float(int(mem_limit * level))
                node_cpu[ws.node] += cpu_used
                node_mem[ws.node] += mem_used
                yield (
                    "resources",
                    {
                        "workspaceId": ws.id,
                        "node": ws.node,
                        "at": _iso(at),
                        "cpuUsedCores": cpu_used,
                        "cpuLimitCores": ws.cpu_cores,
                        "memoryUsedBytes": mem_used,
                        "memoryLimitBytes": mem_limit,
                    },
                )
            for quarter in range(4):
                at = hour_ts + quarter * 15 * _MINUTE
                if at < self.resource_start or at >= world.now:
                    continue
                for node in _NODES:
                    cpu_cap, mem_cap = self.cpu_capacity[node], self.mem_capacity[node]
                    cpu = min(cpu_cap * 0.98, (1.5 + node_cpu[node]) * rng.uniform(0.92, 1.08))
                    mem = min(mem_cap * 0.98, (6 * _GIB + node_mem[node]) * rng.uniform(0.98, 1.02))
                    yield (
                        "nodes",
                        {
                            "node": node,
                            "at": _iso(at),
                            "cpuUsedCores": round(cpu, 3),
                            "cpuCapacityCores": cpu_cap,
                            "memoryUsedBytes": float(int(mem)),
                            "memoryCapacityBytes": mem_cap,
                        },
                    )


def _batched(records: Iterator[tuple[str, Record]], batch_size: int) -> Iterator[Batch]:
    batch: Batch = {}
    size = 0
    for kind, record in records:
        batch.setdefault(kind, []).append(record)
        size += 1
        if size >= batch_size:
            yield batch
            batch, size = {}, 0
    if size:
        yield batch


def _records(seed: int, now: int, days: int) -> Iterator[tuple[str, Record]]:
    rng = random.Random(seed)
    world = _build_world(rng, now, days)
    yield from _entity_records(world)
    yield from _FactGenerator(rng, world).run()


def generate(
    seed: int = 1, *, now: datetime | None = None, days: int = 180, batch_size: int = 5000
) -> Iterator[Batch]:
    """Ingest batches, entities first and then facts day by day, so that every record only refers to
    what an earlier batch (or its own) carried. `now` defaults to the current UTC hour; the data covers
    the `days` days before it."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    return _batched(_records(seed, _to_timestamp(now), days), batch_size)


def estimate_records(days: int = 180) -> int:
    """Calibrated on seed 1; good enough for a progress bar, not for assertions."""
    entities = 3 + USER_COUNT + 330 + TEMPLATE_COUNT + WORKSPACE_COUNT + 10
    return entities + 1_250 * days + 3_530 * min(days, RESOURCE_DAYS)
