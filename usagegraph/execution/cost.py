"""Query cost analysis: an upper estimate of the values a response can hold, checked against a budget
before execution. Lists multiply their subtree: by `first` on connections, by the number of buckets or days
an analytics field's arguments imply, and by a default for other lists."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.execution.values import get_argument_values

DEFAULT_LIST = 20
ROWS_PER_BUCKET = 100
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800, "month": 2678400, "year": 31622400}


def _buckets(args: dict[str, Any]) -> int | None:
    start, end = args.get("start"), args.get("end")
    interval = args.get("interval")
    if isinstance(start, datetime) and isinstance(end, datetime) and end > start:
        step = 86400.0
        if interval is not None and hasattr(interval, "unit"):
            step = interval.count * _SECONDS.get(interval.unit, 86400)
        elif str(getattr(interval, "value", interval)) == "WEEK":
            step = 604800
        return max(1, math.ceil((end - start).total_seconds() / step))
    return None


def _days(args: dict[str, Any]) -> int:
    start, end = args.get("start"), args.get("end")
    if isinstance(start, date) and isinstance(end, date) and end >= start:
        return (end - start).days + 1
    period = args.get("period_length", args.get("periodLength", 365))
    return int(period or 365) + 1


def _multiplier(field_name: str, args: dict[str, Any]) -> int:
    if "first" in args and args["first"] is not None:
        return max(1, int(args["first"]))
    if field_name == "usageMetrics":
        return _days(args)
    buckets = _buckets(args)
    if buckets is not None:
        return buckets
    if field_name in ("userActivity", "users", "userLatency", "workspaces", "nodes"):
        return ROWS_PER_BUCKET
    return DEFAULT_LIST


class CostEstimator:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any] | None
    ) -> None:
        self.schema = schema
        self.variables = variables or {}
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        return self._selection(root, operation.selection_set, set())

    def _selection(
        self, parent: GraphQLObjectType, selection_set: SelectionSetNode | None, seen: set[str]
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(parent, selection, seen)
            elif isinstance(selection, InlineFragmentNode):
                total += self._selection(parent, selection.selection_set, seen)
            else:
                name = selection.name.value  # type: ignore[attr-defined]
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    total += self._selection(parent, fragment.selection_set, seen | {name})
        return total

    def _field(self, parent: GraphQLObjectType, node: FieldNode, seen: set[str]) -> int:
        field: GraphQLField | None = parent.fields.get(node.name.value)
        if field is None:
            return 1
        try:
            args = get_argument_values(field, node, cast(Any, self.variables)) if field.args else {}
        except Exception:  # noqa: BLE001  (invalid arguments are reported by execution itself)
            args = {}
        field_type = field.type
        multiplier = 1
        while isinstance(field_type, GraphQLNonNull | GraphQLList):
            if isinstance(field_type, GraphQLList):
                multiplier *= _multiplier(node.name.value, args)
            field_type = field_type.of_type
        child = 0
        if isinstance(field_type, GraphQLObjectType):
            if "first" in args:
                multiplier = 1
                child = self._connection(field_type, node, args, seen)
            else:
                child = self._selection(field_type, node.selection_set, seen)
        return multiplier * (1 + child)

    def _connection(
        self, field_type: GraphQLObjectType, node: FieldNode, args: dict[str, Any], seen: set[str]
    ) -> int:
        first = max(1, int(args.get("first") or 50))
        total = 0
        for selection in node.selection_set.selections if node.selection_set else []:
            if isinstance(selection, FieldNode) and selection.name.value == "nodes":
                inner = field_type.fields["nodes"].type
                while isinstance(inner, GraphQLNonNull | GraphQLList):
                    inner = inner.of_type
                total += first * (1 + self._selection(inner, selection.selection_set, seen))
            elif isinstance(selection, FieldNode):
                total += 1 + (
                    self._selection(
                        field_type.fields[selection.name.value].type.of_type, selection.selection_set, seen
                    )
                    if selection.selection_set and selection.name.value in field_type.fields
                    else 0
                )
        return total


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
) -> int:
    return CostEstimator(schema, document, variables).operation(operation)
