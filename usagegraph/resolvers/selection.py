"""What a resolver's query selects below it, so that unselected sections cost nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import SelectedField


def subfields(info: Info) -> list[SelectedField]:
    """The fields selected directly below the current one, through fragments and inline fragments
    (@skip/@include are not evaluated: a field they drop is counted, which costs work, never answers)."""
    return children(info.selected_fields)


def children(fields: Sequence[Any]) -> list[SelectedField]:
    """The fields selected directly below these fields, as `subfields` finds them."""
    found: list[SelectedField] = []
    pending: list[Any] = [node for field in fields for node in field.selections]
    while pending:
        node = pending.pop()
        if isinstance(node, SelectedField):
            found.append(node)
        else:
            pending.extend(node.selections)
    return found


def selected_names(info: Info) -> set[str]:
    return {field.name for field in subfields(info)}
