"""Compiled execution of plain-data subtrees.

graphql-core spends microseconds per field on resolver calls, info objects and completion, which dominates
large analytics responses. Where a field's value is plain data (every selected field below it reads an
attribute: scalar and enum leaves, nested objects and lists, aliases, fragments, __typename, @skip and
@include), the executor here builds the result with a Python function generated once for that selection and
cached. Anything else (resolvers, arguments, permission classes, abstract types) goes through the standard
executor. If a compiled builder meets anything unusual (a null in a non-null position, a value a scalar
refuses), it gives up and the standard executor completes that value, so results and errors are identical.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast, overload

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
)
from graphql.execution.executor import Executor
from graphql.pyutils import Undefined

from usagegraph.schema.scalars import INLINE_SERIALIZERS

Builder = Callable[[Any], Any]
T = TypeVar("T")


class _GiveUp(Exception):
    """The compiled builder met a value it does not handle; the standard path takes over."""


def _give_up(*_: Any) -> Any:
    raise _GiveUp


class _Uncompilable(Exception):
    pass


CACHE_SIZE = 2048
_cache: OrderedDict[tuple[Any, ...], tuple[Any, Builder | None]] = OrderedDict()


class CompiledExecutor(Executor[Any]):
    """An Executor that completes plain-data values with cached generated builders."""

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if result is not None and not isinstance(result, Exception) and not self.is_awaitable(result):
            builder = self._builder(return_type, field_details_list)
            if builder is not None:
                try:
                    return builder(result)
                except _GiveUp:
                    pass
                except Exception:  # noqa: BLE001  (the standard path reports the error exactly)
                    pass
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    def _builder(self, return_type: GraphQLOutputType, field_details_list: Any) -> Builder | None:
        nodes = tuple(details.node for details in field_details_list)
        key = (tuple(id(node) for node in nodes), str(return_type), self._directive_key())
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
            return entry[1]
        try:
            builder: Builder | None = _Compiler(self).type_builder(return_type, field_details_list)
        except _Uncompilable:
            builder = None
        _cache[key] = (nodes, builder)
        if len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return builder

    def _directive_key(self) -> tuple[Any, ...]:
        """Variable values can switch @skip/@include, so they are part of what a builder was built for."""
        cached = getattr(self, "_usagegraph_directive_key", None)
        if cached is None:
            values = self.variable_values
            coerced = getattr(values, "coerced", values)
            try:
                cached = tuple(
                    sorted((k, v) for k, v in dict(cast(Any, coerced)).items() if isinstance(v, bool))
                )
            except TypeError:
                cached = ()
            self._usagegraph_directive_key = cached
        return cached


class _Compiler:
    def __init__(self, executor: Executor[Any]) -> None:
        self.executor = executor
        self.namespace: dict[str, Any] = {"_give_up": _give_up}
        self.counter = 0

    def _name(self, prefix: str, value: Any) -> str:
        self.counter += 1
        name = f"{prefix}{self.counter}"
        self.namespace[name] = value
        return name

    def type_builder(self, return_type: GraphQLOutputType, field_details_list: Any) -> Builder:
        """A function completing a non-None value of return_type (nulls inside give up)."""
        if isinstance(return_type, GraphQLNonNull):
            return self.type_builder(return_type.of_type, field_details_list)
        if isinstance(return_type, GraphQLList):
            item_type = return_type.of_type
            item = self.type_builder(item_type, field_details_list)
            named = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
            from_columns = (
                self.object_builder(named, field_details_list, columns=True)
                if isinstance(named, GraphQLObjectType)
                else _give_up
            )
            if isinstance(item_type, GraphQLNonNull):
                return lambda values: (
                    from_columns(values)
                    if values.__class__ is Columns
                    else [item(v) if v is not None else _give_up() for v in _as_list(values)]
                )
            return lambda values: (
                from_columns(values)
                if values.__class__ is Columns
                else [item(v) if v is not None else None for v in _as_list(values)]
            )
        if isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
            return _leaf(return_type)
        if isinstance(return_type, GraphQLObjectType):
            return self.object_builder(return_type, field_details_list)
        raise _Uncompilable

    def object_builder(
        self, object_type: GraphQLObjectType, field_details_list: Any, columns: bool = False
    ) -> Builder:
        """A function building the result dict of one object from its attributes or, with `columns`, the
        list of result dicts of a Columns value from its columns."""
        if object_type.is_type_of is not None:
            raise _Uncompilable
        grouped = self.executor.collect_subfields(object_type, field_details_list)
        grouped_fields: Any = getattr(grouped, "grouped_field_set", grouped)
        if getattr(grouped, "new_defer_usages", None):
            raise _Uncompilable
        entries: list[str] = []
        attributes: dict[str, str] = {}
        for response_name, details in grouped_fields.items():
            node = details[0].node
            field_name = node.name.value
            key = repr(response_name)
            if field_name == "__typename":
                entries.append(f"{key}: {object_type.name!r}")
                continue
            field_def = object_type.fields.get(field_name)
            if field_def is None or node.arguments or field_def.args:
                raise _Uncompilable
            resolve = field_def.resolve
            if resolve is None or not getattr(resolve, "_is_default", False):
                raise _Uncompilable
            definition = field_def.extensions.get("strawberry-definition")
            if definition is None:
                raise _Uncompilable
            attribute = definition.python_name
            if not attribute.isidentifier():
                raise _Uncompilable
            field_type = field_def.type
            value = self._value_expression(field_type, details)
            read = (
                attributes.setdefault(attribute, f"a{len(attributes)}") if columns else f"source.{attribute}"
            )
            if isinstance(field_type, GraphQLNonNull):
                entries.append(f"{key}: (_give_up() if (v := {read}) is None else {value})")
            else:
                entries.append(f"{key}: (None if (v := {read}) is None else {value})")
        result = "{" + ", ".join(entries) + "}"
        if not columns:
            code = f"def build(source):\n    return {result}"
        elif attributes:
            names = ", ".join(attributes.values())
            reads = ", ".join(f"c[{attribute!r}]" for attribute in attributes)
            code = (
                f"def build(rows):\n    c = rows.columns\n    return [{result} for {names}, in zip({reads})]"
            )
        else:
            code = f"def build(rows):\n    return [{result} for _ in range(len(rows))]"
        exec(compile(code, f"<compiled {object_type.name}>", "exec"), self.namespace)  # noqa: S102
        builder: Builder = self.namespace.pop("build")
        return builder

    def _value_expression(self, field_type: GraphQLOutputType, details: Any) -> str:
        """The expression completing a non-None value `v`; built-in scalars of the expected Python type are
        passed through inline (their serializers would return them unchanged)."""
        named = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        if isinstance(named, GraphQLScalarType) and named.name in _PASS_THROUGH:
            serializer = self._name("ser", _leaf(named))
            return f"(v if {_PASS_THROUGH[named.name]} else {serializer}(v))"
        if isinstance(named, GraphQLScalarType) and named.serialize in INLINE_SERIALIZERS:
            serializer = self._name("ser", named.serialize)
            unchanged = INLINE_SERIALIZERS[named.serialize]
            return f"{serializer}(v)" if unchanged is None else f"(v if {unchanged} else {serializer}(v))"
        sub = self._name("sub", self.type_builder(field_type, details))
        return f"{sub}(v)"


_PASS_THROUGH = {
    "String": "v.__class__ is str",
    "ID": "v.__class__ is str",
    "Boolean": "v.__class__ is bool",
    "Int": "v.__class__ is int and -2147483648 <= v <= 2147483647",
    "Float": "v.__class__ is float and -1.8e308 < v < 1.8e308",
}


class Columns(Sequence[T]):
    """Rows of one object type held as columns, one sequence per attribute, all of the same length. The
    compiled executor builds the results of a list of them straight from the columns, without creating an
    object per row; to anything else (the standard executor, a builder that gives up) it is a sequence of
    real objects, `factory(**row)`, created as they are read. The columns must name every attribute the
    type's fields read."""

    __slots__ = ("columns", "factory", "length")

    def __init__(self, factory: Callable[..., T], columns: dict[str, Sequence[Any]]) -> None:
        lengths = {len(column) for column in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        self.factory = factory
        self.columns = columns
        self.length = lengths.pop() if lengths else 0

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Columns[T]: ...

    def __getitem__(self, index: int | slice) -> T | Columns[T]:
        if isinstance(index, slice):
            return Columns(self.factory, {name: column[index] for name, column in self.columns.items()})
        return self.factory(**{name: column[index] for name, column in self.columns.items()})

    def __iter__(self) -> Iterator[T]:
        names = tuple(self.columns)
        for values in zip(*self.columns.values(), strict=True):
            yield self.factory(**dict(zip(names, values, strict=True)))


def _as_list(values: Any) -> Any:
    if isinstance(values, list | tuple):
        return values
    if isinstance(values, str | bytes | dict) or not hasattr(values, "__iter__"):
        raise _GiveUp
    return list(values)


def _leaf(leaf_type: GraphQLScalarType | GraphQLEnumType) -> Builder:
    serialize = leaf_type.serialize

    def build(value: Any) -> Any:
        serialized = serialize(value)
        if serialized is None or serialized is Undefined:
            raise _GiveUp
        return serialized

    return build
