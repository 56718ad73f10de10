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
from enum import Enum
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
from strawberry.resolvers import is_default_resolver

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
    """Generates one function per compiled value: nested objects and lists are inlined into its expression
    (dict literals and comprehensions), so no call is made per nested object; a list of Columns calls the
    columns' own builder once."""

    def __init__(self, executor: Executor[Any]) -> None:
        self.executor = executor
        self.namespace: dict[str, Any] = {"_give_up": _give_up, "_as_list": _as_list, "Columns": Columns}
        self.counter = 0

    def _fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _name(self, prefix: str, value: Any) -> str:
        name = self._fresh(prefix)
        self.namespace[name] = value
        return name

    def _function(self, code: str, label: str) -> Builder:
        try:
            exec(compile(code, f"<compiled {label}>", "exec"), self.namespace)  # noqa: S102
        except (SyntaxError, RecursionError, MemoryError) as error:  # too deep for Python's compiler
            raise _Uncompilable from error
        builder: Builder = self.namespace.pop("build")
        return builder

    def type_builder(self, return_type: GraphQLOutputType, field_details_list: Any) -> Builder:
        """A function completing a non-None value of return_type (nulls inside give up)."""
        expression = self.expression(return_type, field_details_list, "value")
        return self._function(f"def build(value):\n    return {expression}", str(return_type))

    def expression(self, value_type: GraphQLOutputType, details: Any, var: str) -> str:
        """The expression completing the non-None value held in the variable `var`."""
        if isinstance(value_type, GraphQLNonNull):
            value_type = value_type.of_type
        if isinstance(value_type, GraphQLList):
            item_type = value_type.of_type
            named = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
            from_columns = (
                self._name("columns", self.columns_builder(named, details))
                if isinstance(named, GraphQLObjectType)
                else "_give_up"
            )
            item = self._fresh("x")
            null = "_give_up()" if isinstance(item_type, GraphQLNonNull) else "None"
            completed = self.expression(item_type, details, item)
            return (
                f"({from_columns}({var}) if {var}.__class__ is Columns else "
                f"[({null} if {item} is None else {completed}) for {item} in _as_list({var})])"
            )
        if isinstance(value_type, GraphQLObjectType):
            return self._object(value_type, details, lambda attribute: f"{var}.{attribute}")
        if isinstance(value_type, GraphQLScalarType | GraphQLEnumType):
            return self._leaf_expression(value_type, var)
        raise _Uncompilable

    def columns_builder(self, object_type: GraphQLObjectType, field_details_list: Any) -> Builder:
        """A function building the list of result dicts of a Columns value of object_type from its
        columns."""
        attributes: dict[str, str] = {}

        def read(attribute: str) -> str:
            if attribute not in attributes:
                attributes[attribute] = self._fresh("a")
            return attributes[attribute]

        result = self._object(object_type, field_details_list, read)
        if attributes:
            names = ", ".join(attributes.values())
            reads = ", ".join(f"c[{attribute!r}]" for attribute in attributes)
            code = (
                f"def build(rows):\n    c = rows.columns\n    return [{result} for {names}, in zip({reads})]"
            )
        else:
            code = f"def build(rows):\n    return [{result} for _ in range(len(rows))]"
        return self._function(code, f"columns of {object_type.name}")

    def _object(
        self, object_type: GraphQLObjectType, field_details_list: Any, read: Callable[[str], str]
    ) -> str:
        """The dict literal of one object's selected fields; `read(attribute)` is the expression reading an
        attribute of the source."""
        if object_type.is_type_of is not None:
            raise _Uncompilable
        grouped = self.executor.collect_subfields(object_type, field_details_list)
        grouped_fields: Any = getattr(grouped, "grouped_field_set", grouped)
        if getattr(grouped, "new_defer_usages", None):
            raise _Uncompilable
        entries: list[str] = []
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
            if resolve is None or not is_default_resolver(resolve):
                raise _Uncompilable
            definition = field_def.extensions.get("strawberry-definition")
            if definition is None:
                raise _Uncompilable
            attribute = definition.python_name
            if not attribute.isidentifier():
                raise _Uncompilable
            value = self._fresh("v")
            completed = self.expression(field_def.type, details, value)
            null = "_give_up()" if isinstance(field_def.type, GraphQLNonNull) else "None"
            entries.append(f"{key}: ({null} if ({value} := {read(attribute)}) is None else {completed})")
        return "{" + ", ".join(entries) + "}"

    def _leaf_expression(self, leaf_type: GraphQLScalarType | GraphQLEnumType, var: str) -> str:
        """Built-in scalars of the expected Python type pass through inline (their serializers would return
        them unchanged), our own scalars' serializers are called directly, and the members of a Python enum
        are looked up by their name once their class is checked; anything else goes through the type's serializer."""
        if isinstance(leaf_type, GraphQLScalarType) and leaf_type.name in _PASS_THROUGH:
            serializer = self._name("ser", _leaf(leaf_type))
            return f"({var} if {_PASS_THROUGH[leaf_type.name].format(v=var)} else {serializer}({var}))"
        if isinstance(leaf_type, GraphQLScalarType) and leaf_type.serialize in INLINE_SERIALIZERS:
            serializer = self._name("ser", leaf_type.serialize)
            unchanged = INLINE_SERIALIZERS[leaf_type.serialize]
            if unchanged is None:
                return f"{serializer}({var})"
            return f"({var} if {unchanged.format(v=var)} else {serializer}({var}))"
        serializer = self._name("ser", _leaf(leaf_type))
        members = _enum_names(leaf_type)
        if members is None:
            return f"{serializer}({var})"
        enum_class, names = members
        cls = self._name("enum", enum_class)
        lookup = self._name("names", names)
        return f"({lookup}[{var}._name_] if {var}.__class__ is {cls} else {serializer}({var}))"


_PASS_THROUGH = {
    "String": "{v}.__class__ is str",
    "ID": "{v}.__class__ is str",
    "Boolean": "{v}.__class__ is bool",
    "Int": "{v}.__class__ is int and -2147483648 <= {v} <= 2147483647",
    "Float": "{v}.__class__ is float and -1.8e308 < {v} < 1.8e308",
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


def _enum_names(leaf_type: GraphQLScalarType | GraphQLEnumType) -> tuple[type[Enum], dict[str, str]] | None:
    """For an enum type backed by a Python enum: the class and each member's serialized name by the member's
    own name (a plain attribute, where hashing a member calls Python code); members the type refuses are left
    out, so the standard path reports them."""
    enum_class = getattr(leaf_type, "wrapped_cls", None)
    if not isinstance(leaf_type, GraphQLEnumType) or not (
        isinstance(enum_class, type) and issubclass(enum_class, Enum)
    ):
        return None
    names: dict[str, str] = {}
    for member in enum_class:
        try:
            names[member._name_] = leaf_type.serialize(member)
        except Exception:  # noqa: BLE001,S112  (left to the standard path)
            continue
    return enum_class, names
