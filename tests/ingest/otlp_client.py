"""Claude Code shaped telemetry for the OTLP tests and the benchmark: deterministic events, the
OpenTelemetry SDK's own providers and OTLP/HTTP exporters to send them, and a plain-Python reference of
what the AI session analytics must show for them (docs/otlp.md)."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from opentelemetry._logs import LogRecord
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as ProtoLogRecord
from opentelemetry.proto.logs.v1.logs_pb2 import ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ProtoResource
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from usagegraph.pricing import MICRO_USD, load_price_table

MODELS = ("claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805")


@dataclass
class Person:
    user_id: uuid.UUID | None
    account: str
    email: str


@dataclass
class Event:
    session: str
    person: Person
    name: str
    at: datetime
    sequence: int
    model: str | None = None
    tokens: tuple[int, int, int, int] = (0, 0, 0, 0)
    cost: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "session.id": self.session,
            "user.account_uuid": self.person.account,
            "user.email": self.person.email,
            "organization.id": "6b0f1e4c-5a3d-4c2b-9e8f-7a6b5c4d3e2f",
            "terminal.type": "vscode",
            "event.name": self.name,
            "event.timestamp": self.at.isoformat().replace("+00:00", "Z"),
            "event.sequence": self.sequence,
        }
        if self.name == "api_request":
            attrs.update(
                model=self.model,
                duration_ms=1200 + self.sequence,
                input_tokens=self.tokens[0],
                output_tokens=self.tokens[1],
                cache_read_tokens=self.tokens[2],
                cache_creation_tokens=self.tokens[3],
            )
            if self.cost is not None:
                attrs["cost_usd"] = self.cost
        elif self.name == "user_prompt":
            attrs["prompt_length"] = 40 + self.sequence
        attrs.update(self.extra)
        return attrs

    @property
    def time_ns(self) -> int:
        return int(self.at.timestamp()) * 1_000_000_000 + self.at.microsecond * 1000


def claude_events(
    people: list[Person], sessions: int, seed: int, start: datetime, events_per_session: int = 12
) -> list[Event]:
    """Sessions of prompts and API requests; about one request in four has no cost_usd (the price table
    prices it), and one session in five uses a model the default table does not know."""
    rng = random.Random(seed)
    out: list[Event] = []
    for s in range(sessions):
        person = people[s % len(people)]
        session = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        at = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 3))
        for n in range(events_per_session):
            at += timedelta(seconds=rng.randrange(1, 240), microseconds=rng.randrange(0, 10**6))
            if n % 3 == 0:
                out.append(Event(session, person, "user_prompt", at, n))
                continue
            model = "local-llama-3" if s % 5 == 4 and n % 2 else rng.choice(MODELS)
            tokens = (
                rng.randrange(0, 9000),
                rng.randrange(0, 3000),
                rng.randrange(0, 50000),
                rng.randrange(0, 4000),
            )
            cost = None if rng.random() < 0.25 else round(rng.uniform(0.0001, 0.9), 6)
            out.append(Event(session, person, "api_request", at, n, model, tokens, cost))
    return out


def sdk_logs(exporter: Any, events: list[Event], resource: dict[str, Any], max_batch: int = 512) -> None:
    """Emits the events through the SDK's logger provider and batch processor into ``exporter``."""
    provider = LoggerProvider(resource=Resource.create(resource))
    provider.add_log_record_processor(
        BatchLogRecordProcessor(exporter, max_export_batch_size=max_batch, schedule_delay_millis=60_000)
    )
    logger = provider.get_logger("com.anthropic.claude_code.events", "2.0.0")
    for event in events:
        logger.emit(
            LogRecord(
                timestamp=event.time_ns,
                observed_timestamp=event.time_ns,
                body=f"claude_code.{event.name}",
                attributes=event.attributes(),
            )
        )
    assert provider.force_flush(60_000)
    provider.shutdown()


def sdk_metrics(exporter: Any, events: list[Event], resource: dict[str, Any]) -> None:
    """Claude Code's counters for the same events: session.count, token.usage by type, cost.usage."""
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create(resource), metric_readers=[reader])
    meter = provider.get_meter("com.anthropic.claude_code", "2.0.0")
    sessions = meter.create_counter("claude_code.session.count", unit="count")
    tokens = meter.create_counter("claude_code.token.usage", unit="tokens")
    cost = meter.create_counter("claude_code.cost.usage", unit="USD")
    seen: set[str] = set()
    for event in events:
        base = {
            "session.id": event.session,
            "user.account_uuid": event.person.account,
            "user.email": event.person.email,
        }
        if event.session not in seen:
            seen.add(event.session)
            sessions.add(1, base)
        if event.name == "api_request":
            for kind, n in zip(("input", "output", "cacheRead", "cacheCreation"), event.tokens, strict=True):
                tokens.add(n, {**base, "type": kind, "model": event.model or ""})
            if event.cost is not None:
                cost.add(event.cost, {**base, "model": event.model or ""})
    assert provider.force_flush(60_000)
    provider.shutdown()


def proto_logs(events: list[Event], resource: dict[str, Any]) -> ExportLogsServiceRequest:
    """The same events as one ExportLogsServiceRequest built directly (for raw-request tests)."""

    def any_value(value: Any) -> AnyValue:
        if isinstance(value, bool):
            return AnyValue(bool_value=value)
        if isinstance(value, int):
            return AnyValue(int_value=value)
        if isinstance(value, float):
            return AnyValue(double_value=value)
        return AnyValue(string_value=str(value))

    records = [
        ProtoLogRecord(
            time_unix_nano=e.time_ns,
            body=AnyValue(string_value=f"claude_code.{e.name}"),
            attributes=[KeyValue(key=k, value=any_value(v)) for k, v in e.attributes().items()],
        )
        for e in events
    ]
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=ProtoResource(
                    attributes=[KeyValue(key=k, value=any_value(v)) for k, v in resource.items()]
                ),
                scope_logs=[ScopeLogs(log_records=records)],
            )
        ]
    )


def reference(events: list[Event], agent: str) -> dict[str, Any]:
    """What sessionAnalytics must report for these events, computed without usagegraph's code paths:
    per session and model, the explicit costs summed (rounded to the micro-dollar) and the tokens of
    requests without cost priced from the default table."""
    prices = load_price_table()
    lines: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"tokens": [0, 0, 0, 0], "cost": Decimal(0), "explicit": 0, "uncosted": [0, 0, 0, 0], "n": 0}
    )
    sessions: dict[str, Person] = {}
    for e in events:
        sessions[e.session] = e.person
        if e.name != "api_request" or e.model is None:
            continue
        line = lines[(e.session, e.model)]
        line["n"] += 1
        for i in range(4):
            line["tokens"][i] += e.tokens[i]
        if e.cost is None:
            for i in range(4):
                line["uncosted"][i] += e.tokens[i]
        else:
            line["explicit"] += 1
            line["cost"] += Decimal(str(e.cost))
    by_model: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"cost": Decimal(0), "tokens": 0, "sessions": set()}
    )
    total_cost = Decimal(0)
    totals = [0, 0, 0, 0]
    for (session, model), line in lines.items():
        price = prices.lookup(model)
        cost = line["cost"].quantize(MICRO_USD, rounding=ROUND_HALF_UP) if line["explicit"] else Decimal(0)
        if line["explicit"] < line["n"] and price is not None:
            cost += price.cost(*line["uncosted"])
        total_cost += cost
        for i in range(4):
            totals[i] += line["tokens"][i]
        slot = by_model[model]
        slot["cost"] += cost
        slot["tokens"] += line["tokens"][0] + line["tokens"][1]
        slot["sessions"].add(session)
    users = {p.email for p in sessions.values()}
    return {
        "sessions": len(sessions),
        "cost": total_cost,
        "input": totals[0],
        "output": totals[1],
        "cache_read": totals[2],
        "cache_write": totals[3],
        "users": users,
        "agents": {agent: len(sessions)},
        "models": {m: (v["cost"], v["tokens"], len(v["sessions"])) for m, v in by_model.items()},
    }


def window(events: list[Event]) -> tuple[str, str]:
    first = min(e.at for e in events) - timedelta(days=1)
    last = max(e.at for e in events) + timedelta(days=1)
    return first.astimezone(UTC).isoformat(), last.astimezone(UTC).isoformat()


ANALYTICS = """
query($org: ID!, $filter: SessionFilter) {
  organization(id: $org) {
    sessionAnalytics(filter: $filter) {
      summary { totalSessions totalCost inputTokens outputTokens cacheReadTokens cacheWriteTokens uniqueUsers }
      byAgent { agent sessions }
      costBreakdown(by: MODEL) { key cost tokens sessions }
      users { user { email } sessions }
    }
  }
}
"""
