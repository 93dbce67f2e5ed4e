"""The API's documentation (`/docs`) works without internet: its script and style come from the
package, not from a CDN (issue 14, item 6). Against a real API process; the browser test blocks
every request to another host, as a factory network without internet would."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Route, expect

from tests.support.board import Api

pytestmark = pytest.mark.e2e

ASSET = re.compile(r'(?:src|href)="([^"]+)"')
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".ico": "image/svg+xml"}


async def test_the_docs_page_names_no_other_host_and_its_assets_are_served(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert not re.findall(r"https?://|//[a-z]", page.text), page.text
        assets = ASSET.findall(page.text)
        assert {a.rsplit(".", 1)[-1] for a in assets} == {"js", "css", "ico"}, assets
        for path in assets:
            assert path.startswith("/"), path
            answer = await http.get(path)
            assert answer.status_code == 200, path
            wanted = CONTENT_TYPES[path[path.rindex(".") :]]
            assert answer.headers["content-type"].startswith(wanted), (path, answer.headers)
            assert len(answer.content) > 100, path
        redirect = await http.get("/docs/oauth2-redirect")
        assert redirect.status_code == 200 and "https://" not in redirect.text
        assert (await http.get("/redoc")).status_code == 404  # not offered: it needs a CDN


async def test_the_docs_render_every_call_with_other_hosts_unreachable(
    api: Api, browser: Browser
) -> None:
    ours = urlsplit(api.url).netloc
    elsewhere: list[str] = []

    async def offline(route: Route) -> None:
        if urlsplit(route.request.url).netloc == ours:
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort("internetdisconnected")

    page = await browser.new_page(viewport={"width": 1600, "height": 1000})
    await page.route("**/*", offline)
    await page.goto(f"{api.url}/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("floorstream")
    calls = page.locator(".swagger-ui .opblock")
    await expect(calls.first).to_be_visible(timeout=15000)
    spec = await (await page.request.get(f"{api.url}/openapi.json")).json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    await expect(calls).to_have_count(operations)
    status = page.locator('.opblock-summary-path[data-path$="/status"]')
    await expect(status.first).to_be_visible()
    assert elsewhere == []  # not even tried
    await page.close()
