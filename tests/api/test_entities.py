"""Entity fields, their visibility per organization, and the loaders' statement count."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQL
from tests.factories import Factory
from usagegraph.db.database import Database
from usagegraph.execution.loaders import Loaders
from usagegraph.schema import builders


async def _world(factory: Factory) -> dict[str, Any]:
    acme = await factory.organization("acme")
    globex = await factory.organization("globex")
    alice = await factory.user("alice", orgs={acme: ["member"]}, email=" Alice@Example.com ")
    bob = await factory.user("bob", orgs={globex: ["member"]})
    admin = await factory.user("root", site_roles=["owner"])
    org_admin = await factory.user("carol", orgs={acme: ["admin"]})
    tpl = await factory.template(
        acme, "python", parameters=[{"name": "region", "options": [{"value": "eu", "name": "Europe"}]}]
    )
    ws = await factory.workspace(acme, tpl, alice, "alice-ws", parameters={"region": "eu"})
    other_tpl = await factory.template(globex, "go")
    other_ws = await factory.workspace(globex, other_tpl, bob, "bob-ws")
    return {
        "acme": acme,
        "globex": globex,
        "alice": alice,
        "bob": bob,
        "tpl": tpl,
        "ws": ws,
        "other_tpl": other_tpl,
        "other_ws": other_ws,
        "alice_token": await factory.token(alice),
        "admin_token": await factory.token(admin),
        "carol_token": await factory.token(org_admin),
    }


async def test_members_see_only_their_organizations(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    token = w["alice_token"]
    body = await gql("{ organizations { name } }", token=token)
    assert body["data"] == {"organizations": [{"name": "acme"}]}
    for query, key in (
        (f'{{ organization(id: "{w["globex"]}") {{ name }} }}', "organization"),
        (f'{{ template(id: "{w["other_tpl"]}") {{ name }} }}', "template"),
        (f'{{ workspace(id: "{w["other_ws"]}") {{ name }} }}', "workspace"),
        (f'{{ user(id: "{w["bob"]}") {{ username }} }}', "user"),
    ):
        assert (await gql(query, token=token))["data"] == {key: None}
    admin = await gql("{ organizations { name } }", token=w["admin_token"])
    assert admin["data"] == {"organizations": [{"name": "acme"}, {"name": "globex"}]}


async def test_entity_fields_and_relations(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    body = await gql(
        f"""{{ workspace(id: "{w["ws"]}") {{
              name owner {{ username }} template {{ name parameters {{ name displayName type options {{ value name }} }} }}
              organization {{ name }} parameters {{ name value }} }} }}""",
        token=w["alice_token"],
    )
    assert body["data"]["workspace"] == {
        "name": "alice-ws",
        "owner": {"username": "alice"},
        "template": {
            "name": "python",
            "parameters": [
                {
                    "name": "region",
                    "displayName": "region",
                    "type": "string",
                    "options": [{"value": "eu", "name": "Europe"}],
                }
            ],
        },
        "organization": {"name": "acme"},
        "parameters": [{"name": "region", "value": "eu"}],
    }


async def test_email_visible_to_self_and_admins_only(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    q = f'{{ user(id: "{w["alice"]}") {{ email avatarHash roles(organizationId: "{w["acme"]}") }} }}'
    own = (await gql(q, token=w["alice_token"]))["data"]["user"]
    assert own["email"] == " Alice@Example.com "
    assert own["avatarHash"] == "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976"
    assert own["roles"] == ["member"]
    assert (await gql(q, token=w["carol_token"]))["data"]["user"]["email"] == " Alice@Example.com "
    peer = await factory.user("dave", orgs={w["acme"]: ["auditor"]})
    assert (await gql(q, token=await factory.token(peer)))["data"]["user"]["email"] is None


async def test_connections_paginate_without_gaps(gql: GraphQL, factory: Factory) -> None:
    w = await _world(factory)
    for i in range(7):
        await factory.workspace(w["acme"], w["tpl"], w["alice"], f"ws-{i:02d}")
    seen: list[str] = []
    after = None
    while True:
        body = await gql(
            "query($org: ID!, $after: String) { organization(id: $org) { workspaces(first: 3, after: $after) "
            "{ totalCount nodes { name } pageInfo { hasNextPage endCursor } } } }",
            {"org": str(w["acme"]), "after": after},
            token=w["alice_token"],
        )
        page = body["data"]["organization"]["workspaces"]
        assert page["totalCount"] == 8
        seen += [n["name"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(["alice-ws"] + [f"ws-{i:02d}" for i in range(7)])
    bad = await gql(
        f'{{ organization(id: "{w["acme"]}") {{ members(first: 1000) {{ totalCount }} }} }}',
        token=w["alice_token"],
    )
    assert bad["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "argument": "first",
        "requestId": bad["errors"][0]["extensions"]["requestId"],
    }


async def test_nested_query_statement_count_does_not_grow_with_rows(
    gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    org = await factory.organization("big")
    owner = await factory.user("owner", site_roles=["owner"])
    token = await factory.token(owner)
    query = (
        "{ organizations { name templates { name parameters { name } workspaces(first: 100) "
        "{ totalCount nodes { name owner { username } template { name } organization { name } parameters { name } } } } } }"
    )

    async def count() -> int:
        statements: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            body = await gql(query, token=token)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
        assert "errors" not in body
        return len(statements)

    async def grow(templates: int, workspaces: int) -> None:
        for _ in range(templates):
            tpl = await factory.template(org)
            for _ in range(workspaces):
                user = await factory.user(orgs={org: ["member"]})
                await factory.workspace(org, tpl, user)

    await grow(1, 2)
    small = await count()
    await grow(3, 6)
    large = await count()
    assert large == small


async def test_users_of_concurrent_reads_come_in_one_statement(factory: Factory, engine: AsyncEngine) -> None:
    """Loaders.users (whole analytics row lists) and the user loader share one cache: concurrent calls with
    overlapping users read each user once, and a call made while some of its users are being read waits
    for that read and reads only the others."""
    ids = [await factory.user(f"many-{n}") for n in range(6)]
    loaders = Loaders(Database(engine=engine, read_engine=engine), builders)
    read: list[int] = []
    second_read = asyncio.Event()

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "FROM users u" in statement:
            read.append(sum(len(p) for p in parameters if isinstance(p, list)))
            if len(read) == 2:
                second_read.set()

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        first, second, one, missing = await asyncio.gather(
            loaders.users(ids[:3]),
            loaders.users([ids[2], ids[1]]),
            loaders.user.load(ids[3]),
            loaders.users([uuid.uuid4()]),
        )
        assert read == [5]
        pending = asyncio.ensure_future(loaders.users([ids[4]]))
        await second_read.wait()  # ids[4] is being read
        late = await loaders.users([ids[5], ids[4], ids[0]])
        await pending
        again = await loaders.users(list(reversed(ids)))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert [u.username for u in first.values()] == ["many-0", "many-1", "many-2"]
    assert list(second) == [ids[2], ids[1]] and second[ids[2]] is first[ids[2]]
    assert one.username == "many-3"
    assert missing == {}
    assert read == [5, 1, 1]  # the late call waited for ids[4] and read only ids[5]
    assert [u.username for u in late.values()] == ["many-5", "many-4", "many-0"]
    assert list(again) == list(reversed(ids))


async def test_a_cancelled_caller_does_not_cancel_a_shared_user_read(
    factory: Factory, engine: AsyncEngine
) -> None:
    ids = [await factory.user(f"shared-{n}") for n in range(3)]
    loaders = Loaders(Database(engine=engine, read_engine=engine), builders)
    started = asyncio.Event()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM users u" in statement:
            started.set()

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        first = asyncio.ensure_future(loaders.users(ids))
        await started.wait()
        second = asyncio.ensure_future(loaders.users(ids[1:]))
        await asyncio.sleep(0)
        first.cancel()
        found = await second
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert [u.username for u in found.values()] == ["shared-1", "shared-2"]
    assert first.cancelled()
