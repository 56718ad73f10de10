"""Random sessions and logins: `activity` and `usageMetrics` (of the organization and of one workspace)
agree with a plain-Python reading of the definitions in docs/api.md 5.1-5.3, in whole-hour, half-hour and
quarter-hour zones and across a DST change."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import GraphQL
from tests.factories import Factory

BASE = datetime(2024, 3, 8, tzinfo=UTC)
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu"]
CATEGORIES = ["LOGIN", "IDE", "APP", "TUNNEL", "WEB_TERMINAL"]
APPS = {"IDE": "vscode", "APP": "jupyter", "TUNNEL": "ssh", "WEB_TERMINAL": "web-terminal"}
MINUTE = timedelta(minutes=1)

ACTIVITY = """
query($start: DateTime!, $end: DateTime!, $interval: Interval!, $category: ActivityCategory!, $org: ID,
      $tz: String!) {
  activity(start: $start, end: $end, interval: $interval, category: $category, organizationId: $org,
           timezone: $tz) {
    buckets { start end userActivity { user { id } durationSeconds count } }
    users { user { id } totalDurationSeconds totalCount }
  }
}
"""
METRICS = """
query($org: ID!, $start: Date!, $end: Date!, $window: ActiveWindow!, $fill: FillPolicy!,
      $category: ActivityCategory!, $tz: String!) {
  organization(id: $org) {
    usageMetrics(start: $start, end: $end, window: $window, fill: $fill, category: $category, timezone: $tz) {
      date dau wau mau
    }
  }
}
"""
WORKSPACE_METRICS = METRICS.replace("$org: ID!", "$ws: ID!").replace(
    "organization(id: $org)", "workspace(id: $ws)"
)


@dataclass(frozen=True)
class Event:
    user: int
    workspace: int
    category: str
    start: datetime
    end: datetime | None

    def minutes(self) -> list[datetime]:
        """Active minutes (docs/api.md 5.1); a LOGIN has none."""
        if self.end is None:
            return []
        first = self.start.replace(second=0, microsecond=0)
        last = max(self.end - timedelta(microseconds=1), self.start).replace(second=0, microsecond=0)
        return [first + k * MINUTE for k in range(int((last - first) / MINUTE) + 1)]

    def overlaps(self, lo: datetime, hi: datetime) -> bool:
        if self.end is None:
            return lo <= self.start < hi
        return any(lo <= m < hi for m in self.minutes())


def events_over(days: int, lengths: list[int], size: int) -> st.SearchStrategy[list[Event]]:
    """Up to `size` sessions and logins of three users in two workspaces, starting in the `days` after BASE."""
    return st.lists(
        st.builds(
            lambda user, ws, category, offset, length: Event(
                user,
                ws,
                category,
                BASE + timedelta(seconds=offset),
                None if category == "LOGIN" else BASE + timedelta(seconds=offset + length),
            ),
            st.integers(0, 2),
            st.integers(0, 1),
            st.sampled_from(CATEGORIES),
            st.integers(0, days * 86400),
            st.sampled_from(lengths),
        ),
        max_size=size,
    )


events_strategy = events_over(4, [0, 1, 59, 60, 61, 900, 3600, 5400, 20000, 90000], 10)


def bucket_bounds(
    start: datetime, end: datetime, count: int, unit: str, zone: str
) -> list[tuple[datetime, datetime]]:
    """start + k*interval in one step: absolute for minutes and hours, wall clock for days."""
    tz = ZoneInfo(zone)
    out = []
    k = 0
    while True:
        if unit == "day":
            local = start.astimezone(tz).replace(tzinfo=None) + timedelta(days=k * count)
            lo = local.replace(tzinfo=tz).astimezone(UTC)
        else:
            lo = start + k * count * timedelta(**{unit + "s": 1})
        if lo >= end:
            return out
        if out:
            out[-1] = (out[-1][0], lo)
        out.append((lo, end))
        k += 1


def reference_activity(
    events: list[Event], users: list[str], bounds: list[tuple[datetime, datetime]], category: str
) -> dict[str, Any]:
    chosen = [e for e in events if category == "ANY" or e.category == category]
    buckets = []
    totals: dict[str, list[float]] = {}
    for lo, hi in bounds:
        rows = []
        for u, user in enumerate(users):
            mine = [e for e in chosen if e.user == u]
            count = sum(1 for e in mine if e.overlaps(lo, hi))
            if count:
                minutes = {m for e in mine for m in e.minutes() if lo <= m < hi}
                rows.append((user, len(minutes) * 60.0, count))
        rows.sort(key=lambda r: (-r[1], uuid.UUID(r[0])))
        buckets.append([{"user": {"id": r[0]}, "durationSeconds": r[1], "count": r[2]} for r in rows])
        for user, seconds, _ in rows:
            totals.setdefault(user, [0.0, 0])[0] += seconds
    start, end = bounds[0][0], bounds[-1][1]
    for u, user in enumerate(users):
        if user in totals:
            totals[user][1] = sum(1 for e in chosen if e.user == u and e.overlaps(start, end))
    listed = sorted(totals.items(), key=lambda kv: (-kv[1][0], uuid.UUID(kv[0])))
    return {
        "buckets": buckets,
        "users": [{"user": {"id": u}, "totalDurationSeconds": t[0], "totalCount": t[1]} for u, t in listed],
    }


def reference_metrics(
    events: list[Event], first: date, last: date, zone: str, category: str, rolling: bool, forward: bool
) -> list[dict[str, Any]]:
    tz = ZoneInfo(zone)
    active: dict[date, set[int]] = defaultdict(set)
    for e in events:
        if category not in ("ANY", e.category):
            continue
        instants = [e.start] if e.category == "LOGIN" else e.minutes()
        for instant in instants:
            active[instant.astimezone(tz).date()].add(e.user)

    def users_between(lo: date, hi: date) -> int:
        seen: set[int] = set()
        for d, who in active.items():
            if lo <= d <= hi:
                seen |= who
        return len(seen)

    rows: list[dict[str, Any]] = []
    day = first
    while day <= last:
        dau = len(active.get(day, set()))
        if rolling:
            wau, mau = (
                users_between(day - timedelta(days=6), day),
                users_between(day - timedelta(days=29), day),
            )
        else:
            wau = users_between(day - timedelta(days=day.weekday()), day)
            mau = users_between(day.replace(day=1), day)
        row: dict[str, Any] = {"date": day.isoformat(), "dau": dau, "wau": wau, "mau": mau}
        if forward and dau == 0:
            previous = rows[-1] if rows else {"wau": None, "mau": None}
            row = {"date": day.isoformat(), "dau": None, "wau": previous["wau"], "mau": previous["mau"]}
        rows.append(row)
        day += timedelta(days=1)
    return rows


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def world(factory: Factory, spaces: int) -> tuple[uuid.UUID, str, list[uuid.UUID], list[uuid.UUID]]:
    """An organization, an owner's token, three members and `spaces` workspaces of the first member."""
    org = await factory.organization()
    token = await factory.token(await factory.user(site_roles=["owner"]))
    user_ids = [await factory.user(orgs={org: ["member"]}) for _ in range(3)]
    tpl = await factory.template(org)
    return org, token, user_ids, [await factory.workspace(org, tpl, user_ids[0]) for _ in range(spaces)]


async def store(
    factory: Factory,
    org: uuid.UUID,
    user_ids: list[uuid.UUID],
    workspaces: list[uuid.UUID],
    events: list[Event],
) -> None:
    """The events as ingest stores them; a LOGIN has no workspace."""
    for e in events:
        await factory.activity(
            org,
            user_ids[e.user],
            e.category,
            e.start,
            e.end,
            workspace_id=None if e.category == "LOGIN" else workspaces[e.workspace],
            app=APPS.get(e.category),
        )


async def usage_metrics(
    gql: GraphQL,
    token: str,
    scope: tuple[str, str],
    days: tuple[date, date],
    zone: str,
    category: str,
    rolling: bool,
    forward: bool,
) -> Any:
    """usageMetrics of ("organization" | "workspace", id) over the days, through the API."""
    kind, node = scope
    query = METRICS if kind == "organization" else WORKSPACE_METRICS
    variables = {
        "org" if kind == "organization" else "ws": node,
        "start": days[0].isoformat(),
        "end": days[1].isoformat(),
        "window": "ROLLING" if rolling else "CALENDAR",
        "fill": "FORWARD" if forward else "NONE",
        "category": category,
        "tz": zone,
    }
    body = await gql(query, variables, token=token)
    assert "errors" not in body, body
    return body["data"][kind]["usageMetrics"]


async def assert_activity_matches(
    gql: GraphQL,
    token: str,
    org: uuid.UUID,
    events: list[Event],
    users: list[str],
    span: tuple[datetime, datetime],
    interval: tuple[int, str],
    category: str,
    zone: str,
) -> None:
    """The activity report over the span by `interval` in `zone` has the reference's buckets, each
    bucket's users' activity and the users' totals."""
    start, end = span
    count, unit = interval
    bounds = bucket_bounds(start, end, count, unit, zone)
    variables = {"start": iso(start), "end": iso(end), "interval": f"{count} {unit}", "category": category,
                 "org": str(org), "tz": zone}  # fmt: skip
    body = await gql(ACTIVITY, variables, token=token)
    assert "errors" not in body, body
    report = body["data"]["activity"]
    assert [(b["start"], b["end"]) for b in report["buckets"]] == [(iso(lo), iso(hi)) for lo, hi in bounds]
    expected = reference_activity(events, users, bounds, category)
    assert [b["userActivity"] for b in report["buckets"]] == expected["buckets"]
    assert report["users"] == expected["users"]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    events=events_strategy,
    zone=st.sampled_from(ZONES),
    category=st.sampled_from(["ANY", *CATEGORIES]),
    interval=st.sampled_from([(1, "hour"), (3, "hour"), (90, "minute"), (1, "day")]),
    start_minutes=st.integers(0, 2 * 1440),
    span_minutes=st.integers(1, 3 * 1440),
    rolling=st.booleans(),
    forward=st.booleans(),
)
async def test_activity_and_usage_metrics_match_reference(
    gql: GraphQL,
    factory: Factory,
    events: list[Event],
    zone: str,
    category: str,
    interval: tuple[int, str],
    start_minutes: int,
    span_minutes: int,
    rolling: bool,
    forward: bool,
) -> None:
    org, token, user_ids, workspaces = await world(factory, 2)
    await store(factory, org, user_ids, workspaces, events)
    users = [str(u) for u in user_ids]

    unit = interval[1]
    start = BASE + timedelta(minutes=start_minutes)
    if unit == "day":
        start = datetime.combine(start.astimezone(ZoneInfo(zone)).date(), datetime.min.time(), ZoneInfo(zone))
        start = start.astimezone(UTC)
    end = start + timedelta(minutes=span_minutes)
    await assert_activity_matches(gql, token, org, events, users, (start, end), interval, category, zone)

    first = (BASE - timedelta(days=1)).date() + timedelta(days=start_minutes // 1440)
    last = first + timedelta(days=span_minutes // 720)
    assert await usage_metrics(
        gql, token, ("organization", str(org)), (first, last), zone, category, rolling, forward
    ) == reference_metrics(events, first, last, zone, category, rolling, forward)

    # The same series for one workspace (its own sessions; LOGINs belong to no workspace).
    own = [e for e in events if e.category != "LOGIN" and e.workspace == 0]
    assert await usage_metrics(
        gql, token, ("workspace", str(workspaces[0])), (first, last), zone, category, rolling, forward
    ) == reference_metrics(own, first, last, zone, category, rolling, forward)


long_events_strategy = st.lists(
    st.builds(
        lambda user, category, offset, length: Event(
            user, 0, category, BASE + timedelta(seconds=offset), BASE + timedelta(seconds=offset + length)
        ),
        st.integers(0, 2),
        st.sampled_from(CATEGORIES[1:]),
        st.integers(0, 60 * 86400),
        st.sampled_from([0, 60, 3600, 20000, 90000]),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    events=long_events_strategy,
    zone=st.sampled_from(ZONES),
    category=st.sampled_from(["ANY", "IDE"]),
    start_days=st.integers(-5, 20),
    span_days=st.integers(0, 60),
    rolling=st.booleans(),
    forward=st.booleans(),
)
async def test_workspace_usage_metrics_over_weeks_match_reference(
    gql: GraphQL,
    factory: Factory,
    events: list[Event],
    zone: str,
    category: str,
    start_days: int,
    span_days: int,
    rolling: bool,
    forward: bool,
) -> None:
    """Weekly, monthly and 30-day windows need activity weeks apart: sessions over two months."""
    org, token, user_ids, (ws,) = await world(factory, 1)
    await store(factory, org, user_ids, [ws, ws], events)
    first = BASE.date() + timedelta(days=start_days)
    last = first + timedelta(days=span_days)
    assert await usage_metrics(
        gql, token, ("workspace", str(ws)), (first, last), zone, category, rolling, forward
    ) == reference_metrics(events, first, last, zone, category, rolling, forward)


days_events_strategy = events_over(8, [0, 61, 3600, 20000, 90000, 200000], 14)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    events=days_events_strategy,
    zone=st.sampled_from(ZONES),
    interval=st.sampled_from([(1, "day"), (2, "day"), (6, "hour"), (150, "minute")]),
    start_minutes=st.integers(0, 3 * 1440),
    span_days=st.integers(1, 7),
)
async def test_any_report_over_days_matches_reference(
    gql: GraphQL,
    factory: Factory,
    events: list[Event],
    zone: str,
    interval: tuple[int, str],
    start_minutes: int,
    span_days: int,
) -> None:
    """Every category together over several days: whole UTC days come from the day totals, days cut by
    bucket boundaries from their largest piece (the day's totals less the other pieces) and the user-days."""
    org, token, user_ids, workspaces = await world(factory, 2)
    await store(factory, org, user_ids, workspaces, events)
    unit = interval[1]
    start = BASE + timedelta(minutes=start_minutes)
    if unit == "day":
        start = datetime.combine(start.astimezone(ZoneInfo(zone)).date(), datetime.min.time(), ZoneInfo(zone))
        start = start.astimezone(UTC)
    end = start + timedelta(days=span_days)
    users = [str(u) for u in user_ids]
    await assert_activity_matches(gql, token, org, events, users, (start, end), interval, "ANY", zone)
