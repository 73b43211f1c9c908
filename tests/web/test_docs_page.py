"""The API reference at /docs renders in a browser that may reach nothing but the exchange itself."""

from __future__ import annotations

from playwright.sync_api import Page, Route, expect


def test_docs_render_every_operation_with_other_hosts_unreachable(desktop: Page, demo_url: str) -> None:
    elsewhere: list[str] = []

    def only_the_exchange(route: Route) -> None:
        if route.request.url.startswith(demo_url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    desktop.route("**/*", only_the_exchange)
    desktop.goto(f"{demo_url}/docs")
    operations = desktop.locator(".opblock")
    expect(operations.first).to_be_visible()
    expect(desktop.locator(".opblock-summary-path", has_text="/wapi/v1/history/orders")).to_have_count(1)
    assert operations.count() >= 30
    assert elsewhere == []
