"""The REST routes on the small hand-checked worlds: the example calls of the original APIs as written,
each answer checked against figures worked out by hand and against the GraphQL answer it reshapes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import insights_world as iw
from tests import sessions_world as sw
from tests.conftest import GraphQL
from tests.factories import Factory

NS = 1_000_000_000


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_activity_call_as_written(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organization("acme")
    owner = await factory.user("root", site_roles=["owner"], orgs={org: ["admin"]})
    dev = await factory.user("dev", orgs={org: ["member"]}, email="Dev@Example.com ")
    tpl = await factory.template(org, "python")
    ws = await factory.workspace(org, tpl, dev)
    day = datetime(2024, 8, 5, tzinfo=UTC)
    # 20 hours of IDE on day one (two overlapping sessions: the minutes count once), 46 minutes on day two
    await factory.activity(org, dev, "IDE", day, day + timedelta(hours=20), workspace_id=ws, app="vscode")
    await factory.activity(
        org, dev, "IDE", day + timedelta(hours=1), day + timedelta(hours=2), workspace_id=ws, app="jetbrains"
    )
    await factory.activity(
        org,
        dev,
        "IDE",
        day + timedelta(days=1),
        day + timedelta(days=1, minutes=46),
        workspace_id=ws,
        app="vscode",
    )
    await factory.activity(org, dev, "LOGIN", day + timedelta(hours=3), workspace_id=ws)
    await factory.activity(org, dev, "LOGIN", day + timedelta(days=1, hours=3), workspace_id=ws)
    token = await factory.token(owner)
    response = await client.get(
        "/api/private/metrics/activity?start=2024-08-05T00:00:00Z&end=2024-08-07T00:00:00Z"
        f"&category=ide&interval=1%20day&org={org}",
        headers={"Session-Token": token},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["activity"] == [
        {
            "time": "2024-08-05T00:00:00Z",
            "duration": 86400 * NS,
            "user_activity": [{"user_id": str(dev), "duration": 20 * 3600 * NS, "count": 1200}],
        },
        {
            "time": "2024-08-06T00:00:00Z",
            "duration": 86400 * NS,
            "user_activity": [{"user_id": str(dev), "duration": 46 * 60 * NS, "count": 46}],
        },
    ]
    user = body["users"][str(dev)]
    assert user["username"] == "dev" and user["roles"] == ["member"]
    assert user["total_count"] == 1246 and user["total_duration"] == 1246 * 60 * NS
    import hashlib

    assert user["avatar_hash"] == hashlib.sha256(b"dev@example.com").hexdigest()

    logins = await client.get(
        "/api/private/metrics/activity",
        params={
            "start": "2024-08-05T00:00:00Z",
            "end": "2024-08-07T00:00:00Z",
            "category": "login",
            "interval": "1 day",
        },
        headers=auth(token),
    )
    assert logins.status_code == 200, logins.text
    rows = [bucket["user_activity"] for bucket in logins.json()["activity"]]
    assert rows == [[{"user_id": str(dev), "duration": 0, "count": 1}]] * 2
    assert logins.json()["users"][str(dev)]["total_count"] == 2
    assert logins.json()["users"][str(dev)]["roles"] == []


async def test_activity_errors(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organization("acme")
    member = await factory.user("m", orgs={org: ["member"]})
    owner = await factory.user("o", site_roles=["owner"])
    token, root = await factory.token(member), await factory.token(owner)
    url = "/api/private/metrics/activity?start=2024-08-05T00:00:00Z&end=2024-08-07T00:00:00Z"
    missing = await client.get(url)
    assert missing.status_code == 401 and missing.json()["request_id"] == missing.headers["x-request-id"]
    forbidden = await client.get(url, headers=auth(token))
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "FORBIDDEN"
    assert forbidden.json()["request_id"] == forbidden.headers["x-request-id"]
    bad = await client.get(url + "&category=nope&interval=3%20fortnights", headers=auth(root))
    assert bad.status_code == 422
    assert [d["loc"] for d in bad.json()["detail"]] == [["query", "category"], ["query", "interval"]]
    assert bad.json()["request_id"] == bad.headers["x-request-id"]
    backwards = await client.get(
        "/api/private/metrics/activity?start=2024-08-07T00:00:00Z&end=2024-08-05T00:00:00Z",
        headers=auth(root),
    )
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["query", "end"]
    unknown = await client.get(url + f"&org={uuid.uuid4()}", headers=auth(root))
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"


async def test_workspace_usage_metrics(client: httpx.AsyncClient, gql: GraphQL, factory: Factory) -> None:
    org = await factory.organization("acme")
    other = await factory.organization("globex")
    curator = await factory.user("cu", orgs={org: ["curator"]})
    member = await factory.user("me", orgs={org: ["member"]})
    tpl = await factory.template(org, "python")
    ws = await factory.workspace(org, tpl, member)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    await factory.activity(org, member, "LOGIN", today - timedelta(days=2, hours=-5), workspace_id=ws)
    await factory.activity(org, curator, "LOGIN", today + timedelta(minutes=1), workspace_id=ws)
    token = await factory.token(curator)
    url = f"/api/v2/org/{org}/workspace/{ws}/metrics/usage"
    response = await client.get(url + "?period_length=3&metrics=dau&metrics=mau", headers=auth(token))
    assert response.status_code == 200, response.text
    rows = response.json()
    assert [r["date"] for r in rows] == [(today - timedelta(days=k)).date().isoformat() for k in (3, 2, 1, 0)]
    assert all(r["wau"] is None for r in rows)
    assert [r["dau"] for r in rows] == [None, 1, None, 1]
    graphql = await gql(
        "query($ws: ID!) { workspace(id: $ws) { usageMetrics(periodLength: 3) { date dau wau mau } } }",
        {"ws": str(ws)},
        token=token,
    )
    expected = graphql["data"]["workspace"]["usageMetrics"]
    assert [r["mau"] for r in rows] == [r["mau"] for r in expected]
    everything = (await client.get(url + "?period_length=3", headers=auth(token))).json()
    assert everything == expected
    comma = (await client.get(url + "?period_length=3&metrics=wau,dau", headers=auth(token))).json()
    assert comma == [{**row, "mau": None} for row in expected]

    for query, loc in (
        ("metrics=hau", ["query", "metrics"]),
        ("period_length=0", ["query", "period_length"]),
        ("period_length=3661", ["query", "period_length"]),
        ("period_length=abc", ["query", "period_length"]),
    ):
        bad = await client.get(f"{url}?{query}", headers=auth(token))
        assert bad.status_code == 422, query
        assert bad.json()["detail"][0]["loc"] == loc
        assert {"loc", "msg", "type"} <= set(bad.json()["detail"][0])
    denied = await client.get(url, headers=auth(await factory.token(member)))
    assert denied.status_code == 403
    wrong_org = await client.get(f"/api/v2/org/{other}/workspace/{ws}/metrics/usage", headers=auth(token))
    assert wrong_org.status_code == 404
    unknown = await client.get(
        f"/api/v2/org/{org}/workspace/{uuid.uuid4()}/metrics/usage", headers=auth(token)
    )
    assert unknown.status_code == 404
    not_uuid = await client.get(f"/api/v2/org/{org}/workspace/zzz/metrics/usage", headers=auth(token))
    assert not_uuid.status_code == 422 and not_uuid.json()["detail"][0]["loc"] == ["path", "workspace_id"]


async def test_template_insights_as_written(
    client: httpx.AsyncClient, gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    world = await iw.build(factory)
    token = world.tokens["auditor"]
    ids = f"{world.tpl_a},{world.tpl_b}"
    response = await client.get(
        f"/api/v2/insights/templates?start_time={iw.START}&end_time={iw.END}&interval=week&template_ids={ids}",
        headers={"Session-Token": token},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    graphql = await gql(
        iw.INSIGHTS, iw.variables(world, [world.tpl_a, world.tpl_b], interval="WEEK"), token=token
    )
    expected = graphql["data"]["templateInsights"]
    report = body["report"]
    assert report["start_time"] == iw.START and report["end_time"] == iw.END
    assert sorted(report["template_ids"]) == sorted([str(world.tpl_a), str(world.tpl_b)])
    assert report["active_users"] == expected["activeUsers"]
    assert [(a["slug"], a["seconds"], a["times_used"], a["type"]) for a in report["apps_usage"]] == [
        (a["slug"], int(a["seconds"]), a["timesUsed"], a["kind"].lower()) for a in expected["appUsage"]
    ]
    region = next(p for p in report["parameters_usage"] if p["name"] == "region")
    assert set(region["template_ids"]) == {str(world.tpl_a), str(world.tpl_b)}
    assert region["values"] == next(p["values"] for p in expected["parameters"] if p["name"] == "region")
    assert {o["value"] for o in region["options"]} >= {
        v["value"] for v in region["values"] if v["count"] == 0
    }
    assert [(r["start_time"], r["active_users"], r["interval"]) for r in body["interval_reports"]] == [
        (r["start"], r["activeUsers"], "week") for r in expected["activeUsersSeries"]
    ]
    only = await client.get(
        "/api/v2/insights/templates",
        params={"start_time": iw.START, "end_time": iw.END, "sections": "interval_reports"},
        headers=auth(token),
    )
    assert only.status_code == 200 and set(only.json()) == {"interval_reports"}

    users = await client.get(
        f"/api/v2/insights/user-activity?start_time={iw.START}&end_time={iw.END}&template_ids={ids}",
        headers=auth(token),
    )
    assert users.status_code == 200, users.text
    # as worked out in tests/api/test_insights.py: alice 50 minutes, bob 40
    got = users.json()["report"]["users"]
    assert [(u["username"], u["seconds"]) for u in got] == [("alice", 3000), ("bob", 2400)]
    assert [(u["username"], u["seconds"]) for u in got] == [
        (u["user"]["username"], int(u["seconds"])) for u in expected["userActivity"]
    ]
    assert got[0]["user_id"] == str(world.users["alice"])
    assert got[0]["avatar_url"].startswith("https://www.gravatar.com/avatar/")
    latency = await client.get(
        f"/api/v2/insights/user-latency?start_time={iw.START}&end_time={iw.END}&template_ids={ids}",
        headers=auth(token),
    )
    assert latency.status_code == 200, latency.text
    assert [(u["username"], u["latency_ms"]) for u in latency.json()["report"]["users"]] == [
        (u["user"]["username"], {"p50": u["p50"]["ms"], "p95": u["p95"]["ms"]})
        for u in expected["userLatency"]
    ]
    forbidden = await client.get(
        f"/api/v2/insights/templates?start_time={iw.START}&end_time={iw.END}",
        headers=auth(world.tokens["alice"]),
    )
    assert forbidden.status_code == 403
    invisible = await client.get(
        f"/api/v2/insights/templates?start_time={iw.START}&end_time={iw.END}&template_ids={world.other_tpl}",
        headers=auth(token),
    )
    assert invisible.status_code == 404
    backwards = await client.get(
        f"/api/v2/insights/templates?start_time={iw.END}&end_time={iw.START}", headers=auth(token)
    )
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["query", "end_time"]


async def test_daus(client: httpx.AsyncClient, factory: Factory) -> None:
    org = await factory.organization("acme")
    owner = await factory.user("root", site_roles=["owner"])
    dev = await factory.user("dev", orgs={org: ["member"]})
    tpl = await factory.template(org, "python", created_at=datetime(2020, 1, 1, tzinfo=UTC))
    ws = await factory.workspace(org, tpl, dev)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    yesterday = (now - timedelta(days=1)).replace(hour=12, minute=0)
    await factory.activity(
        org, dev, "IDE", yesterday, yesterday + timedelta(minutes=5), workspace_id=ws, app="vscode"
    )
    token = await factory.token(owner)
    for url in ("/api/v2/insights/daus?tz_offset=0", f"/api/v2/templates/{tpl}/daus?tz_offset=0"):
        response = await client.get(url, headers=auth(token))
        assert response.status_code == 200, (url, response.text)
        body = response.json()
        assert body["tz_hour_offset"] == 0
        assert len(body["entries"]) == 60
        assert body["entries"][-1]["date"] == now.date().isoformat()
        amounts = {e["date"]: e["amount"] for e in body["entries"]}
        assert amounts[yesterday.date().isoformat()] == 1
        assert sum(amounts.values()) == 1
    east = (await client.get(f"/api/v2/templates/{tpl}/daus?tz_offset=14", headers=auth(token))).json()
    local_noon = (yesterday + timedelta(hours=14)).date().isoformat()
    assert {e["date"]: e["amount"] for e in east["entries"]}.get(local_noon) == 1
    assert (await client.get("/api/v2/insights/daus?tz_offset=15", headers=auth(token))).status_code == 422
    assert (
        await client.get(f"/api/v2/templates/{uuid.uuid4()}/daus", headers=auth(token))
    ).status_code == 404


async def test_sessions_analytics(
    client: httpx.AsyncClient, gql: GraphQL, factory: Factory, engine: AsyncEngine
) -> None:
    world = await sw.build_world(factory, engine)
    base = f"/api/v1/{world.org}/sessions/analytics"
    window = {"start": sw.START, "end": sw.END}
    summary = await client.get(f"{base}/summary", params=window, headers=auth(world.manager_token))
    assert summary.status_code == 200, summary.text
    expected = await sw.analytics(
        gql,
        world,
        "summary { totalSessions totalCost totalTokens inputTokens outputTokens averageDurationSeconds "
        "averageCostPerSession uniqueUsers unpricedSessions }",
        world.manager_token,
    )
    s = summary.json()
    assert s["scope"] == "team"
    assert s["total_sessions"] == expected["summary"]["totalSessions"] == 5
    assert s["total_cost"] == expected["summary"]["totalCost"] and isinstance(s["total_cost"], str)
    assert s["average_session_duration_seconds"] == expected["summary"]["averageDurationSeconds"]
    own = (await client.get(f"{base}/summary", params=window, headers=auth(world.alice_token))).json()
    assert own["scope"] == "self" and own["total_sessions"] == 2
    other = await client.get(
        f"{base}/summary", params={**window, "user": str(world.bob)}, headers=auth(world.alice_token)
    )
    assert other.status_code == 403
    outsider = await client.get(f"{base}/summary", params=window, headers=auth(world.outsider_token))
    assert outsider.status_code == 404
    series = await client.get(
        f"{base}/timeseries", params={**window, "granularity": "day"}, headers=auth(world.manager_token)
    )
    assert [p["sessions"] for p in series.json()["timeseries"]] == [1, 2, 2]
    agents = (await client.get(f"{base}/by-agent", params=window, headers=auth(world.manager_token))).json()
    assert sum(a["sessions"] for a in agents["agents"]) == 5
    projects = await client.get(
        f"{base}/cost-breakdown",
        params=[*window.items(), ("by", "project"), ("repository", "acme/web"), ("repository", "acme/api")],
        headers=auth(world.manager_token),
    )
    assert projects.status_code == 200, projects.text
    assert {row["label"] for row in projects.json()["breakdown"]} == {"web", "api"}
    bad = await client.get(
        f"{base}/cost-breakdown", params={"by": "colour"}, headers=auth(world.manager_token)
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "by"]
