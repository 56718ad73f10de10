"""Usage facts: activity, latency, workspace and node resources, and AI sessions, in the time order a
real deployment would report them."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

from usagegraph.demo.catalog import (
    AGENT_MODELS,
    AGENTS,
    DAY,
    GIB,
    HOUR,
    MINUTE,
    NODES,
    PRICES,
    REGIONS,
    RESOURCE_DAYS,
    Record,
)
from usagegraph.demo.world import Project, User, Workspace, World, iso, new_id

_MICRO_USD = Decimal("0.000001")
_MILLION = Decimal(1_000_000)


def _poisson(rng: random.Random, lam: float) -> int:
    limit = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class FactGenerator:
    """Usage is produced one local calendar day at a time, so memory stays bounded by a day of facts
    whatever the length of the period."""

    def __init__(self, rng: random.Random, world: World) -> None:
        self.rng = rng
        self.world = world
        self.resource_start = max(world.start, world.now - RESOURCE_DAYS * DAY)
        self.latency_seen: set[tuple[int, int]] = set()
        candidates = [
            ws
            for ws in world.workspaces
            if ws.created < world.now and (ws.deleted is None or ws.deleted > self.resource_start)
        ]
        self.monitored = sorted(rng.sample(candidates, min(len(candidates), 215)), key=lambda ws: ws.idx)
        self.always_on = {ws.idx: rng.random() < 0.45 for ws in self.monitored}
        self.sample_minute = {ws.idx: rng.randint(3, 56) for ws in self.monitored}
        self.memory_level = {ws.idx: rng.uniform(0.3, 0.7) for ws in self.monitored}
        cpu_limits: dict[str, float] = dict.fromkeys(NODES, 0.0)
        mem_limits: dict[str, float] = dict.fromkeys(NODES, 0.0)
        for ws in self.monitored:
            cpu_limits[ws.node] += ws.cpu_cores
            mem_limits[ws.node] += ws.memory_gb * GIB
        self.cpu_capacity = {
            node: float(max(16, math.ceil(cpu_limits[node] * 0.45 / 8) * 8)) for node in NODES
        }
        self.mem_capacity = {
            node: float(max(64 * GIB, math.ceil(mem_limits[node] * 0.7 / (64 * GIB)) * 64 * GIB))
            for node in NODES
        }

    def run(self) -> Iterator[tuple[str, Record]]:
        world = self.world
        first_day = world.start // DAY - 1
        last_day = (world.now - 1) // DAY + 1
        for day in range(first_day, last_day + 1):
            yield from self._day(day)

    def _day(self, day: int) -> Iterator[tuple[str, Record]]:
        world, rng = self.world, self.rng
        day_ts = day * DAY
        weekday = (day + 3) % 7
        progress = min(1.0, max(0.0, (day_ts - world.start) / max(1, world.now - world.start)))
        growth = 0.6 + 0.4 * progress
        ai_adoption = 0.3 + 0.9 * progress
        day_factor = (1.0, 1.0, 1.0, 0.97, 0.85, 0.1, 0.07)[weekday]

        activity: list[tuple[int, Record]] = []
        latency: list[tuple[int, Record]] = []
        ai_sessions: list[tuple[int, Record]] = []
        self.latency_seen.clear()
        for user in world.users:
            midnight = day_ts - user.utc_offset
            if user.created > midnight + 20 * HOUR:
                continue
            if rng.random() >= user.propensity * growth * day_factor:
                continue
            hour = min(11.5, max(6.5, rng.gauss(8.9, 0.8)))
            login = midnight + int(hour * HOUR) + rng.randrange(MINUTE)
            if login < user.created:
                continue
            day_end = login + int(rng.uniform(6.5, 10.0) * HOUR)
            self._login(user, login, activity)
            if rng.random() < 0.3:
                self._login(user, login + int(rng.uniform(3.5, 6.0) * HOUR), activity)
            live = [ws for ws in user.workspaces if ws.alive(login) or ws.alive(day_end)]
            if live:
                self._sessions(user, live, login, day_end, activity, latency)
            if user.ai_rate > 0:
                for _ in range(_poisson(rng, user.ai_rate * ai_adoption)):
                    self._ai_session(user, rng.uniform(login, day_end), ai_sessions)

        activity.sort(key=lambda item: item[0])
        latency.sort(key=lambda item: item[0])
        ai_sessions.sort(key=lambda item: item[0])
        for _, record in activity:
            yield "activity", record
        for _, record in latency:
            yield "latency", record
        for _, record in ai_sessions:
            yield "aiSessions", record
        yield from self._compute(day_ts)

    def _login(self, user: User, at: int, activity: list[tuple[int, Record]]) -> None:
        world, rng = self.world, self.rng
        if not world.start <= at < world.now:
            return
        org = user.orgs[0] if len(user.orgs) == 1 or rng.random() < 0.85 else rng.choice(user.orgs[1:])
        activity.append(
            (
                at,
                {
                    "id": new_id(rng),
                    "userId": user.id,
                    "organizationId": world.orgs[org].id,
                    "category": "LOGIN",
                    "startedAt": iso(at),
                },
            )
        )

    def _sessions(
        self,
        user: User,
        live: list[Workspace],
        login: int,
        day_end: int,
        activity: list[tuple[int, Record]],
        latency: list[tuple[int, Record]],
    ) -> None:
        rng = self.rng
        weights = [ws.weight for ws in live]
        lunch_taken = False
        t = login + rng.randint(MINUTE, 15 * MINUTE)
        while t < day_end:
            ws = live[0] if len(live) == 1 else rng.choices(live, weights=weights)[0]
            category, app, median = rng.choices(ws.session_kinds, cum_weights=ws.session_cum_weights)[0]
            minutes = min(240.0, max(1.0, median * rng.lognormvariate(0.0, 0.6)))
            length = int(minutes * MINUTE) + rng.randrange(MINUTE)
            self._session(ws, category, app, t, length, activity, latency)
            if category == "IDE" and rng.random() < 0.3:
                side_category, side_app = (
                    ("TUNNEL", "ssh") if rng.random() < 0.6 else ("WEB_TERMINAL", "web-terminal")
                )
                side_start = t + rng.randrange(max(1, length))
                side_length = int(min(90.0, max(1.0, 10.0 * rng.lognormvariate(0.0, 0.7))) * MINUTE)
                self._session(ws, side_category, side_app, side_start, side_length, activity, latency)
            gap = rng.uniform(2, 20) * MINUTE
            if not lunch_taken and t + length - login > 3.5 * HOUR:
                lunch_taken = True
                gap += rng.uniform(25, 60) * MINUTE
            t += length + int(gap)

    def _session(
        self,
        ws: Workspace,
        category: str,
        app: str,
        started: int,
        length: int,
        activity: list[tuple[int, Record]],
        latency: list[tuple[int, Record]],
    ) -> None:
        world, rng = self.world, self.rng
        ended = started + length
        if ws.deleted is not None:
            ended = min(ended, ws.deleted - 1)
        ended = min(ended, world.now)
        if started < world.start or started < ws.created or ended < started or started >= world.now:
            return
        activity.append(
            (
                started,
                {
                    "id": new_id(rng),
                    "userId": ws.owner.id,
                    "workspaceId": ws.id,
                    "category": category,
                    "app": app,
                    "startedAt": iso(started),
                    "endedAt": iso(ended),
                },
            )
        )
        if rng.random() < 0.35:
            at = started + rng.randrange(max(1, ended - started))
            while (ws.idx, at) in self.latency_seen:
                at += 1
            if at >= world.now:
                return
            self.latency_seen.add((ws.idx, at))
            level = REGIONS[ws.region].latency_ms * rng.lognormvariate(0.0, 0.2)
            if rng.random() < 0.02:
                level *= rng.uniform(2.0, 4.0)
            latency.append(
                (
                    at,
                    {
                        "workspaceId": ws.id,
                        "userId": ws.owner.id,
                        "at": iso(at),
                        "latencyMs": round(level, 1),
                    },
                )
            )

    def _ai_session(self, user: User, started_at: float, out: list[tuple[int, Record]]) -> None:
        world, rng = self.world, self.rng
        started = int(started_at)
        if started < world.start or started >= world.now or started < user.created:
            return
        org = world.orgs[
            user.orgs[0] if len(user.orgs) == 1 or rng.random() < 0.85 else rng.choice(user.orgs[1:])
        ]
        agent = user.agent if rng.random() < 0.8 else rng.choice([a for a, _ in AGENTS])
        minutes = min(180.0, max(0.5, 14.0 * rng.lognormvariate(0.0, 0.9)))
        finished = started + int(minutes * MINUTE)
        ended = None if finished > world.now or rng.random() < 0.003 else finished
        project: Project | None = rng.choice(org.projects) if rng.random() < 0.75 else None
        if project is not None:
            repository: str | None = rng.choice(project.repositories)
        elif rng.random() < 0.6:
            repository = f"{org.slug}/{rng.choice(('sandbox', 'dotfiles', 'scripts'))}"
        else:
            repository = None

        primaries, helpers = AGENT_MODELS[agent]
        models = [rng.choices([m for m, _ in primaries], weights=[w for _, w in primaries])[0]]
        for helper in helpers:
            if helper not in models and rng.random() < 0.45:
                models.append(helper)
        if len(models) < 3 and rng.random() < 0.05:
            extra = rng.choice(("claude-opus-4-1", "claude-sonnet-4-5", "local-llama"))
            if extra not in models:
                models.append(extra)
        usage = [
            self._usage_line(model, minutes, share=1.0 if i == 0 else rng.uniform(0.05, 0.3))
            for i, model in enumerate(models)
        ]
        out.append(
            (
                started,
                {
                    "id": new_id(rng),
                    "organizationId": org.id,
                    "userId": user.id,
                    "projectId": project.id if project is not None else None,
                    "repository": repository,
                    "agent": agent,
                    "startedAt": iso(started),
                    "endedAt": iso(ended) if ended is not None else None,
                    "usage": usage,
                },
            )
        )

    def _usage_line(self, model: str, minutes: float, share: float) -> Record:
        rng = self.rng
        input_tokens = max(200, int(minutes * share * rng.lognormvariate(8.3, 0.5)))
        output_tokens = int(input_tokens * rng.uniform(0.08, 0.25))
        local = model == "local-llama"
        cache_read = 0 if local else int(input_tokens * rng.uniform(3.0, 12.0))
        cache_write = 0 if local else int(input_tokens * rng.uniform(0.3, 1.0))
        line: Record = {
            "model": model,
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "cacheReadTokens": cache_read,
            "cacheWriteTokens": cache_write,
        }
        prices = PRICES.get(model)
        if prices is not None and rng.random() < 0.4:
            tokens = (input_tokens, output_tokens, cache_read, cache_write)
            cost = (
                sum((Decimal(n) * price for n, price in zip(tokens, prices, strict=True)), Decimal(0))
                / _MILLION
            )
            line["cost"] = str(cost.quantize(_MICRO_USD, rounding=ROUND_HALF_UP))
        elif local and rng.random() < 0.3:
            line["cost"] = "0.000000"
        return line

    def _compute(self, day_ts: int) -> Iterator[tuple[str, Record]]:
        world, rng = self.world, self.rng
        if day_ts + DAY <= self.resource_start or day_ts >= world.now:
            return
        for hour in range(24):
            hour_ts = day_ts + hour * HOUR
            if hour_ts + HOUR <= self.resource_start or hour_ts >= world.now:
                continue
            node_cpu = dict.fromkeys(NODES, 0.0)
            node_mem = dict.fromkeys(NODES, 0.0)
            for ws in self.monitored:
                at = (
                    hour_ts
                    + (self.sample_minute[ws.idx] + rng.randint(-2, 2)) * MINUTE
                    + rng.randrange(MINUTE)
                )
                if at < self.resource_start or at >= world.now or not ws.alive(at):
                    continue
                local = at + ws.owner.utc_offset
                local_hour = (local % DAY) / HOUR
                weekday = (local // DAY + 3) % 7 < 5
                if not self.always_on[ws.idx] and not (weekday and 7.0 <= local_hour < 20.0):
                    continue
                busy = weekday and 8.5 <= local_hour < 18.5
                cpu_share = 0.02 + 0.88 * rng.betavariate(2.0, 4.0) if busy else rng.uniform(0.01, 0.08)
                level = min(0.92, max(0.15, self.memory_level[ws.idx] + rng.gauss(0.0, 0.03)))
                self.memory_level[ws.idx] = level
                cpu_used = round(ws.cpu_cores * cpu_share, 3)
                mem_limit = float(ws.memory_gb * GIB)
                mem_used = float(int(mem_limit * level))
                node_cpu[ws.node] += cpu_used
                node_mem[ws.node] += mem_used
                yield (
                    "resources",
                    {
                        "workspaceId": ws.id,
                        "node": ws.node,
                        "at": iso(at),
                        "cpuUsedCores": cpu_used,
                        "cpuLimitCores": ws.cpu_cores,
                        "memoryUsedBytes": mem_used,
                        "memoryLimitBytes": mem_limit,
                    },
                )
            for quarter in range(4):
                at = hour_ts + quarter * 15 * MINUTE
                if at < self.resource_start or at >= world.now:
                    continue
                for node in NODES:
                    cpu_cap, mem_cap = self.cpu_capacity[node], self.mem_capacity[node]
                    cpu = min(cpu_cap * 0.98, (1.5 + node_cpu[node]) * rng.uniform(0.92, 1.08))
                    mem = min(mem_cap * 0.98, (6 * GIB + node_mem[node]) * rng.uniform(0.98, 1.02))
                    yield (
                        "nodes",
                        {
                            "node": node,
                            "at": iso(at),
                            "cpuUsedCores": round(cpu, 3),
                            "cpuCapacityCores": cpu_cap,
                            "memoryUsedBytes": float(int(mem)),
                            "memoryCapacityBytes": mem_cap,
                        },
                    )
