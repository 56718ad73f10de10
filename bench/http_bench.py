"""End-to-end requests per second and latency over HTTP with wrk, compiled vs standard execution.

Starts two `usagegraph serve --workers 2` processes on loopback against the same database, one with
USAGEGRAPH_COMPILED_EXECUTION=false, and runs wrk against each for a small query and for the cases of the
compiled-execution benchmark at their sizes: (a) usageMetrics over 730 days, (b) an activity report of 30
daily buckets over 1,000 active users with `user { id username name }`, (c) Template Insights userActivity
and userLatency over 5,000 users. The data is a world made for them (one organization, 5,000 users and
workspaces; 1,000 users active every day of the last 30 days, the others once in the 30 days before; two
latency samples per user), written as NDJSON and loaded with `usagegraph import` into the embedded server
under --data-dir on first run.

    .venv/bin/python -m bench.http_bench [--seconds 15] [--connections 16]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from usagegraph.db.embedded import stop_embedded

END = datetime(2026, 1, 1, tzinfo=UTC)
ACTIVE_USERS = 1000
ALL_USERS = 5000
NAMESPACE = uuid.UUID("5d1c1f4e-0b7a-4c55-9a44-2f1f0c1d6e01")


def _id(kind: str, number: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}-{number}"))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_world(path: Path) -> int:
    """The benchmark's world as NDJSON for `usagegraph import`; returns the number of records."""
    count = 0
    with path.open("wb") as out:

        def put(kind: str, **record: object) -> None:
            nonlocal count
            out.write(orjson.dumps({"kind": kind, **record}) + b"\n")
            count += 1

        org, template = _id("organization", 0), _id("template", 0)
        put("organizations", id=org, name="bench")
        put("templates", id=template, organizationId=org, name="bench")
        for n in range(ALL_USERS):
            put("users", id=_id("user", n), username=f"user{n:05d}", name=f"User {n}")
            put("memberships", userId=_id("user", n), organizationId=org, roles=[])
            put(
                "workspaces",
                id=_id("workspace", n),
                templateId=template,
                ownerId=_id("user", n),
                name=f"ws{n}",
            )
        for n in range(ALL_USERS):
            days = range(1, 31) if n < ACTIVE_USERS else (31 + n % 30,)
            for day in days:
                started = END - timedelta(days=day) + timedelta(minutes=(n * 7 + day * 13) % 1200)
                put(
                    "activity",
                    id=_id(f"session-{day}", n),
                    userId=_id("user", n),
                    workspaceId=_id("workspace", n),
                    category="IDE",
                    app="vscode" if n % 3 else "jetbrains",
                    startedAt=_iso(started),
                    endedAt=_iso(started + timedelta(minutes=20 + n % 40)),
                )
            for sample in range(2):
                put(
                    "latency",
                    workspaceId=_id("workspace", n),
                    userId=_id("user", n),
                    at=_iso(END - timedelta(days=40, hours=sample * 3, minutes=n % 60)),
                    latencyMs=20.0 + (n * 37 + sample * 101) % 280,
                )
    return count


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _queries() -> dict[str, str]:
    def days_before(days: int) -> str:
        return _iso(END - timedelta(days=days))

    return {
        "small: viewer": "{ viewer { username } }",
        "(a) usageMetrics 730 days": (
            "query($org: ID!) { organization(id: $org) { "
            "usageMetrics(periodLength: 730, category: ANY) { date dau wau mau } } }"
        ),
        "(b) activity 30 x 1,000 users": (
            f'{{ activity(start: "{days_before(30)}", end: "{_iso(END)}", interval: "1 day") '
            "{ start end buckets { start end durationSeconds activeUsers "
            "userActivity { durationSeconds count user { id username name } } } } }"
        ),
        "(c) insights 5,000 users": (
            f'query($org: ID!) {{ templateInsights(organizationId: $org, start: "{days_before(60)}", '
            f'end: "{_iso(END)}") {{ userActivity {{ seconds user {{ id username }} }} '
            "userLatency { samples p50 { ms band } p95 { ms band } user { id username } } } }"
        ),
    }


def _post(url: str, token: str, query: str, variables: dict[str, str]) -> dict[str, object]:
    request = urllib.request.Request(
        url,
        data=orjson.dumps({"query": query, "variables": variables}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310  (loopback only)
        result: dict[str, object] = orjson.loads(response.read())
        return result


def _wrk(url: str, token: str, body: bytes, seconds: int, connections: int) -> tuple[float, str, str, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {orjson.dumps(body.decode()).decode()}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        )
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "60s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    distribution = out.split("Latency Distribution", 1)[-1]
    p50 = re.search(r"50%\s+(\S+)", distribution).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", distribution).group(1)  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(non2xx.group(1)) if non2xx else 0
    return rps, p50, p99, failed + (sum(int(n) for n in sockets.groups()) if sockets else 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--data-dir", default=".usagegraph-http")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian package wrk)")
    exe = [sys.executable, "-m", "usagegraph"]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("USAGEGRAPH_")}
    base_env.update(
        USAGEGRAPH_DATA_DIR=args.data_dir,
        USAGEGRAPH_LOG_LEVEL="WARNING",
        USAGEGRAPH_RATE_LIMIT_PER_MINUTE="0",
    )
    if not Path(args.data_dir, "pg").exists():
        with tempfile.TemporaryDirectory() as scratch:
            world = Path(scratch, "world.ndjson")
            records = write_world(world)
            print(f"loading the benchmark's world ({records:,} records) into {args.data_dir}", flush=True)
            subprocess.run([*exe, "import", str(world)], env=base_env, check=True, stderr=subprocess.DEVNULL)
    token = subprocess.run(
        [*exe, "token", "create", "--username", "admin", "--create-owner", "--expires-in", "1d"],
        env=base_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for mode in ("standard", "compiled"):
            port = _free_port()
            env = {**base_env, "USAGEGRAPH_COMPILED_EXECUTION": "true" if mode == "compiled" else "false"}
            process = subprocess.Popen(
                [*exe, "serve", "--workers", "2", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            servers[mode] = (process, f"http://127.0.0.1:{port}/graphql")
        for _, url in servers.values():
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(url.replace("/graphql", "/healthz"), timeout=2)  # noqa: S310
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sys.exit("server did not start")
                    time.sleep(0.5)
        org = _id("organization", 0)
        print(f"wrk: {args.connections} connections, {args.seconds} s per run, 2 workers per server")
        print(f"{'query':30} {'bytes':>9} {'mode':>9} {'req/s':>8} {'p50':>9} {'p99':>9} {'errors':>8}")
        for name, query in _queries().items():
            variables = {"org": org} if "$org" in query else {}
            answers = {mode: _post(url, token, query, variables) for mode, (_, url) in servers.items()}
            assert "errors" not in answers["standard"], str(answers["standard"])[:1000]
            assert answers["standard"] == answers["compiled"], name
            body = orjson.dumps({"query": query, "variables": variables})
            size = len(orjson.dumps(answers["standard"]))
            for mode, (_, url) in servers.items():
                rps, p50, p99, bad = _wrk(url, token, body, args.seconds, args.connections)
                print(f"{name:30} {size:>9,} {mode:>9} {rps:>8.1f} {p50:>9} {p99:>9} {bad:>8}")
    finally:
        for process, _ in servers.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        stop_embedded(Path(args.data_dir))


if __name__ == "__main__":
    main()
