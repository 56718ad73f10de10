"""The activity report (ANY) when every bucket boundary is a UTC quarter-hour, which reads the hour and
quarter-hour part vectors (usagegraph.db.queries.activity_parts): local days and weeks from a local
midnight, and hour, 45-minute and quarter-hour buckets from a quarter-hour, in whole-hour, half-hour and
quarter-hour zones and across a DST change, against the plain-Python reading of the definitions; and a
bucket boundary that is not a quarter-hour, which reads the user-days, against the same reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_activity_property import (
    BASE,
    ZONES,
    Event,
    assert_activity_matches,
    events_over,
    store,
    world,
)
from tests.conftest import GraphQL
from tests.factories import Factory

# Sessions over the DST change of 2024-03-10 in New York, some shorter than a quarter-hour, some longer
# than a day.
events_strategy = events_over(5, [0, 1, 59, 60, 61, 600, 899, 900, 901, 3600, 5400, 20000, 90000], 12)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    events=events_strategy,
    zone=st.sampled_from(ZONES),
    interval=st.sampled_from([(1, "day"), (2, "day"), (1, "hour"), (45, "minute"), (15, "minute")]),
    start_quarters=st.integers(0, 4 * 96),
    span_quarters=st.integers(1, 4 * 96),
    unaligned=st.sampled_from([0, 0, 0, 7]),
)
async def test_quarter_hour_boundaries_match_reference(
    gql: GraphQL,
    factory: Factory,
    events: list[Event],
    zone: str,
    interval: tuple[int, str],
    start_quarters: int,
    span_quarters: int,
    unaligned: int,
) -> None:
    org, token, user_ids, workspaces = await world(factory, 2)
    await store(factory, org, user_ids, workspaces, events)
    users = [str(u) for u in user_ids]
    unit = interval[1]
    start = BASE - timedelta(days=1) + timedelta(minutes=15 * start_quarters)
    if unit == "day":
        local = start.astimezone(ZoneInfo(zone)).date()
        start = datetime.combine(local, datetime.min.time(), ZoneInfo(zone)).astimezone(UTC)
        end = datetime.combine(
            local + timedelta(days=1 + span_quarters // 48), datetime.min.time(), ZoneInfo(zone)
        ).astimezone(UTC)
    else:
        end = start + timedelta(minutes=15 * span_quarters)
    end += timedelta(minutes=unaligned)  # a range end that is not a quarter-hour: the user-days are read
    await assert_activity_matches(gql, token, org, events, users, (start, end), interval, "ANY", zone)
