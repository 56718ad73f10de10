from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from tests.ingest.test_ingest import INGEST, codes, ingest, rows
from usagegraph.pricing import load_price_table, parse_price_table


def test_longest_prefix_wins() -> None:
    table = load_price_table()
    opus_41 = table.lookup("claude-opus-4-1-20250805")
    opus_45 = table.lookup("claude-opus-4-5-20251101")
    assert opus_41 is not None and opus_45 is not None
    assert (opus_41.input, opus_41.output, opus_41.cache_read, opus_41.cache_write) == (
        15,
        75,
        Decimal("1.5"),
        Decimal("18.75"),
    )
    assert (opus_45.input, opus_45.output, opus_45.cache_read, opus_45.cache_write) == (
        5,
        25,
        Decimal("0.5"),
        Decimal("6.25"),
    )
    assert table.lookup("Claude-Sonnet-4-20250514") == table.lookup("claude-3-7-sonnet-20250219")
    assert table.lookup("gpt-4o") is None
    assert load_price_table() is table


def test_bad_price_tables_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        parse_price_table({"models": {"m": {"input": "-1"}}})
    with pytest.raises(ValueError, match="unknown rates"):
        parse_price_table({"models": {"m": {"inputs": "1"}}})
    assert parse_price_table({"models": {"m": {"input": 2}}}).lookup("m-1") is not None


def usage(model: str, cost: str | None = None, **tokens: int) -> dict[str, Any]:
    line: dict[str, Any] = {"model": model, **tokens}
    if cost is not None:
        line["cost"] = cost
    return line


SESSION_SQL = (
    "SELECT cost, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, unpriced, ended_at "
    "FROM ai_sessions WHERE id = :id"
)


async def test_costs_from_table_explicit_and_unpriced(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    org = await factory.organization()
    user = await factory.user(orgs={org: ["member"]})
    collector = await factory.user(orgs={org: ["collector"]})
    token = await factory.token(collector)
    sid, other = uuid.uuid4(), uuid.uuid4()
    lines = [
        usage(
            "claude-opus-4-1-20250805",
            inputTokens=1_000_000,
            outputTokens=200_000,
            cacheReadTokens=3_000_000,
            cacheWriteTokens=100_000,
        ),  # 15 + 15 + 4.5 + 1.875
        usage("claude-opus-4-5-20251101", inputTokens=123_457, outputTokens=1_001),  # 0.617285 + 0.025025
        usage("claude-3-5-haiku-20241022", inputTokens=1, outputTokens=1),  # 0.0000048 -> 0.000005
        usage("gpt-4o", "1.2345675", inputTokens=7),  # explicit, half-up
        usage("mystery-model", inputTokens=500),  # no cost, no price
    ]
    session = {
        "id": str(sid),
        "organizationId": str(org),
        "userId": str(user),
        "agent": "claude-code",
        "repository": "acme/api",
        "startedAt": "2024-05-01T10:00:00Z",
        "endedAt": "2024-05-01T10:20:00Z",
        "usage": lines,
    }
    plain = {
        **session,
        "id": str(other),
        "usage": [
            usage("claude-sonnet-4-5", "0", inputTokens=10),
            usage("claude-sonnet-4-5-x", "2.50", outputTokens=3),
        ],
    }
    assert await ingest(gql, token, aiSessions=[session, plain]) == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [],
    }

    (row,) = await rows(engine, SESSION_SQL, id=sid)
    assert row.cost == Decimal("38.251883")
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == (
        1_123_965,
        201_002,
        3_000_000,
        100_000,
    )
    assert row.unpriced is True
    by_model = {
        r.model: (r.cost, r.priced)
        for r in await rows(
            engine, "SELECT model, cost, priced FROM ai_session_usage WHERE session_id = :id", id=sid
        )
    }
    assert by_model == {
        "claude-opus-4-1-20250805": (Decimal("36.375"), True),
        "claude-opus-4-5-20251101": (Decimal("0.64231"), True),
        "claude-3-5-haiku-20241022": (Decimal("0.000005"), True),
        "gpt-4o": (Decimal("1.234568"), True),
        "mystery-model": (Decimal("0"), False),
    }
    (row,) = await rows(engine, SESSION_SQL, id=other)
    assert (row.cost, row.unpriced) == (Decimal("2.5"), False)

    assert await ingest(gql, token, aiSessions=[session]) == {"accepted": 0, "duplicates": 1, "rejected": []}
    updated = {**session, "endedAt": "2024-05-01T10:45:00Z", "usage": lines[:4]}
    assert await ingest(gql, token, aiSessions=[updated]) == {"accepted": 1, "duplicates": 0, "rejected": []}
    (row,) = await rows(engine, SESSION_SQL, id=sid)
    assert (row.cost, row.input_tokens, row.unpriced) == (Decimal("38.251883"), 1_123_465, False)
    assert row.ended_at.isoformat() == "2024-05-01T10:45:00+00:00"
    assert len(await rows(engine, "SELECT 1 FROM ai_session_usage WHERE session_id = :id", id=sid)) == 4

    earlier = await ingest(gql, token, aiSessions=[{**updated, "endedAt": "2024-05-01T10:30:00Z"}])
    other_user = await ingest(gql, token, aiSessions=[{**updated, "userId": str(collector)}])
    twice = await ingest(
        gql, token, aiSessions=[{**updated, "id": str(uuid.uuid4()), "usage": lines[:1] * 2}]
    )
    assert codes(earlier) == codes(other_user) == codes(twice) == [("aiSessions", 0, "BAD_USER_INPUT")]
    assert "userId" in other_user["rejected"][0]["message"]
    (row,) = await rows(engine, SESSION_SQL, id=sid)
    assert row.ended_at.isoformat() == "2024-05-01T10:45:00+00:00"


async def test_price_table_file_replaces_the_defaults(
    make_client: Any, factory: Factory, engine: AsyncEngine, tmp_path: Path
) -> None:
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"models": {"mystery": {"input": "2", "output": 0.5}}}))
    org = await factory.organization()
    owner = await factory.user(site_roles=["owner"])
    token = await factory.token(owner)
    sid = uuid.uuid4()
    batch = {
        "aiSessions": [
            {
                "id": str(sid),
                "organizationId": str(org),
                "userId": str(owner),
                "agent": "aider",
                "startedAt": "2024-05-01T10:00:00Z",
                "usage": [
                    usage("mystery-model", inputTokens=500, outputTokens=3),
                    usage("claude-opus-4-1", inputTokens=1000),
                ],
            }
        ]
    }
    async for client in make_client(price_table=table):
        body = await GraphQL(client)(INGEST, {"batch": batch}, token=token)
    assert body["data"]["ingest"]["accepted"] == 1
    (row,) = await rows(engine, SESSION_SQL, id=sid)
    assert (row.cost, row.unpriced) == (Decimal("0.001002"), True)  # 500 x 2 + 3 x 0.5 per million
