"""Query cost analysis: an upper estimate of the values a response can hold, checked against a budget
before execution. Each list field declares how many items it returns in its metadata
(usagegraph/schema/costs.py): the page of a connection (its `first`), the buckets or days an analytics
field's arguments imply, or a fixed bound. Fragments, named or inline, cost exactly what their fields
cost written out."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

from usagegraph.schema import costs

DEFAULT_PAGE = 50
UNDECLARED = costs.FEW
"""For a list field without metadata (the schema test forbids them): counted as a short list."""
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800, "month": 2678400, "year": 31622400}


def list_cost(field: GraphQLField) -> tuple[str, int | None] | None:
    """The declared multiplier of a field (kind, bound), or None when it declares none."""
    definition = (field.extensions or {}).get("strawberry-definition")
    metadata = getattr(definition, "metadata", None) or {}
    declared = metadata.get(costs.KEY)
    return cast(tuple[str, int | None], declared) if declared is not None else None


def _buckets(args: dict[str, Any]) -> int:
    start, end = args.get("start"), args.get("end")
    interval = args.get("interval")
    if isinstance(start, datetime) and isinstance(end, datetime) and end > start:
        step = 86400.0
        if interval is not None and hasattr(interval, "unit"):
            step = interval.count * _SECONDS.get(interval.unit, 86400)
        elif str(getattr(interval, "value", interval)) == "WEEK":
            step = 604800
        return max(1, math.ceil((end - start).total_seconds() / step))
    return UNDECLARED


def _days(args: dict[str, Any]) -> int:
    start, end = args.get("start"), args.get("end")
    if isinstance(start, date) and isinstance(end, date) and end >= start:
        return (end - start).days + 1
    period = args.get("period_length", args.get("periodLength", 365))
    return int(period or 365) + 1


def _first(args: dict[str, Any]) -> int:
    first = args.get("first")
    return max(1, int(first)) if isinstance(first, int) else DEFAULT_PAGE


class CostEstimator:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any] | None
    ) -> None:
        self.schema = schema
        self.raw_variables = variables or {}
        self.variables: VariableValues | None = None
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        coerced = get_variable_values(self.schema, operation.variable_definitions or (), self.raw_variables)
        # Variables that do not coerce fail the request before any resolver runs: their defaults do here.
        self.variables = coerced if isinstance(coerced, VariableValues) else None
        return self._selection(root, operation.selection_set, frozenset(), DEFAULT_PAGE)

    def _selection(
        self,
        parent: GraphQLObjectType,
        selection_set: SelectionSetNode | None,
        seen: frozenset[str],
        page: int,
    ) -> int:
        """The cost of a selection set, fragments included; ``page`` is the `first` of the connection
        whose fields these are (the size of its ``nodes``)."""
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(parent, selection, seen, page)
            elif isinstance(selection, InlineFragmentNode):
                total += self._selection(
                    self._narrowed(parent, selection), selection.selection_set, seen, page
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    total += self._selection(
                        self._narrowed(parent, fragment), fragment.selection_set, seen | {name}, page
                    )
        return total

    def _narrowed(
        self, parent: GraphQLObjectType, fragment: InlineFragmentNode | FragmentDefinitionNode
    ) -> GraphQLObjectType:
        condition = fragment.type_condition
        if condition is None:
            return parent
        named = self.schema.get_type(condition.name.value)
        return named if isinstance(named, GraphQLObjectType) else parent

    def _field(self, parent: GraphQLObjectType, node: FieldNode, seen: frozenset[str], page: int) -> int:
        field: GraphQLField | None = parent.fields.get(node.name.value)
        if field is None:
            return 1
        try:
            args = get_argument_values(field, node, self.variables) if field.args else {}
        except Exception:  # noqa: BLE001  (invalid arguments are reported by execution itself)
            args = {}
        declared = list_cost(field)
        kind, bound = declared if declared is not None else ("bounded", UNDECLARED)
        child_page = _first(args) if kind == "connection" else DEFAULT_PAGE
        field_type = field.type
        multiplier = 1
        while isinstance(field_type, GraphQLNonNull | GraphQLList):
            if isinstance(field_type, GraphQLList):
                multiplier *= self._items(kind, bound, args, page)
            field_type = field_type.of_type
        child = 0
        if isinstance(field_type, GraphQLObjectType):
            child = self._selection(field_type, node.selection_set, seen, child_page)
        return multiplier * (1 + child)

    @staticmethod
    def _items(kind: str, bound: int | None, args: dict[str, Any], page: int) -> int:
        if kind == "page":
            return page
        if kind == "days":
            return _days(args)
        if kind == "buckets":
            return _buckets(args)
        return bound if bound is not None else UNDECLARED


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
) -> int:
    return CostEstimator(schema, document, variables).operation(operation)
