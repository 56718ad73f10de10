"""Compiled execution gives exactly the standard executor's results and errors, construct by construct."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, execute, parse
from hypothesis import given
from hypothesis import strategies as st

from usagegraph.execution.compiled import Columns, CompiledExecutor
from usagegraph.schema.scalars import SCALAR_OVERRIDES, BigInt, serialize_decimal

NOW = dt.datetime(2024, 3, 10, 7, 30, tzinfo=dt.UTC)


@strawberry.enum
class Color(Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.type
class Person:
    id: strawberry.ID
    name: str
    color: Color
    at: dt.datetime
    score: int | None
    tags: list[str]


@strawberry.type
class Row:
    person: Person
    seconds: float
    label: str
    maybe_people: list[Person | None] | None


@strawberry.type
class Link:
    name: str
    next: Link | None


@strawberry.type
class Amount:
    cost: Decimal
    tokens: BigInt
    at: dt.datetime
    day: dt.date


def _people(score: int | None = 1, name: str | None = "p") -> Columns[Person]:
    return Columns(
        Person,
        {
            "id": [strawberry.ID("1"), strawberry.ID("2")],
            "name": ["a", name],
            "color": [Color.RED, Color.BLUE],
            "at": [NOW, NOW + dt.timedelta(hours=1)],
            "score": [None, score],
            "tags": [["x"], []],
        },
    )


def _amounts(cost: Any = Decimal("1.5"), tokens: Any = 2**40) -> Columns[Amount]:
    return Columns(
        Amount,
        {
            "cost": [Decimal("0.000001") * 1234567, Decimal(0), Decimal("0E-6"), Decimal("-2.1234567"), cost],
            "tokens": [1, 2**31, -(2**40), 0, tokens],
            "at": [NOW] * 5,
            "day": [NOW.date()] * 5,
        },
    )


@strawberry.type
class Query:
    @strawberry.field
    def columns(self) -> Sequence[Person]:
        return _people()

    @strawberry.field
    def column_rows(self) -> list[Row]:
        """Plain objects whose list attributes are Columns."""
        return [Row(person=p, seconds=1.0, label="c", maybe_people=_people()) for p in _people()]

    @strawberry.field
    def columns_null_in_non_null(self) -> Sequence[Person]:
        return _people(name=None)

    @strawberry.field
    def columns_bad_int(self) -> Sequence[Person]:
        return _people(score=2**40)

    @strawberry.field
    def no_columns(self) -> Sequence[Person]:
        return Columns(Person, {"id": [], "name": [], "color": [], "at": [], "score": [], "tags": []})

    @strawberry.field
    def amounts(self) -> Sequence[Amount]:
        return _amounts()

    @strawberry.field
    def bad_cost(self) -> Sequence[Amount]:
        return _amounts(cost="a dollar")

    @strawberry.field
    def bad_tokens(self) -> Sequence[Amount]:
        return _amounts(tokens="many")

    @strawberry.field
    def rows(self) -> list[Row]:
        people = [
            Person(id=strawberry.ID(str(i)), name=f"p{i}", color=Color.RED, at=NOW, score=i, tags=["a", "b"])
            for i in range(3)
        ]
        return [
            Row(person=p, seconds=60.0 * i, label="x", maybe_people=[p, None]) for i, p in enumerate(people)
        ]

    @strawberry.field
    def null_in_non_null(self) -> list[Row]:
        person = Person(id=strawberry.ID("9"), name="n", color=Color.BLUE, at=NOW, score=None, tags=[])
        return [Row(person=person, seconds=1.0, label=None, maybe_people=None)]  # type: ignore[arg-type]

    @strawberry.field
    def bad_int(self) -> Person:
        return Person(id=strawberry.ID("1"), name="big", color=Color.RED, at=NOW, score=2**40, tags=[])

    @strawberry.field
    def bad_enum(self) -> Person:
        return Person(id=strawberry.ID("1"), name="e", color="GREEN", at=NOW, score=1, tags=[])  # type: ignore[arg-type]

    @strawberry.field
    def chain(self) -> Link:
        link = Link(name="end", next=None)
        for i in range(200):
            link = Link(name=f"n{i}", next=link)
        return link

    @strawberry.field
    def nested_enums(self) -> list[Row]:
        """Enum members, a raw enum value and a value the enum refuses, inside inlined nested lists."""
        people = [
            Person(id=strawberry.ID(str(i)), name=f"p{i}", color=color, at=NOW, score=i, tags=[])
            for i, color in enumerate([Color.RED, "BLUE", Color.BLUE])  # type: ignore[list-item]
        ]
        refused = Person(id=strawberry.ID("9"), name="g", color="GREEN", at=NOW, score=None, tags=[])  # type: ignore[arg-type]
        return [
            Row(person=people[0], seconds=1.0, label="ok", maybe_people=people),
            Row(person=people[2], seconds=2.0, label="refused", maybe_people=[None, refused]),
        ]

    @strawberry.field
    def nullable_row(self) -> Row | None:
        person = Person(id=strawberry.ID("9"), name=None, color=Color.BLUE, at=NOW, score=None, tags=[])  # type: ignore[arg-type]
        return Row(person=person, seconds=1.0, label="y", maybe_people=[])


SCHEMA = strawberry.Schema(Query, scalar_overrides=SCALAR_OVERRIDES)._schema

CASES: list[tuple[str, dict[str, Any] | None]] = [
    ("{ rows { seconds label person { id name color at score tags } } }", None),
    ("{ rows { s: seconds p: person { n: name, n2: name } } }", None),
    ("{ rows { __typename person { __typename name } } }", None),
    (
        "{ rows { ...R } } fragment R on Row { label person { ...P } } fragment P on Person { name color }",
        None,
    ),
    ("{ rows { ... on Row { label } ... { seconds } } }", None),
    ("query($s: Boolean!) { rows { label @skip(if: $s) seconds @include(if: $s) } }", {"s": True}),
    ("query($s: Boolean!) { rows { label @skip(if: $s) seconds @include(if: $s) } }", {"s": False}),
    ("{ rows { maybePeople { name } } }", None),
    ("{ nullInNonNull { label person { name } } }", None),
    ("{ nullInNonNull { seconds person { score } maybePeople { name } } }", None),
    ("{ badInt { name score } }", None),
    ("{ badEnum { name color } }", None),
    ("{ nullableRow { label person { name } } }", None),
    ("{ rows { maybePeople { color at tags } person { color } } }", None),
    ("{ nestedEnums { label person { color } } }", None),
    ("{ nestedEnums { label maybePeople { name color } } }", None),
    ("{ columnRows { maybePeople { color } } rows { person { color } } }", None),
    ("{ rows { person { name } } nullableRow { label } }", None),
    ("{ columns { id name color at score tags } }", None),
    ("{ columns { __typename n: name n2: name ...F } } fragment F on Person { color s: score }", None),
    ("query($s: Boolean!) { columns { name @skip(if: $s) at @include(if: $s) } }", {"s": True}),
    ("{ columns { __typename } noColumns { name } }", None),
    ("{ columnRows { label person { name } maybePeople { name score } } }", None),
    ("{ columnsNullInNonNull { id name } }", None),
    ("{ columnsBadInt { name score } }", None),
    ("{ amounts { cost tokens at day } }", None),
    ("{ badCost { cost } }", None),
    ("{ badTokens { tokens } }", None),
]


async def _run(query: str, variables: dict[str, Any] | None, compiled: bool) -> ExecutionResult:
    result = execute(
        SCHEMA, parse(query), variable_values=variables, executor_class=CompiledExecutor if compiled else None
    )
    if not isinstance(result, ExecutionResult):
        result = await result
    return result


@pytest.mark.parametrize(("query", "variables"), CASES)
async def test_compiled_equals_standard(query: str, variables: dict[str, Any] | None) -> None:
    standard = await _run(query, variables, compiled=False)
    compiled = await _run(query, variables, compiled=True)
    assert compiled.data == standard.data
    assert [e.formatted for e in compiled.errors or []] == [e.formatted for e in standard.errors or []]


async def test_error_cases_really_error() -> None:
    for query in (
        "{ nullInNonNull { label } }",
        "{ badInt { score } }",
        "{ badEnum { color } }",
        "{ nestedEnums { maybePeople { color } } }",
        "{ columnsNullInNonNull { name } }",
        "{ columnsBadInt { score } }",
        "{ badCost { cost } }",
        "{ badTokens { tokens } }",
    ):
        assert (await _run(query, None, compiled=True)).errors


async def test_columns_build_from_columns_and_read_as_objects() -> None:
    result = await _run("{ amounts { cost tokens } columns { name score } }", None, compiled=True)
    assert result.errors is None
    assert result.data == {
        "amounts": [
            {"cost": "1.234567", "tokens": 1},
            {"cost": "0.000000", "tokens": 2**31},
            {"cost": "0.000000", "tokens": -(2**40)},
            {"cost": "-2.123457", "tokens": 0},
            {"cost": "1.500000", "tokens": 2**40},
        ],
        "columns": [{"name": "a", "score": None}, {"name": "p", "score": 1}],
    }
    people = _people()
    assert [p.name for p in people] == ["a", "p"] and people[1].score == 1
    assert [p.name for p in people[1:]] == ["p"] and len(people[5:]) == 0
    with pytest.raises(ValueError, match="different lengths"):
        Columns(Person, {"name": ["a"], "score": []})


@given(
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False),
        st.integers(min_value=10**20, max_value=10**40).map(Decimal),
        st.integers(min_value=-(10**15), max_value=10**15).map(lambda m: Decimal(m) * Decimal("0.000001")),
        st.integers(min_value=-(10**12), max_value=10**12),
    )
)
def test_decimal_serialization_fast_path_is_exact(value: Decimal | int) -> None:
    """Six decimals, fixed point, rounded half-even, however large: the str() shortcut never differs from
    the rule."""
    exact = decimal.Context(prec=decimal.MAX_PREC)
    assert serialize_decimal(Decimal(10**22)) == "10000000000000000000000.000000"
    assert serialize_decimal(value) == format(
        Decimal(value).quantize(Decimal("0.000001"), context=exact), "f"
    )


async def test_a_selection_too_deep_for_python_falls_back_to_standard_execution() -> None:
    """150 nested objects make an expression Python's compiler refuses; graphql-core answers instead."""
    from usagegraph.execution import compiled

    query = "{ chain { " + "next { " * 150 + "name" + " }" * 150 + " } }"
    compiled._cache.clear()
    result = await _run(query, None, compiled=True)
    assert result == await _run(query, None, compiled=False)
    assert result.errors is None
    assert list(compiled._cache.values())[0][1] is None
    compiled._cache.clear()
    shallow = await _run("{ chain { name next { name } } }", None, compiled=True)
    assert shallow.data == {"chain": {"name": "n199", "next": {"name": "n198"}}}
    assert list(compiled._cache.values())[0][1] is not None


async def test_plain_subtrees_are_compiled_and_resolvers_are_not() -> None:
    from usagegraph.execution import compiled

    compiled._cache.clear()
    await _run("{ rows { label person { name tags } } }", None, compiled=True)
    built = {key[1]: builder for key, (_, builder) in compiled._cache.items()}
    assert built["[Row!]!"] is not None
