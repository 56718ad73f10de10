"""JSON Schemas (OpenAPI 3.1) of the REST answers."""

from __future__ import annotations

from typing import Any


def obj(**properties: dict[str, Any]) -> dict[str, Any]:
    """An object whose properties are all required."""
    return {"type": "object", "properties": properties, "required": list(properties)}


def optional(schema: dict[str, Any]) -> dict[str, Any]:
    """The same object with every property optional."""
    return {key: value for key, value in schema.items() if key != "required"}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema["type"]
    return {**schema, "type": [kind, "null"]}


STRING: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
NUMBER: dict[str, Any] = {"type": "number"}
UUID: dict[str, Any] = {"type": "string", "format": "uuid"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
NANOS: dict[str, Any] = {"type": "integer", "minimum": 0, "description": "nanoseconds"}
MONEY: dict[str, Any] = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "USD, exact decimal"}
SCOPE: dict[str, Any] = {"type": "string", "enum": ["self", "team"]}

ACTIVITY = obj(
    activity=array(
        obj(
            time=TIME,
            duration=NANOS,
            user_activity=array(obj(user_id=UUID, duration=NANOS, count=COUNT)),
        )
    ),
    users={
        "type": "object",
        "additionalProperties": obj(
            id=UUID,
            name=STRING,
            username=STRING,
            roles=array(STRING),
            avatar_hash=STRING,
            total_count=COUNT,
            total_duration=NANOS,
        ),
    },
)

USAGE_METRICS = array(obj(date=DATE, dau=nullable(COUNT), wau=nullable(COUNT), mau=nullable(COUNT)))

_IDS = array(UUID)
TEMPLATE_INSIGHTS = optional(
    obj(
        report=obj(
            start_time=TIME,
            end_time=TIME,
            template_ids=_IDS,
            active_users=COUNT,
            apps_usage=array(
                obj(
                    template_ids=_IDS,
                    type={"type": "string", "enum": ["builtin", "app"]},
                    display_name=STRING,
                    slug=STRING,
                    icon=STRING,
                    seconds=COUNT,
                    times_used=COUNT,
                )
            ),
            parameters_usage=array(
                obj(
                    template_ids=_IDS,
                    display_name=STRING,
                    name=STRING,
                    type=STRING,
                    description=STRING,
                    options=array(obj(name=STRING, description=STRING, value=STRING, icon=STRING)),
                    values=array(obj(value=STRING, count=COUNT)),
                )
            ),
        ),
        interval_reports=array(
            obj(
                start_time=TIME,
                end_time=TIME,
                template_ids=_IDS,
                interval={"type": "string", "enum": ["day", "week"]},
                active_users=COUNT,
            )
        ),
    )
)


def _user_report(**measure: dict[str, Any]) -> dict[str, Any]:
    return obj(
        report=obj(
            start_time=TIME,
            end_time=TIME,
            template_ids=_IDS,
            users=array(obj(template_ids=_IDS, user_id=UUID, username=STRING, avatar_url=STRING, **measure)),
        )
    )


USER_ACTIVITY = _user_report(seconds=COUNT)
USER_LATENCY = _user_report(latency_ms=obj(p50=NUMBER, p95=NUMBER))
DAUS = obj(entries=array(obj(date=DATE, amount=COUNT)), tz_hour_offset=INT)

_FRAME = {"scope": SCOPE, "start": TIME, "end": TIME}
SESSIONS_SUMMARY = obj(
    total_sessions=COUNT,
    total_cost=MONEY,
    total_tokens=COUNT,
    input_tokens=COUNT,
    output_tokens=COUNT,
    cache_read_tokens=COUNT,
    cache_write_tokens=COUNT,
    average_session_duration_seconds=nullable(NUMBER),
    average_cost_per_session=nullable(MONEY),
    unique_users=COUNT,
    unpriced_sessions=COUNT,
    **_FRAME,
)
SESSIONS_TIMESERIES = obj(
    **_FRAME,
    granularity={"type": "string", "enum": ["day", "week"]},
    timeseries=array(obj(start=TIME, end=TIME, sessions=COUNT, cost=MONEY, tokens=COUNT)),
)
SESSIONS_BY_AGENT = obj(
    **_FRAME,
    agents=array(
        obj(
            agent=STRING,
            sessions=COUNT,
            users=COUNT,
            total_cost=MONEY,
            average_cost=MONEY,
            average_duration_seconds=nullable(NUMBER),
            tokens=COUNT,
        )
    ),
)
SESSIONS_COST_BREAKDOWN = obj(
    **_FRAME,
    by={"type": "string", "enum": ["model", "project", "user"]},
    breakdown=array(obj(key=STRING, label=STRING, cost=MONEY, share=NUMBER, sessions=COUNT, tokens=COUNT)),
)

ERROR = obj(
    detail={"type": "string"},
    code={"type": "string"},
    request_id={"type": "string"},
)
VALIDATION_ERROR = obj(
    detail=array(
        obj(
            loc=array({"type": ["string", "integer"]}),
            msg=STRING,
            type=STRING,
        )
    ),
    code=STRING,
    request_id=STRING,
)
