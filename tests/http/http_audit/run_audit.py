"""Python side of the graphql-http conformance audit harness.

Usage from a test (the server must already be listening, e.g. uvicorn on 127.0.0.1)::

    from tests.http.http_audit.run_audit import ensure_installed, run_audit

    ensure_installed()
    summary = run_audit("http://127.0.0.1:8765/graphql", {"Authorization": "Bearer xyz"})
    bad = [r for r in summary["results"] if r["status"] in ("warn", "error")]
    assert not bad, bad

``summary`` is the JSON printed by ``audit.mjs``::

    {"ok": N, "notice": N, "warn": N, "error": N, "total": N, "graphql_http_version": "1.23.1",
     "results": [{"id", "name", "status", "reason"?, "response"?}, ...]}

The module only uses the standard library, so it can also be loaded by path
(``importlib.util.spec_from_file_location``) or run directly:
``python tests.http.http_audit.run_audit.py <url> [<header-name> <header-value>]...``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["AUDIT_DIR", "AuditHarnessError", "ensure_installed", "run_audit", "failures"]

AUDIT_DIR = Path(__file__).resolve().parent
AUDIT_SCRIPT = AUDIT_DIR / "audit.mjs"
_PACKAGE_MARKER = AUDIT_DIR / "node_modules" / "graphql-http" / "package.json"

NPM_CI_TIMEOUT_S = 300.0
AUDIT_TIMEOUT_S = 180.0


class AuditHarnessError(RuntimeError):
    """The audit harness itself could not run (tooling missing, npm/node failure, bad output)."""


def _which(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise AuditHarnessError(
            f"`{tool}` was not found on PATH; the graphql-http audit needs Node.js (>= 18) and npm. "
            f"Install them, then run `npm ci` in {AUDIT_DIR}."
        )
    return path


def ensure_installed() -> None:
    """Install the pinned graphql-http (from package-lock.json) unless it is already present.

    Runs ``npm ci --no-audit --no-fund`` in this folder when ``node_modules/graphql-http`` is
    missing. Raises :class:`AuditHarnessError` when node/npm are missing or the install fails.
    """
    _which("node")
    if _PACKAGE_MARKER.is_file():
        return
    npm = _which("npm")
    try:
        proc = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=AUDIT_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AuditHarnessError(f"`npm ci` in {AUDIT_DIR} timed out after {NPM_CI_TIMEOUT_S:.0f}s") from exc
    if proc.returncode != 0 or not _PACKAGE_MARKER.is_file():
        raise AuditHarnessError(
            f"`npm ci --no-audit --no-fund` in {AUDIT_DIR} failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )


def run_audit(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Run graphql-http's ``auditServer`` against ``url`` and return the parsed JSON summary.

    ``headers`` are added to every request the audit sends (e.g. ``{"Authorization": "Bearer ..."}``).
    Raises :class:`AuditHarnessError` if the audit could not run (server unreachable, node error,
    unparsable output). It does *not* raise for failing audits: inspect the returned summary.
    """
    node = _which("node")
    if not _PACKAGE_MARKER.is_file():
        raise AuditHarnessError(
            f"graphql-http is not installed in {AUDIT_DIR}; call ensure_installed() first"
        )
    argv = [node, str(AUDIT_SCRIPT), url]
    for name, value in (headers or {}).items():
        argv += [name, value]
    try:
        proc = subprocess.run(
            argv,
            cwd=AUDIT_DIR,
            capture_output=True,
            text=True,
            timeout=AUDIT_TIMEOUT_S,
            check=False,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
    except subprocess.TimeoutExpired as exc:
        raise AuditHarnessError(
            f"graphql-http audit against {url} timed out after {AUDIT_TIMEOUT_S:.0f}s"
        ) from exc
    if proc.returncode != 0:
        raise AuditHarnessError(
            f"graphql-http audit against {url} failed to run (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    try:
        summary: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise AuditHarnessError(f"audit.mjs printed invalid JSON: {exc}\n{proc.stdout[:2000]}") from exc
    return summary


def failures(summary: dict[str, Any], statuses: tuple[str, ...] = ("warn", "error")) -> list[dict[str, Any]]:
    """Non-ok results of ``summary`` whose status is in ``statuses`` (default: warnings and errors)."""
    return [r for r in summary.get("results", []) if r.get("status") in statuses]


def _main(argv: list[str]) -> int:
    if not argv or len(argv) % 2 != 1:
        print("usage: run_audit.py <url> [<header-name> <header-value>]...", file=sys.stderr)
        return 2
    url, rest = argv[0], argv[1:]
    headers = dict(zip(rest[::2], rest[1::2], strict=True))
    ensure_installed()
    summary = run_audit(url, headers)
    print(json.dumps(summary, indent=2))
    return 1 if failures(summary) else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
