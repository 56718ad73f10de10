"""The one way statements are put together from fragments (see the package docstring).

A statement names a fragment as `$NAME` (capitals, digits and underscores after a dollar sign: PostgreSQL's
own `$1` and `$$` never match). `splice` replaces the names it is given, also inside the text it splices in
(a fragment may name others), and leaves the others for a later call; `sql` splices and refuses a statement
with a name still open. Fragments are SQL text of the server's own (module constants, or text built from
them and from column names); values never are: they travel as bind parameters (`:name`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import TextClause, text

_NAME = re.compile(r"\$([A-Z][A-Z0-9_]*)")
_DEPTH = 6


def splice(statement: str, /, **fragments: str) -> str:
    """`statement` with each `$NAME` of `fragments` replaced by its text, repeatedly (a fragment may name
    other fragments, up to six levels); a name not given stays as it is, for a later splice."""
    for _ in range(_DEPTH):
        spliced = _NAME.sub(lambda match: fragments.get(match.group(1), match.group(0)), statement)
        if spliced == statement:
            return spliced
        statement = spliced
    raise ValueError("fragments nest too deep (or name themselves)")


def sql(statement: str, /, **fragments: str) -> TextClause:
    """The statement, spliced, ready to execute; every `$NAME` must have been given."""
    statement = splice(statement, **fragments)
    left = _NAME.search(statement)
    if left is not None:
        raise ValueError(f"no fragment for ${left.group(1)}")
    return text(statement)


def as_columns(rows: Sequence[tuple[Any, ...]], names: Sequence[str]) -> dict[str, list[Any]]:
    """Row tuples as one bind parameter per column, named `names` in order: the arrays a statement's
    `unnest(CAST(:name AS type[]), ...)` takes, so that a batch of rows is sent as a few arrays."""
    found: dict[str, list[Any]] = {name: [] for name in names}
    lists = list(found.values())
    for row in rows:
        for column, value in zip(lists, row, strict=True):
            column.append(value)
    return found
