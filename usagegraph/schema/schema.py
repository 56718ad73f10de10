"""Assembles the strawberry Schema."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from usagegraph.schema import activity, compute, control_plane, insights, sessions  # noqa: F401  (lazy types)
from usagegraph.schema.root import Mutation, Query
from usagegraph.schema.scalars import SCALAR_OVERRIDES


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        scalar_overrides=SCALAR_OVERRIDES,
        types=[],
        config=StrawberryConfig(auto_camel_case=True),
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
