"""GraphQL over HTTP as docs/api.md section 1 describes it, seen from a client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from graphql import GraphQLError

from tests.factories import Factory
from usagegraph.errors import Forbidden
from usagegraph.http.endpoint import format_error
from usagegraph.http.ratelimit import RateLimiter

QUERY = "{ viewer { username } }"


async def _token(factory: Factory) -> str:
    org = await factory.organization()
    return await factory.token(await factory.user("alice", orgs={org: ["member"]}))


async def test_missing_token_is_401_with_graphql_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": QUERY})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in response.json()


async def test_bad_expired_and_revoked_tokens_are_401(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organization()
    user = await factory.user(orgs={org: ["member"]})
    expired = await factory.token(user, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    good = await factory.token(user)
    for token in ("ug_not-a-token", expired):
        response = await client.post(
            "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    admin = await factory.token(await factory.user("root", site_roles=["owner"]))
    tokens = await client.post(
        "/graphql",
        json={"query": f'mutation {{ createToken(userId: "{user}", name: "x") {{ id token }} }}'},
        headers={"Authorization": f"Bearer {admin}"},
    )
    created = tokens.json()["data"]["createToken"]
    ok = await client.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert ok.status_code == 200
    revoke = await client.post(
        "/graphql",
        json={"query": f'mutation {{ revokeToken(id: "{created["id"]}") }}'},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert revoke.json()["data"] == {"revokeToken": True}
    after = await client.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert after.status_code == 401
    still = await client.post("/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {good}"})
    assert still.json()["data"]["viewer"]["username"]


async def test_session_token_header_and_cookie_ignored(client: httpx.AsyncClient, factory: Factory) -> None:
    token = await _token(factory)
    response = await client.post("/graphql", json={"query": QUERY}, headers={"Session-Token": token})
    assert response.json()["data"] == {"viewer": {"username": "alice"}}
    cookie = await client.post(
        "/graphql", json={"query": QUERY}, headers={"Cookie": f"session_token={token}"}
    )
    assert cookie.status_code == 401


async def test_graphql_response_json_status_codes(client: httpx.AsyncClient, factory: Factory) -> None:
    headers = {
        "Authorization": f"Bearer {await _token(factory)}",
        "Accept": "application/graphql-response+json",
    }
    parse_error = await client.post("/graphql", json={"query": "{"}, headers=headers)
    assert parse_error.status_code == 400
    assert parse_error.headers["content-type"].startswith("application/graphql-response+json")
    assert "data" not in parse_error.json()
    assert parse_error.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    invalid = await client.post("/graphql", json={"query": "{ nope }"}, headers=headers)
    assert invalid.status_code == 400
    coercion = await client.post(
        "/graphql",
        json={"query": "query($id: ID!) { organization(id: $id) { name } }", "variables": {"id": None}},
        headers=headers,
    )
    assert coercion.status_code == 400
    legacy = await client.post(
        "/graphql", json={"query": "{ nope }"}, headers={**headers, "Accept": "application/json"}
    )
    assert legacy.status_code == 200
    assert legacy.headers["content-type"].startswith("application/json")


async def test_get_executes_queries_but_refuses_mutations(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    headers = {"Authorization": f"Bearer {await _token(factory)}"}
    ok = await client.get("/graphql", params={"query": QUERY}, headers=headers)
    assert ok.json()["data"] == {"viewer": {"username": "alice"}}
    mutation = await client.get(
        "/graphql",
        params={"query": 'mutation { revokeToken(id: "00000000-0000-0000-0000-000000000000") }'},
        headers=headers,
    )
    assert mutation.status_code == 405


async def test_graphiql_page_for_browsers(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_batches_refused_and_body_limit(client: httpx.AsyncClient, factory: Factory) -> None:
    headers = {"Authorization": f"Bearer {await _token(factory)}"}
    batch = await client.post("/graphql", json=[{"query": QUERY}, {"query": QUERY}], headers=headers)
    assert batch.status_code == 400
    big = await client.post(
        "/graphql", json={"query": QUERY, "variables": {"x": "a" * (9 * 1024 * 1024)}}, headers=headers
    )
    assert big.status_code == 413
    assert big.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_depth_and_alias_limits(client: httpx.AsyncClient, factory: Factory) -> None:
    headers = {"Authorization": f"Bearer {await _token(factory)}"}
    deep = "{ viewer { " + "organizations { templates { organization { " * 5 + "name" + " } } }" * 5 + " } }"
    response = await client.post("/graphql", json={"query": deep}, headers=headers)
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    aliases = "{ " + " ".join(f"a{i}: viewer {{ username }}" for i in range(31)) + " }"
    response = await client.post("/graphql", json={"query": aliases}, headers=headers)
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_request_id_header_and_health(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.json() == {"status": "ok"}
    assert len(health.headers["x-request-id"]) >= 8
    ready = await client.get("/readyz")
    assert ready.status_code == 200


def test_internal_errors_are_masked_with_request_id() -> None:
    masked = format_error(GraphQLError("boom", original_error=RuntimeError("secret detail")), "req-1")
    assert masked["message"] == "Internal server error"
    assert masked["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-1"}
    assert "secret" not in str(masked)
    expected = format_error(GraphQLError("x", original_error=Forbidden("nope")), "req-2")
    assert expected["extensions"] == {"code": "FORBIDDEN", "requestId": "req-2"}


async def test_rate_limit_per_token_with_retry_after(make_client: Any, factory: Factory) -> None:
    token = await _token(factory)
    other = await factory.token(await factory.user("zed", site_roles=["auditor"]))
    async for client in make_client(rate_limit_per_minute=60, rate_limit_burst=3):
        statuses = []
        for _ in range(4):
            response = await client.post(
                "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"}
            )
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 429]
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert response.headers["retry-after"] == "1"
        fresh = await client.post(
            "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {other}"}
        )
        assert fresh.status_code == 200


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.acquire("t") for _ in range(3)] == [0.0, 0.0, 1.0]
    now[0] = 1.0
    assert limiter.acquire("t") == 0.0
    assert limiter.acquire("t") > 0


async def test_query_cost_budget(client: httpx.AsyncClient, factory: Factory, make_client: Any) -> None:
    token = await _token(factory)
    headers = {"Authorization": f"Bearer {token}"}
    query = "{ organizations { templates { workspaces(first: 500) { nodes { name owner { username } } } } } }"
    ok = await client.post("/graphql", json={"query": query}, headers=headers)
    assert "errors" not in ok.json()
    async for small in make_client(max_cost=10_000):
        refused = await small.post("/graphql", json={"query": query}, headers=headers)
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert error["extensions"]["cost"] == 20 * (1 + 20 * (1 + (1 + 500 * (1 + 1 + (1 + 1)))))
        assert "data" not in refused.json() or refused.json()["data"] is None


async def test_a_finished_request_leaves_its_context_to_reference_counting(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """graphql-core's executor refers to itself, so whatever a request's context holds would wait for a
    full cyclic collection; the server releases the context's loaded rows and shared results when the
    response is built. With the collector off, nothing a request loaded is left behind."""
    import gc

    from aiodataloader import DataLoader

    from usagegraph.execution.context import Context

    token = await _token(factory)
    gc.collect()
    gc.disable()
    try:
        response = await client.post(
            "/graphql",
            json={"query": "{ viewer { username organizations { name } } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.json()["data"]["viewer"]["username"] == "alice"
        left = [o for o in gc.get_objects() if isinstance(o, Context)]
        assert left, "the executor cycle is expected to keep its context until a collection"
        loaders = [
            loader for c in left for loader in vars(c.loaders).values() if isinstance(loader, DataLoader)
        ]
        assert all(not c.state for c in left) and all(not loader._cache for loader in loaders)
    finally:
        gc.enable()
        gc.collect()


async def test_with_workers_a_keep_alive_connection_is_closed_after_its_quota_of_requests(
    make_client: Any,
) -> None:
    """serve --workers N: every `keepalive_max_requests`-th request of a connection is answered with
    `Connection: close`, so that the client's next connection may go to another worker."""
    async for client in make_client(workers=2, keepalive_max_requests=3):
        closing = [(await client.get("/healthz")).headers.get("connection") for _ in range(7)]
        assert closing == [None, None, "close", None, None, "close", None]
    async for client in make_client(keepalive_max_requests=3):  # one worker: nothing to spread
        assert {(await client.get("/healthz")).headers.get("connection") for _ in range(4)} == {None}
