"""The schema against the public contract: every type, field, argument and enum value of the SDL in docs/api.md
exists with the same type, and every field that reads tenant data carries a permission class."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    Undefined,
    ast_from_value,
    build_schema,
    print_ast,
)

from usagegraph.schema.schema import build_schema as build_ours
from usagegraph.schema.schema import export_sdl

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "docs" / "api.md"


def _contract_sdl() -> str:
    match = re.search(r"```graphql\n(.*?)```", API.read_text(), re.S)
    assert match is not None, "docs/api.md holds the schema in a graphql block"
    return match.group(1)


def test_schema_implements_every_type_field_and_argument_of_the_contract() -> None:
    contract = build_schema(_contract_sdl())
    ours = build_ours()._schema
    problems: list[str] = []
    for name, ctype in contract.type_map.items():
        if name.startswith("__"):
            continue
        otype = ours.type_map.get(name)
        if otype is None:
            problems.append(f"missing type {name}")
            continue
        if isinstance(ctype, GraphQLEnumType):
            missing = set(ctype.values) - set(otype.values)  # type: ignore[attr-defined]
            problems += [f"{name}.{v} missing" for v in missing]
        if isinstance(ctype, GraphQLObjectType | GraphQLInputObjectType):
            for fname, cfield in ctype.fields.items():
                ofield = otype.fields.get(fname)  # type: ignore[attr-defined]
                if ofield is None:
                    problems.append(f"missing field {name}.{fname}")
                    continue
                if str(cfield.type) != str(ofield.type):
                    problems.append(f"{name}.{fname}: {ofield.type} != {cfield.type}")
                for aname, carg in getattr(cfield, "args", {}).items():
                    oarg = ofield.args.get(aname)
                    if oarg is None:
                        problems.append(f"missing argument {name}.{fname}({aname})")
                    elif str(carg.type) != str(oarg.type):
                        problems.append(f"{name}.{fname}({aname}): {oarg.type} != {carg.type}")
                    elif _default(carg) != _default(oarg):
                        problems.append(
                            f"{name}.{fname}({aname}) default {_default(oarg)} != {_default(carg)}"
                        )
                for aname in set(getattr(ofield, "args", {})) - set(getattr(cfield, "args", {})):
                    if (
                        ofield.args[aname].type.to_kwargs().get("of_type") is not None
                        and ofield.args[aname].default_value is None
                    ):
                        problems.append(f"{name}.{fname}({aname}) is an added required argument")
    assert problems == []


def _default(arg: Any) -> str | None:
    """The argument's default as printed, None for none at all or an explicit null (the two mean the same)."""
    if arg.ast_node is not None and arg.ast_node.default_value is not None:
        printed = print_ast(arg.ast_node.default_value)
    elif arg.default_value is Undefined:
        return None
    else:
        node = ast_from_value(arg.default_value, arg.type)
        printed = print_ast(node) if node is not None else None
    return None if printed == "null" else printed


def test_committed_schema_file_matches_the_code() -> None:
    assert (ROOT / "schema.graphql").read_text() == export_sdl()


# Fields whose data is already scoped by the guarded parent field that built them (the parent's
# permission class computed the scope), or that derive nothing from other tenants' rows.
SCOPED_BY_PARENT = {
    ("User", "email"),
    ("User", "avatarHash"),
    ("SessionAnalytics", "summary"),
    ("SessionAnalytics", "timeseries"),
    ("SessionAnalytics", "byAgent"),
    ("SessionAnalytics", "costBreakdown"),
    ("SessionAnalytics", "users"),
    ("UserSessionStats", "timeseries"),
}


def test_every_resolver_field_has_a_permission_class() -> None:
    schema = build_ours()
    unguarded: set[tuple[str, str]] = set()
    for definition in schema.schema_converter.type_map.values():
        origin = getattr(definition.definition, "fields", None)
        if origin is None or definition.definition.is_input:  # type: ignore[union-attr]
            continue
        for field in origin:
            if field.base_resolver is None:
                continue
            if not field.permission_classes:
                unguarded.add((definition.definition.name, field.graphql_name or _camel(field.python_name)))
    assert unguarded == SCOPED_BY_PARENT


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
