"""Structured logs as an operator reads them: one JSON object per line, an access line per request with
the request id the client saw, the masked error's traceback with that same id, and never a token."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import structlog
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Factory
from usagegraph.app import create_app
from usagegraph.auth.tokens import new_token
from usagegraph.monitoring.logging import REDACTED, configure_logging, get_logger, redact_text
from usagegraph.settings import Settings


@pytest.fixture
def log_output(settings: Settings) -> Iterator[io.StringIO]:
    """Every log line of the test in JSON at debug level; the suite's own configuration comes back after."""
    stream = io.StringIO()
    configure_logging(settings.model_copy(update={"log_format": "json", "log_level": "DEBUG"}), stream)
    yield stream
    configure_logging(settings)


@pytest.fixture
async def client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_tokens_never_reach_the_log(
    log_output: io.StringIO,
    client: httpx.AsyncClient,
    factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = await factory.organization()
    user = await factory.user("owner", orgs={org: ["owner"]})
    token = await factory.token(user)
    forged = new_token()

    async def leaky(info: Any, *args: Any) -> Any:
        raise RuntimeError(f"cannot compute for Authorization: Bearer {token} (session token {forged})")

    monkeypatch.setattr("usagegraph.resolvers.compute.organization_compute", leaky)
    query = (
        f'{{ organization(id: "{org}") {{ compute(start: "2024-01-01T00:00:00Z", end: "2024-01-02T00:00:00Z", '
        'interval: "1 day") { nodes { node } } } }'
    )

    rejected = await client.post(
        "/graphql", json={"query": "{ viewer { username } }"}, headers={"Authorization": f"Bearer {forged}"}
    )
    rejected_session = await client.post(
        "/graphql", json={"query": "{ viewer { username } }"}, headers={"Session-Token": forged}
    )
    failed = await client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )
    get_logger("usagegraph.test").info("sending", authorization=f"Bearer {token}", note=f"retry with {token}")
    logging.getLogger("thirdparty").warning("header was %s", f"Bearer {forged}")

    assert rejected.status_code == 401
    assert rejected_session.status_code == 401
    error = failed.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "Bearer" not in error["message"]

    output = log_output.getvalue()
    assert token not in output
    assert forged not in output
    assert token[3:20] not in output
    assert forged[3:20] not in output
    events = lines(log_output)
    masked = [e for e in events if e["event"] == "unhandled error in resolver"]
    assert len(masked) == 1
    assert masked[0]["request_id"] == error["extensions"]["requestId"] == failed.headers["x-request-id"]
    assert "RuntimeError: cannot compute for Authorization: Bearer " + REDACTED in masked[0]["exception"]
    assert masked[0]["level"] == "error"
    sent = next(e for e in events if e["event"] == "sending")
    assert sent["authorization"] == REDACTED
    assert sent["note"] == f"retry with ug_{REDACTED}"
    foreign = next(e for e in events if e["logger"] == "thirdparty")
    assert foreign["event"] == f"header was Bearer {REDACTED}"


async def test_every_request_gets_an_access_line(
    log_output: io.StringIO, client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user("reader", site_roles=["owner"])
    token = await factory.token(user)

    ok = await client.post(
        "/graphql",
        json={"query": "{ viewer { username } }"},
        headers={"Authorization": f"Bearer {token}", "X-Request-Id": "trace-42"},
    )
    missing = await client.get("/nowhere")
    await client.get("/healthz")

    assert ok.headers["x-request-id"] == "trace-42"
    access = [e for e in lines(log_output) if e["logger"] == "usagegraph.access"]
    graphql, nowhere, health = access
    assert graphql["event"] == "request"
    assert graphql["request_id"] == "trace-42"
    assert graphql["user_id"] == str(user)
    assert (graphql["method"], graphql["route"], graphql["status"], graphql["level"]) == (
        "POST",
        "/graphql",
        200,
        "info",
    )
    assert isinstance(graphql["duration_ms"], float) and graphql["duration_ms"] >= 0
    assert graphql["timestamp"].endswith("Z")
    assert (nowhere["route"], nowhere["status"], nowhere["level"]) == ("unmatched", 404, "info")
    assert nowhere["request_id"] == missing.headers["x-request-id"]
    assert (health["route"], health["level"]) == ("/healthz", "debug")


async def test_console_format_is_readable_text(settings: Settings) -> None:
    stream = io.StringIO()
    try:
        configure_logging(settings.model_copy(update={"log_format": "console"}), stream)
        get_logger("usagegraph.test").info("request", route="/graphql", status=200)
    finally:
        configure_logging(settings)
    line = stream.getvalue().strip()
    assert "request" in line and "route=/graphql" in line and "status=200" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_format_defaults_to_json_off_a_terminal_and_an_explicit_choice_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("USAGEGRAPH_LOG_FORMAT", raising=False)
    stream = io.StringIO()
    try:
        configure_logging(Settings(), stream)
        get_logger("usagegraph.test").warning("disk almost full", free_percent=3)
        monkeypatch.setenv("USAGEGRAPH_LOG_FORMAT", "console")
        configure_logging(Settings(), stream)
        get_logger("usagegraph.test").warning("second line")
    finally:
        configure_logging(Settings(log_format="console"))
    first, second = stream.getvalue().splitlines()
    assert json.loads(first)["free_percent"] == 3
    assert "second line" in second and not second.startswith("{")


def test_log_level_filters_events(settings: Settings) -> None:
    stream = io.StringIO()
    try:
        configure_logging(settings.model_copy(update={"log_format": "json", "log_level": "warning"}), stream)
        get_logger("usagegraph.test").info("chatty")
        get_logger("usagegraph.test").error("serious")
    finally:
        configure_logging(settings)
    assert [e["event"] for e in lines(stream)] == ["serious"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", f"Authorization: Bearer {REDACTED}"),
        ("bearer ug_x1y2z3w4", f"bearer {REDACTED}"),
        ("token=ug_abcdefghijklmnop&x=1", f"token=ug_{REDACTED}&x=1"),
        ('{"Session-Token": "s3cr3t"}', f'{{"Session-Token": "{REDACTED}"}}'),
        ("debug_mode and plug_in are words", "debug_mode and plug_in are words"),
    ],
)
def test_redaction_patterns(raw: str, expected: str) -> None:
    assert redact_text(raw) == expected


def test_structlog_is_routed_through_the_standard_library(settings: Settings) -> None:
    stream = io.StringIO()
    try:
        configure_logging(settings.model_copy(update={"log_format": "json"}), stream)
        with structlog.contextvars.bound_contextvars(request_id="bound-1"):
            get_logger("usagegraph.test").info("inside", headers={"authorization": "x"})
    finally:
        configure_logging(settings)
    [event] = lines(stream)
    assert event["request_id"] == "bound-1"
    assert event["headers"] == REDACTED
