"""The command line as an operator uses it: real processes against a real database."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from usagegraph.db import migrate
from usagegraph.db.embedded import start_embedded, stop_embedded
from usagegraph.schema.schema import export_sdl


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("USAGEGRAPH_")}
    env.update(USAGEGRAPH_DATABASE_URL=database_url, **extra)
    return env


def _cli(database_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "usagegraph", *args],
        env=_env(database_url),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_export_schema_prints_the_sdl(database_url: str) -> None:
    result = await asyncio.to_thread(_cli, database_url, "export-schema")
    assert result.returncode == 0
    assert result.stdout == export_sdl()


async def test_token_create_bootstraps_an_owner_and_prints_only_the_token(
    database_url: str, engine: AsyncEngine
) -> None:
    missing = await asyncio.to_thread(_cli, database_url, "token", "create", "--username", "ops")
    assert missing.returncode != 0
    created = await asyncio.to_thread(
        _cli, database_url, "token", "create", "--username", "ops", "--create-owner", "--expires-in", "7d"
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("ug_") and "\n" not in token
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT u.site_roles, t.expires_at > now() + interval '6 days' AS later FROM users u "
                    "JOIN api_tokens t ON t.user_id = u.id WHERE u.username = 'ops'"
                )
            )
        ).one()
    assert row.site_roles == ["owner"] and row.later


async def test_token_create_refuses_names_postgresql_cannot_store(database_url: str) -> None:
    """An argument with bytes that are not UTF-8 arrives as lone surrogates: a clear refusal, no
    traceback, nothing created."""
    for args in (
        ("--username", "ops\udcff"),
        ("--username", "ops", "--name", "ci\udcfe"),
        ("--username", " "),
    ):
        result = await asyncio.to_thread(_cli, database_url, "token", "create", *args, "--create-owner")
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr, result.stderr
        assert "surrogate" in result.stderr or "empty" in result.stderr, result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_answers_over_http_with_a_cli_token(database_url: str) -> None:
    token = (
        await asyncio.to_thread(_cli, database_url, "token", "create", "--username", "ops", "--create-owner")
    ).stdout.strip()
    port = _free_port()
    process = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "usagegraph", "serve", "--port", str(port)],
        env=_env(database_url, USAGEGRAPH_LOG_FORMAT="json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                await asyncio.sleep(0.2)
            assert (await client.get("/readyz")).json() == {"status": "ok"}
            response = await client.post(
                "/graphql",
                json={"query": "{ viewer { username roles } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.json() == {"data": {"viewer": {"username": "ops", "roles": ["owner"]}}}
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert token not in output


async def test_embedded_database_starts_from_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    url = await asyncio.to_thread(start_embedded, data_dir)
    engine = create_async_engine(url)
    try:
        assert await migrate.pending(engine)
        await migrate.upgrade(engine)
        assert not await migrate.pending(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM organizations"))).scalar_one() == 0
    finally:
        await engine.dispose()
        await asyncio.to_thread(stop_embedded, data_dir)
    assert (data_dir / "pg" / "PG_VERSION").exists()


def _ndjson(records: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(r) for r in records) + "\n"


async def test_import_streams_ndjson_through_ingest_and_reports_rejected_lines(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    org, user, template, workspace = (str(uuid.uuid4()) for _ in range(4))
    records = [
        {"kind": "organizations", "id": org, "name": "imported"},
        {"kind": "users", "id": user, "username": "imp", "email": "imp@example.com"},
        {"kind": "memberships", "userId": user, "organizationId": org, "roles": ["basic"]},
        {"kind": "templates", "id": template, "organizationId": org, "name": "tpl"},
        {"kind": "workspaces", "id": workspace, "templateId": template, "ownerId": user, "name": "ws"},
        {
            "kind": "activity",
            "id": str(uuid.uuid4()),
            "userId": user,
            "workspaceId": workspace,
            "category": "IDE",
            "app": "vscode",
            "startedAt": "2024-05-01T10:00:00Z",
            "endedAt": "2024-05-01T10:30:00Z",
        },
        {
            "kind": "activity",
            "id": str(uuid.uuid4()),
            "userId": user,
            "workspaceId": str(uuid.uuid4()),
            "category": "IDE",
            "startedAt": "2024-05-01T11:00:00Z",
            "endedAt": "2024-05-01T11:30:00Z",
        },
    ]
    path = tmp_path / "batch.ndjson"
    path.write_text(_ndjson(records))
    result = await asyncio.to_thread(_cli, database_url, "import", str(path), "--batch-size", "3")
    assert result.returncode == 1
    assert "line 7: activity rejected (NOT_FOUND)" in result.stderr
    assert "6 accepted, 0 duplicates, 1 rejected" in result.stderr
    async with engine.connect() as conn:
        roles = (await conn.execute(text("SELECT roles FROM memberships"))).scalar_one()
        minutes = (
            await conn.execute(text("SELECT sum(bit_count(minutes::bit(64))) FROM activity_minutes"))
        ).scalar_one()
        marked = (await conn.execute(text("SELECT count(*) FROM insights_dirty_days"))).scalar_one()
    assert roles == ["member"]
    assert minutes == 30
    # the import settled what a server would otherwise recompute first: no Template Insights day is left
    assert marked == 0
    again = await asyncio.to_thread(_cli, database_url, "import", str(path))
    assert "0 accepted, 6 duplicates, 1 rejected" in again.stderr
