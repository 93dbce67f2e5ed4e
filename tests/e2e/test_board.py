"""The line board in a real browser, against a real API process on the session's PostgreSQL.

The floor rows are written with SQL and the processor's ``pg_notify`` is sent by the test; the
API is `floorstream api`, stopped and started again on the same port as an operator would.
Chromium is Debian's (``/usr/bin/chromium``), driven headless by Playwright.
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from services.api.live import notify_changed
from tests.support.board import HEARTBEAT_S, TOKEN, Api

pytestmark = pytest.mark.e2e


async def seed_line(api: Api) -> None:
    """Line ``fb/l1`` with two stations: the press idle, the welder running."""
    async with httpx.AsyncClient(base_url=api.url) as http:
        answer = await http.put(
            "/api/v1/factories/fb/lines/l1",
            json={"name": "Press line 1", "timezone": "UTC"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert answer.status_code == 200, answer.text
    connection = await asyncpg.connect(api.database_url)
    try:
        await connection.execute(
            "INSERT INTO station_state (factory, line, station, state, reason, since, last_seen)"
            " VALUES ('fb', 'l1', 'press', 'idle', 'no-coil', now() - interval '90 seconds',"
            " now()), ('fb', 'l1', 'weld', 'running', NULL, now() - interval '1 hour', now())"
        )
    finally:
        await connection.close()


async def set_press(api: Api, state: str, reason: str, *, notify: bool) -> None:
    """What the floor processor does: change the row and, in the same transaction, notify."""
    connection = await asyncpg.connect(api.database_url)
    try:
        async with connection.transaction():
            await connection.execute(
                "UPDATE station_state SET state = $1, reason = $2, since = now(),"
                " last_seen = now() WHERE factory = 'fb' AND line = 'l1' AND station = 'press'",
                state,
                reason,
            )
            if notify:
                await notify_changed(connection, [("fb", "l1")])
    finally:
        await connection.close()


async def open_board(browser: Browser, api: Api) -> Page:
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(f"{api.url}/boards/fb/l1?token={TOKEN}&lang=en")
    await page.evaluate("window.sameDocument = true")  # gone if the page reloads
    return page


async def test_the_line_board_shows_changes_live_and_heals_after_an_api_restart(
    api: Api, browser: Browser
) -> None:
    await seed_line(api)
    page = await open_board(browser, api)
    press = page.locator('.station[data-station="press"]')

    # 1. The board shows the station, its state and its reason.
    await expect(page.locator("#title")).to_have_text("Press line 1")
    await expect(press).to_contain_text("Idle")
    await expect(press).to_contain_text("no-coil")
    await expect(page.locator('.station[data-station="weld"]')).to_contain_text("Running")
    await expect(page.locator("#stale-mark")).to_be_hidden()

    # 2. A change and its notification reach the screen within 2 s, with no reload.
    await set_press(api, "down", "jam", notify=True)
    await expect(press).to_contain_text("jam", timeout=2000)
    await expect(press).to_contain_text("Down")

    # 3. The API goes away: the figures are marked stale, with the time the feed was lost.
    await asyncio.to_thread(api.stop)
    await expect(page.locator("#stale-mark")).to_be_visible(timeout=5000)
    await expect(page.locator("#stale-mark")).to_contain_text("STALE since")
    assert "is-stale" in (await page.locator("body").get_attribute("class") or "")

    # 4. A change while nobody listens, then the API comes back on the same port: the screen
    #    reconnects by itself, the mark goes and the figures are the current ones.
    await set_press(api, "down", "motor", notify=False)
    await asyncio.to_thread(api.start)
    await expect(page.locator("#stale-mark")).to_be_hidden(timeout=20000)
    await expect(press).to_contain_text("motor")
    assert await page.evaluate("window.sameDocument") is True
    await page.close()


async def test_a_silently_dead_feed_is_marked_stale_by_the_heartbeat_timeout(
    api: Api, browser: Browser
) -> None:
    await seed_line(api)
    page = await open_board(browser, api)
    await expect(page.locator('.station[data-station="press"]')).to_contain_text("no-coil")

    # A frozen server keeps its connections open but sends nothing, heartbeats included.
    api.pause()
    try:
        await expect(page.locator("#stale-mark")).to_be_visible(timeout=4 * HEARTBEAT_S * 1000)
    finally:
        api.resume()
    await expect(page.locator("#stale-mark")).to_be_hidden(timeout=20000)


async def test_the_pages_and_their_data_need_a_token_and_the_assets_do_not(api: Api) -> None:
    pages = {"/": "index", "/boards/fb": "factory", "/boards/fb/kanban": "kanban"}
    pages["/boards/fb/l1"] = "line"
    async with httpx.AsyncClient(base_url=api.url) as http:
        for path, page in pages.items():
            assert (await http.get(path)).status_code == 401, path
            answer = await http.get(path, params={"token": TOKEN})
            assert answer.status_code == 200, path
            assert answer.headers["cache-control"] == "no-cache"
            assert f'src="/static/{page}.js"' in answer.text  # one shell, its own script
            assert "$" not in answer.text
        for path in ["/static/board.css", "/static/feed.js", "/favicon.ico"]:
            answer = await http.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["cache-control"] == "no-cache"
        assert (await http.get("/favicon.ico")).headers["content-type"] == "image/svg+xml"
        assert (await http.get("/boards/FB", params={"token": TOKEN})).status_code == 422
        assert (await http.get("/api/v1/factories/fb/lines/l1/live")).status_code == 401
        schema = (await http.get("/openapi.json")).json()
        assert not [path for path in schema["paths"] if "live" in path or "boards" in path]
