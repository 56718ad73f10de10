"""The OTLP mapping on decoded messages (docs/otlp.md): both encodings, attribute shapes the agents send,
event identity and the reasons records are dropped for."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from usagegraph.auth.principal import Principal
from usagegraph.http.otlp import events as ev
from usagegraph.http.otlp import wire

ORG = uuid.UUID("8d1c1c8e-0a0b-4c3e-9d2f-0e1f2a3b4c5d")
OTHER = uuid.UUID("1f0e2d3c-4b5a-4968-8776-655443322110")
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _principal() -> Principal:
    return Principal(uuid.uuid4(), "collector", (), {ORG: ("collector",)})


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def _json_body(records: list[dict[str, Any]], resource: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {"attributes": [_kv(k, v) for k, v in resource.items()]},
                    "scopeLogs": [{"scope": {"name": "claude_code"}, "logRecords": records}],
                }
            ]
        }
    )


def _record(attrs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "timeUnixNano": "1764590400123456789",
        "severityNumber": 9,
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "body": {"stringValue": "claude_code.api_request"},
        "attributes": [_kv(k, v) for k, v in attrs.items()],
        **fields,
    }


API_REQUEST = {
    "session.id": "0a4c3f4e-8b1d-4f6e-9a2b-3c4d5e6f7a8b",
    "user.email": "Dev@Acme.test",
    "event.name": "api_request",
    "model": "claude-sonnet-4-5",
    "input_tokens": "1200",  # Claude Code sends some counts as strings
    "output_tokens": 300,
    "cache_read_tokens": 4000.0,
    "cache_creation_tokens": 0,
    "cost_usd": 0.012345,
}


def _parse(body: bytes, media: str = wire.JSON) -> list[ev.Event | ev.Drop]:
    message = wire.decode(body, media, ExportLogsServiceRequest())
    orgs = ev.Organizations(_principal())
    return [
        ev.parse_log(i, resource, record, orgs, NOW)
        for i, (resource, record) in enumerate(ev.log_records(message))
    ]


def test_json_and_protobuf_encodings_map_to_the_same_event() -> None:
    body = _json_body([_record(API_REQUEST)], {"service.name": "claude-code"})
    (from_json,) = _parse(body)
    message = wire.decode(body, wire.JSON, ExportLogsServiceRequest())
    assert (
        message.resource_logs[0].scope_logs[0].log_records[0].trace_id.hex()
        == "5b8efff798038103d269b633813fc60c"
    )
    (from_proto,) = _parse(message.SerializeToString(), wire.PROTOBUF)
    assert from_json == from_proto
    assert isinstance(from_json, ev.Event)
    assert from_json.organization_id == ORG and from_json.agent == "claude-code"
    assert from_json.session_id == uuid.UUID(API_REQUEST["session.id"])
    assert from_json.email == "dev@acme.test" and from_json.model == "claude-sonnet-4-5"
    assert (from_json.input_tokens, from_json.output_tokens, from_json.cache_read_tokens) == (1200, 300, 4000)
    assert from_json.cost == Decimal("0.012345")
    assert from_json.occurred_at == datetime(2025, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_identity_follows_what_the_event_carries() -> None:
    (a,) = _parse(_json_body([_record(API_REQUEST)], {"service.name": "claude-code"}))
    # Another resource and observed time: the same event.
    (b,) = _parse(
        _json_body(
            [_record(API_REQUEST, observedTimeUnixNano="1764590499000000000")],
            {"service.name": "claude-code", "host.name": "x"},
        )
    )
    (c,) = _parse(
        _json_body([_record({**API_REQUEST, "output_tokens": 301})], {"service.name": "claude-code"})
    )
    (d,) = _parse(
        _json_body(
            [_record(API_REQUEST, timeUnixNano="1764590400123456790")], {"service.name": "claude-code"}
        )
    )
    assert (
        isinstance(a, ev.Event)
        and isinstance(b, ev.Event)
        and isinstance(c, ev.Event)
        and isinstance(d, ev.Event)
    )
    assert a.event_id == b.event_id
    assert len({a.event_id, c.event_id, d.event_id}) == 3


def test_genai_events_and_non_uuid_sessions() -> None:
    attrs = {
        "gen_ai.conversation.id": "conv-42",
        "user.email": "dev@acme.test",
        "gen_ai.response.model": "gpt-5",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 20,
    }
    record = _record(attrs, body={"stringValue": "gen_ai.client.inference.operation.details"})
    del record["timeUnixNano"]
    record["attributes"].append(_kv("event.timestamp", "2026-11-30T10:00:00.5Z"))
    (event,) = _parse(_json_body([record], {"service.name": "codex"}))
    assert isinstance(event, ev.Event)
    assert event.session_id == ev.session_uuid("conv-42") and event.session_id.version == 5
    assert (event.model, event.input_tokens, event.output_tokens, event.cost) == ("gpt-5", 10, 20, None)
    assert event.occurred_at == datetime(2026, 11, 30, 10, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"session.id": None}, "no_session"),
        ({"input_tokens": "-3"}, "bad_value"),
        ({"output_tokens": "1.5"}, "bad_value"),
        ({"cost_usd": "a lot"}, "bad_value"),
        ({"model": None}, "bad_value"),
        ({"usagegraph.organization.id": str(OTHER)}, "forbidden_organization"),
        ({"usagegraph.organization.id": "acme"}, "bad_value"),
    ],
)
def test_bad_records_are_dropped_with_a_reason(change: dict[str, Any], reason: str) -> None:
    attrs = {k: v for k, v in {**API_REQUEST, **change}.items() if v is not None}
    (drop,) = _parse(_json_body([_record(attrs)], {"service.name": "claude-code"}))
    assert isinstance(drop, ev.Drop) and drop.reason == reason


def test_a_token_of_several_organizations_must_name_one() -> None:
    orgs = ev.Organizations(Principal(uuid.uuid4(), "c", (), {ORG: ("collector",), OTHER: ("collector",)}))
    with pytest.raises(ev.Rejected) as error:
        orgs.resolve({})
    assert error.value.drop.reason == "no_organization"
    assert orgs.resolve({"usagegraph.organization.id": str(OTHER)}) == OTHER


def test_gzip_and_limits() -> None:
    body = b"a" * 1000
    assert wire.inflate(gzip.compress(body), "gzip", 1000) == body
    with pytest.raises(wire.WireError) as too_large:
        wire.inflate(gzip.compress(body), "gzip", 999)
    assert too_large.value.status == 413
    with pytest.raises(wire.WireError) as truncated:
        wire.inflate(gzip.compress(body)[:-8], "gzip", 1000)
    assert truncated.value.status == 400
    with pytest.raises(wire.WireError) as unsupported:
        wire.inflate(body, "br", 1000)
    assert unsupported.value.status == 415


def test_json_response_shape() -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    response = ExportLogsServiceResponse()
    response.partial_success.rejected_log_records = 2
    response.partial_success.error_message = "2 log records rejected"
    assert orjson.loads(wire.encode(response, wire.JSON)) == {
        "partialSuccess": {"rejectedLogRecords": "2", "errorMessage": "2 log records rejected"}
    }
    assert json_format.MessageToDict(ExportLogsServiceResponse()) == {}


def test_an_event_older_than_the_ai_sessions_retention_is_dropped() -> None:
    body = _json_body([_record(API_REQUEST)], {"service.name": "claude-code"})  # 2025-12-01T12:00:00.123456Z
    message = wire.decode(body, wire.JSON, ExportLogsServiceRequest())
    ((resource, record),) = ev.log_records(message)
    orgs = ev.Organizations(_principal())
    setting = "USAGEGRAPH_RETENTION_AI_SESSIONS_DAYS=30"
    drop = ev.parse_log(
        0, resource, record, orgs, NOW, (datetime(2025, 12, 1, 12, 0, 1, tzinfo=UTC), setting)
    )
    assert isinstance(drop, ev.Drop) and drop.reason == "past_retention"
    assert drop.message == (
        "the record's time 2025-12-01T12:00:00.123456+00:00 is older than the retention "
        f"({setting}): AI sessions before 2025-12-01T12:00:01+00:00 are purged"
    )
    kept = ev.parse_log(
        0, resource, record, orgs, NOW, (datetime(2025, 12, 1, 12, 0, 0, tzinfo=UTC), setting)
    )
    assert isinstance(kept, ev.Event)
