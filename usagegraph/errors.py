"""Expected failures: one small family of errors, each with the code clients see in extensions.code.

Raised by a resolver, an error becomes a field error of the response. Raised by the HTTP layer before
execution (usagegraph.http.endpoint: a malformed request, no or a bad token, the rate limit, a body too
large), it ends the request with its `status` and `headers` and a single error in the body."""

from __future__ import annotations

from typing import Any


class UsageGraphError(Exception):
    code = "INTERNAL_SERVER_ERROR"
    status = 500
    """The HTTP status when the error ends a request before execution."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions
        if status is not None:
            self.status = status
        self.headers = headers or {}

    def to_graphql_extensions(self) -> dict[str, Any]:
        return {"code": self.code, **self.extensions}


class BadUserInput(UsageGraphError):
    """A bad argument (`argument` names it) or, from the HTTP layer, a request that is not one GraphQL over
    HTTP accepts (no argument)."""

    code = "BAD_USER_INPUT"
    status = 400

    def __init__(self, message: str, argument: str | None = None, **extensions: Any) -> None:
        if argument is not None:
            extensions = {"argument": argument, **extensions}
        super().__init__(message, **extensions)
        self.argument = argument


class Unauthenticated(UsageGraphError):
    code = "UNAUTHENTICATED"
    status = 401


class Forbidden(UsageGraphError):
    code = "FORBIDDEN"


class NotFound(UsageGraphError):
    code = "NOT_FOUND"


class InsightsDisabled(UsageGraphError):
    code = "INSIGHTS_DISABLED"


class RateLimited(UsageGraphError):
    code = "RATE_LIMITED"
    status = 429


class PayloadTooLarge(UsageGraphError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class PastRetention(BadUserInput):
    """A range that starts before the retention of raw rows that the field reads (docs/operations.md#retention):
    `BAD_USER_INPUT` naming the setting in `retention` and the oldest start still answered in `retainedSince`."""

    def __init__(self, field: str, setting: str, days: int, cutoff: str, argument: str) -> None:
        super().__init__(
            f"{field} cannot answer a range that starts before {cutoff}: raw rows older than {days} days "
            f"are purged ({setting})",
            argument,
            retention=setting,
            retainedSince=cutoff,
        )
