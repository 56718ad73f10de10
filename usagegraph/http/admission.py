"""Admission control: how many GraphQL requests one server process executes at once, and in what order
the others wait.

Without it, every request a process has received runs at once: 16 concurrent dashboard requests in a
process interleave on its event loop and on PostgreSQL's CPUs, so each takes as long as all of them
together, the heavy ones longest, and PostgreSQL spends its time switching between backends and waiting
on locks. Admitted in arrival order, a few at a time, a request waits its turn and then runs nearly
alone: the same throughput or better, and a latency that depends on the queue ahead of it rather than
on what else happens to be running.

How many run at once is proportional to how many the process holds (running or waiting): at least
`min_active`, and one per `share` of them beyond that. The processes of `serve --workers N` share the
listening socket, and which process a client's connection lands on is chance; a process that holds more
connections then also runs more of their requests at once, so a request waits about as long in either
process, and (since connections are recycled, usagegraph.app.KeepAliveLimitMiddleware) connections
leave a busier process faster than a quiet one.

A request that waited `max_wait` seconds without being admitted is turned away (HTTP 503 with
Retry-After): a queue that long means the server is overloaded, and the client's own timeout would
otherwise expire on a request that still runs to the end."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class Overloaded(Exception):
    """The request waited `waited` seconds and was not admitted."""

    def __init__(self, waited: float) -> None:
        super().__init__(f"not admitted within {waited:.1f} s")
        self.waited = waited


class Admission:
    """FIFO admission for one event loop (one server process). Not thread-safe: use it from the loop."""

    def __init__(self, min_active: int, share: int, max_wait: float) -> None:
        if min_active < 1 or share < 1:
            raise ValueError("min_active and share must be at least 1")
        self.min_active = min_active
        self.share = share
        self.max_wait = max_wait
        self.active = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.on_change: Callable[[int], None] | None = None
        """called with the number of requests held whenever it changes (usagegraph.http.workers.Board)"""

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def held(self) -> int:
        """Requests running or waiting."""
        return self.active + len(self._waiting)

    def allowed(self) -> int:
        """How many requests may run at once with the requests held now."""
        return max(self.min_active, math.ceil(self.held / self.share))

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.held)

    def _admit(self) -> None:
        while self._waiting and self.active < self.allowed():
            future = self._waiting.popleft()
            if not future.done():
                future.set_result(None)
                self.active += 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Wait for a turn (raising Overloaded after max_wait seconds), run the block, give the turn back.
        Yields the seconds waited."""
        started = time.monotonic()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self._admit()
        self._changed()
        if not future.done():
            try:
                async with asyncio.timeout(self.max_wait):
                    await future
            except BaseException as error:  # the wait ran out, or the client went away while it waited
                admitted = future.done() and not future.cancelled()
                if not (admitted and isinstance(error, TimeoutError)):  # admitted as time ran out: go on
                    if admitted:
                        self.active -= 1
                    future.cancel()
                    self._drop(future)
                    if isinstance(error, TimeoutError):
                        raise Overloaded(time.monotonic() - started) from None
                    raise
        try:
            yield time.monotonic() - started
        finally:
            self.active -= 1
            self._admit()
            self._changed()

    def _drop(self, future: asyncio.Future[None]) -> None:
        try:
            self._waiting.remove(future)
        except ValueError:
            pass
        self._admit()
        self._changed()
