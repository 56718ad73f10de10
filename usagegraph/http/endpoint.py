"""GraphQL over HTTP: request parsing, content negotiation, authentication, parse/validate caches,
execution and error masking. Written against graphql-core directly so that every status code of the
GraphQL-over-HTTP specification is ours to choose."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    execute,
    get_operation_ast,
)
from graphql.execution.executor import Executor
from starlette.requests import Request
from starlette.responses import Response
from strawberry.utils.await_maybe import await_maybe

from usagegraph.auth.principal import Principal
from usagegraph.auth.tokens import token_digest
from usagegraph.db.database import Database
from usagegraph.db.queries.auth import token_owner
from usagegraph.errors import BadUserInput, PayloadTooLarge, RateLimited, Unauthenticated, UsageGraphError
from usagegraph.execution.arguments import argument_errors
from usagegraph.execution.context import Context
from usagegraph.execution.cost import estimate_cost
from usagegraph.execution.documents import DocumentCache
from usagegraph.execution.loaders import Loaders
from usagegraph.http import ui
from usagegraph.http.ratelimit import RateLimiter, retry_after
from usagegraph.monitoring.logging import get_logger
from usagegraph.monitoring.metrics import Metrics
from usagegraph.schema import builders
from usagegraph.settings import Settings

log = get_logger("usagegraph.http")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def response_media_type(request: Request) -> str | None:
    """The media type to answer with (the Accept header's most preferred JSON form, the first of equally
    preferred ones), or None when the client accepts neither JSON form. Every response of the GraphQL
    route goes out in it, also the errors the application answers before the endpoint runs
    (usagegraph.app)."""
    accept = request.headers.get("accept", "")
    if not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        q = 1.0
        for param in pieces[1:]:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if media in (GRAPHQL_RESPONSE, JSON):
            choice = media
        elif media in ("*/*", "application/*"):
            choice = JSON
        else:
            continue
        rank = (q, -position, choice)
        if best is None or rank[:2] > best[:2]:
            best = rank
    return best[2] if best else None


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    original = error.original_error
    if isinstance(original, UsageGraphError):
        formatted = dict(error.formatted)
        formatted["message"] = original.message
        formatted["extensions"] = {**original.to_graphql_extensions(), "requestId": request_id}
        return formatted
    if original is not None and not isinstance(original, GraphQLError):
        if isinstance(original, ValueError) and _is_coercion(error):
            formatted = dict(error.formatted)
            formatted["extensions"] = {"code": "BAD_USER_INPUT", "requestId": request_id}
            return formatted
        log.error(
            "unhandled error in resolver",
            request_id=request_id,
            path=error.path,
            exc_info=(type(original), original, original.__traceback__),
        )
        masked: dict[str, Any] = {
            "message": "Internal server error",
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        }
        if error.locations is not None:
            masked["locations"] = [loc._asdict() for loc in error.locations]
        if error.path is not None:
            masked["path"] = error.path
        return masked
    formatted = dict(error.formatted)
    extensions: dict[str, Any] = dict(cast(dict[str, Any], formatted.get("extensions") or {}))
    extensions.setdefault("code", "BAD_USER_INPUT")
    extensions["requestId"] = request_id
    formatted["extensions"] = extensions
    return formatted


def _is_coercion(error: GraphQLError) -> bool:
    return error.path is None


def _dumps(payload: Any) -> bytes:
    return orjson.dumps(payload)


@dataclass(frozen=True)
class DocumentResult:
    """The data of a document run by `GraphQLEndpoint.run_document` and its errors in the wire form (with
    `extensions.code`, and `extensions.argument` where a resolver names one)."""

    data: dict[str, Any] | None
    errors: list[dict[str, Any]]


class GraphQLEndpoint:
    def __init__(
        self,
        schema: GraphQLSchema,
        settings: Settings,
        db: Database,
        executor_class: type[Executor[Any]] | None = None,
        on_operation: Callable[[str | None, str], None] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.schema = schema
        self.settings = settings
        self.db = db
        self.documents = DocumentCache(schema, settings)
        self.executor_class = executor_class
        self.on_operation = on_operation
        self.metrics = metrics
        self.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)

    async def __call__(self, request: Request) -> Response:
        request_id = request.state.request_id
        if request.method == "GET" and _wants_html(request) and self.settings.graphiql:
            return ui.page("graphiql.html")
        media = response_media_type(request)
        try:
            if media is None:
                raise BadUserInput("Accept application/graphql-response+json or application/json", status=406)
            params = await self._params(request)
            principal = await self.authenticate(request)
            return await self._run(request, params, principal, media, request_id)
        except UsageGraphError as error:
            body = {
                "errors": [
                    {"message": error.message, "extensions": {"code": error.code, "requestId": request_id}}
                ]
            }
            return Response(
                _dumps(body), status_code=error.status, media_type=media or JSON, headers=error.headers
            )

    async def _params(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            query_params = request.query_params
            params: dict[str, Any] = {
                "query": query_params.get("query"),
                "operationName": query_params.get("operationName") or None,
            }
            raw_variables = query_params.get("variables")
            if raw_variables:
                try:
                    params["variables"] = orjson.loads(raw_variables)
                except orjson.JSONDecodeError:
                    raise BadUserInput("variables must be a JSON object") from None
            return self._check_params(params)
        if request.method != "POST":
            raise BadUserInput("GraphQL accepts GET and POST", status=405, headers={"Allow": "GET, POST"})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON:
            raise BadUserInput("POST bodies must be application/json", status=415)
        body = await _read_limited(request, self.settings.max_body_bytes)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BadUserInput("the body is not valid JSON") from None
        if isinstance(payload, list):
            raise BadUserInput("batched operations are not enabled")
        if not isinstance(payload, dict):
            raise BadUserInput("the body must be a JSON object")
        return self._check_params(payload)

    @staticmethod
    def _check_params(params: dict[str, Any]) -> dict[str, Any]:
        query = params.get("query")
        if not isinstance(query, str) or not query.strip():
            raise BadUserInput("query must be a non-empty string")
        variables = params.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise BadUserInput("variables must be a JSON object")
        operation_name = params.get("operationName")
        if operation_name is not None and not isinstance(operation_name, str):
            raise BadUserInput("operationName must be a string")
        extensions = params.get("extensions")
        if extensions is not None and not isinstance(extensions, dict):
            raise BadUserInput("extensions must be a JSON object")
        return params

    async def authenticate(self, request: Request) -> Principal:
        """The caller of a request by its token, counted against the token's rate limit (Unauthenticated 401 or
        429 otherwise)."""
        token = _token_from_headers(request)
        if token is None:
            raise Unauthenticated(
                "authentication required: send Authorization: Bearer <token>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        async with self.db.read_primary() as conn:  # a revoked token is refused at once, replica or not
            owner = await token_owner(conn, token_digest(token))
        if owner is None:
            raise Unauthenticated("invalid, expired or revoked token", headers={"WWW-Authenticate": "Bearer"})
        request.state.user_id = str(owner.user_id)
        wait = self.limiter.acquire(owner.token_id)
        if wait > 0:
            raise RateLimited(
                "rate limit exceeded for this token", headers={"Retry-After": retry_after(wait)}
            )
        return Principal(owner.user_id, owner.username, owner.site_roles, owner.org_roles, owner.token_id)

    async def _run(
        self, request: Request, params: dict[str, Any], principal: Principal, media: str, request_id: str
    ) -> Response:
        strict = media == GRAPHQL_RESPONSE
        document, errors = self.documents.get(params["query"])
        operation_name = params.get("operationName")
        if errors or document is None:
            self._count(operation_name, "client_error")
            body = {"errors": [format_error(e, request_id) for e in errors]}
            return Response(_dumps(body), status_code=400 if strict else 200, media_type=media)
        operation = get_operation_ast(document, operation_name)
        if operation_name is None and operation is not None and operation.name is not None:
            operation_name = operation.name.value
        if operation is not None and operation.operation != OperationType.QUERY and request.method == "GET":
            raise BadUserInput("mutations are only accepted over POST", status=405, headers={"Allow": "POST"})
        if operation is not None:
            cost = estimate_cost(self.schema, document, operation, params.get("variables"))
            if cost > self.settings.max_cost:
                self._count(operation_name, "client_error")
                error = _too_complex(cost, self.settings.max_cost, {"requestId": request_id})
                return Response(
                    _dumps({"errors": [error]}), status_code=400 if strict else 200, media_type=media
                )
            refused = argument_errors(self.schema, document, operation, params.get("variables"))
            if refused:
                self._count(operation_name, "client_error")
                body = {"errors": [format_error(e, request_id) for e in refused]}
                return Response(_dumps(body), status_code=400 if strict else 200, media_type=media)
        result = await self._execute(document, principal, request_id, params.get("variables"), operation_name)
        status = 200
        payload: dict[str, Any] = {}
        if result.errors:
            payload["errors"] = [format_error(e, request_id) for e in result.errors]
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            self._count(operation_name, "client_error")
            if strict:
                status = 400
            else:
                payload["data"] = None
        else:
            payload["data"] = result.data
            self._count(operation_name, _outcome(payload.get("errors")))
        return Response(_dumps(payload), status_code=status, media_type=media)

    async def _execute(
        self,
        document: DocumentNode,
        principal: Principal,
        request_id: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> ExecutionResult:
        context = Context(
            settings=self.settings,
            db=self.db,
            principal=principal,
            request_id=request_id,
            loaders=Loaders(self.db, builders),
            metrics=self.metrics,
        )
        try:
            return await await_maybe(
                execute(
                    self.schema,
                    document,
                    context_value=context,
                    variable_values=variables,
                    operation_name=operation_name,
                    executor_class=self.executor_class,
                )
            )
        finally:
            context.release()

    async def run_document(
        self,
        principal: Principal,
        request_id: str,
        source: str,
        variables: dict[str, Any],
        operation_name: str,
    ) -> DocumentResult:
        """Run a server-side (persisted) document for an authenticated caller through the steps a /graphql
        request takes after authentication: the parse/validate cache, the cost budget, execution, error
        masking and the operation counter. Refusals come back as errors (QUERY_TOO_COMPLEX for the budget),
        formatted as /graphql formats them."""
        document, errors = self.documents.get(source)
        if errors or document is None:
            self._count(operation_name, "client_error")
            return DocumentResult(None, [format_error(e, request_id) for e in errors])
        operation = get_operation_ast(document, operation_name)
        if operation is not None:
            cost = estimate_cost(self.schema, document, operation, variables)
            if cost > self.settings.max_cost:
                self._count(operation_name, "client_error")
                error = _too_complex(cost, self.settings.max_cost)
                return DocumentResult(None, [error])
            refused = argument_errors(self.schema, document, operation, variables)
            if refused:
                self._count(operation_name, "client_error")
                return DocumentResult(None, [format_error(e, request_id) for e in refused])
        result = await self._execute(document, principal, request_id, variables, operation_name)
        formatted = [format_error(e, request_id) for e in result.errors or ()]
        self._count(operation_name, _outcome(formatted) if formatted else "ok")
        return DocumentResult(result.data, formatted)

    def _count(self, operation_name: str | None, outcome: str) -> None:
        if self.on_operation is not None:
            self.on_operation(operation_name, outcome)


def _too_complex(cost: int, budget: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error of a document whose estimated cost is over the budget (docs/api.md)."""
    return {
        "message": f"query cost {cost} exceeds the budget of {budget}",
        "extensions": {"code": "QUERY_TOO_COMPLEX", "cost": cost, "budget": budget, **(extra or {})},
    }


def _outcome(errors: list[dict[str, Any]] | None) -> str:
    if not errors:
        return "ok"
    if any(e.get("extensions", {}).get("code") == "INTERNAL_SERVER_ERROR" for e in errors):
        return "server_error"
    return "client_error"


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "query" not in request.query_params


def _token_from_headers(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    session_token = request.headers.get("session-token")
    if session_token and session_token.strip():
        return session_token.strip()
    return None


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def new_request_id(header: str | None) -> str:
    if header and len(header) <= 64 and all(c.isalnum() or c in "-_." for c in header):
        return header
    return uuid.uuid4().hex
