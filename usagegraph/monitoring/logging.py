"""Structured logs: structlog in front of the standard library, so that our events and those of the
libraries we use (uvicorn, SQLAlchemy) leave the process through one handler, in one format, with the
same redaction.

The format is `json` (one object per line, for log shippers) or `console` (aligned and readable). When
USAGEGRAPH_LOG_FORMAT is not set, a terminal gets `console` and anything else (a container, a pipe, a
file) gets `json`, so that `usagegraph serve` in production needs no flag while a developer's terminal
stays readable.

Secrets never reach the output: every value of every event, formatted tracebacks included, goes through
`redact`, which masks bearer credentials and anything carrying our token prefix, and drops the values
of keys that hold credentials (and `headers`, which must never be logged wholesale)."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import EventDict, Processor, WrappedLogger

from usagegraph.monitoring.metrics import route_template
from usagegraph.settings import Settings

REDACTED = "[REDACTED]"

_SECRET_PATTERNS = (
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(session[-_]token[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+"), r"\1" + REDACTED),
    (re.compile(r"(?<![A-Za-z0-9])ug_[A-Za-z0-9_\-]{4,}"), "ug_" + REDACTED),
)
_SECRET_KEYS = frozenset(
    {"authorization", "session-token", "session_token", "token", "password", "secret", "cookie", "headers"}
)
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
_OUR_HANDLER = "_usagegraph_handler"


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {key: REDACTED if _secret_key(key) else _redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_redact_value(item) for item in value]
    return redact_text(str(value))


_FORMATTER_ARTIFACTS = ("message", "asctime", "color_message")
_LEADING_KEYS = ("timestamp", "level", "logger", "event", "request_id")


def _drop_formatter_artifacts(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Attributes other formatters (or uvicorn's colored copy of the message) leave on a record repeat
    the event; they are not extras."""
    for key in _FORMATTER_ARTIFACTS:
        event_dict.pop(key, None)
    return event_dict


def _leading_keys_first(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Time, level, logger and event open every JSON line, so that a raw line is readable."""
    ordered = {key: event_dict.pop(key) for key in _LEADING_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower() in _SECRET_KEYS


def redact(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Mask credentials in every value; the keys structlog and logging use internally pass untouched."""
    for key, value in list(event_dict.items()):
        if key.startswith("_") or key == "exc_info":
            continue
        event_dict[key] = REDACTED if _secret_key(key) else _redact_value(value)
    return event_dict


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of the write, so that a replaced stream (a test
    runner's capture, a daemon's redirection) is followed instead of a closed one being kept."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def resolve_format(settings: Settings, stream: TextIO | None = None) -> str:
    if "log_format" in settings.model_fields_set:
        return settings.log_format
    target = stream or sys.stderr
    return "console" if target.isatty() else "json"


def resolve_level(settings: Settings) -> int:
    level = logging.getLevelName(settings.log_level.strip().upper())
    return level if isinstance(level, int) else logging.INFO


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Route structlog through the standard library and install one handler on the root logger.
    Calling it again replaces the handler it installed before and leaves other handlers alone."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    fmt = resolve_format(settings, stream)
    renderers: list[Processor]
    if fmt == "json":
        renderers = [_leading_keys_first, structlog.processors.JSONRenderer(default=str)]
    else:
        renderers = [structlog.dev.ConsoleRenderer(colors=bool((stream or sys.stderr).isatty()))]
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_formatter_artifacts],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            *renderers,
        ],
    )
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(formatter)
    setattr(handler, _OUR_HANDLER, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OUR_HANDLER, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(resolve_level(settings))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def is_configured() -> bool:
    return any(getattr(h, _OUR_HANDLER, False) for h in logging.getLogger().handlers)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)


access_log = get_logger("usagegraph.access")


class AccessLogMiddleware:
    """One line per request: request id, method, route template, status and duration. The request id
    is bound to the logging context for the whole request, so every event logged while serving it
    carries it. Probes and scrapes that succeed are logged at debug level to keep the log about users."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        request_id = state.get("request_id", "")
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        failed = False
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_wrapper)
            except BaseException:
                failed = True
                raise
            finally:
                route = state.get("route") or _route_of(scope)
                if failed or status >= 500:
                    level = logging.ERROR
                elif route in _PROBES and status < 400:
                    level = logging.DEBUG
                else:
                    level = logging.INFO
                fields: dict[str, Any] = {
                    "method": scope.get("method", ""),
                    "route": route,
                    "path": scope.get("path", ""),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                }
                if state.get("user_id"):
                    fields["user_id"] = state["user_id"]
                access_log.log(level, "request", **fields)


def _route_of(scope: Scope) -> str:
    app = scope.get("app")
    return route_template(scope, list(getattr(app, "routes", [])))
