"""The OpenAPI 3.1 document of the REST routes, built from the same declarations that parse the
parameters (usagegraph.http.rest.params) so that the description and the behaviour cannot drift."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from usagegraph import __version__
from usagegraph.http.rest import schemas
from usagegraph.http.rest.core import RestRoute

_ERRORS = {
    401: "No token, or a bad, expired or revoked one (`UNAUTHENTICATED`).",
    403: "The caller lacks the permission (`FORBIDDEN`), or Template Insights are disabled (`INSIGHTS_DISABLED`).",
    404: "The organization, template or workspace does not exist or is not visible to the caller (`NOT_FOUND`).",
    422: "Invalid parameters: `detail` lists each one with its location, a message and a type.",
    429: "The token's request rate is over the limit (`RATE_LIMITED`); see `Retry-After`.",
    503: "The database cannot be reached or the server is overloaded; see `Retry-After`.",
}


def document(routes: Sequence[RestRoute]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in routes:
        responses: dict[str, Any] = {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": route.response}},
            }
        }
        for status in route.statuses:
            ref = "ValidationError" if status == 422 else "Error"
            response: dict[str, Any] = {
                "description": _ERRORS[status],
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
            }
            if status in (429, 503):
                response["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}
                }
            responses[str(status)] = response
        paths[route.path] = {
            "get": {
                "operationId": route.operation_id,
                "summary": route.summary,
                "description": route.description,
                "tags": [route.tag],
                "parameters": [param.openapi() for param in route.params],
                "responses": responses,
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "usagegraph REST API",
            "version": __version__,
            "description": "REST routes of the APIs usagegraph stands in for, each answered by a persisted "
            "GraphQL document of the same server (docs/rest.md). Every error body carries `request_id`, the "
            "same id as the `X-Request-Id` header.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerToken": []}, {"sessionToken": []}],
        "tags": [
            {"name": "activity"},
            {"name": "workspace metrics"},
            {"name": "template insights"},
            {"name": "AI sessions analytics"},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer <token>`",
                },
                "sessionToken": {"type": "apiKey", "in": "header", "name": "Session-Token"},
            },
            "schemas": {"Error": schemas.ERROR, "ValidationError": schemas.VALIDATION_ERROR},
        },
    }
