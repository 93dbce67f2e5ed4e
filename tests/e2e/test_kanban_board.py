"""The warehouse's kanban board in a real browser: a material level below its reorder point
raises a card (through the floor-state processor's handler, on the API's database), the card
is advanced with its button, and a ``replenished`` event closes it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, expect

from schemas import Event
from services.floor.processor import retaining
from tests.integration.floor.test_processor import NOW, Floor, _records
from tests.support.board import TOKEN, Api

pytestmark = pytest.mark.e2e

FACTORY = "fk"
POLL_MS = 5000  # the board's refresh


async def apply(api: Api, *events: Event) -> None:
    """One batch through the floor-state processor's handler, in its transaction."""
    handle = retaining(timedelta(days=90), lambda: NOW)
    connection = await asyncpg.connect(api.database_url)
    try:
        async with connection.transaction():
            await handle(connection, _records(list(events)))
    finally:
        await connection.close()


async def put_line(api: Api, materials: dict[str, dict[str, float]]) -> None:
    async with httpx.AsyncClient(base_url=api.url) as http:
        answer = await http.put(
            f"/api/v1/factories/{FACTORY}/lines/l1",
            json={"name": "Press line 1", "materials": materials},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert answer.status_code == 200, answer.text


def texts(column: str) -> str:
    return f'.kanban-column[data-column="{column}"] .card'


async def test_a_low_material_raises_a_card_that_is_advanced_and_closed_by_replenishment(
    api: Api, browser: Browser
) -> None:
    f = Floor(FACTORY)
    await put_line(api, {"coil": {"reorder_point": 100, "container_quantity": 500}})
    low: Sequence[Event] = [
        f.material("x1", 0, "level", quantity=400.0, unit="kg", material_id="coil"),
        f.material("x2", 30, "level", quantity=80.0, unit="kg", material_id="coil"),
    ]
    await apply(api, *low)

    # 1. The card is on the warehouse board, requested, with its line, quantity and age.
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(f"{api.url}/boards/{FACTORY}/kanban?token={TOKEN}&lang=en")
    requested = page.locator(texts("requested"))
    await expect(requested).to_have_count(1)
    await expect(requested).to_contain_text("coil")
    await expect(requested).to_contain_text("Line l1 · s1")
    await expect(requested).to_contain_text("500 kg")
    await expect(requested).to_contain_text("age")
    await expect(page.locator("#error")).to_be_hidden()

    # 2. Its button moves it to "in transit", at once.
    await requested.get_by_role("button", name="→ In transit").click()
    in_transit = page.locator(texts("in_transit"))
    await expect(in_transit).to_have_count(1, timeout=2000)
    await expect(in_transit).to_contain_text("coil")
    await expect(requested).to_have_count(0)

    # 3. The line board lists it beside the materials.
    line_page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await line_page.goto(f"{api.url}/boards/{FACTORY}/l1?token={TOKEN}&lang=en")
    await expect(line_page.locator("#cards")).to_contain_text("coil")
    await expect(line_page.locator("#cards")).to_contain_text("In transit")
    await line_page.close()

    # 4. A `replenished` event closes it: it leaves the board at the next poll.
    await apply(api, f.material("x3", 45, "replenished", quantity=500.0, material_id="coil"))
    await expect(page.locator(".card")).to_have_count(0, timeout=POLL_MS * 2)
    await expect(page.locator(texts("in_transit"))).to_have_count(0)
    await page.close()


async def test_a_material_at_or_below_its_reorder_point_is_drawn_in_the_warning_colour(
    api: Api, browser: Browser
) -> None:
    """Issue 14, item 8: the line board drew a low material's bar green, as a full one."""
    f = Floor(FACTORY)
    reorder = {"reorder_point": 100, "container_quantity": 500}
    await put_line(api, {"coil": reorder, "sheet": reorder, "paint": reorder})
    await apply(
        api,
        f.material("y1", 0, "level", quantity=400.0, unit="kg", material_id="sheet"),
        f.material("y2", 0, "level", quantity=100.0, unit="kg", material_id="coil"),  # at it
        f.material("y3", 0, "level", quantity=0.0, unit="l", material_id="paint"),
        f.material("y4", 1, "shortage", quantity=0.0, unit="l", material_id="paint"),
    )
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(f"{api.url}/boards/{FACTORY}/l1?token={TOKEN}&lang=en")
    rows = page.locator("#materials li")
    await expect(rows).to_have_count(3)

    async def colour(material: str) -> str:
        fill = page.locator(f'#materials li[data-material="{material}"] .level .fill')
        return str(await fill.evaluate("node => getComputedStyle(node).backgroundColor"))

    above, low, short = await colour("sheet"), await colour("coil"), await colour("paint")
    assert len({above, low, short}) == 3, (above, low, short)
    # The board's palette: --good above, --slow (the andon's warning, the requested card's
    # colour) at or below the reorder point, --bad in a shortage.
    assert (above, low, short) == ("rgb(46, 204, 113)", "rgb(242, 194, 0)", "rgb(255, 92, 92)")
    await expect(rows.filter(has_text="coil")).to_contain_text("LOW")
    await expect(rows.filter(has_text="sheet")).not_to_contain_text("LOW")
    await expect(rows.filter(has_text="paint")).to_contain_text("SHORTAGE")
    await page.close()
