"""Types shared by several domains."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

if TYPE_CHECKING:
    from usagegraph.schema.entities import Template, User, Workspace


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


UserRef = Annotated["User", strawberry.lazy("usagegraph.schema.entities")]
TemplateRef = Annotated["Template", strawberry.lazy("usagegraph.schema.entities")]
WorkspaceRef = Annotated["Workspace", strawberry.lazy("usagegraph.schema.entities")]
