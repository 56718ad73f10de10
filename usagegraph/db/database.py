"""The engines of one process, below every request: reads may go to a replica, writes go to the primary.

With a read replica, a reader that cannot get a working connection from it (the standby stopped, crashed,
is restarting or unreachable) marks it down and runs the read on the primary instead; for the next
`replica_retry_seconds` every read goes to the primary, then the first read to arrive tries the replica
again (the others keep using the primary meanwhile) and, when it connects, reads return to it. A read
whose statement was running on the replica when it went away fails (its request gets the usual masked
error) and marks the replica down, so that the reads after it go to the primary (docs/operations.md)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("usagegraph.db")


@dataclass
class Database:
    """The engines of one process. Reads may go to a replica; writes always go to the primary."""

    engine: AsyncEngine
    read_engine: AsyncEngine
    replica_retry_seconds: float = 5.0
    """after the replica failed, how long reads go to the primary before one tries the replica again"""
    _reader: AsyncEngine = field(init=False, repr=False)
    _primary_reader: AsyncEngine = field(init=False, repr=False)
    _down_until: float = field(default=0.0, init=False, repr=False)
    _probing: bool = field(default=False, init=False, repr=False)
    fallbacks: int = field(default=0, init=False)
    """reads the replica could not take and the primary ran instead, since the process started"""

    def __post_init__(self) -> None:
        # Reads run outside a transaction block: under READ COMMITTED every statement takes its own snapshot
        # either way, and a read unit then costs its statements' round trips, not a BEGIN and a ROLLBACK more.
        self._reader = self.read_engine.execution_options(isolation_level="AUTOCOMMIT")
        self._primary_reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def has_replica(self) -> bool:
        return self.read_engine is not self.engine

    @property
    def replica_up(self) -> bool:
        """False while reads go to the primary because the replica failed (True without a replica)."""
        return self._down_until == 0.0

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection of its own for one unit of read work (never shared between resolvers): on the
        replica when there is one and it answers, on the primary otherwise."""
        if self.has_replica and not self._try_replica():
            self.fallbacks += 1
        elif self.has_replica:
            try:
                conn = await self._reader.connect()
            except exc.TimeoutError:
                # The replica's pool is exhausted: a matter of load, not of the replica being down.
                self._probing = False
                raise
            except Exception as error:  # noqa: BLE001  (whatever kept it from connecting, the primary reads)
                self._mark_down(error)
            except BaseException:  # cancelled while connecting: the next read may try again
                self._probing = False
                raise
            else:
                self._mark_up()
                try:
                    yield conn
                except exc.DBAPIError as error:
                    if error.connection_invalidated:
                        self._mark_down(error)
                    raise
                finally:
                    await conn.close()
                return
            self.fallbacks += 1
        async with self._primary_reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def read_primary(self) -> AsyncIterator[AsyncConnection]:
        """A read that must see the latest committed writes (a token just revoked, marks ingest just
        set): always on the primary, whatever a replica has replayed so far."""
        async with self._primary_reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One explicit transaction, committed when the block ends without error."""
        async with self.engine.begin() as conn:
            yield conn

    def _try_replica(self) -> bool:
        if self._down_until == 0.0:
            return True
        if self._probing or time.monotonic() < self._down_until:
            return False
        self._probing = True  # this read tries the replica; the others keep to the primary meanwhile
        return True

    def _mark_down(self, error: BaseException) -> None:
        was_up = self._down_until == 0.0
        self._probing = False
        self._down_until = time.monotonic() + self.replica_retry_seconds
        if was_up:
            log.warning(
                "read replica unavailable, reading from the primary for %.0f s before trying it again: %s",
                self.replica_retry_seconds,
                str(error).splitlines()[0] if str(error) else type(error).__name__,
            )

    def _mark_up(self) -> None:
        if self._down_until != 0.0:
            log.warning("read replica available again, analytics read from it")
        self._probing = False
        self._down_until = 0.0
