"""Production switches and token lifetime, as a client sees them: introspection and GraphiQL off, a
token that expires or is revoked stops working on the very next request (no cache of credentials),
the document and batch limits refuse before anything runs, and an unreachable database gets a clean
answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.factories import Factory
from usagegraph.app import create_app
from usagegraph.auth.tokens import token_digest
from usagegraph.settings import Settings

VIEWER = "{ viewer { username } }"
INTROSPECTION = "{ __schema { queryType { name } } }"


async def _post(client: httpx.AsyncClient, token: str, query: str, **extra: Any) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, **extra}, headers={"Authorization": f"Bearer {token}"}
    )


async def _owner(factory: Factory) -> str:
    return await factory.token(await factory.user("root", site_roles=["owner"]))


async def test_introspection_switched_off(factory: Factory, make_client: Any) -> None:
    token = await _owner(factory)
    async for client in make_client(introspection=False):
        for query in (INTROSPECTION, '{ __type(name: "Query") { name } }', "{ viewer { __typename } }"):
            response = await _post(client, token, query)
            body = response.json()
            if "__typename" in query:
                assert body == {"data": {"viewer": {"__typename": "User"}}}
                continue
            assert body.get("data") is None
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert "queryType" not in response.text
        assert (await _post(client, token, VIEWER)).json() == {"data": {"viewer": {"username": "root"}}}
    async for client in make_client(introspection=True):
        body = (await _post(client, token, INTROSPECTION)).json()
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_graphiql_switched_off(factory: Factory, make_client: Any) -> None:
    token = await _owner(factory)
    async for client in make_client(graphiql=False):
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code != 200
        assert "graphiql" not in page.text.lower()
        query = await client.get(
            "/graphql",
            params={"query": VIEWER},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        assert query.json() == {"data": {"viewer": {"username": "root"}}}
    async for client in make_client(graphiql=True):
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_expiry_takes_effect_on_the_next_request(
    client: httpx.AsyncClient, factory: Factory, engine: AsyncEngine
) -> None:
    user = await factory.user("alice", site_roles=["member"])
    token = await factory.token(user, expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert (await _post(client, token, VIEWER)).status_code == 200
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = :d"),
            {"d": token_digest(token)},
        )
    expired = await _post(client, token, VIEWER)
    assert expired.status_code == 401
    assert expired.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert expired.headers["www-authenticate"] == "Bearer"


async def test_revocation_takes_effect_on_the_next_request_even_mid_burst(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """The revoked token was used a moment before in the same process: no credential cache keeps it."""
    admin = await _owner(factory)
    target = await factory.user("bob", site_roles=["auditor"])
    created = (
        await _post(
            client, admin, f'mutation {{ createToken(userId: "{target}", name: "ci") {{ id token }} }}'
        )
    ).json()["data"]["createToken"]
    for _ in range(3):
        assert (await _post(client, created["token"], VIEWER)).status_code == 200
    revoked = await _post(client, admin, f'mutation {{ revokeToken(id: "{created["id"]}") }}')
    assert revoked.json() == {"data": {"revokeToken": True}}
    after = await _post(client, created["token"], VIEWER)
    assert after.status_code == 401
    assert after.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    again = await _post(client, admin, f'mutation {{ revokeToken(id: "{created["id"]}") }}')
    assert again.json() == {"data": {"revokeToken": False}}


async def test_tokens_are_stored_as_digests_only(
    client: httpx.AsyncClient, factory: Factory, engine: AsyncEngine
) -> None:
    admin = await _owner(factory)
    body = (await _post(client, admin, 'mutation { createToken(userId: "", name: "x") { token } }')).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    viewer = (await _post(client, admin, "{ viewer { id } }")).json()["data"]["viewer"]["id"]
    token = (
        await _post(client, admin, f'mutation {{ createToken(userId: "{viewer}", name: "x") {{ token }} }}')
    ).json()["data"]["createToken"]["token"]
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT token_hash::text AS h FROM api_tokens"))).all()
        dump = " ".join(row.h for row in rows)
    assert token not in dump
    assert token_digest(token).hex() in dump


async def test_tokens_per_document_limit(factory: Factory, make_client: Any) -> None:
    token = await _owner(factory)
    async for client in make_client(max_tokens=50):
        small = await _post(client, token, VIEWER)
        assert small.json() == {"data": {"viewer": {"username": "root"}}}
        big = "{ " + " ".join("viewer { username }" for _ in range(20)) + " }"
        body = (await _post(client, token, big)).json()
        assert body.get("data") is None
        assert body["errors"][0]["extensions"]["code"] in {"BAD_USER_INPUT", "QUERY_TOO_COMPLEX"}
        assert "token" in body["errors"][0]["message"].lower()


async def test_depth_limit_counts_fragments(factory: Factory, make_client: Any) -> None:
    token = await _owner(factory)
    query = (
        "query { viewer { ...A } } fragment A on User { organizations { ...B } } "
        "fragment B on Organization { templates { organization { templates { name } } } }"
    )
    async for client in make_client(max_depth=4):
        body = (await _post(client, token, query)).json()
        assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    async for client in make_client(max_depth=6):
        body = (await _post(client, token, query)).json()
        assert body == {"data": {"viewer": {"organizations": []}}}


async def test_ingest_batch_record_limit_writes_nothing(
    factory: Factory, make_client: Any, engine: AsyncEngine
) -> None:
    token = await _owner(factory)
    org = await factory.organization("acme")
    projects = [{"id": str(uuid.uuid4()), "organizationId": str(org), "name": f"p{n}"} for n in range(6)]
    mutation = "mutation($b: IngestBatch!) { ingest(batch: $b) { accepted } }"
    async for client in make_client(max_batch_records=5):
        refused = (await _post(client, token, mutation, variables={"b": {"projects": projects}})).json()
        assert refused["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        assert refused["errors"][0]["extensions"]["limit"] == 5
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM projects"))).scalar_one() == 0
        fits = (await _post(client, token, mutation, variables={"b": {"projects": projects[:5]}})).json()
        assert fits == {"data": {"ingest": {"accepted": 5}}}


async def test_database_unreachable_answers_a_clean_503(settings: Settings, tmp_path: Path) -> None:
    """No database behind the app (as during a restart of PostgreSQL): authentication cannot look the
    token up, and the client gets a GraphQL error body it can parse, not a bare text 500."""
    engine = create_async_engine(f"postgresql+asyncpg://postgres@/none?host={tmp_path}")
    app = create_app(settings, engine=engine)
    try:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                response = await _post(client, "ug_any", VIEWER)
                assert response.status_code == 503
                assert response.headers["retry-after"] == "1"
                error = response.json()["errors"][0]
                assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
                assert error["extensions"]["requestId"] == response.headers["x-request-id"]
                assert "Traceback" not in response.text and str(tmp_path) not in response.text
                ready = await client.get("/readyz")
                assert ready.status_code == 503
    finally:
        await engine.dispose()


async def test_a_request_not_admitted_in_time_answers_503_and_is_counted(
    factory: Factory, settings: Settings, engine: AsyncEngine
) -> None:
    """Admission control: while the process's only turn is taken, a request waits; after the longest
    wait it is turned away with 503, Retry-After and a GraphQL error body, and /metrics counts it. Once
    the turn is free, requests run again."""
    token = await _owner(factory)
    overrides = {"admission_min_active": 1, "admission_share": 1000, "admission_max_wait_seconds": 0.2}
    app = create_app(settings.model_copy(update=overrides), engine=engine)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            async with app.state.admission.slot():
                response = await _post(client, token, VIEWER)
                assert (await client.get("/healthz")).status_code == 200  # not behind the queue
            assert response.status_code == 503 and response.headers["retry-after"] == "1"
            error = response.json()["errors"][0]
            assert error["message"] == "Service unavailable: the server is overloaded, retry later"
            assert error["extensions"] == {
                "code": "INTERNAL_SERVER_ERROR",
                "requestId": response.headers["x-request-id"],
            }
            assert (await _post(client, token, VIEWER)).json() == {"data": {"viewer": {"username": "root"}}}
            exposed = (await client.get("/metrics")).text
            assert "usagegraph_admission_rejected_total 1.0" in exposed
            assert "usagegraph_admission_running 0.0" in exposed
            assert "usagegraph_admission_wait_seconds_count 1.0" in exposed


async def test_admission_control_can_be_switched_off(
    factory: Factory, settings: Settings, engine: AsyncEngine
) -> None:
    token = await _owner(factory)
    app = create_app(settings.model_copy(update={"admission_min_active": 0}), engine=engine)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert app.state.admission is None
            assert (await _post(client, token, VIEWER)).json() == {"data": {"viewer": {"username": "root"}}}
            assert "usagegraph_admission_running" not in (await client.get("/metrics")).text
