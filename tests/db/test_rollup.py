from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Factory


def t(hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2024, 3, 1, hour, minute, second, micro, tzinfo=UTC)


async def _minutes(engine: AsyncEngine) -> dict[tuple[int, str], list[int]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT hour, category, minutes FROM activity_minutes"))).all()
    out: dict[tuple[int, str], list[int]] = {}
    for row in rows:
        out[(row.hour.hour, row.category)] = [k for k in range(60) if row.minutes >> k & 1]
    return out


async def test_session_minutes_span_hours_and_round_up(factory: Factory, engine: AsyncEngine) -> None:
    org = await factory.organization()
    user = await factory.user(orgs={org: ["member"]})
    tpl = await factory.template(org)
    ws = await factory.workspace(org, tpl, user)
    await factory.activity(org, user, "IDE", t(9, 58, 30), t(11, 1, 0), workspace_id=ws, app="vscode")
    minutes = await _minutes(engine)
    assert minutes[(9, "IDE")] == [58, 59]
    assert minutes[(10, "IDE")] == list(range(60))
    assert minutes[(11, "IDE")] == [0]


async def test_zero_length_session_and_login_count_one_minute(factory: Factory, engine: AsyncEngine) -> None:
    org = await factory.organization()
    user = await factory.user(orgs={org: ["member"]})
    tpl = await factory.template(org)
    ws = await factory.workspace(org, tpl, user)
    await factory.activity(org, user, "APP", t(12, 5, 10), t(12, 5, 10), workspace_id=ws, app="jupyter")
    await factory.activity(org, user, "LOGIN", t(13, 7, 59))
    await factory.activity(org, user, "APP", t(12, 5, 30), t(12, 7, 0, 1), workspace_id=ws, app="jupyter")
    minutes = await _minutes(engine)
    assert minutes[(12, "APP")] == [5, 6, 7]
    assert minutes[(13, "LOGIN")] == [7]
