from __future__ import annotations

from tests.conftest import GraphQL
from tests.factories import Factory


async def test_viewer_and_organizations(gql: GraphQL, factory: Factory) -> None:
    org = await factory.organization("acme")
    other = await factory.organization("globex")
    user = await factory.user("alice", orgs={org: ["member"]})
    template = await factory.template(org, "python")
    await factory.workspace(org, template, user)
    await factory.template(other, "hidden")
    token = await factory.token(user)
    body = await gql(
        "{ viewer { username } organizations { name templates { name workspaces { totalCount } } } }",
        token=token,
    )
    assert body["data"] == {
        "viewer": {"username": "alice"},
        "organizations": [
            {"name": "acme", "templates": [{"name": "python", "workspaces": {"totalCount": 1}}]}
        ],
    }
