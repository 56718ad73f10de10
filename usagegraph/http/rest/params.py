"""Query and path parameters of the REST routes: one declaration per parameter gives both its parsing
(invalid input is a 422 naming the parameter, never a 500) and its OpenAPI description."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import QueryParams

from usagegraph.schema.scalars import Interval, parse_datetime


class InvalidParams(Exception):
    """Validation errors in the shape `{"detail": [{"loc", "msg", "type"}]}` (HTTP 422)."""

    def __init__(self, details: list[dict[str, Any]]) -> None:
        super().__init__(details[0]["msg"] if details else "invalid parameters")
        self.details = details


class _Invalid(ValueError):
    def __init__(self, msg: str, kind: str) -> None:
        super().__init__(msg)
        self.msg = msg
        self.kind = kind


@dataclass(frozen=True)
class Param:
    """One parameter: `schema` is its JSON Schema (OpenAPI), `parse` turns the raw values into the value
    the handler receives (raising _Invalid), `many` takes repeated and comma-separated values."""

    name: str
    location: str
    schema: dict[str, Any]
    description: str
    parse: Callable[[str], Any]
    required: bool = False
    many: bool = False
    comma: bool = True
    default: Any = None

    def openapi(self) -> dict[str, Any]:
        schema = {"type": "array", "items": self.schema} if self.many else dict(self.schema)
        if self.default is not None and not self.many:
            schema["default"] = self.default
        spec: dict[str, Any] = {
            "name": self.name,
            "in": self.location,
            "required": self.required or self.location == "path",
            "description": self.description,
            "schema": schema,
        }
        if self.many:
            spec["style"] = "form"
            spec["explode"] = True
        return spec


def parse(params: Sequence[Param], path: dict[str, Any], query: QueryParams) -> dict[str, Any]:
    """The parsed values by parameter name (None for an optional parameter that is absent), or
    InvalidParams listing every invalid one."""
    values: dict[str, Any] = {}
    details: list[dict[str, Any]] = []
    for param in params:
        raw: list[str]
        if param.location == "path":
            raw = [str(path[param.name])]
        else:
            raw = query.getlist(param.name)
        if param.many and param.comma:
            raw = [piece.strip() for value in raw for piece in value.split(",") if piece.strip()]
        elif param.many:
            raw = [value for value in raw if value.strip()]
        if not raw:
            if param.required:
                details.append(_detail(param, "Field required", "missing"))
            values[param.name] = [] if param.many else param.default
            continue
        try:
            if param.many:
                values[param.name] = list(dict.fromkeys(param.parse(value) for value in raw))
            else:
                values[param.name] = param.parse(raw[-1])
        except _Invalid as invalid:
            details.append(_detail(param, invalid.msg, invalid.kind))
    if details:
        raise InvalidParams(details)
    return values


def _detail(param: Param, msg: str, kind: str) -> dict[str, Any]:
    return {"loc": [param.location, param.name], "msg": msg, "type": kind}


def invalid(location: str, name: str, msg: str, kind: str = "value_error") -> InvalidParams:
    return InvalidParams([{"loc": [location, name], "msg": msg, "type": kind}])


# --- parsers -------------------------------------------------------------------------------------------


def as_uuid(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise _Invalid("Input should be a valid UUID", "uuid_parsing") from None


def as_datetime(raw: str) -> str:
    """An RFC 3339 date-time with an offset (`Z` for UTC), read as the GraphQL DateTime scalar reads it."""
    try:
        value = parse_datetime(raw)
    except (ValueError, OverflowError):
        raise _Invalid(
            "Input should be an RFC 3339 date-time with an offset, e.g. 2024-08-01T00:00:00Z",
            "datetime_parsing",
        ) from None
    if not datetime(1970, 1, 1, tzinfo=UTC) <= value <= datetime(9999, 1, 1, tzinfo=UTC):
        raise _Invalid("Input should be a date-time between 1970 and 9999", "datetime_parsing")
    return value.isoformat()


def as_interval(raw: str) -> str:
    try:
        return str(Interval.parse(raw))
    except ValueError as error:
        raise _Invalid(str(error), "value_error") from None


def integer(low: int, high: int) -> Callable[[str], int]:
    def parse_int(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise _Invalid("Input should be a valid integer", "int_parsing") from None
        if value < low:
            raise _Invalid(f"Input should be greater than or equal to {low}", "greater_than_equal")
        if value > high:
            raise _Invalid(f"Input should be less than or equal to {high}", "less_than_equal")
        return value

    return parse_int


def choice(options: Sequence[str]) -> Callable[[str], str]:
    def parse_choice(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            quoted = ", ".join(f"'{o}'" for o in options)
            raise _Invalid(f"Input should be one of {quoted}", "enum")
        return value

    return parse_choice


def text(max_length: int = 200) -> Callable[[str], str]:
    def parse_text(raw: str) -> str:
        if not raw.strip():
            raise _Invalid("Input should not be empty", "string_too_short")
        if len(raw) > max_length:
            raise _Invalid(f"Input should have at most {max_length} characters", "string_too_long")
        if "\x00" in raw:
            raise _Invalid("Input should not contain NUL characters", "value_error")
        return raw

    return parse_text


# --- schema fragments ----------------------------------------------------------------------------------

UUID_SCHEMA: dict[str, Any] = {"type": "string", "format": "uuid"}
DATETIME_SCHEMA: dict[str, Any] = {"type": "string", "format": "date-time"}


def uuid_param(
    name: str, location: str, description: str, *, required: bool = False, many: bool = False
) -> Param:
    return Param(name, location, UUID_SCHEMA, description, as_uuid, required=required, many=many)


def datetime_param(name: str, description: str, *, required: bool = False) -> Param:
    return Param(name, "query", DATETIME_SCHEMA, description, as_datetime, required=required)


def enum_param(
    name: str, options: Sequence[str], description: str, *, default: str | None = None, many: bool = False
) -> Param:
    return Param(
        name,
        "query",
        {"type": "string", "enum": list(options)},
        description,
        choice(options),
        default=default,
        many=many,
    )


def int_param(name: str, low: int, high: int, description: str, *, default: int | None = None) -> Param:
    return Param(
        name,
        "query",
        {"type": "integer", "minimum": low, "maximum": high},
        description,
        integer(low, high),
        default=default,
    )


def text_param(
    name: str, description: str, *, default: str | None = None, many: bool = False, max_length: int = 200
) -> Param:
    return Param(
        name,
        "query",
        {"type": "string", "minLength": 1, "maxLength": max_length},
        description,
        text(max_length),
        default=default,
        many=many,
        comma=False,
    )
