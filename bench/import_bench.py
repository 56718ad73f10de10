"""`usagegraph import` of one generated NDJSON history, bulk path and per-batch path side by side.

The file (tests/import_world.py: entities, then two years of activity sessions and LOGINs, latency,
resource and node samples and AI sessions, with re-sent duplicates, extended sessions and bad records) is
written once under .usagegraph-bench/. Each path imports it into a fresh database of the embedded server
in a child process of its own, as an operator runs the command; the child reports its elapsed time (the
settle step after the records - Template Insights days, AI rollup compaction, VACUUM ANALYZE - shown
apart) and its peak resident memory (resource.getrusage). The two databases are then compared table by
table (row counts and a checksum of every table whose rows do not depend on the order users were
numbered in).

Usage: python -m bench.import_bench [--events 1000000] [--per-batch-size 10000] [--chunk 25000]
       [--skip-per-batch]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from usagegraph.db.embedded import start_embedded

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".usagegraph-bench"
# Compared by checksum; the rollups that number users (bit strings, per-day vectors) are compared by count.
_NUMBERED = {
    "activity_quarter_users",
    "activity_hour_users",
    "activity_day_vectors",
    "activity_user_bits",
    "insights_app_days",
}


def _child(path: Path, url: str, per_batch: bool, size: int | None) -> None:
    """Runs the import in this process and prints what it measured as one JSON line."""
    os.environ["USAGEGRAPH_DATABASE_URL"] = url
    os.environ["USAGEGRAPH_LOG_LEVEL"] = "ERROR"
    from usagegraph import cli
    from usagegraph.settings import Settings

    settle = 0.0
    real_settle = cli._settle

    async def timed_settle(loc: Any) -> None:
        nonlocal settle
        started = time.perf_counter()
        await real_settle(loc)
        settle = time.perf_counter() - started

    cli._settle = timed_settle  # type: ignore[assignment]
    cli._print_rejection = lambda *args: None  # type: ignore[assignment]  (thousands of lines otherwise)
    started = time.perf_counter()
    totals = asyncio.run(cli._import(Settings(), path, size, per_batch))
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"totals": totals, "elapsed": elapsed, "settle": settle, "peak_rss": peak}))


async def _fresh_database(server: Any, name: str) -> str:
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url: str = server.set(database=name).render_as_string(hide_password=False)
    return url


async def _drop(server: Any, name: str) -> None:
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def _fingerprint(url: str) -> dict[str, Any]:
    engine = create_async_engine(url)
    out: dict[str, Any] = {}
    async with engine.connect() as conn:
        names = (
            await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN "
                    "('alembic_version', 'api_tokens') ORDER BY 1"
                )
            )
        ).scalars()
        for name in list(names):
            if name in _NUMBERED:
                sql = f"SELECT count(*)::text FROM {name}"  # noqa: S608
            else:
                sql = f"SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {name} t"  # noqa: S608
            out[name] = (await conn.execute(text(sql))).scalar_one()
    await engine.dispose()
    return out


def _run(path: Path, url: str, per_batch: bool, size: int | None) -> dict[str, Any]:
    args = [
        sys.executable,
        "-m",
        "bench.import_bench",
        "--child",
        str(path),
        url,
        "per-batch" if per_batch else "bulk",
    ]
    if size:
        args.append(str(size))
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"import failed:\n{result.stderr[-4000:]}")
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-batch-size", type=int, default=10_000)
    parser.add_argument(
        "--chunk", type=int, default=None, help="records per bulk chunk (default: the command's)"
    )
    parser.add_argument("--skip-per-batch", action="store_true")
    args = parser.parse_args()

    from tests.import_world import write

    DATA.mkdir(exist_ok=True)
    path = DATA / f"import-{args.events}.ndjson"
    if not path.exists():
        started = time.perf_counter()
        lines = write(path, args.events)
        print(
            f"wrote {path.name}: {lines:,} lines, {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.0f} s"
        )
    lines = sum(1 for _ in path.open("rb"))
    server = make_url(start_embedded(DATA, database="postgres"))
    results: dict[str, dict[str, Any]] = {}
    prints: dict[str, dict[str, Any]] = {}
    paths = [("bulk", False, args.chunk)]
    if not args.skip_per_batch:
        paths.append(("per-batch", True, args.per_batch_size))
    for label, per_batch, size in paths:
        name = f"usagegraph_import_{label.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
        url = await _fresh_database(server, name)
        load = os.getloadavg()
        try:
            results[label] = _run(path, url, per_batch, size)
            results[label]["load"] = load
            print(f"{label}: {results[label]}", flush=True)
            prints[label] = await _fingerprint(url)
        finally:
            await _drop(server, name)
    print(f"\n{lines:,} NDJSON lines, load average before each run shown (2 cores shared)")
    print(
        f"{'path':<10} {'records':>10} {'seconds':>9} {'of which settle':>16} {'events/s':>10} {'peak RSS':>10} {'load':>16}"
    )
    for label, r in results.items():
        records = sum(r["totals"].values())
        print(
            f"{label:<10} {records:>10,} {r['elapsed']:>9.1f} {r['settle']:>16.1f} {records / r['elapsed']:>10,.0f} "
            f"{r['peak_rss'] / 2**20:>8.0f} MB {'/'.join(f'{x:.1f}' for x in r['load']):>16}"
        )
    for label, r in results.items():
        print(f"{label}: {r['totals']}")
    if len(prints) == 2:
        differ = [name for name in prints["bulk"] if prints["bulk"][name] != prints["per-batch"].get(name)]
        print("tables identical in both databases" if not differ else f"TABLES DIFFER: {', '.join(differ)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(
            Path(sys.argv[2]),
            sys.argv[3],
            sys.argv[4] == "per-batch",
            int(sys.argv[5]) if len(sys.argv) > 5 else None,
        )
    else:
        asyncio.run(main())
