"""The per-request context: settings, database access, the caller and the request's loaders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from usagegraph.auth.principal import Principal
from usagegraph.db.database import Database
from usagegraph.settings import Settings

if TYPE_CHECKING:
    from usagegraph.execution.loaders import Loaders
    from usagegraph.monitoring.metrics import Metrics


@dataclass
class Context:
    settings: Settings
    db: Database
    principal: Principal
    request_id: str
    loaders: Loaders
    metrics: Metrics | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def release(self) -> None:
        """Drops what the request computed once its response is built. graphql-core's executor refers to
        itself through bound methods, so the context it holds (and every loaded row and shared result
        reachable from it) would otherwise wait for a full cyclic collection; released, a large response's
        objects are freed at once by reference counting."""
        self.state.clear()
        self.loaders.clear()

    @property
    def viewer_id(self) -> uuid.UUID:
        return self.principal.user_id
