"""`/api/v1/docs`: a Swagger UI page whose every asset comes from this service."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

PAGE = "http://autorec.test/api/v1/docs"


class Links(HTMLParser):
    """Every `src` and `href` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(value for name, value in attrs if name in ("src", "href") and value)


def links(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.urls


async def test_the_docs_page_loads_as_html(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/docs")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="swagger-ui"' in answer.text


async def test_every_url_in_the_page_is_relative_or_under_the_api(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/api/v1/docs")).text

    urls = links(page)

    assert urls
    assert "http" not in page
    for url in urls:
        assert not re.match(r"^[a-z][a-z0-9+.-]*:|^//", url, re.IGNORECASE), url
        assert url.startswith("/api/v1/") or not url.startswith("/"), url


async def test_every_asset_the_page_names_answers_200(client: httpx.AsyncClient) -> None:
    page = (await client.get("/api/v1/docs")).text

    for url in links(page):
        absolute = urljoin(PAGE, url)
        assert absolute.startswith("http://autorec.test/api/v1/docs/"), absolute
        answer = await client.get(absolute)
        assert answer.status_code == 200, absolute
        assert answer.content


async def test_the_script_loads_the_relative_openapi_document_without_the_online_validator(
    client: httpx.AsyncClient,
) -> None:
    script = (await client.get("/api/v1/docs/init.js")).text

    assert 'url: "./openapi.json"' in script
    assert "validatorUrl: null" in script
    assert "http" not in script
    assert urljoin(PAGE, "./openapi.json") == "http://autorec.test/api/v1/openapi.json"


async def test_the_bundled_swagger_ui_renders_openapi_3_1(client: httpx.AsyncClient) -> None:
    bundle = await client.get("/api/v1/docs/assets/swagger-ui-bundle.js")

    assert bundle.status_code == 200
    # Swagger UI before 5 refuses any document but "openapi: 3.0.n".
    assert "openapi: 3.1.0" in bundle.text


async def test_a_trailing_slash_leads_back_to_the_page(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/docs/", follow_redirects=True)

    assert answer.status_code == 200
    assert answer.url.path == "/api/v1/docs"
