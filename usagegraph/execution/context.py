"""The per-request context: settings, database access, the caller and the request's loaders."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from usagegraph.auth.principal import Principal
from usagegraph.db.database import Database
from usagegraph.settings import Settings

if TYPE_CHECKING:
    from usagegraph.execution.loaders import Loaders
    from usagegraph.monitoring.metrics import Metrics

T = TypeVar("T")


@dataclass
class Context:
    settings: Settings
    db: Database
    principal: Principal
    request_id: str
    loaders: Loaders
    metrics: Metrics | None = None
    state: dict[Hashable, Any] = field(default_factory=dict)
    """What the request computes once and shares between fields (see once), by key."""

    def release(self) -> None:
        """Drops what the request computed once its response is built. graphql-core's executor refers to
        itself through bound methods, so the context it holds (and every loaded row and shared result
        reachable from it) would otherwise wait for a full cyclic collection; released, a large response's
        objects are freed at once by reference counting."""
        self.state.clear()
        self.loaders.clear()

    def once(self, key: Hashable, start: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """The request's one task for `key`: the first field that needs it starts it, the others await the
        same (also while it runs). A task nobody ends up awaiting does not warn of an unretrieved error.

        The users that Loaders reads for analytics rows are shared another way (Loaders._read_users): there
        one statement reads many keys at once and each key must find the read that covers it."""
        task: asyncio.Future[T] | None = self.state.get(key)
        if task is None:
            task = asyncio.ensure_future(start())
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
            self.state[key] = task
        return task

    @property
    def viewer_id(self) -> uuid.UUID:
        return self.principal.user_id
