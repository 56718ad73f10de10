"""OpenTelemetry intake: OTLP over HTTP at ``POST /v1/logs`` and ``POST /v1/metrics`` (docs/otlp.md).

Coding agents export their telemetry here directly. A request is authenticated like every other one (a
token with ``ingest:write`` in ``Authorization: Bearer``), decoded with the OpenTelemetry project's own
protocol messages, and mapped record by record: a bad record is dropped with its reason in the
partial-success answer and counted on ``/metrics``; the rest of the batch is stored, and readable by
``sessionAnalytics`` as soon as the request returns."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from usagegraph.auth import roles
from usagegraph.auth.principal import Principal
from usagegraph.auth.tokens import token_digest
from usagegraph.db.database import Database
from usagegraph.db.queries.auth import token_owner
from usagegraph.http.otlp import events as ev
from usagegraph.http.otlp import wire
from usagegraph.http.otlp.events import Drop
from usagegraph.http.otlp.intake import store
from usagegraph.http.ratelimit import RateLimiter, retry_after
from usagegraph.monitoring.logging import get_logger
from usagegraph.monitoring.metrics import Metrics
from usagegraph.pricing import load_price_table
from usagegraph.settings import Settings
from usagegraph.upkeep.retention import ingest_cutoffs

log = get_logger("usagegraph.otlp")

_MAX_REASONS_IN_MESSAGE = 5


def _summary(drops: list[tuple[int, Drop]], what: str) -> str:
    """The partial-success error_message: how many records were dropped, by reason, with the first
    record's index and message of each reason."""
    by_reason: dict[str, tuple[int, int, str]] = {}
    for index, drop in sorted(drops, key=lambda d: d[0]):
        count, first, message = by_reason.get(drop.reason, (0, index, drop.message))
        by_reason[drop.reason] = (count + 1, first, message)
    parts = [
        f"{reason} x{count} (first: {what} {first}: {message})"
        for reason, (count, first, message) in list(by_reason.items())[:_MAX_REASONS_IN_MESSAGE]
    ]
    if len(by_reason) > _MAX_REASONS_IN_MESSAGE:
        parts.append(f"and {len(by_reason) - _MAX_REASONS_IN_MESSAGE} more reasons")
    return f"{len(drops)} {what}s rejected: " + "; ".join(parts)


class OtlpReceiver:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)

    def routes(self) -> list[Route]:
        return [
            Route("/v1/logs", self.logs, methods=["POST"]),
            Route("/v1/metrics", self.metrics, methods=["POST"]),
        ]

    async def logs(self, request: Request) -> Response:
        return await self._handle(request, "logs")

    async def metrics(self, request: Request) -> Response:
        return await self._handle(request, "metrics")

    async def _handle(self, request: Request, signal: str) -> Response:
        metrics: Metrics | None = getattr(request.app.state, "metrics", None)
        media = wire.media_type(request.headers.get("content-type"))
        try:
            if media is None:
                raise wire.WireError(
                    415, "Content-Type must be application/x-protobuf or application/json", "media_type"
                )
            principal = await self._authenticate(request)
            body = await self._body(request)
            if signal == "logs":
                response: Message = await self._logs(request, principal, body, media, metrics)
            else:
                response = self._metrics(principal, body, media, metrics)
        except wire.WireError as error:
            return self._refuse(error, signal, media, metrics)
        except Exception:
            # The database down or the pool exhausted: 503 with Retry-After, which exporters retry.
            log.exception("OTLP request failed", request_id=getattr(request.state, "request_id", None))
            unavailable = wire.WireError(
                503, "service unavailable, retry later", "unavailable", {"Retry-After": "1"}
            )
            return self._refuse(unavailable, signal, media, metrics)
        return Response(wire.encode(response, media), status_code=200, media_type=media)

    @staticmethod
    def _refuse(error: wire.WireError, signal: str, media: str | None, metrics: Metrics | None) -> Response:
        if metrics is not None:
            metrics.otlp_requests_rejected.labels(signal=signal, reason=error.reason).inc()
        return Response(
            wire.status_body(error, media or wire.JSON),
            status_code=error.status,
            media_type=media or wire.JSON,
            headers=error.headers,
        )

    async def _authenticate(self, request: Request) -> Principal:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise wire.WireError(
                401,
                "authentication required: send Authorization: Bearer <token> (OTEL_EXPORTER_OTLP_HEADERS)",
                "unauthenticated",
                {"WWW-Authenticate": "Bearer"},
            )
        db: Database = request.app.state.db
        async with db.read() as conn:
            owner = await token_owner(conn, token_digest(token))
        if owner is None:
            raise wire.WireError(
                401, "invalid, expired or revoked token", "unauthenticated", {"WWW-Authenticate": "Bearer"}
            )
        request.state.user_id = str(owner.user_id)
        wait = self.limiter.acquire(owner.token_id)
        if wait > 0:
            raise wire.WireError(
                429, "rate limit exceeded for this token", "rate_limited", {"Retry-After": retry_after(wait)}
            )
        principal = Principal(
            owner.user_id, owner.username, owner.site_roles, owner.org_roles, owner.token_id
        )
        if not principal.has_anywhere(roles.INGEST_WRITE):
            raise wire.WireError(403, "the token lacks ingest:write (the collector role)", "forbidden")
        return principal

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise wire.WireError(413, f"the body is over {limit} bytes", "too_large")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise wire.WireError(413, f"the body is over {limit} bytes", "too_large")
            chunks.append(chunk)
        return wire.inflate(b"".join(chunks), request.headers.get("content-encoding"), limit)

    def _check_size(self, records: int, what: str) -> None:
        if records > self.settings.max_batch_records:
            raise wire.WireError(
                413,
                f"a request holds at most {self.settings.max_batch_records} {what}s, this one has {records}",
                "too_large",
            )

    async def _logs(
        self, request: Request, principal: Principal, body: bytes, media: str, metrics: Metrics | None
    ) -> ExportLogsServiceResponse:
        message = wire.decode(body, media, ExportLogsServiceRequest())
        total = ev.count_log_records(message)
        self._check_size(total, "log record")
        now = datetime.now(UTC)
        retention = ingest_cutoffs(self.settings, now)
        orgs = ev.Organizations(principal)
        parsed: list[ev.Event] = []
        drops: list[tuple[int, Drop]] = []
        for index, (resource, record) in enumerate(ev.log_records(message)):
            item = ev.parse_log(index, resource, record, orgs, now, retention.get("aiSessions"))
            if isinstance(item, Drop):
                drops.append((index, item))
            else:
                parsed.append(item)
        db: Database = request.app.state.db
        prices = load_price_table(self.settings.price_table)
        if parsed:
            async with db.write() as conn:
                stored = await store(
                    conn, parsed, principal, now, self.settings.disable_template_insights, prices, retention
                )
            drops.extend(stored.drops)
            accepted, duplicates = stored.accepted, stored.duplicates
        else:
            accepted = duplicates = 0
        self._count(metrics, "logs", accepted, duplicates, drops)
        response = ExportLogsServiceResponse()
        if drops:
            response.partial_success.CopyFrom(
                ExportLogsPartialSuccess(
                    rejected_log_records=len(drops), error_message=_summary(drops, "log record")
                )
            )
        return response

    def _metrics(
        self, principal: Principal, body: bytes, media: str, metrics: Metrics | None
    ) -> ExportMetricsServiceResponse:
        message = wire.decode(body, media, ExportMetricsServiceRequest())
        self._check_size(ev.count_metric_points(message), "data point")
        orgs = ev.Organizations(principal)
        drops: list[tuple[int, Drop]] = []
        accepted = 0
        for index, (resource, _name, point) in enumerate(ev.metric_points(message)):
            drop = ev.check_point(resource, point, orgs)
            if drop is None:
                accepted += 1
            else:
                drops.append((index, drop))
        self._count(metrics, "metrics", accepted, 0, drops)
        response = ExportMetricsServiceResponse()
        if drops:
            response.partial_success.CopyFrom(
                ExportMetricsPartialSuccess(
                    rejected_data_points=len(drops), error_message=_summary(drops, "data point")
                )
            )
        return response

    @staticmethod
    def _count(
        metrics: Metrics | None, signal: str, accepted: int, duplicates: int, drops: list[tuple[int, Drop]]
    ) -> None:
        if metrics is None:
            return
        for outcome, n in (("accepted", accepted), ("duplicate", duplicates), ("rejected", len(drops))):
            if n:
                metrics.otlp_records.labels(signal=signal, outcome=outcome).inc(n)
        for reason, n in Counter(drop.reason for _, drop in drops).items():
            metrics.otlp_rejected.labels(signal=signal, reason=reason).inc(n)


def otlp_routes(settings: Settings) -> list[Route]:
    """The routes app.py mounts."""
    return OtlpReceiver(settings).routes()
