"""The fixed shape of the demo deployment: its regions, template parameters, organizations, roles,
names and agents. Kept apart from the generators so that tuning the scenario never touches the code
that draws from the random stream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
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

MINUTE = 60
HOUR = 3_600
DAY = 86_400
GIB = 1 << 30


@dataclass(frozen=True, slots=True)
class Region:
    label: str
    latency_ms: float
    utc_offset: int
    """UTC offset, in seconds, of the people who mostly work close to this region."""
    weight: float
    nodes: tuple[str, ...]


REGIONS: dict[str, Region] = {
    "us-east": Region("US East (Virginia)", 40.0, -5 * HOUR, 0.45, ("us-east-node-1", "us-east-node-2")),
    "us-west": Region("US West (Oregon)", 75.0, -8 * HOUR, 0.15, ("us-west-node-1",)),
    "eu-west": Region("EU West (Ireland)", 120.0, 0, 0.30, ("eu-west-node-1", "eu-west-node-2")),
    "ap-south": Region("Asia Pacific (Mumbai)", 260.0, 5 * HOUR + 30 * MINUTE, 0.10, ("ap-south-node-1",)),
}
_ALL_REGIONS = tuple(REGIONS)
NODES = tuple(node for region in REGIONS.values() for node in region.nodes)


@dataclass(frozen=True, slots=True)
class Param:
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


def _region_param(regions: Sequence[str]) -> Param:
    return Param(
        "region",
        "Region",
        "string",
        regions[0],
        tuple((r, REGIONS[r].label) for r in regions),
        tuple(REGIONS[r].weight for r in regions),
    )


def _memory_param(sizes: Sequence[int], weights: Sequence[float], default: int) -> Param:
    return Param(
        "memory_gb",
        "Memory (GiB)",
        "number",
        str(default),
        tuple((str(size), f"{size} GiB") for size in sizes),
        tuple(weights),
    )


def _string_param(
    name: str, display: str, options: Sequence[tuple[str, str, float]], default: str | None = None
) -> Param:
    return Param(
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
_GPU = Param("gpu", "GPU", "bool", "false", (("false", "No GPU"), ("true", "NVIDIA L4")), (0.6, 0.4))

TEMPLATE_SPECS: tuple[tuple[int, str, str, float | None, str, tuple[Param, ...]], ...] = (
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

ORG_SPECS: tuple[tuple[str, str, float, dict[str, float]], ...] = (
    ("Acme Corp", "acme", 0.50, {"us-east": 5, "us-west": 3, "eu-west": 2}),
    ("Globex", "globex", 0.32, {"eu-west": 6, "us-east": 2, "ap-south": 2}),
    ("Initech", "initech", 0.18, {"ap-south": 5, "us-west": 3, "eu-west": 2}),
)

PROJECT_SPECS: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...] = (
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
ROLE_WEIGHTS: tuple[tuple[str, float], ...] = (
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
ROLE_NAMES = tuple(role for role, _ in ROLE_WEIGHTS)

FIRST_NAMES = (
    "Aaliyah Aarav Abigail Adrian Aisha Alejandro Amara Andrei Ananya Arjun Astrid Ben Camila Carlos Chen "
    "Chloe Daniel Diego Elena Elif Emma Erik Fatima Felix Freya Gabriel Hana Hiro Ines Isaac Ivan Jamal "
    "Jasmine Javier Kai Karin Kenji Lars Layla Leo Lucia Luis Maya Mei Mohammed Nadia Noah Olga Omar Priya "
    "Rahul Rosa Sara Sofia Tariq Theo Uma Valentina Wei Yara Yusuf Zoe"
).split()
LAST_NAMES = (
    "Abe Adeyemi Alvarez Andersen Bauer Becker Brown Chen Costa Das Dubois Eriksson Fernandes Fischer "
    "Garcia Gupta Haddad Hansen Ito Iyer Jensen Johnson Kaur Kim Kowalski Kumar Larsen Lee Lopez Martin "
    "Meyer Moreau Murphy Nakamura Nguyen Novak Okafor Olsen Park Patel Petrov Reddy Rossi Sato Schmidt "
    "Silva Singh Smith Tanaka Wagner Wang Weber Williams Yamamoto Yilmaz Zhang"
).split()

WORKSPACE_NAMES = (
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

AGENTS: tuple[tuple[str, float], ...] = (
    ("claude-code", 0.45),
    ("cursor", 0.25),
    ("copilot", 0.18),
    ("aider", 0.12),
)
# Per agent: the primary model of a session (with popularity) and the helper models it may add.
AGENT_MODELS: dict[str, tuple[tuple[tuple[str, float], ...], tuple[str, ...]]] = {
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
PRICES: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {
    "claude-opus-4-1": (Decimal("15"), Decimal("75"), Decimal("1.5"), Decimal("18.75")),
    "claude-sonnet-4-5": (Decimal("3"), Decimal("15"), Decimal("0.3"), Decimal("3.75")),
    "claude-haiku-4-5": (Decimal("1"), Decimal("5"), Decimal("0.1"), Decimal("1.25")),
}
