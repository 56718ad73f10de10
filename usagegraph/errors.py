"""Expected failures: one small family of errors, each with the code clients see in extensions.code."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


class UsageGraphError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions

    def to_graphql_extensions(self) -> dict[str, Any]:
        return {"code": self.code, **self.extensions}


class BadUserInput(UsageGraphError):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, argument: str, **extensions: Any) -> None:
        super().__init__(message, argument=argument, **extensions)
        self.argument = argument


class Unauthenticated(UsageGraphError):
    code = "UNAUTHENTICATED"


class Forbidden(UsageGraphError):
    code = "FORBIDDEN"


class NotFound(UsageGraphError):
    code = "NOT_FOUND"


class InsightsDisabled(UsageGraphError):
    code = "INSIGHTS_DISABLED"


class QueryTooComplex(UsageGraphError):
    code = "QUERY_TOO_COMPLEX"


class RateLimited(UsageGraphError):
    code = "RATE_LIMITED"


class PayloadTooLarge(UsageGraphError):
    code = "PAYLOAD_TOO_LARGE"


def graphql_error(error: UsageGraphError) -> GraphQLError:
    return GraphQLError(error.message, extensions=error.to_graphql_extensions())
