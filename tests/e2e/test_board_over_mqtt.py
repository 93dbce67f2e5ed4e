"""The whole pipeline to the screen: a `down` event published over MQTT to `floorstream up`
changes the line board in a real browser within 2 seconds, with no reload."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.support.mqtt import Publisher
from tests.support.processes import wait_until
from tests.support.up import RunningUp, endpoint, get_json, start_up

pytestmark = pytest.mark.e2e

TOPIC = "floor/v1/fm/l1/press/machine"


@pytest.fixture
def up(tmp_path: Path) -> Iterator[RunningUp]:
    running = start_up(tmp_path)
    yield running
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(30) == 0


def _machine(event_id: str, state: str, reason: str | None = None) -> bytes:
    body = {"event_id": event_id, "ts": datetime.now(UTC).isoformat(), "state": state}
    if reason is not None:
        body["reason"] = reason
    return json.dumps(body).encode()


async def test_a_down_event_over_mqtt_reaches_the_board_within_2_seconds(
    up: RunningUp, browser: Browser
) -> None:
    with Publisher(endpoint(up, "mqtt")) as publisher:
        publisher.publish_all([(TOPIC, _machine("m-1", "running"))])
        status = f"{up.api}/api/v1/factories/fm/lines/l1/status"
        wait_until(lambda: get_json(status, up.token())[0] == 200, 30, "the line to be known")

        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        await page.goto(f"{up.api}/boards/fm/l1?token={up.token()}&lang=en")
        press = page.locator('.station[data-station="press"]')
        await expect(press).to_contain_text("Running", timeout=10_000)
        await page.evaluate("window.sameDocument = true")  # gone if the page reloads

        publisher.publish_all([(TOPIC, _machine("m-2", "down", "hydraulic leak"))])
        await expect(press).to_contain_text("hydraulic leak", timeout=2_000)
        await expect(press).to_contain_text("Down")
        assert await page.evaluate("window.sameDocument") is True
        await page.close()
