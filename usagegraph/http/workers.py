"""How busy each process of `serve --workers N` is, as the others can see it.

The processes share one listening socket and race to accept, and an event loop woken for a connection
accepts every connection waiting at that moment: a burst of new connections (the load's clients
starting together, a proxy filling its pool) lands mostly on one process, and keep-alive keeps it there.
That process then queues what the other could run.

The serving parent makes a board: a small file the processes map into memory, one 8-byte slot each,
where every process writes how many GraphQL requests it holds (running or waiting, usagegraph.http.admission).
A process holding clearly more than the average answers its responses with `Connection: close`
(usagegraph.app.KeepAliveLimitMiddleware) until it no longer does: the client reconnects, and lands on
whichever process accepts first. A process claims its slot with a lock on the slot's own file, which the
kernel releases when the process ends, so a replacement process takes over the slot."""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

BOARD_ENV = "USAGEGRAPH_WORKER_BOARD"
_SLOT = struct.Struct("q")


@contextlib.contextmanager
def worker_board(workers: int) -> Iterator[Path]:
    """In the serving parent, around uvicorn.run: a board for `workers` processes, named in the
    environment the worker processes inherit, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="usagegraph-workers-"))
    (directory / "board").write_bytes(bytes(_SLOT.size * workers))
    os.environ[BOARD_ENV] = str(directory)
    try:
        yield directory
    finally:
        os.environ.pop(BOARD_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


class Board:
    """One process's view of the board: its own slot to write, every slot to read."""

    def __init__(self, directory: Path, slot: int, lock_fd: int) -> None:
        self.slot = slot
        self._lock_fd = lock_fd
        with (directory / "board").open("r+b") as file:
            self._map = mmap.mmap(file.fileno(), 0)
        self.size = len(self._map) // _SLOT.size
        self._format = struct.Struct(f"{self.size}q")

    @classmethod
    def join(cls, directory: Path) -> Board | None:
        """Claim a free slot; None when the board is gone or every slot is taken."""
        board = directory / "board"
        if not board.exists():
            return None
        for slot in range(board.stat().st_size // _SLOT.size):
            fd = os.open(directory / f"slot-{slot}.lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            joined = cls(directory, slot, fd)
            joined.publish(0)
            return joined
        return None

    def publish(self, held: int) -> None:
        _SLOT.pack_into(self._map, self.slot * _SLOT.size, held)

    def counts(self) -> tuple[int, ...]:
        return tuple(self._format.unpack_from(self._map, 0))

    def crowded(self, held: int) -> bool:
        """Whether this process, holding `held` requests, holds clearly more than the average process:
        more than the average plus two, or plus an eighth of it when that is larger."""
        counts = self.counts()
        average = (sum(counts) - counts[self.slot] + held) / self.size
        return held > average + max(2.0, average / 8)

    def close(self) -> None:
        self.publish(0)
        self._map.close()
        os.close(self._lock_fd)  # releases the slot's lock
