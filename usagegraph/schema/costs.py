"""How many items a list field of the schema can return, declared on the field itself (strawberry field
metadata) and read by the cost estimate (usagegraph/execution/cost.py). Every list field and every
connection carries one of these, so that renaming a field cannot change what a query costs; a schema test
fails on a list field without one."""

from __future__ import annotations

from typing import Any

KEY = "usagegraph.cost"
ROWS = 100
"""Per-user and per-workspace rows of an analytics answer."""
FEW = 20
"""Short lists: templates, parameters, roles, agents, series of a nested object."""


def bounded(count: int) -> dict[str, Any]:
    """A list of at most about ``count`` items."""
    return {KEY: ("bounded", count)}


def connection() -> dict[str, Any]:
    """A connection: its ``first`` argument sizes the page its ``nodes`` return."""
    return {KEY: ("connection", None)}


def page() -> dict[str, Any]:
    """The ``nodes`` of a connection: as many as the enclosing connection's ``first``."""
    return {KEY: ("page", None)}


def buckets() -> dict[str, Any]:
    """One item per bucket of the field's start, end and interval arguments."""
    return {KEY: ("buckets", None)}


def days() -> dict[str, Any]:
    """One item per day of the field's start and end (or periodLength) arguments."""
    return {KEY: ("days", None)}
