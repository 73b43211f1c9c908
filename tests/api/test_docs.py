"""/docs is served entirely by the app: no reference to another host, and every asset it names loads."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx

from tests.api.conftest import Exchange


class Links(HTMLParser):
    """Every `src` and `href` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_docs_page_needs_no_other_host(exchange: Exchange, http: httpx.Client) -> None:
    page = http.get(f"{exchange.url}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "://" not in page.text, "the docs page names another host"
    links = Links()
    links.feed(page.text)
    assert {"/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css", "/openapi.json"} <= set(links.found)
    for link in links.found:
        assert link.startswith("/") and not link.startswith("//"), link
        asset = http.get(f"{exchange.url}{link}")
        assert asset.status_code == 200, link
        assert len(asset.content) > 100, link
    script = http.get(f"{exchange.url}/docs/static/swagger-ui-bundle.js").headers["content-type"]
    assert script.startswith(("text/javascript", "application/javascript")), script
    assert http.get(f"{exchange.url}/docs/static/nothing-here.js").status_code == 404
