"""Query.controlPlane without a working Prometheus: not configured, unreachable, too slow, and the checks
that come before any request (permission, range). The charts read from a real Prometheus are tested in
test_prometheus.py."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import GraphQL
from tests.factories import Factory
from usagegraph.monitoring.control_plane import label_value, queries

PAGE = """
query Page($start: DateTime!, $end: DateTime!, $step: Int) {
  viewer { username }
  controlPlane {
    configured
    charts(start: $start, end: $end, stepSeconds: $step) {
      stepSeconds
      logEvents { label points { at value } }
      statusCodes { label points { at value } }
      latency { label points { at value } }
    }
  }
}
"""
RANGE = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "step": 60}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _page(make_client: Any, token: str, variables: dict[str, Any] = RANGE, **settings: Any) -> Any:
    async for client in make_client(**settings):
        return await GraphQL(client)(PAGE, variables, token=token)
    raise AssertionError("no client")


@pytest.fixture
async def owner(factory: Factory) -> str:
    return await factory.token(await factory.user("ops", site_roles=["owner"]))


async def test_without_prometheus_url_the_field_says_it_is_not_configured(
    make_client: Any, owner: str
) -> None:
    body = await _page(make_client, owner, prometheus_url=None)
    assert body == {
        "data": {"viewer": {"username": "ops"}, "controlPlane": {"configured": False, "charts": None}},
        "_status": 200,
    }


async def test_an_unreachable_prometheus_fails_only_the_charts(make_client: Any, owner: str) -> None:
    closed = f"http://127.0.0.1:{_free_port()}"
    body = await _page(make_client, owner, prometheus_url=closed)
    assert body["data"] == {
        "viewer": {"username": "ops"},
        "controlPlane": {"configured": True, "charts": None},
    }
    [error] = body["errors"]
    assert error["path"] == ["controlPlane", "charts"]
    assert error["extensions"]["code"] == "PROMETHEUS_UNAVAILABLE"
    assert error["extensions"]["reason"] == "unreachable"
    assert "cannot be reached" in error["message"] and closed not in error["message"]


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and reads requests but never answers: a Prometheus that hangs."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_prometheus_that_does_not_answer_in_time_fails_with_timeout(
    make_client: Any, owner: str, silent_server: str
) -> None:
    started = asyncio.get_running_loop().time()
    body = await _page(make_client, owner, prometheus_url=silent_server, prometheus_timeout_seconds=0.5)
    elapsed = asyncio.get_running_loop().time() - started
    assert body["data"]["viewer"] == {"username": "ops"}
    assert body["data"]["controlPlane"] == {"configured": True, "charts": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "PROMETHEUS_UNAVAILABLE"
    assert error["extensions"]["reason"] == "timeout"
    assert "did not answer within 0.5 s" in error["message"]
    assert elapsed < 10


@pytest.fixture
async def error_server() -> AsyncIterator[str]:
    """Answers every request like a Prometheus refusing the query (HTTP 422, status error)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = (
            b'{"status":"error","errorType":"execution","error":"query timed out in expression evaluation"}'
        )
        writer.write(
            b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def test_an_error_answered_by_prometheus_is_reported(
    make_client: Any, owner: str, error_server: str
) -> None:
    body = await _page(make_client, owner, prometheus_url=error_server)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "PROMETHEUS_UNAVAILABLE"
    assert error["extensions"]["reason"] == "error"
    assert error["message"] == "Prometheus answered an error: query timed out in expression evaluation"
    assert body["data"]["viewer"] == {"username": "ops"}


async def test_the_control_plane_needs_site_wide_monitoring_read(make_client: Any, factory: Factory) -> None:
    org = await factory.organization()
    org_admin = await factory.token(await factory.user("orgadmin", orgs={org: ["admin"]}))
    member = await factory.token(await factory.user("member", site_roles=["member"]))
    manager = await factory.token(await factory.user("manager", site_roles=["site-manager"]))
    for token in (org_admin, member):
        body = await _page(make_client, token, prometheus_url=None)
        assert body["data"]["controlPlane"] is None and body["data"]["viewer"] is not None
        [error] = body["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["message"] == "the control plane requires a site-wide role with monitoring:read"
    body = await _page(make_client, manager, prometheus_url=None)
    assert body["data"]["controlPlane"] == {"configured": False, "charts": None}


@pytest.mark.parametrize(
    ("variables", "argument", "message"),
    [
        ({**RANGE, "end": RANGE["start"]}, "end", "end must be after start"),
        ({**RANGE, "step": 0}, "stepSeconds", "stepSeconds must be between 1 and 604800"),
        (
            {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "step": 1},
            "stepSeconds",
            "the range holds more than 11000 steps of stepSeconds: choose a longer step",
        ),
    ],
)
async def test_ranges_are_validated_before_prometheus_is_asked(
    make_client: Any, owner: str, silent_server: str, variables: dict[str, Any], argument: str, message: str
) -> None:
    # The silent server would turn any request into a timeout: BAD_USER_INPUT proves none was sent.
    body = await _page(
        make_client, owner, variables, prometheus_url=silent_server, prometheus_timeout_seconds=5
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == argument
    assert error["message"] == message


def test_the_scrape_job_is_quoted_and_the_window_follows_the_step() -> None:
    assert label_value('a"b\\c') == '"a\\"b\\\\c"'
    texts = queries('prod"} or vector(1) #', 300)
    assert texts["log_events"] == (
        'sum by (level) (rate(usagegraph_log_events_total{job="prod\\"} or vector(1) #"}[300s]))'
    )
    assert texts["status_codes"] == (
        'sum by (status) (rate(usagegraph_http_requests_total{job="prod\\"} or vector(1) #", '
        'route!~"/metrics|/healthz|/readyz"}[300s]))'
    )
    plain = queries(None, 120)
    assert plain["log_events"] == "sum by (level) (rate(usagegraph_log_events_total[120s]))"
    assert plain["latency"].count("histogram_quantile(") == 3
