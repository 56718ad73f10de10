"""The machinery every REST route shares: authentication, admission, running a persisted document
through the GraphQL endpoint, and turning GraphQL errors into HTTP statuses with a JSON body that carries
the request id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from usagegraph.auth.principal import Principal
from usagegraph.errors import UsageGraphError
from usagegraph.http.admission import Admission, Overloaded
from usagegraph.http.endpoint import GraphQLEndpoint
from usagegraph.http.rest.params import InvalidParams, Param, invalid, parse
from usagegraph.monitoring.logging import get_logger
from usagegraph.monitoring.metrics import Metrics

log = get_logger("usagegraph.rest")

# The HTTP status of each GraphQL error code; BAD_USER_INPUT and QUERY_TOO_COMPLEX answer 422 with the
# validation body, anything unknown is a server error.
STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "INSIGHTS_DISABLED": 403,
    "NOT_FOUND": 404,
    "RATE_LIMITED": 429,
}


class RestError(UsageGraphError):
    """An error of the engine's vocabulary (usagegraph.errors) with the code and status a route answers."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, status=status, headers=headers)
        self.code = code


def not_found(what: str) -> RestError:
    return RestError(404, f"{what} not found", "NOT_FOUND")


@dataclass
class Call:
    """One REST request being answered: its parsed parameters and the caller."""

    endpoint: GraphQLEndpoint
    principal: Principal
    request_id: str
    values: dict[str, Any]
    arguments: Mapping[str, str] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    async def run(self, source: str, variables: dict[str, Any], operation_name: str) -> dict[str, Any]:
        """The data of a persisted document, or RestError / InvalidParams for its first error. Errors under
        a path whose data survived (a nullable field) are left to the route."""
        result = await self.endpoint.run_document(
            self.principal, self.request_id, source, variables, operation_name
        )
        self.errors = result.errors
        if result.errors and (result.data is None or not _survivable(result.errors, result.data)):
            raise self.error(result.errors[0])
        return result.data or {}

    def error(self, error: Mapping[str, Any]) -> Exception:
        extensions = error.get("extensions") or {}
        code = str(extensions.get("code", "INTERNAL_SERVER_ERROR"))
        message = str(error.get("message", "error"))
        if code in ("BAD_USER_INPUT", "QUERY_TOO_COMPLEX"):
            argument = extensions.get("argument")
            name = self.arguments.get(str(argument), str(argument)) if argument else None
            return (
                invalid("query", name, message)
                if name
                else InvalidParams([{"loc": ["query"], "msg": message, "type": "value_error"}])
            )
        if code in STATUS:
            return RestError(STATUS[code], message, code)
        return RestError(500, "Internal server error", "INTERNAL_SERVER_ERROR")


def _survivable(errors: Sequence[Mapping[str, Any]], data: Mapping[str, Any]) -> bool:
    """Whether every error sits under a root field that came back null (the route decides, e.g. a
    workspace that is not visible) rather than having wiped the data."""
    for error in errors:
        path = error.get("path")
        if not path or data.get(path[0]) is not None:
            return False
    return True


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class RestRoute:
    path: str
    operation_id: str
    summary: str
    description: str
    tag: str
    params: tuple[Param, ...]
    response: dict[str, Any]
    handler: Handler
    statuses: tuple[int, ...] = (401, 403, 422, 429, 503)
    # GraphQL argument names (extensions.argument) -> REST parameter names, for 422 bodies
    arguments: Mapping[str, str] = field(default_factory=dict)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers)


def error_body(request_id: str, detail: Any, code: str) -> dict[str, Any]:
    return {"detail": detail, "code": code, "request_id": request_id}


class Runner:
    """Serves the REST routes: every request passes admission as /graphql does, then authentication (token
    and rate limit), parameter validation, and the route's handler."""

    def __init__(
        self, endpoint: Callable[[], GraphQLEndpoint], admission: Admission | None, metrics: Metrics
    ) -> None:
        self.endpoint = endpoint
        self.admission = admission
        self.metrics = metrics

    def view(self, route: RestRoute) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            request_id: str = request.state.request_id
            try:
                if self.admission is None:
                    return await self._serve(route, request)
                async with self.admission.slot() as waited:
                    self.metrics.admission_wait.observe(waited)
                    return await self._serve(route, request)
            except Overloaded:
                self.metrics.admission_rejected.inc()
                log.warning("request not admitted in time: server overloaded", request_id=request_id)
                return json_response(
                    error_body(
                        request_id,
                        "Service unavailable: the server is overloaded, retry later",
                        "INTERNAL_SERVER_ERROR",
                    ),
                    503,
                    {"Retry-After": "1"},
                )
            except Exception:
                log.exception("request failed outside execution", request_id=request_id)
                return json_response(
                    error_body(request_id, "Service unavailable", "INTERNAL_SERVER_ERROR"),
                    503,
                    {"Retry-After": "1"},
                )

        serve.__name__ = route.operation_id
        return serve

    async def _serve(self, route: RestRoute, request: Request) -> Response:
        request_id: str = request.state.request_id
        endpoint = self.endpoint()
        try:
            principal = await endpoint.authenticate(request)
            values = parse(route.params, dict(request.path_params), request.query_params)
            call = Call(endpoint, principal, request_id, values, route.arguments)
            payload = await route.handler(call)
        except InvalidParams as error:
            body = {"detail": error.details, "code": "BAD_USER_INPUT", "request_id": request_id}
            return json_response(body, 422)
        except UsageGraphError as error:
            return json_response(
                error_body(request_id, error.message, error.code), error.status, error.headers
            )
        return json_response(payload)
