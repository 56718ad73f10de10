"""The dashboard's shell: signing in with a pasted token or the `#token=` link, a refused token bringing
the sign-in back with the server's reason, signing out, pages the UI routes itself, and GraphiQL served
from the same build without any other origin."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import Watched, axe_violations, open_page, ready, screenshot
from tests.browser.world import World


async def test_sign_in_with_a_pasted_token_and_sign_out(page: Watched, world: World) -> None:
    page.allowed_statuses.add(401)
    await open_page(page, "/ui/insights", None)
    await page.page.wait_for_selector("form[aria-labelledby=signin-title]")
    assert await axe_violations(page.page) == []
    await screenshot(page.page, "sign-in")

    await page.page.fill("#token", "ug_not-a-real-token")
    await page.page.click("button[type=submit]")
    alert = await page.page.wait_for_selector('[data-state="signin-error"]')
    assert "token" in (await alert.text_content() or "").lower()
    assert await page.page.evaluate("sessionStorage.length") == 0

    await page.page.fill("#token", world.admin_token)
    await page.page.click("button[type=submit]")
    await page.page.wait_for_selector('[data-viewer="admin"]')
    assert page.page.url.endswith("/ui/insights")
    await ready(page.page, "insights-active-users")
    # kept for the tab, never in a cookie
    assert await page.page.evaluate("Object.values(sessionStorage)") == [world.admin_token]
    assert await page.page.context.cookies() == []

    await page.page.click("text=Sign out")
    await page.page.wait_for_selector("form[aria-labelledby=signin-title]")
    assert await page.page.evaluate("sessionStorage.length") == 0
    page.assert_clean()


async def test_a_refused_token_brings_the_sign_in_back_with_the_reason(page: Watched, world: World) -> None:
    page.allowed_statuses.add(401)
    await open_page(page, "/ui/activity", "ug_revoked-or-wrong")
    alert = await page.page.wait_for_selector('[data-state="signin-error"]')
    assert (await alert.text_content() or "").strip()
    assert "token=" not in page.page.url
    assert await page.page.evaluate("sessionStorage.length") == 0
    page.assert_clean()


async def test_nav_links_routes_and_unknown_pages(page: Watched, world: World) -> None:
    await open_page(page, "/ui/", world.admin_token)
    await page.page.wait_for_url("**/ui/activity")
    await ready(page.page, "active-users")
    await page.page.click("nav >> text=Template Insights")
    await page.page.wait_for_url("**/ui/insights")
    await ready(page.page, "insights-active-users")
    assert await page.page.get_attribute("nav a[aria-current=page]", "href") == "/ui/insights"
    await page.page.go_back()
    await page.page.wait_for_url("**/ui/activity")
    await page.page.reload()
    await ready(page.page, "active-users")
    await page.page.goto("/ui/nowhere")
    await page.page.wait_for_selector("text=Page not found")
    page.assert_clean()


async def test_graphiql_is_served_locally_with_the_tabs_token(page: Watched, world: World) -> None:
    await open_page(page, "/ui/activity", world.admin_token)
    await ready(page.page, "active-users")
    await page.page.click("nav >> text=GraphiQL")
    await page.page.wait_for_url("**/graphql**")
    await page.page.wait_for_selector(".graphiql-container .graphiql-editor", timeout=20_000)
    await page.page.click("text=Headers")
    # The headers editor fills in after the click: wait for the tab's token to show up in it.
    await expect(page.page.locator(".graphiql-editor-tool")).to_contain_text(
        world.admin_token, timeout=15_000
    )
    page.assert_clean()
