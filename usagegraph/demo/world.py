"""The in-memory deployment that the entity records describe and the usage facts refer to; facts need
more than the records carry (owners' habits, time zones, favourite workspaces)."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field

from usagegraph.demo.catalog import Param


@dataclass(slots=True)
class Project:
    id: str
    name: str
    repositories: tuple[str, ...]


@dataclass(slots=True)
class Org:
    id: str
    name: str
    slug: str
    created: int
    region_weights: dict[str, float]
    members: list[int] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)


@dataclass(slots=True)
class User:
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
    workspaces: list[Workspace] = field(default_factory=list)


@dataclass(slots=True)
class Template:
    id: str
    org: int
    name: str
    display: str
    created: int
    flavour: str
    params: tuple[Param, ...]


@dataclass(slots=True)
class Workspace:
    idx: int
    id: str
    template: Template
    owner: User
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
class World:
    now: int
    start: int
    orgs: list[Org]
    users: list[User]
    memberships: list[tuple[int, int, list[str]]]
    templates: list[Template]
    workspaces: list[Workspace]


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
