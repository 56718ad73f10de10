"""A small organization with facts of every kind, built through the factory and the ingest mutation,
shared by the permission matrix, the tenant isolation tests and the fuzz tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.conftest import GraphQL
from tests.factories import Factory

START = "2024-03-01T00:00:00Z"
END = "2024-03-08T00:00:00Z"
INGEST = (
    "mutation($b: IngestBatch!) { ingest(batch: $b) { accepted duplicates rejected { kind code message } } }"
)


@dataclass
class World:
    """One organization with a template, a workspace, a project and facts of every kind, ingested."""

    org: uuid.UUID
    name: str
    template: uuid.UUID
    workspace: uuid.UUID
    project: uuid.UUID
    holder: uuid.UUID
    ai_sessions: int
    secrets: list[str]


async def build_world(factory: Factory, gql: GraphQL, root_token: str, name: str) -> World:
    """Entities through the factory, facts through the ingest mutation (as a collector would send them).
    `secrets` are strings that only this organization's data contains."""
    org = await factory.organization(name)
    holder = await factory.user(f"{name}-holder", orgs={org: ["member"]}, email=f"{name}-holder@corp.test")
    template = await factory.template(
        org,
        f"{name}-template",
        parameters=[{"name": f"{name}-region", "options": [{"value": f"{name}-eu", "name": "EU"}]}],
    )
    workspace = await factory.workspace(
        org, template, holder, f"{name}-ws", parameters={f"{name}-region": f"{name}-eu"}
    )
    project = await factory.project(org, f"{name}-project")
    ws = str(workspace)
    batch: dict[str, Any] = {
        "activity": [
            {
                "id": str(uuid.uuid4()),
                "userId": str(holder),
                "workspaceId": ws,
                "category": "IDE",
                "app": "vscode",
                "startedAt": "2024-03-02T09:00:00Z",
                "endedAt": "2024-03-02T10:30:00Z",
            },
            {
                "id": str(uuid.uuid4()),
                "userId": str(holder),
                "organizationId": str(org),
                "category": "LOGIN",
                "startedAt": "2024-03-02T08:59:00Z",
            },
        ],
        "latency": [
            {"workspaceId": ws, "userId": str(holder), "at": "2024-03-02T09:05:00Z", "latencyMs": 42.0}
        ],
        "resources": [
            {
                "workspaceId": ws,
                "node": f"{name}-node",
                "at": "2024-03-02T09:05:00Z",
                "cpuUsedCores": 1.0,
                "cpuLimitCores": 2.0,
                "memoryUsedBytes": 500.0,
                "memoryLimitBytes": 1000.0,
            }
        ],
        "aiSessions": [
            {
                "id": str(uuid.uuid4()),
                "organizationId": str(org),
                "userId": str(holder),
                "projectId": str(project),
                "repository": f"{name}/repo",
                "agent": f"{name}-agent",
                "startedAt": f"2024-03-0{day}T10:00:00Z",
                "endedAt": f"2024-03-0{day}T10:20:00Z",
                "usage": [{"model": f"{name}-model", "inputTokens": 100, "outputTokens": 50, "cost": "0.25"}],
            }
            for day in (2, 3)
        ],
    }
    body = await gql(INGEST, {"b": batch}, token=root_token)
    result = body["data"]["ingest"]
    assert result["rejected"] == [], result
    secrets = [
        str(org),
        name,
        str(template),
        str(workspace),
        str(project),
        str(holder),
        f"{name}-holder@corp.test",
        f"{name}-agent",
        f"{name}-model",
        f"{name}/repo",
        f"{name}-eu",
    ]
    return World(org, name, template, workspace, project, holder, 2, secrets)
