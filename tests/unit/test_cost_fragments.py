"""The cost estimate reads each list field's declared multiplier from the schema and walks fragments,
named and inline, exactly like fields written out: a document costs the same whatever fragments it uses."""

from __future__ import annotations

from typing import Any

import graphql
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_operation_ast,
    parse,
    print_ast,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries

from usagegraph.execution.cost import estimate_cost, list_cost
from usagegraph.schema import costs
from usagegraph.schema.schema import build_schema, export_sdl
from usagegraph.settings import Settings

SCHEMA = build_schema()._schema
SDL_SCHEMA = graphql.build_schema(export_sdl())
SCALARS = {
    "DateTime": st.sampled_from(["2024-03-01T00:00:00Z", "2024-03-09T00:00:00Z"]).map(nodes.String),
    "Date": st.sampled_from(["2024-03-01", "2024-12-31"]).map(nodes.String),
    "Interval": st.sampled_from(["1 hour", "1 day"]).map(nodes.String),
    "Decimal": st.just(nodes.String("1.5")),
    "BigInt": st.integers(0, 10).map(nodes.Int),
}
BUDGET = Settings().max_cost


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    parsed = parse(document)
    operation = get_operation_ast(parsed)
    assert operation is not None
    return estimate_cost(SCHEMA, parsed, operation, variables)


WRITTEN_OUT = """
query { organizations { workspaces(first: 500) { nodes { usageMetrics(periodLength: 3660) { date dau } } } } }
"""
NAMED = """
query { organizations { workspaces(first: 500) { ...W } } }
fragment W on WorkspaceConnection { nodes { usageMetrics(periodLength: 3660) { date dau } } }
"""
INLINE = """
query { organizations { workspaces(first: 500) {
  ... on WorkspaceConnection { nodes { ... { usageMetrics(periodLength: 3660) { date dau } } } }
} } }
"""
NESTED = """
query { ...Q }
fragment Q on Query { organizations { ...O } }
fragment O on Organization { workspaces(first: $n) { ...W } }
fragment W on WorkspaceConnection { nodes { usageMetrics(periodLength: 3660) { ...M } } }
fragment M on UsageMetric { date dau }
""".replace("query {", "query($n: Int) {")


def test_a_fragment_on_a_connection_costs_what_its_fields_cost() -> None:
    written = cost(WRITTEN_OUT)
    assert written > BUDGET
    assert cost(NAMED) == written
    assert cost(INLINE) == written
    assert cost(NESTED, {"n": 500}) == written


def test_every_list_field_declares_its_multiplier() -> None:
    """A list field (or a connection) without metadata would be costed by a guess: refused here."""
    missing = []
    for type_ in SCHEMA.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            inner, is_list = field.type, False
            while isinstance(inner, GraphQLNonNull | GraphQLList):
                is_list = is_list or isinstance(inner, GraphQLList)
                inner = inner.of_type
            declared = list_cost(field)
            if (is_list or "first" in field.args) and declared is None:
                missing.append(f"{type_.name}.{name}")
            if declared is not None:
                kind = declared[0]
                assert kind in {"bounded", "connection", "page", "buckets", "days"}, (type_.name, name)
                assert kind != "connection" or "first" in field.args, (type_.name, name)
                assert kind != "page" or type_.name.endswith("Connection"), (type_.name, name)
    assert missing == []


def test_the_declared_kinds_are_the_ones_costs_makes() -> None:
    assert {
        k[costs.KEY][0]
        for k in (costs.bounded(1), costs.connection(), costs.page(), costs.buckets(), costs.days())
    } == {"bounded", "connection", "page", "buckets", "days"}


def _named(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _fragmentize(
    draw: st.DrawFn, selection_set: SelectionSetNode, parent: Any, fragments: list[FragmentDefinitionNode]
) -> SelectionSetNode:
    """The same selections, with randomly chosen sub-sets moved into named fragments, inline fragments
    with and without a type condition, recursively."""
    selections: list[Any] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode) and selection.selection_set is not None:
            child = _named(parent.fields[selection.name.value].type)
            selection = FieldNode(
                alias=selection.alias,
                name=selection.name,
                arguments=selection.arguments,
                directives=selection.directives,
                selection_set=_fragmentize(draw, selection.selection_set, child, fragments),
            )
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            child = SCHEMA.get_type(condition.name.value) if condition else parent
            selection = InlineFragmentNode(
                type_condition=condition,
                directives=selection.directives,
                selection_set=_fragmentize(draw, selection.selection_set, child, fragments),
            )
        selections.append(selection)
    if not isinstance(parent, GraphQLObjectType):
        return SelectionSetNode(selections=tuple(selections))
    cut = draw(st.integers(0, len(selections)))
    kept, moved = selections[:cut], selections[cut:]
    if not moved:
        return SelectionSetNode(selections=tuple(kept))
    how = draw(st.sampled_from(["named", "inline", "untyped", "none"]))
    inner = SelectionSetNode(selections=tuple(moved))
    condition = NamedTypeNode(name=NameNode(value=parent.name))
    if how == "named":
        name = NameNode(value=f"F{len(fragments)}")
        fragments.append(FragmentDefinitionNode(name=name, type_condition=condition, selection_set=inner))
        wrapped: Any = FragmentSpreadNode(name=name)
    elif how == "inline":
        wrapped = InlineFragmentNode(type_condition=condition, selection_set=inner)
    elif how == "untyped":
        wrapped = InlineFragmentNode(type_condition=None, selection_set=inner)
    else:
        return SelectionSetNode(selections=tuple(selections))
    return SelectionSetNode(selections=(*kept, wrapped))


@st.composite
def fragmented(draw: st.DrawFn) -> tuple[str, str]:
    document = draw(queries(SDL_SCHEMA, custom_scalars=SCALARS))
    parsed = parse(document)
    operation = parsed.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    fragments: list[FragmentDefinitionNode] = []
    selection_set = _fragmentize(draw, operation.selection_set, SCHEMA.query_type, fragments)
    rewritten = OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=operation.variable_definitions,
        directives=operation.directives,
        selection_set=selection_set,
    )
    return document, print_ast(DocumentNode(definitions=(rewritten, *fragments)))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(pair=fragmented())
def test_cost_is_the_same_with_fragments_inlined(pair: tuple[str, str]) -> None:
    inlined, with_fragments = pair
    assert graphql.validate(SCHEMA, parse(with_fragments)) == [], with_fragments
    assert cost(with_fragments) == cost(inlined), with_fragments
