"""Wire forms of the custom scalars (docs/api.md section 2)."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from decimal import MAX_PREC, Context, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition


def serialize_bigint(value: Any) -> int:
    return int(value)


if TYPE_CHECKING:
    BigInt = int
else:
    BigInt = strawberry.scalar(
        NewType("BigInt", int),
        name="BigInt",
        description="Integral JSON number that may exceed 2^31 (token counts).",
        serialize=serialize_bigint,
        parse_value=lambda value: _parse_bigint(value),
    )


def _parse_bigint(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("BigInt must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("BigInt must be an integer")
        return int(value)
    if isinstance(value, str):
        if not re.fullmatch(r"-?\d{1,30}", value.strip()):
            raise ValueError("BigInt must be an integer")
        return int(value)
    return value


def parse_datetime(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an RFC 3339 string")
    text = value.strip()
    if not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})", text
    ):
        raise ValueError(
            f"DateTime must be RFC 3339 with an offset, e.g. 2024-08-01T00:00:00Z; got {value!r}"
        )
    try:
        return dt.datetime.fromisoformat(text.replace("z", "Z")).astimezone(dt.UTC)
    except (ValueError, OverflowError) as error:
        raise ValueError(f"invalid DateTime {value!r}: {error}") from None


@functools.lru_cache(maxsize=8192)
def serialize_datetime(value: dt.datetime) -> str:
    """Cached: a response repeats the same bucket bounds for every user (equal instants serialize alike,
    whatever their zone, so sharing the cache between zones is exact)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone(dt.UTC)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_date(value: Any) -> dt.date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"Date must be YYYY-MM-DD; got {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"invalid Date {value!r}: {error}") from None


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("Decimal must be a decimal string")
    try:
        parsed = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"invalid Decimal {value!r}") from None
    if not parsed.is_finite():
        raise ValueError(f"invalid Decimal {value!r}")
    return parsed


_MICRO = Decimal("0.000001")
# Rounding to six decimals needs as many digits as the value has before the point, plus six: the default
# context's 28 would fail (InvalidOperation) for a sum of 10^22 or more.
_EXACT = Context(prec=MAX_PREC)


def serialize_decimal(value: Decimal | int | float) -> str:
    """Six decimals, fixed point. A Decimal that already has exactly six (every sum of micro-dollars) prints
    so by itself: str() writes fixed point with as many decimals as the exponent says, except for a zero
    with a negative exponent ('0E-6'), which the 'E' test sends to the general path."""
    if type(value) is Decimal:
        text = str(value)
        if text[-7:-6] == "." and "E" not in text:
            return text
        return format(value.quantize(_MICRO, context=_EXACT), "f")
    return format(Decimal(value).quantize(_MICRO, context=_EXACT), "f")


def serialize_date(value: dt.date) -> str:
    return value.isoformat()


_UNITS = {
    "minute": "minute",
    "min": "minute",
    "hour": "hour",
    "day": "day",
    "week": "week",
    "month": "month",
    "year": "year",
}
_UNIT_DAYS = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7, "month": 31, "year": 366}
_MAX_INTERVAL_DAYS = 100 * 366
"""An interval longer than a century has no bucket inside the accepted time window (schema/bounds.py)."""
_ISO_UNITS = {"Y": "year", "M": "month", "W": "week", "D": "day"}
_ISO_TIME_UNITS = {"H": "hour", "M": "minute"}


@dataclass(frozen=True)
class Interval:
    """A calendar interval of one unit, applied with PostgreSQL's timestamptz + interval rules."""

    count: int
    unit: str

    @property
    def sql(self) -> str:
        """The PostgreSQL interval literal."""
        if self.unit == "week":
            return f"{self.count * 7} days"
        return f"{self.count} {self.unit}s"

    def __str__(self) -> str:
        return f"{self.count} {self.unit}" + ("" if self.count == 1 else "s")

    @classmethod
    def parse(cls, value: Any) -> Interval:
        if not isinstance(value, str):
            raise ValueError("Interval must be a string such as '1 day' or 'P1D'")
        text = value.strip()
        match = re.fullmatch(r"(\d{1,6})\s*([A-Za-z]+?)s?", text)
        if match and match.group(2).lower() in _UNITS:
            count, unit = int(match.group(1)), _UNITS[match.group(2).lower()]
        else:
            iso = re.fullmatch(r"P(?:(\d{1,6})([YMWD])|T(\d{1,6})([HM]))", text.upper())
            if not iso:
                raise ValueError(f"invalid Interval {value!r}: use '<count> <unit>' or ISO 8601 like P1D")
            if iso.group(1):
                count, unit = int(iso.group(1)), _ISO_UNITS[iso.group(2)]
            else:
                count, unit = int(iso.group(3)), _ISO_TIME_UNITS[iso.group(4)]
        if count <= 0:
            raise ValueError(f"invalid Interval {value!r}: the count must be positive")
        if count * _UNIT_DAYS[unit] > _MAX_INTERVAL_DAYS:
            raise ValueError(f"invalid Interval {value!r}: at most {_MAX_INTERVAL_DAYS // 366} years")
        return cls(count, unit)


INTERVAL = ScalarDefinition(
    name="Interval",
    description="Count and unit ('1 hour', '7 days', '1 month') or ISO 8601 (PT1H, P1D, P1W, P1M, P1Y).",
    specified_by_url=None,
    serialize=str,
    parse_value=Interval.parse,
    parse_literal=None,
)

DATETIME = ScalarDefinition(
    name="DateTime",
    description="RFC 3339 date-time with offset; output always UTC with Z.",
    specified_by_url=None,
    serialize=serialize_datetime,
    parse_value=parse_datetime,
    parse_literal=None,
)
DATE = ScalarDefinition(
    name="Date",
    description="Calendar date, YYYY-MM-DD.",
    specified_by_url=None,
    serialize=serialize_date,
    parse_value=parse_date,
    parse_literal=None,
)
DECIMAL = ScalarDefinition(
    name="Decimal",
    description="Exact decimal as a JSON string (money, USD).",
    specified_by_url=None,
    serialize=serialize_decimal,
    parse_value=parse_decimal,
    parse_literal=None,
)

SCALAR_OVERRIDES: dict[object, Any] = {
    dt.datetime: DATETIME,
    dt.date: DATE,
    Decimal: DECIMAL,
    Interval: INTERVAL,
}

INLINE_SERIALIZERS: dict[Any, str | None] = {
    serialize_bigint: "{v}.__class__ is int",
    serialize_datetime: None,
    serialize_date: None,
    serialize_decimal: None,
}
"""For compiled execution: serializers that return a value or raise (never None), so a compiled builder can
call them directly; with the condition (a format string on the value `{v}`) under which one would return the
value unchanged."""
