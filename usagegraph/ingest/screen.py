"""The checks every ingest record passes before its kind's own validation: each string is text that
PostgreSQL stores, each timestamp a recorded fact within the accepted window, each number finite
(usagegraph/schema/bounds.py). A record that fails is rejected on its own, naming the field."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from usagegraph.ingest.outcome import Outcome, Rejected, bad
from usagegraph.schema import bounds


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute, GraphQL name) of each field of an input dataclass, worked out once per class."""
    return tuple((field.name, _camel(field.name)) for field in dataclasses.fields(cls))


def screen(record: Any, now: datetime) -> None:
    """Raises Rejected (BAD_USER_INPUT) for the first value of the record (nested inputs and lists
    included) that no kind can accept."""
    _value(record, "", now)


def _value(value: Any, path: str, now: datetime) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        problem = bounds.text_problem(value)
        if problem is not None:
            raise bad(f"{path} {problem}")
    elif isinstance(value, datetime):
        problem = bounds.fact_time_problem(value, now)
        if problem is not None:
            raise bad(f"{path} {problem}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise bad(f"{path} must be a finite number, got {value}")
    elif isinstance(value, list | tuple):
        for item in value:
            _value(item, path, now)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for attribute, name in _fields(type(value)):
            _value(getattr(value, attribute), f"{path}.{name}" if path else name, now)


def screened(
    kind: str,
    records: list[Any] | None,
    now: datetime,
    out: Outcome,
    check: Callable[[Any], None] | None = None,
) -> list[Any]:
    """The records of one kind that pass ``screen`` (and ``check``, which raises Rejected); the others are
    reported with their index in the batch, and ``out`` maps the indexes of the kept records back to the
    batch's."""
    kept: list[Any] = []
    positions: list[int] = []
    for index, record in enumerate(records or ()):
        try:
            screen(record, now)
            if check is not None:
                check(record)
        except Rejected as error:
            out.reject(kind, index, error)
            continue
        kept.append(record)
        positions.append(index)
    if len(kept) != len(records or ()):
        out.positions[kind] = positions
    return kept
