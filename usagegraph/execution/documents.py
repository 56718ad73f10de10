"""Parsing and validation of GraphQL documents: the request limits as validation rules, and a bounded cache
of parsed documents with their validation errors, keyed by the query text."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)
from graphql.error import GraphQLSyntaxError
from graphql.language import FieldNode
from graphql.validation import ASTValidationRule, ValidationContext
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from usagegraph.settings import Settings


def _depth_rule(max_depth: int) -> type[ASTValidationRule]:
    class DepthLimit(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = {
                f.name.value: f for f in context.document.definitions if isinstance(f, FragmentDefinitionNode)
            }
            for definition in context.document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    depth = _depth(definition.selection_set, fragments, 0, set())
                    if depth > max_depth:
                        context.report_error(
                            GraphQLError(
                                f"query depth {depth} exceeds the limit of {max_depth}",
                                definition,
                                extensions={"code": "QUERY_TOO_COMPLEX", "depth": depth, "limit": max_depth},
                            )
                        )

    return DepthLimit


def _depth(selection_set: Any, fragments: dict[str, Any], depth: int, seen: set[str]) -> int:
    if selection_set is None:
        return depth
    deepest = depth
    for selection in selection_set.selections:
        if selection.kind == "field":
            if selection.name.value.startswith("__"):
                continue
            deepest = max(deepest, _depth(selection.selection_set, fragments, depth + 1, seen))
        elif selection.kind == "inline_fragment":
            deepest = max(deepest, _depth(selection.selection_set, fragments, depth, seen))
        elif selection.kind == "fragment_spread":
            name = selection.name.value
            if name in fragments and name not in seen:
                deepest = max(deepest, _depth(fragments[name].selection_set, fragments, depth, seen | {name}))
    return deepest


def _alias_rule(max_aliases: int) -> type[ASTValidationRule]:
    class AliasLimit(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is not None:
                self.count += 1
                if self.count == max_aliases + 1:
                    self.report_error(
                        GraphQLError(
                            f"more than {max_aliases} aliases in one document",
                            node,
                            extensions={"code": "QUERY_TOO_COMPLEX", "limit": max_aliases},
                        )
                    )

    return AliasLimit


class NoIntrospection(ASTValidationRule):
    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value in ("__schema", "__type"):
            self.report_error(
                GraphQLError("introspection is disabled", node, extensions={"code": "FORBIDDEN"})
            )


class DocumentCache:
    """Bounded caches of parsed documents and of their validation errors, keyed by the query text."""

    def __init__(self, schema: GraphQLSchema, settings: Settings) -> None:
        self.schema = schema
        self.size = settings.document_cache_size
        self.max_tokens = settings.max_tokens
        rules: list[type[ASTValidationRule]] = [
            *specified_rules,
            MaybeNullValidationRule,
            OneOfInputValidationRule,
            _depth_rule(settings.max_depth),
            _alias_rule(settings.max_aliases),
        ]
        if not settings.introspection:
            rules.append(NoIntrospection)
        self.rules = tuple(rules)
        self._entries: OrderedDict[str, tuple[DocumentNode | None, list[GraphQLError]]] = OrderedDict()

    def get(self, query: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
            return entry
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLSyntaxError as error:
            entry = (None, [error])
        else:
            entry = (document, validate(self.schema, document, self.rules))
        self._entries[query] = entry
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return entry
