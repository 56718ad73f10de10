"""Compiled vs standard GraphQL execution, with the orjson floor, in one run.

The rows are built once in Python with the real response types (the objects the resolvers return), and
a small root type hands them out, so the figures are execution and serialization only, no SQL:
(a) usageMetrics for 730 days with dau, wau and mau; (b) an activity report of 30 daily buckets over 1,000
active users with `user { id username name }`; (c) Template Insights userActivity and userLatency over
5,000 users.

The floor is the issue's "same rows as dicts serialized": the same row objects shaped into the response's
dicts by a hand-written comprehension (no checks, nothing generic) and serialized with orjson. It is what
any Python server must do at the least to answer from these rows; the issue's own floor figures (about 1 ms
for (a)) are this one's. The last columns also show orjson alone on dicts prepared before the clock starts
(`dump only`): no server can answer in that time, since it excludes building the response at all.

Like the server (whose lifespan freezes what startup built), the prepared rows are moved out of the
collector's way first, so that no column pays for collections over the others' data.

    .venv/bin/python -m bench.compiled_bench [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import strawberry
from graphql import ExecutionResult, execute, parse

from usagegraph.execution.compiled import CompiledExecutor
from usagegraph.schema.activity import (
    ActivityBucket,
    ActivityReport,
    UsageMetric,
    UserActivity,
    UserActivityTotal,
)
from usagegraph.schema.entities import User
from usagegraph.schema.enums import ActivityCategory, LatencyBand
from usagegraph.schema.insights import Latency, UserLatency, UserUsage
from usagegraph.schema.scalars import SCALAR_OVERRIDES, Interval, serialize_datetime

START = datetime(2024, 1, 1, tzinfo=UTC)


def _users(n: int) -> list[User]:
    return [
        User(
            id=strawberry.ID(str(uuid.UUID(int=i + 1))),
            username=f"user{i:05d}",
            name=f"User {i}",
            created_at=START,
            uuid=uuid.UUID(int=i + 1),
            raw_email=None,
            site_roles=(),
            org_ids=(),
        )
        for i in range(n)
    ]


def _metrics() -> list[UsageMetric]:
    return [
        UsageMetric(date=date(2023, 1, 1) + timedelta(days=d), dau=d % 90, wau=d % 300, mau=d % 900)
        for d in range(731)
    ]


def _report(users: list[User]) -> ActivityReport:
    buckets = [
        ActivityBucket(
            start=START + timedelta(days=d),
            end=START + timedelta(days=d + 1),
            duration_seconds=86400.0,
            active_users=len(users),
            user_activity=[
                UserActivity(user=u, duration_seconds=60.0 * (i % 300), count=i % 7 + 1)
                for i, u in enumerate(users)
            ],
        )
        for d in range(30)
    ]
    totals = [
        UserActivityTotal(user=u, total_duration_seconds=1800.0 * i, total_count=i)
        for i, u in enumerate(users)
    ]
    return ActivityReport(
        start=START,
        end=START + timedelta(days=30),
        interval=Interval(1, "day"),
        category=ActivityCategory.ANY,
        buckets=buckets,
        users=totals,
    )


def _insights(users: list[User]) -> tuple[list[UserUsage], list[UserLatency]]:
    usage = [UserUsage(user=u, seconds=60.0 * i) for i, u in enumerate(users)]
    latency = [
        UserLatency(
            user=u,
            p50=Latency(ms=40.0 + i % 200, band=LatencyBand.GREEN),
            p95=Latency(ms=90.0 + i % 300, band=LatencyBand.YELLOW),
            samples=i % 50 + 1,
        )
        for i, u in enumerate(users)
    ]
    return usage, latency


METRICS = _metrics()
REPORT = _report(_users(1000))
USAGE, LATENCY = _insights(_users(5000))


@strawberry.type
class Query:
    @strawberry.field
    def usage_metrics(self) -> list[UsageMetric]:
        return METRICS

    @strawberry.field
    def activity(self) -> ActivityReport:
        return REPORT

    @strawberry.field
    def user_activity(self) -> list[UserUsage]:
        return USAGE

    @strawberry.field
    def user_latency(self) -> list[UserLatency]:
        return LATENCY


SCHEMA = strawberry.Schema(Query, scalar_overrides=SCALAR_OVERRIDES)._schema

CASES: dict[str, tuple[str, Callable[[], Any]]] = {
    "(a) usageMetrics 730 days": (
        "{ usageMetrics { date dau wau mau } }",
        lambda: {
            "usageMetrics": [
                {"date": m.date.isoformat(), "dau": m.dau, "wau": m.wau, "mau": m.mau} for m in METRICS
            ]
        },
    ),
    "(b) activity 30 x 1,000 users": (
        "{ activity { start end buckets { start end durationSeconds activeUsers "
        "userActivity { durationSeconds count user { id username name } } } } }",
        lambda: {
            "activity": {
                "start": serialize_datetime(REPORT.start),
                "end": serialize_datetime(REPORT.end),
                "buckets": [
                    {
                        "start": serialize_datetime(b.start),
                        "end": serialize_datetime(b.end),
                        "durationSeconds": b.duration_seconds,
                        "activeUsers": b.active_users,
                        "userActivity": [
                            {
                                "durationSeconds": a.duration_seconds,
                                "count": a.count,
                                "user": {"id": a.user.id, "username": a.user.username, "name": a.user.name},
                            }
                            for a in b.user_activity
                        ],
                    }
                    for b in REPORT.buckets
                ],
            }
        },
    ),
    "(c) insights 5,000 users": (
        "{ userActivity { seconds user { id username } } "
        "userLatency { samples p50 { ms band } p95 { ms band } user { id username } } }",
        lambda: {
            "userActivity": [
                {"seconds": u.seconds, "user": {"id": u.user.id, "username": u.user.username}} for u in USAGE
            ],
            "userLatency": [
                {
                    "samples": u.samples,
                    "p50": {"ms": u.p50.ms, "band": u.p50.band.value},
                    "p95": {"ms": u.p95.ms, "band": u.p95.band.value},
                    "user": {"id": u.user.id, "username": u.user.username},
                }
                for u in LATENCY
            ],
        },
    ),
}


async def _execute(document: Any, compiled: bool) -> bytes:
    result = execute(SCHEMA, document, executor_class=CompiledExecutor if compiled else None)
    if not isinstance(result, ExecutionResult):
        result = await result
    assert result.errors is None, result.errors
    return orjson.dumps({"data": result.data})


async def _median_ms(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        value = fn()
        if asyncio.iscoroutine(value):
            await value
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main(runs: int) -> None:
    gc.collect()
    gc.freeze()
    print(
        f"{'case':30} {'fields':>8} {'standard':>9} {'compiled':>9} {'floor':>7} {'speed-up':>9} "
        f"{'x floor':>8} {'dump only':>10} {'x dump':>7}   (ms)"
    )
    for name, (query, shape) in CASES.items():
        document = parse(query)
        prepared = shape()
        standard_body = await _execute(document, compiled=False)
        compiled_body = await _execute(document, compiled=True)
        assert standard_body == compiled_body == orjson.dumps({"data": prepared}), name
        fields = _count_fields(prepared)
        standard = await _median_ms(lambda d=document: _execute(d, compiled=False), runs)
        compiled = await _median_ms(lambda d=document: _execute(d, compiled=True), runs)
        floor = await _median_ms(lambda s=shape: orjson.dumps({"data": s()}), runs)
        dump = await _median_ms(lambda p=prepared: orjson.dumps({"data": p}), runs)
        print(
            f"{name:30} {fields:>8,} {standard:>9.1f} {compiled:>9.2f} {floor:>7.2f} "
            f"{standard / compiled:>8.1f}x {compiled / floor:>7.1f}x {dump:>10.3f} {compiled / dump:>6.1f}x"
        )


def _count_fields(value: Any) -> int:
    if isinstance(value, dict):
        return sum(1 + _count_fields(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_fields(v) for v in value)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    asyncio.run(main(parser.parse_args().runs))
