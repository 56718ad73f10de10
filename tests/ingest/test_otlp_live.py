"""OTLP intake with a real client: the OpenTelemetry Python SDK and its OTLP/HTTP exporters (protobuf and
JSON) send Claude Code shaped logs and metrics to `usagegraph serve` on loopback; sessionAnalytics must
equal a plain-Python reference of the same events (docs/otlp.md)."""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as ProtoLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Factory
from tests.ingest.otlp_client import (
    ANALYTICS,
    Event,
    Person,
    claude_events,
    proto_logs,
    reference,
    sdk_logs,
    sdk_metrics,
    window,
)

PROTOBUF = "application/x-protobuf"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
async def server(database_url: str) -> AsyncIterator[str]:
    """`usagegraph serve` on a free loopback port, its own process and pool."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("USAGEGRAPH_")}
    env.update(
        USAGEGRAPH_DATABASE_URL=database_url, USAGEGRAPH_LOG_FORMAT="json", USAGEGRAPH_MAX_BODY_BYTES="262144"
    )
    process = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "usagegraph", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                await asyncio.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


class World:
    def __init__(self, factory: Factory) -> None:
        self.factory = factory

    async def build(self) -> World:
        f = self.factory
        self.org = await f.organization("acme")
        self.other_org = await f.organization("globex")
        self.project = await f.project(self.org, "payments")
        self.alice = await f.user("alice", email="alice@acme.test", orgs={self.org: ["member"]})
        self.bob = await f.user("bob", email="bob@acme.test", orgs={self.org: ["member"]})
        self.owner = await f.user("owner", site_roles=["owner"])
        collector = await f.user("collector", orgs={self.org: ["collector"]})
        foreign = await f.user("foreign-collector", orgs={self.other_org: ["collector"]})
        member = await f.user("viewer", orgs={self.org: ["member"]})
        self.owner_token = await f.token(self.owner)
        self.token = await f.token(collector)
        self.foreign_token = await f.token(foreign)
        self.member_token = await f.token(member)
        # alice is found by her email (her agent's account id is not a usagegraph id), bob by account id.
        self.people = [
            Person(self.alice, str(uuid.uuid4()), "Alice@acme.test"),
            Person(self.bob, str(self.bob), "bob@elsewhere.test"),
        ]
        return self


@pytest.fixture
async def world(factory: Factory, engine: AsyncEngine) -> World:
    return await World(factory).build()


async def _analytics(base: str, token: str, org: uuid.UUID, events: list[Event]) -> dict[str, Any]:
    start, end = window(events)
    async with httpx.AsyncClient(base_url=base) as client:
        response = await client.post(
            "/graphql",
            json={"query": ANALYTICS, "variables": {"org": str(org), "filter": {"start": start, "end": end}}},
            headers={"Authorization": f"Bearer {token}"},
        )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["organization"]["sessionAnalytics"]  # type: ignore[no-any-return]


def _assert_matches(analytics: dict[str, Any], expected: dict[str, Any]) -> None:
    summary = analytics["summary"]
    assert summary["totalSessions"] == expected["sessions"]
    assert Decimal(summary["totalCost"]) == expected["cost"]
    assert int(summary["inputTokens"]) == expected["input"]
    assert int(summary["outputTokens"]) == expected["output"]
    assert int(summary["cacheReadTokens"]) == expected["cache_read"]
    assert int(summary["cacheWriteTokens"]) == expected["cache_write"]
    assert summary["uniqueUsers"] == len(expected["users"])
    assert {a["agent"]: a["sessions"] for a in analytics["byAgent"]} == expected["agents"]
    assert {
        s["key"]: (Decimal(s["cost"]), int(s["tokens"]), s["sessions"]) for s in analytics["costBreakdown"]
    } == expected["models"]
    assert {u["user"]["email"] for u in analytics["users"]} == {"alice@acme.test", "bob@acme.test"}


def _start() -> datetime:
    return (datetime.now(UTC) - timedelta(days=6)).replace(microsecond=0)


async def test_sdk_exporters_feed_session_analytics_equal_to_the_reference(server: str, world: World) -> None:
    before = await _counters(server)
    events = claude_events(world.people, sessions=10, seed=7, start=_start())
    half = len(events) // 2
    # A session split across the two halves: its start comes from the first batch, its end from the
    # second, like an activity session re-sent with a later end.
    headers = {"Authorization": f"Bearer {world.token}"}
    resource = {"service.name": "claude-code", "service.version": "2.0.0"}
    proto = ProtoLogExporter(endpoint=f"{server}/v1/logs", headers=headers)
    await asyncio.to_thread(sdk_logs, proto, events[:half], resource)
    json_exporter = JsonLogExporter(endpoint=f"{server}/v1/logs", headers=headers)
    named = {**resource, "usagegraph.organization.id": str(world.org)}
    await asyncio.to_thread(sdk_logs, json_exporter, events[half:], named)
    metrics = OTLPMetricExporter(endpoint=f"{server}/v1/metrics", headers=headers)
    await asyncio.to_thread(sdk_metrics, metrics, events, resource)

    analytics = await _analytics(server, world.owner_token, world.org, events)
    _assert_matches(analytics, reference(events, "claude-code"))

    # Every batch again (an exporter retrying after a lost answer): nothing changes.
    await asyncio.to_thread(
        sdk_logs, ProtoLogExporter(endpoint=f"{server}/v1/logs", headers=headers), events, resource
    )
    await asyncio.to_thread(
        sdk_metrics, OTLPMetricExporter(endpoint=f"{server}/v1/metrics", headers=headers), events, resource
    )
    assert await _analytics(server, world.owner_token, world.org, events) == analytics

    after = await _counters(server)
    accepted = 'usagegraph_otlp_records_total{outcome="accepted",signal="logs"}'
    duplicate = 'usagegraph_otlp_records_total{outcome="duplicate",signal="logs"}'
    assert after[accepted] - before.get(accepted, 0) == len(events)
    assert after[duplicate] - before.get(duplicate, 0) == len(events)
    assert after['usagegraph_otlp_records_total{outcome="accepted",signal="metrics"}'] > 0


async def test_sessions_span_first_to_last_event_and_extend(
    server: str, world: World, engine: AsyncEngine
) -> None:
    events = claude_events(world.people[:1], sessions=1, seed=3, start=_start(), events_per_session=9)
    resource = {
        "service.name": "claude-code",
        "usagegraph.project": "payments",
        "vcs.repository.url.full": "https://git.acme.test/pay",
    }
    headers = {"Authorization": f"Bearer {world.token}", "Content-Type": PROTOBUF}
    async with httpx.AsyncClient(base_url=server, headers=headers) as client:
        for chunk in (events[3:6], events[6:], events[:3]):
            body = proto_logs(chunk, resource).SerializeToString()
            response = await client.post("/v1/logs", content=body)
            assert response.status_code == 200
            assert response.headers["content-type"] == PROTOBUF
            answer = ExportLogsServiceResponse.FromString(response.content)
            assert not answer.HasField("partial_success")
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT user_id, agent, project_id, repository, started_at, ended_at FROM ai_sessions")
            )
        ).one()
    # The start is the first event of the first batch (a stored start never moves); the end follows the
    # latest event; the events that arrived late still count in the usage.
    assert (row.user_id, row.agent, row.project_id) == (world.alice, "claude-code", world.project)
    assert row.repository == "https://git.acme.test/pay"
    assert row.started_at == events[3].at and row.ended_at == events[-1].at
    _assert_totals(
        await _analytics(server, world.owner_token, world.org, events), reference(events, "claude-code")
    )


def _assert_totals(analytics: dict[str, Any], expected: dict[str, Any]) -> None:
    summary = analytics["summary"]
    assert summary["totalSessions"] == expected["sessions"]
    assert Decimal(summary["totalCost"]) == expected["cost"]
    assert int(summary["inputTokens"]) == expected["input"]


async def _counters(server: str) -> dict[str, float]:
    """The OTLP counters of /metrics, by sample name with labels."""
    async with httpx.AsyncClient(base_url=server) as client:
        exposition = (await client.get("/metrics")).text
    out = {}
    for line in exposition.splitlines():
        if line.startswith("usagegraph_otlp_") and "_created" not in line.split("{")[0]:
            name, _, number = line.rpartition(" ")
            out[name] = float(number)
    return out


async def _post(server: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server) as client:
        return await client.post("/v1/logs", content=body, headers=headers)


async def test_documented_answers(server: str, world: World) -> None:
    events = claude_events(world.people, sessions=2, seed=11, start=_start(), events_per_session=4)
    resource = {"service.name": "claude-code"}
    body = proto_logs(events, resource).SerializeToString()
    auth = {"Authorization": f"Bearer {world.token}", "Content-Type": PROTOBUF}
    before = await _counters(server)

    # No token, a wrong token: 401 with a google.rpc.Status body in the request's encoding.
    missing = await _post(server, body, {"Content-Type": PROTOBUF})
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert status_pb2.Status.FromString(missing.content).code == 16
    wrong = await _post(server, body, {"Authorization": "Bearer ug_nope", "Content-Type": "application/json"})
    assert wrong.status_code == 401 and "invalid" in wrong.json()["message"]
    # A token without ingest:write: 403.
    assert (
        await _post(server, body, {**auth, "Authorization": f"Bearer {world.member_token}"})
    ).status_code == 403

    # A token of another organization naming this one: every record dropped, reported, nothing stored.
    named = proto_logs(events, {**resource, "usagegraph.organization.id": str(world.org)}).SerializeToString()
    foreign = await _post(server, named, {**auth, "Authorization": f"Bearer {world.foreign_token}"})
    answer = ExportLogsServiceResponse.FromString(foreign.content)
    assert foreign.status_code == 200 and answer.partial_success.rejected_log_records == len(events)
    assert "forbidden_organization" in answer.partial_success.error_message

    # Malformed bodies: 400; a body of another type: 415; an oversized body or a gzip bomb: 413.
    assert (await _post(server, b"\xff\x00garbage", auth)).status_code == 400
    bad_json = await _post(server, b'{"resourceLogs": 3}', {**auth, "Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["code"] == 3
    assert (await _post(server, body, {**auth, "Content-Type": "text/plain"})).status_code == 415
    assert (await _post(server, b"x" * 300_000, auth)).status_code == 413
    bomb = gzip.compress(b"\x00" * 2_000_000)
    assert (await _post(server, bomb, {**auth, "Content-Encoding": "gzip"})).status_code == 413
    assert (await _analytics(server, world.owner_token, world.org, events))["summary"]["totalSessions"] == 0

    # gzip accepted; an unknown user dropped with its reason while the rest of the batch is stored.
    stranger = Person(None, str(uuid.uuid4()), "mallory@nowhere.test")
    lost = Event(
        events[0].session + "-x",
        stranger,
        "api_request",
        events[0].at,
        1,
        "claude-sonnet-4-5",
        (5, 5, 0, 0),
        0.5,
    )
    mixed = proto_logs([*events, lost], resource).SerializeToString()
    stored = await _post(server, gzip.compress(mixed), {**auth, "Content-Encoding": "gzip"})
    answer = ExportLogsServiceResponse.FromString(stored.content)
    assert answer.partial_success.rejected_log_records == 1
    assert "unknown_user" in answer.partial_success.error_message
    assert "mallory@nowhere.test" in answer.partial_success.error_message
    # The retried batch: duplicates, no rejection but the same unknown user, nothing counted twice.
    again = ExportLogsServiceResponse.FromString((await _post(server, mixed, auth)).content)
    assert again.partial_success.rejected_log_records == 1
    _assert_matches(
        await _analytics(server, world.owner_token, world.org, events), reference(events, "claude-code")
    )
    after = await _counters(server)
    for name, delta in (
        ('usagegraph_otlp_rejected_total{reason="unknown_user",signal="logs"}', 2),
        ('usagegraph_otlp_rejected_total{reason="forbidden_organization",signal="logs"}', len(events)),
        ('usagegraph_otlp_requests_rejected_total{reason="unauthenticated",signal="logs"}', 2),
        ('usagegraph_otlp_requests_rejected_total{reason="forbidden",signal="logs"}', 1),
        ('usagegraph_otlp_requests_rejected_total{reason="malformed",signal="logs"}', 2),
        ('usagegraph_otlp_requests_rejected_total{reason="media_type",signal="logs"}', 1),
        ('usagegraph_otlp_requests_rejected_total{reason="too_large",signal="logs"}', 2),
    ):
        assert after[name] - before.get(name, 0) == delta, name


async def test_concurrent_batches_of_one_session_add_up(server: str, world: World) -> None:
    """Four exporters' batches of the same sessions at once: the sessions' locks queue them, and each
    recomputes its sessions from a ledger that holds the others' events."""
    events = claude_events(world.people, sessions=2, seed=5, start=_start(), events_per_session=24)
    headers = {"Authorization": f"Bearer {world.token}", "Content-Type": PROTOBUF}
    bodies = [proto_logs(events[i::4], {"service.name": "claude-code"}).SerializeToString() for i in range(4)]
    async with httpx.AsyncClient(base_url=server, headers=headers) as client:
        responses = await asyncio.gather(*(client.post("/v1/logs", content=body) for body in bodies))
    assert [r.status_code for r in responses] == [200] * 4
    assert all(r.content == b"" for r in responses)
    _assert_matches(
        await _analytics(server, world.owner_token, world.org, events), reference(events, "claude-code")
    )


async def test_metrics_are_checked_not_stored(server: str, world: World) -> None:
    events = claude_events(world.people, sessions=2, seed=9, start=_start(), events_per_session=6)
    headers = {"Authorization": f"Bearer {world.foreign_token}"}
    named = {"service.name": "claude-code", "usagegraph.organization.id": str(world.org)}
    before = await _counters(server)
    exporter = OTLPMetricExporter(endpoint=f"{server}/v1/metrics", headers=headers)
    await asyncio.to_thread(sdk_metrics, exporter, events, named)
    after = await _counters(server)
    key = 'usagegraph_otlp_rejected_total{reason="forbidden_organization",signal="metrics"}'
    assert after[key] > before.get(key, 0)
    # A JSON request answers in JSON, with the partial success of the data points.
    body = {
        "resourceMetrics": [
            {
                "resource": {
                    "attributes": [
                        {"key": "usagegraph.organization.id", "value": {"stringValue": str(world.org)}}
                    ]
                },
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "claude_code.session.count",
                                "sum": {
                                    "dataPoints": [{"asInt": "1", "timeUnixNano": "1764590400000000000"}],
                                    "aggregationTemporality": 1,
                                    "isMonotonic": True,
                                },
                            }
                        ]
                    }
                ],
            }
        ]
    }
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.post("/v1/metrics", json=body, headers=headers)
        accepted = await client.post(
            "/v1/metrics", json=body, headers={"Authorization": f"Bearer {world.token}"}
        )
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    partial = response.json()["partialSuccess"]
    assert partial["rejectedDataPoints"] == "1" and "forbidden_organization" in partial["errorMessage"]
    assert accepted.status_code == 200 and accepted.json() == {}
    assert (await _analytics(server, world.owner_token, world.org, events))["summary"]["totalSessions"] == 0
