"""The argument values of a request, checked before execution against the rules of
usagegraph/schema/bounds.py: every string (literal or variable, at any depth of an input object) is text
that PostgreSQL can store, and every DateTime and Date is inside the accepted time window, so that no
resolver computes a range that leaves the calendar. Ingest batches are exempt: ingest screens each of
their records on its own and reports the bad ones without failing the batch (ingest/screen.py)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from graphql import (
    BREAK,
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    type_from_ast,
    visit,
)
from graphql.language.visitor import SKIP

from usagegraph.schema import bounds
from usagegraph.schema.scalars import parse_date, parse_datetime

SCREENED_PER_RECORD = frozenset({"IngestBatch"})
"""Input types whose values are checked record by record by their resolver."""
MAX_ERRORS = 10


def _problem(value: Any, scalar: str) -> str | None:
    if not isinstance(value, str):
        return None
    if scalar == "DateTime":
        try:
            return bounds.instant_problem(parse_datetime(value))
        except ValueError:
            return None  # not a DateTime at all: coercion reports it
    if scalar == "Date":
        try:
            return bounds.date_problem(parse_date(value))
        except ValueError:
            return None
    return bounds.text_problem(value)


def _error(message: str, argument: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "argument": argument})


class _Literals(Visitor):
    def __init__(self, type_info: TypeInfo, operation: OperationDefinitionNode) -> None:
        super().__init__()
        self.type_info = type_info
        self.operation = operation
        self.errors: list[GraphQLError] = []

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
        return None if node is self.operation else SKIP

    def enter_argument(self, node: ArgumentNode, *_: Any) -> Any:
        argument = self.type_info.get_argument()
        if argument is not None and get_named_type(argument.type).name in SCREENED_PER_RECORD:
            return SKIP
        return None

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        named = get_named_type(self.type_info.get_input_type())
        problem = _problem(node.value, named.name if isinstance(named, GraphQLScalarType) else "String")
        if problem is not None:
            argument = self.type_info.get_argument()
            name = argument.ast_node.name.value if argument and argument.ast_node else "argument"
            self.errors.append(_error(f"argument {name}: {named.name if named else 'value'} {problem}", name))
            if len(self.errors) >= MAX_ERRORS:
                return BREAK
        return None


def _walk(value: Any, type_: GraphQLInputType, path: str, root: str, errors: list[GraphQLError]) -> None:
    if value is None or len(errors) >= MAX_ERRORS:
        return
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        for position, item in enumerate(value if isinstance(value, list) else [value]):
            _walk(item, type_.of_type, f"{path}[{position}]", root, errors)
    elif isinstance(type_, GraphQLInputObjectType):
        if type_.name in SCREENED_PER_RECORD or not isinstance(value, dict):
            return
        for key, item in value.items():
            field = type_.fields.get(key)
            if field is not None:
                _walk(item, field.type, f"{path}.{key}", root, errors)
    elif isinstance(type_, GraphQLScalarType):
        problem = _problem(value, type_.name)
        if problem is not None:
            errors.append(_error(f"variable {path}: {type_.name} {problem}", root))


_LITERALS: OrderedDict[tuple[int, int, int], tuple[DocumentNode, list[GraphQLError]]] = OrderedDict()
_LITERALS_SIZE = 512


def _literal_errors(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
) -> list[GraphQLError]:
    """The literals' errors of an operation, remembered per parsed document: the endpoint's document
    cache hands out the same document for the same query text, and walking it costs more than running a
    small query. The entry holds the document, so its id cannot be reused while it is cached."""
    key = (id(schema), id(document), id(operation))
    entry = _LITERALS.get(key)
    if entry is not None and entry[0] is document:
        _LITERALS.move_to_end(key)
        return entry[1]
    source = document.loc.source.body if document.loc is not None else None
    if source is not None and '"' not in source:
        errors: list[GraphQLError] = []  # no string literal at all
    else:
        type_info = TypeInfo(schema)
        literals = _Literals(type_info, operation)
        visit(document, TypeInfoVisitor(type_info, literals))
        errors = literals.errors
    _LITERALS[key] = (document, errors)
    if len(_LITERALS) > _LITERALS_SIZE:
        _LITERALS.popitem(last=False)
    return errors


def argument_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any] | None,
) -> list[GraphQLError]:
    """BAD_USER_INPUT errors for the argument values of ``operation`` that break a rule of bounds.py."""
    errors = list(_literal_errors(schema, document, operation))
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        type_ = type_from_ast(schema, definition.type)
        if variables and name in variables and type_ is not None:
            _walk(variables[name], type_, f"${name}", name, errors)  # type: ignore[arg-type]
    return errors[:MAX_ERRORS]
