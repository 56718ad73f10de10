"""End-to-end requests per second and latency over HTTP with wrk, compiled vs standard execution.

Starts two `usagegraph serve --workers 2` processes on loopback against the same database, one with
USAGEGRAPH_COMPILED_EXECUTION=false, and runs wrk against each for every query. The database is the
embedded one under --data-dir (demo data is loaded on first start).

    .venv/bin/python -m bench.http_bench [--seconds 10] [--connections 16]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _queries() -> dict[str, str]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (today - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = today.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "small: viewer": "{ viewer { username } }",
        "(a) usageMetrics 730 days": "query($org: ID!) { organization(id: $org) { usageMetrics(periodLength: 730, category: ANY) { date dau wau mau } } }",
        "(b) activity 30 x 1 day": (
            f'{{ activity(start: "{start}", end: "{end}", interval: "1 day") '
            "{ buckets { start activeUsers userActivity { durationSeconds count user { id username name } } } } }"
        ),
        "(c) templateInsights users": (
            f'query($org: ID!) {{ templateInsights(organizationId: $org, start: "{start}", end: "{end}") '
            "{ userActivity { seconds user { id username } } userLatency { samples p50 { ms band } p95 { ms band } user { id username } } } }"
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
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
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
    return rps, p50, p99, int(non2xx.group(1)) if non2xx else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--data-dir", default=".usagegraph-e2e")
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
    subprocess.run([*exe, "demo-data"], env=base_env, check=False, capture_output=True) if not Path(
        args.data_dir, "pg"
    ).exists() else None
    token = subprocess.run(
        [*exe, "token", "create", "--username", "admin", "--expires-in", "1d"],
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
        url0 = servers["standard"][1]
        orgs = _post(url0, token, "{ organizations { id name } }", {})
        org = orgs["data"]["organizations"][0]["id"]  # type: ignore[index]
        print(
            f"wrk: {args.connections} connections, {args.seconds} s per run, 2 workers per server, demo data"
        )
        print(f"{'query':30} {'bytes':>9} {'mode':>9} {'req/s':>8} {'p50':>9} {'p99':>9} {'non-2xx':>8}")
        for name, query in _queries().items():
            variables = {"org": org} if "$org" in query else {}
            answers = {mode: _post(url, token, query, variables) for mode, (_, url) in servers.items()}
            assert answers["standard"] == answers["compiled"], name
            assert "errors" not in answers["standard"], answers["standard"]
            body = orjson.dumps({"query": query, "variables": variables})
            size = len(orjson.dumps(answers["standard"]))
            for mode, (_, url) in servers.items():
                rps, p50, p99, bad = _wrk(url, token, body, args.seconds, args.connections)
                print(f"{name:30} {size:>9,} {mode:>9} {rps:>8.1f} {p50:>9} {p99:>9} {bad:>8}")
    finally:
        for process, _ in servers.values():
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
