"""From OTLP log records and metric data points to what usagegraph stores (docs/otlp.md).

Everything here works on the decoded messages and the caller's principal only; the database lookups
(users, projects, stored sessions) happen in ``intake``. Every record ends as an ``Event`` or a
``Drop`` with a reason label and a message."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from usagegraph.auth import roles
from usagegraph.auth.principal import Principal

# Attribute names (docs/otlp.md, "Mapping").
ORGANIZATION = "usagegraph.organization.id"
PROJECT = "usagegraph.project"
REPOSITORIES = ("vcs.repository.url.full", "repository")
SESSIONS = ("session.id", "gen_ai.conversation.id")
ACCOUNT = "user.account_uuid"
EMAIL = "user.email"
MODELS = ("model", "gen_ai.response.model", "gen_ai.request.model")
TOKENS = {
    "input": ("input_tokens", "gen_ai.usage.input_tokens"),
    "output": ("output_tokens", "gen_ai.usage.output_tokens"),
    "cache_read": ("cache_read_tokens", "gen_ai.usage.cache_read.input_tokens"),
    "cache_write": ("cache_creation_tokens", "gen_ai.usage.cache_creation.input_tokens"),
}
COST = "cost_usd"
BIGINT_MAX = 2**63 - 1
_MAX_COST = Decimal(10) ** 9
_SESSION_NAMESPACE = uuid.UUID("5d0f0c3e-8f8e-4a53-9c1b-2f7f0b7c6a11")
_FUTURE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Drop:
    """A record left out, with the reason label of ``usagegraph_otlp_rejected_total``."""

    reason: str
    message: str


@dataclass(slots=True)
class Event:
    index: int
    organization_id: uuid.UUID
    event_id: uuid.UUID
    session_id: uuid.UUID
    name: str
    occurred_at: datetime
    agent: str
    account: uuid.UUID | None
    email: str | None
    project: str | None
    repository: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost: Decimal | None

    @property
    def session_key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.organization_id, self.session_id)

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.organization_id, self.event_id)


class Rejected(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.drop = Drop(reason, message)


def value(any_value: AnyValue) -> Any:
    """An attribute value as plain Python (lists and maps for arrays and key-value lists)."""
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in any_value.kvlist_value.values}
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, kind)


def attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in pairs}


def _text(attrs: dict[str, Any], *names: str) -> str | None:
    for name in names:
        item = attrs.get(name)
        if item is not None and not isinstance(item, (list, dict)):
            text = str(item).strip()
            if text:
                return text
    return None


def _count(attrs: dict[str, Any], names: tuple[str, ...]) -> int:
    """A token count: agents send integers, doubles or decimal strings."""
    for name in names:
        item = attrs.get(name)
        if item is None:
            continue
        if isinstance(item, bool):
            raise Rejected("bad_value", f"{name} must be a number, got {item!r}")
        try:
            number = Decimal(str(item).strip()) if not isinstance(item, int) else Decimal(item)
        except InvalidOperation:
            raise Rejected("bad_value", f"{name} must be a number, got {str(item)[:40]!r}") from None
        if not number.is_finite() or number != number.to_integral_value() or not 0 <= number <= BIGINT_MAX:
            raise Rejected("bad_value", f"{name} must be a whole number between 0 and {BIGINT_MAX}")
        return int(number)
    return 0


def _cost(attrs: dict[str, Any]) -> Decimal | None:
    item = attrs.get(COST)
    if item is None or item == "":
        return None
    try:
        cost = Decimal(str(item).strip())
    except InvalidOperation:
        raise Rejected("bad_value", f"{COST} must be a number, got {str(item)[:40]!r}") from None
    if isinstance(item, bool) or not cost.is_finite() or not Decimal(0) <= cost < _MAX_COST:
        raise Rejected("bad_value", f"{COST} must be between 0 and {_MAX_COST}, got {str(item)[:40]!r}")
    return cost


def session_uuid(key: str) -> uuid.UUID:
    """The session id: the agent's own when it is a UUID (Claude Code's are), else a UUID derived from it."""
    try:
        return uuid.UUID(key)
    except ValueError:
        return uuid.uuid5(_SESSION_NAMESPACE, key)


def event_identity(session: str, name: str, time_ns: int, record_attrs: dict[str, Any]) -> uuid.UUID:
    """An event's identity: a digest of its session, name, time (to the nanosecond) and every attribute
    of the record, so a retried copy (byte for byte, or re-encoded) has the same one."""
    canonical = orjson.dumps(
        [session, name, time_ns, sorted(record_attrs.items())], option=orjson.OPT_SORT_KEYS
    )
    return uuid.UUID(bytes=hashlib.sha256(canonical).digest()[:16])


class Organizations:
    """Which organization a record belongs to: the one its resource or record names (it must be one the
    token may write), or the only organization the token may write."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.only: uuid.UUID | None = None
        if not principal.has(roles.INGEST_WRITE):
            writable = [org for org in principal.org_roles if principal.has(roles.INGEST_WRITE, org)]
            if len(writable) == 1:
                self.only = writable[0]

    def resolve(self, attrs: dict[str, Any]) -> uuid.UUID:
        named = _text(attrs, ORGANIZATION)
        if named is None:
            if self.only is None:
                raise Rejected(
                    "no_organization",
                    f"the token may write to several organizations: name one with the {ORGANIZATION} "
                    "resource attribute",
                )
            return self.only
        try:
            org = uuid.UUID(named)
        except ValueError:
            raise Rejected("bad_value", f"{ORGANIZATION} must be a UUID, got {named[:60]!r}") from None
        if not self.principal.has(roles.INGEST_WRITE, org):
            raise Rejected("forbidden_organization", f"the token may not write to organization {org}")
        return org


def _time(record: Any, attrs: dict[str, Any], now: datetime) -> tuple[int, datetime]:
    nanos = record.time_unix_nano
    if not nanos:
        stamp = _text(attrs, "event.timestamp")
        if stamp is not None:
            try:
                parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                raise Rejected("bad_value", f"event.timestamp is not ISO 8601: {stamp[:40]!r}") from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            nanos = int(parsed.timestamp()) * 1_000_000_000 + parsed.microsecond * 1000
        else:
            nanos = record.observed_time_unix_nano
    if not nanos:
        raise Rejected("no_timestamp", "the record has no time, no event.timestamp and no observed time")
    at = datetime.fromtimestamp(nanos // 1_000_000_000, UTC) + timedelta(microseconds=nanos % 10**9 // 1000)
    if at > now + _FUTURE:
        raise Rejected("bad_value", f"the record's time {at.isoformat()} is in the future")
    return nanos, at


def past_retention(what: str, retention: tuple[datetime, str]) -> str:
    cutoff, setting = retention
    return (
        f"{what} is older than the retention ({setting}): AI sessions before "
        f"{cutoff.isoformat(timespec='seconds')} are purged"
    )


def _name(record: Any, attrs: dict[str, Any]) -> str:
    event_name = getattr(record, "event_name", "")
    if event_name:
        return str(event_name)
    body: str = record.body.string_value if record.body.WhichOneof("value") == "string_value" else ""
    if body.strip():
        return body.strip()
    return _text(attrs, "event.name") or ""


def is_usage(name: str, attrs: dict[str, Any]) -> bool:
    """An API request: Claude Code's api_request, or any event carrying GenAI token usage."""
    short = name.rsplit(".", 1)[-1]
    return short == "api_request" or any(
        key in attrs for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
    )


def log_records(request: ExportLogsServiceRequest) -> Iterator[tuple[dict[str, Any], Any]]:
    """(resource attributes, log record) in request order."""
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                yield resource, record


def count_log_records(request: ExportLogsServiceRequest) -> int:
    return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)


def parse_log(
    index: int,
    resource: dict[str, Any],
    record: Any,
    orgs: Organizations,
    now: datetime,
    retention: tuple[datetime, str] | None = None,
) -> Event | Drop:
    """One log record as an event, or the reason it is dropped. ``retention`` is the AI sessions' cutoff
    and the setting that sets it: an older event is dropped (``past_retention``), as the ``ingest``
    mutation refuses an AI session that started before it."""
    try:
        own = attributes(record.attributes)
        merged = {**resource, **own}
        org = orgs.resolve(merged)
        session = _text(merged, *SESSIONS)
        if session is None:
            raise Rejected("no_session", "the record has no session.id (or gen_ai.conversation.id)")
        name = _name(record, own)
        nanos, at = _time(record, own, now)
        if retention is not None and at < retention[0]:
            raise Rejected("past_retention", past_retention(f"the record's time {at.isoformat()}", retention))
        usage = is_usage(name, own)
        model = _text(own, *MODELS) if usage else None
        if usage and model is None:
            raise Rejected("bad_value", f"the API request event {name or '(unnamed)'} has no model")
        account_text = _text(merged, ACCOUNT)
        account: uuid.UUID | None = None
        if account_text is not None:
            try:
                account = uuid.UUID(account_text)
            except ValueError:
                account = None
        email = _text(merged, EMAIL)
        return Event(
            index=index,
            organization_id=org,
            event_id=event_identity(session, name, nanos, own),
            session_id=session_uuid(session),
            name=name or "event",
            occurred_at=at,
            agent=_text(resource, "service.name") or "unknown",
            account=account,
            email=email.lower() if email else None,
            project=_text(merged, PROJECT),
            repository=_text(merged, *REPOSITORIES),
            model=model,
            input_tokens=_count(own, TOKENS["input"]) if usage else 0,
            output_tokens=_count(own, TOKENS["output"]) if usage else 0,
            cache_read_tokens=_count(own, TOKENS["cache_read"]) if usage else 0,
            cache_write_tokens=_count(own, TOKENS["cache_write"]) if usage else 0,
            cost=_cost(own) if usage else None,
        )
    except Rejected as rejected:
        return rejected.drop


def _points(metric: Any) -> Any:
    kind = metric.WhichOneof("data")
    if kind is None:
        return ()
    return getattr(metric, kind).data_points


def metric_points(request: ExportMetricsServiceRequest) -> Iterator[tuple[dict[str, Any], str, Any]]:
    """(resource attributes, metric name, data point) in request order."""
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in _points(metric):
                    yield resource, metric.name, point


def count_metric_points(request: ExportMetricsServiceRequest) -> int:
    return sum(len(_points(m)) for r in request.resource_metrics for s in r.scope_metrics for m in s.metrics)


def check_point(resource: dict[str, Any], point: Any, orgs: Organizations) -> Drop | None:
    """A data point is accepted when it belongs to an organization the token may write; nothing of it is
    stored (docs/otlp.md, "Metrics")."""
    try:
        orgs.resolve({**resource, **attributes(point.attributes)})
    except Rejected as rejected:
        return rejected.drop
    return None
