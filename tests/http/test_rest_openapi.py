"""The OpenAPI document of the REST routes: valid OpenAPI 3.1, complete, rendered at /api/docs from this
server's own assets, and honoured by the server: schemathesis generates requests from it (valid and
invalid) and no answer is a server error or breaks the documented statuses and schemas."""

from __future__ import annotations

import re
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from openapi_spec_validator import validate
from schemathesis import GenerationMode, checks

from tests import insights_world as iw
from tests import sessions_world as sw
from tests.factories import Factory
from usagegraph.http.rest.routes import ROUTES


async def test_document_is_valid_openapi_31_and_lists_every_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == {route.path for route in ROUTES}
    for path, item in spec["paths"].items():
        operation = item["get"]
        statuses = set(operation["responses"])
        assert {"200", "401", "422"} <= statuses, path
        names = {p["name"] for p in operation["parameters"]}
        assert set(re.findall(r"{(\w+)}", path)) <= names
    assert set(spec["components"]["securitySchemes"]) == {"bearerToken", "sessionToken"}
    assert spec["components"]["securitySchemes"]["sessionToken"]["name"] == "Session-Token"


async def test_docs_page_loads_its_assets_from_this_server(client: httpx.AsyncClient) -> None:
    page = await client.get("/api/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(not s.startswith(("http:", "https:", "//")) for s in sources)
    for source in sources:
        asset = await client.get(f"/api/{source}")
        assert asset.status_code == 200 and asset.content, source
    init = await client.get("/api/docs/init.js")
    assert "openapi.json" in init.text
    bundle = await client.get("/api/docs/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    assert (await client.get("/api/docs/secret.txt")).status_code == 404


async def test_rest_requests_are_counted_by_route_template(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    org = await factory.organization("acme")
    owner = await factory.user("root", site_roles=["owner"])
    token = await factory.token(owner)
    for _ in range(2):
        response = await client.get(
            f"/api/v1/{org}/sessions/analytics/summary", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
    text = (await client.get("/metrics")).text
    assert (
        'usagegraph_http_requests_total{method="GET",route="/api/v1/{org_id}/sessions/analytics/summary",status="200"} 2.0'
        in text
    )
    assert str(org) not in text
    assert 'usagegraph_graphql_operations_total{operation="RestSessionsSummary",outcome="ok"} 2.0' in text


def _cases(spec: dict[str, Any], examples: int) -> list[Any]:
    """Requests generated from the document, valid and invalid, for every operation."""
    schema = schemathesis.openapi.from_dict(spec)
    found: list[Any] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(
                max_examples=examples,
                database=None,
                derandomize=True,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
                deadline=None,
            )
            @hypothesis.given(operation.as_strategy(generation_mode=mode))
            def collect(case: Any) -> None:
                found.append(case)

            collect()
    return found


@pytest.mark.parametrize("world", ["insights", "sessions"])
async def test_schemathesis_finds_no_server_error(
    client: httpx.AsyncClient, factory: Factory, engine: Any, world: str
) -> None:
    if world == "insights":
        built = await iw.build(factory)
        token = built.tokens["auditor"]
        org, template = built.org, built.tpl_a
        workspace = built.workspaces["wa1"]
    else:
        sessions = await sw.build_world(factory, engine)
        token, org = sessions.manager_token, sessions.org
        template = workspace = org
    spec = (await client.get("/api/openapi.json")).json()
    cases = _cases(spec, 12)
    headers = {"Authorization": f"Bearer {token}"}
    served = 0
    statuses: dict[int, int] = {}
    for case in cases:
        # half of the cases aim at real objects so that they get past the 404 into the engine
        if served % 2 == 0 and case.path_parameters:
            known = {"org_id": str(org), "workspace_id": str(workspace), "id": str(template)}
            case.path_parameters = {k: known.get(k, v) for k, v in case.path_parameters.items()}
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        try:
            response = await client.request(
                kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=kwargs.get("headers")
            )
        except httpx.InvalidURL:
            continue  # a query string longer than any HTTP client sends (httpx refuses to form it)
        served += 1
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (
            case.formatted_path,
            kwargs.get("params"),
            response.text,
        )
        case.validate_response(
            response,
            checks=[
                checks.not_a_server_error,
                checks.status_code_conformance,
                checks.response_schema_conformance,
            ],
        )
    assert served >= 11 * 2
    print(statuses)
    # the generated requests reach the engine, not only the validation (how many of them answer 200 depends
    # on what the generator draws, which differs between Python versions even derandomized)
    assert statuses.get(200, 0) >= 5 and statuses.get(422, 0) >= 10, statuses
