"""The demo data generator, without a database: its output has to be accepted record for record by the
ingest path, so these tests hold it to the contract of docs/api.md 4 and 5.7 (shapes, references, order)."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from usagegraph import demo

NOW = datetime(2025, 6, 2, 9, tzinfo=UTC)
DAYS = 30
BATCH_SIZE = 1000
ROLE_NAMES = (
    "owner",
    "admin",
    "auditor",
    "manager",
    "controller",
    "curator",
    "template-admin",
    "member",
    "collector",
    "basic",
    "site-member",
    "superadmin",
    "site-manager",
)
BUILTIN_APPS = {
    "vscode": "IDE",
    "jetbrains": "IDE",
    "code-server": "IDE",
    "ssh": "TUNNEL",
    "web-terminal": "WEB_TERMINAL",
    "jupyter": "APP",
    "rstudio": "APP",
}
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
KNOWN_KEYS = set(demo.ENTITY_KINDS) | set(demo.FACT_KINDS)

Batch = dict[str, list[dict[str, Any]]]


def _digest(batches: Iterable[Batch]) -> str:
    h = hashlib.sha256()
    for batch in batches:
        h.update(json.dumps(batch).encode())
    return h.hexdigest()


def _records(batches: Iterable[Batch]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for batch in batches:
        for kind, records in batch.items():
            out.setdefault(kind, []).extend(records)
    return out


def _ts(value: str) -> datetime:
    assert RFC3339_UTC.match(value), value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def batches() -> list[Batch]:
    return list(demo.generate(3, now=NOW, days=DAYS, batch_size=BATCH_SIZE))


@pytest.fixture(scope="module")
def data(batches: list[Batch]) -> dict[str, list[dict[str, Any]]]:
    return _records(batches)


def test_same_seed_and_now_give_identical_bytes() -> None:
    first = _digest(demo.generate(7, now=NOW, days=10))
    second = _digest(demo.generate(7, now=NOW, days=10))
    assert first == second


def test_batch_size_only_changes_the_split() -> None:
    large = _records(demo.generate(7, now=NOW, days=5, batch_size=100_000))
    small = _records(demo.generate(7, now=NOW, days=5, batch_size=333))
    assert json.dumps(large, sort_keys=True) == json.dumps(small, sort_keys=True)


def test_another_seed_gives_other_data() -> None:
    assert _digest(demo.generate(7, now=NOW, days=5)) != _digest(demo.generate(8, now=NOW, days=5))


def test_default_now_is_the_current_hour() -> None:
    first = next(demo.generate(days=1, batch_size=10))
    created = [_ts(org["createdAt"]) for org in first["organizations"]]
    assert all(value < datetime.now(UTC) for value in created)


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        demo.generate(batch_size=0)
    with pytest.raises(ValueError):
        demo.generate(days=0)


def test_batches_respect_the_size_and_the_kinds(batches: list[Batch]) -> None:
    assert len(batches) > 10
    for batch in batches:
        assert set(batch) <= KNOWN_KEYS
        assert 0 < sum(len(records) for records in batch.values()) <= BATCH_SIZE
        assert all(records for records in batch.values())


def test_minimum_entity_counts(data: dict[str, list[dict[str, Any]]]) -> None:
    assert len(data["organizations"]) >= 3
    assert len(data["users"]) >= 300
    assert len(data["templates"]) >= 12
    assert len(data["workspaces"]) >= 600
    assert len(data["projects"]) >= 3
    assert any(ws["deletedAt"] is not None for ws in data["workspaces"])
    for kind in demo.FACT_KINDS:
        assert data[kind], kind


def test_ids_are_unique_uuids(data: dict[str, list[dict[str, Any]]]) -> None:
    for kind in ("organizations", "users", "templates", "workspaces", "projects", "activity", "aiSessions"):
        ids = [record["id"] for record in data[kind]]
        assert len(ids) == len(set(ids)), kind
        for value in ids[:50]:
            assert str(uuid.UUID(value)) == value
    usernames = [user["username"] for user in data["users"]]
    assert len(usernames) == len(set(usernames))


def test_admin_and_member_users(data: dict[str, list[dict[str, Any]]]) -> None:
    users = {user["username"]: user for user in data["users"]}
    admin, member = users[demo.DEMO_ADMIN_USERNAME], users[demo.DEMO_MEMBER_USERNAME]
    assert admin["siteRoles"] == ["owner"]
    assert not member.get("siteRoles")
    first_org = data["organizations"][0]["id"]
    member_roles = [m for m in data["memberships"] if m["userId"] == member["id"]]
    assert member_roles == [{"userId": member["id"], "organizationId": first_org, "roles": ["member"]}]
    for user in data["users"]:
        assert user["name"] and "@" in user["email"]
    assert any(ws["ownerId"] == member["id"] for ws in data["workspaces"])


def test_every_role_name_occurs(data: dict[str, list[dict[str, Any]]]) -> None:
    used = Counter(role for membership in data["memberships"] for role in membership["roles"])
    for role in ROLE_NAMES:
        assert used[role] > 0, role
    assert used.most_common(1)[0][0] == "member"


def test_some_users_belong_to_two_organizations(data: dict[str, list[dict[str, Any]]]) -> None:
    per_user = Counter(membership["userId"] for membership in data["memberships"])
    assert any(count == 2 for count in per_user.values())
    pairs = [(m["userId"], m["organizationId"]) for m in data["memberships"]]
    assert len(pairs) == len(set(pairs))
    assert set(per_user) == {user["id"] for user in data["users"]}


def test_references_point_to_earlier_or_same_batch(batches: list[Batch]) -> None:
    orgs: set[str] = set()
    users: set[str] = set()
    templates: set[str] = set()
    workspaces: set[str] = set()
    projects: set[str] = set()
    for batch in batches:
        orgs.update(r["id"] for r in batch.get("organizations", []))
        users.update(r["id"] for r in batch.get("users", []))
        templates.update(r["id"] for r in batch.get("templates", []))
        workspaces.update(r["id"] for r in batch.get("workspaces", []))
        projects.update(r["id"] for r in batch.get("projects", []))
        for r in batch.get("memberships", []):
            assert r["userId"] in users and r["organizationId"] in orgs
        for r in batch.get("templates", []):
            assert r["organizationId"] in orgs
        for r in batch.get("workspaces", []):
            assert r["templateId"] in templates and r["ownerId"] in users
        for r in batch.get("projects", []):
            assert r["organizationId"] in orgs
        for r in batch.get("activity", []):
            assert r["userId"] in users
            assert r.get("workspaceId") is None or r["workspaceId"] in workspaces
            assert r.get("organizationId") is None or r["organizationId"] in orgs
        for r in batch.get("latency", []):
            assert r["userId"] in users and r["workspaceId"] in workspaces
        for r in batch.get("resources", []):
            assert r["workspaceId"] in workspaces
        for r in batch.get("aiSessions", []):
            assert r["userId"] in users and r["organizationId"] in orgs
            assert r["projectId"] is None or r["projectId"] in projects


def test_workspace_owners_are_members_of_the_template_organization(
    data: dict[str, list[dict[str, Any]]],
) -> None:
    memberships = {(m["userId"], m["organizationId"]) for m in data["memberships"]}
    template_org = {t["id"]: t["organizationId"] for t in data["templates"]}
    for ws in data["workspaces"]:
        assert (ws["ownerId"], template_org[ws["templateId"]]) in memberships


def test_templates_have_parameters_and_both_young_and_old_ages(data: dict[str, list[dict[str, Any]]]) -> None:
    ages = [NOW - _ts(t["createdAt"]) for t in data["templates"]]
    assert any(age < timedelta(weeks=5) for age in ages)
    assert any(age > timedelta(weeks=5) for age in ages)
    templates = {t["id"]: t for t in data["templates"]}
    for template in data["templates"]:
        names = {p["name"] for p in template["parameters"]}
        assert {"region", "memory_gb"} <= names
        assert names & {"ide", "image"}
        memory = next(p for p in template["parameters"] if p["name"] == "memory_gb")
        assert memory["type"] == "number"
        assert all(option["name"] for p in template["parameters"] for option in p["options"])
    region_values: Counter[str] = Counter()
    for ws in data["workspaces"]:
        template = templates[ws["templateId"]]
        options = {p["name"]: {o["value"] for o in p["options"]} for p in template["parameters"]}
        assert {p["name"] for p in ws["parameters"]} == set(options)
        for parameter in ws["parameters"]:
            assert parameter["value"] in options[parameter["name"]]
            if parameter["name"] == "region":
                region_values[parameter["value"]] += 1
        created = _ts(ws["createdAt"])
        assert _ts(template["createdAt"]) <= created < NOW
        if ws["deletedAt"] is not None:
            assert created < _ts(ws["deletedAt"]) <= NOW
    counts = sorted(region_values.values())
    assert len(counts) >= 3 and counts[-1] > 2 * counts[0]


def test_activity_events(data: dict[str, list[dict[str, Any]]]) -> None:
    start = NOW - timedelta(days=DAYS)
    workspaces = {ws["id"]: ws for ws in data["workspaces"]}
    categories: Counter[str] = Counter()
    apps: set[str] = set()
    for event in data["activity"]:
        categories[event["category"]] += 1
        started = _ts(event["startedAt"])
        assert start <= started < NOW
        if event["category"] == "LOGIN":
            assert event["organizationId"] and "workspaceId" not in event and "endedAt" not in event
            continue
        assert event["workspaceId"] in workspaces
        ended = _ts(event["endedAt"])
        assert started <= ended <= NOW
        assert ended - started <= timedelta(hours=5)
        ws = workspaces[event["workspaceId"]]
        assert event["userId"] == ws["ownerId"]
        assert _ts(ws["createdAt"]) <= started
        if ws["deletedAt"] is not None:
            assert ended <= _ts(ws["deletedAt"])
        app = event["app"]
        apps.add(app)
        assert event["category"] == BUILTIN_APPS.get(app, "APP"), event
    assert set(categories) == {"LOGIN", "IDE", "APP", "TUNNEL", "WEB_TERMINAL"}
    assert set(BUILTIN_APPS) <= apps
    assert apps - set(BUILTIN_APPS)


def test_weekends_are_quieter_than_weekdays(data: dict[str, list[dict[str, Any]]]) -> None:
    per_weekday = Counter(_ts(event["startedAt"]).weekday() for event in data["activity"])
    assert min(per_weekday[day] for day in range(5)) > 3 * max(per_weekday[5], per_weekday[6])


def test_latency_follows_the_workspace_region(data: dict[str, list[dict[str, Any]]]) -> None:
    workspaces = {ws["id"]: ws for ws in data["workspaces"]}
    by_region: dict[str, list[float]] = {}
    keys = set()
    for sample in data["latency"]:
        ws = workspaces[sample["workspaceId"]]
        assert sample["userId"] == ws["ownerId"]
        assert sample["latencyMs"] > 0
        _ts(sample["at"])
        region = next(p["value"] for p in ws["parameters"] if p["name"] == "region")
        by_region.setdefault(region, []).append(sample["latencyMs"])
        keys.add((sample["workspaceId"], sample["userId"], sample["at"]))
    assert len(keys) == len(data["latency"])

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    assert median(by_region["us-east"]) < median(by_region["eu-west"]) < median(by_region["ap-south"])


def test_resource_and_node_samples(data: dict[str, list[dict[str, Any]]]) -> None:
    window_start = NOW - timedelta(days=demo.RESOURCE_DAYS)
    keys = set()
    for sample in data["resources"]:
        assert window_start <= _ts(sample["at"]) < NOW
        assert 0 <= sample["cpuUsedCores"] <= sample["cpuLimitCores"]
        assert 0 <= sample["memoryUsedBytes"] <= sample["memoryLimitBytes"]
        assert sample["node"]
        keys.add((sample["workspaceId"], sample["at"]))
    assert len(keys) == len(data["resources"])
    node_keys = set()
    for sample in data["nodes"]:
        assert window_start <= _ts(sample["at"]) < NOW
        assert 0 <= sample["cpuUsedCores"] <= sample["cpuCapacityCores"]
        assert 0 <= sample["memoryUsedBytes"] <= sample["memoryCapacityBytes"]
        node_keys.add((sample["node"], sample["at"]))
    assert len(node_keys) == len(data["nodes"])
    assert len({node for node, _ in node_keys}) >= 6


def test_ai_sessions(data: dict[str, list[dict[str, Any]]]) -> None:
    memberships = {(m["userId"], m["organizationId"]) for m in data["memberships"]}
    project_org = {p["id"]: p["organizationId"] for p in data["projects"]}
    agents: set[str] = set()
    models: set[str] = set()
    costs = 0
    lines = 0
    for session in data["aiSessions"]:
        assert (session["userId"], session["organizationId"]) in memberships
        if session["projectId"] is not None:
            assert project_org[session["projectId"]] == session["organizationId"]
        started = _ts(session["startedAt"])
        if session["endedAt"] is not None:
            assert started <= _ts(session["endedAt"]) <= NOW
        agents.add(session["agent"])
        assert 1 <= len(session["usage"]) <= 3
        session_models = [line["model"] for line in session["usage"]]
        assert len(session_models) == len(set(session_models))
        for line in session["usage"]:
            lines += 1
            models.add(line["model"])
            for key in ("inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens"):
                assert isinstance(line[key], int) and line[key] >= 0
            if "cost" in line:
                costs += 1
                assert isinstance(line["cost"], str) and Decimal(line["cost"]) >= 0
    assert {"claude-code", "cursor", "copilot", "aider"} <= agents
    assert {"claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5", "local-llama"} <= models
    assert 0 < costs < lines
    assert any(session["projectId"] is None for session in data["aiSessions"])
    assert any(session["endedAt"] is None for session in data["aiSessions"])


def test_full_period_volume() -> None:
    counts: Counter[str] = Counter()
    users_by_month: dict[str, set[str]] = {}
    for batch in demo.generate(1, now=NOW):
        for kind, records in batch.items():
            counts[kind] += len(records)
        for event in batch.get("activity", []):
            users_by_month.setdefault(event["startedAt"][:7], set()).add(event["userId"])
    assert 150_000 <= counts["activity"] <= 300_000
    assert 35_000 <= counts["latency"] <= 70_000
    assert 25_000 <= counts["resources"] <= 60_000
    assert 7_000 <= counts["aiSessions"] <= 14_000
    assert counts["nodes"] > 0
    total = sum(counts.values())
    assert 0.7 * total <= demo.estimate_records(180) <= 1.3 * total
    months = sorted(users_by_month)
    assert len(users_by_month[months[1]]) < len(users_by_month[months[-2]])
