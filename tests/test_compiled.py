"""Compiled execution gives exactly the standard executor's results and errors, construct by construct."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, execute, parse

from usagegraph.compiled import CompiledExecutor
from usagegraph.schema.scalars import SCALAR_OVERRIDES

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
class Query:
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
    ("{ rows { person { name } } nullableRow { label } }", None),
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
    for query in ("{ nullInNonNull { label } }", "{ badInt { score } }", "{ badEnum { color } }"):
        assert (await _run(query, None, compiled=True)).errors


async def test_plain_subtrees_are_compiled_and_resolvers_are_not() -> None:
    from usagegraph import compiled

    compiled._cache.clear()
    await _run("{ rows { label person { name tags } } }", None, compiled=True)
    built = {key[1]: builder for key, (_, builder) in compiled._cache.items()}
    assert built["[Row!]!"] is not None
