"""The graphql-http conformance audit against the live server, over a real socket, with a token."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sys
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Factory
from tests.http.http_audit.run_audit import ensure_installed
from usagegraph.app import create_app
from usagegraph.settings import Settings

AUDIT = Path(__file__).parent / "http_audit" / "audit.mjs"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(shutil.which("node") is None, reason="node is required for the graphql-http audit")
async def test_graphql_http_audit_passes_without_errors_or_warnings(
    settings: Settings, engine: AsyncEngine, factory: Factory
) -> None:
    await asyncio.to_thread(ensure_installed)
    org = await factory.organization()
    token = await factory.token(await factory.user(orgs={org: ["member"]}))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, engine=engine), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110  (polls uvicorn's started flag)
            await asyncio.sleep(0.05)
        process = await asyncio.create_subprocess_exec(
            "node",
            str(AUDIT),
            f"http://127.0.0.1:{port}/graphql",
            "Authorization",
            f"Bearer {token}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    finally:
        server.should_exit = True
        await serving
    assert process.returncode == 0, stderr.decode()
    summary = json.loads(stdout)
    bad = [r for r in summary["results"] if r["status"] in ("warn", "error")]
    print(json.dumps(bad, indent=1), file=sys.stderr)
    assert bad == []
    assert summary["ok"] >= 55
