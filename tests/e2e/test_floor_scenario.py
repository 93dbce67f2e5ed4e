"""A line's shift published over MQTT, end to end through `floorstream up`, read back over HTTP:
the status, the efficiency, the downtime Pareto and the timeline agree with what was sent."""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.mqtt import Publisher
from tests.support.processes import wait_until
from tests.support.up import RunningUp, endpoint, get_json, start_up

pytestmark = pytest.mark.e2e

# Event time: the last hour, its last events 3 minutes ago, so that the line is live (not
# stale, which takes 5 silent minutes) when read back.
NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(minutes=58)


def _at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def _scenario() -> list[tuple[str, dict[str, Any]]]:
    """One line, two stations; the press jams for 10 minutes, the welder waits for parts."""
    base = "floor/v1/fe2e/l1"
    return [
        (f"{base}/press/order", {"event_id": "o-1", "ts": _at(0), "action": "start",
            "order_id": "WO-1", "product_id": "bracket", "target_quantity": 10_000,
            "ideal_cycle_time_s": 1.0}),
        (f"{base}/press/machine", {"event_id": "m-1", "ts": _at(0), "state": "running"}),
        (f"{base}/weld/machine", {"event_id": "w-1", "ts": _at(0), "state": "running"}),
        (f"{base}/press/people", {"event_id": "h-1", "ts": _at(0), "action": "check_in",
            "operator_id": "op-17", "role": "operator"}),
        (f"{base}/weld/people", {"event_id": "h-2", "ts": _at(1), "action": "check_in",
            "operator_id": "op-18", "role": "welder"}),
        (f"{base}/weld/people", {"event_id": "h-3", "ts": _at(30), "action": "check_out",
            "operator_id": "op-18"}),
        (f"{base}/press/material", {"event_id": "x-1", "ts": _at(0), "action": "level",
            "material_id": "coil", "quantity": 500.0, "unit": "kg"}),
        (f"{base}/press/material", {"event_id": "x-2", "ts": _at(20), "action": "loaded",
            "material_id": "coil", "quantity": 100.0, "unit": "kg"}),
        (f"{base}/press/material", {"event_id": "x-3", "ts": _at(50), "action": "shortage",
            "material_id": "coil"}),
        (f"{base}/press/production", {"event_id": "p-1", "ts": _at(10), "good": 500,
            "scrap": 10}),
        (f"{base}/press/machine", {"event_id": "m-2", "ts": _at(20), "state": "down",
            "reason": "jam"}),
        (f"{base}/weld/machine", {"event_id": "w-2", "ts": _at(21), "state": "starved"}),
        (f"{base}/press/machine", {"event_id": "m-3", "ts": _at(30), "state": "running"}),
        (f"{base}/weld/machine", {"event_id": "w-3", "ts": _at(31), "state": "running"}),
        (f"{base}/press/production", {"event_id": "p-2", "ts": _at(40), "good": 900,
            "scrap": 0}),
        (f"{base}/press/production", {"event_id": "p-1", "ts": _at(10), "good": 500,
            "scrap": 10}),  # a duplicate: counts once
        (f"{base}/weld/machine", {"event_id": "w-4", "ts": _at(50), "state": "running"}),
        (f"{base}/press/machine", {"event_id": "m-4", "ts": _at(55), "state": "down",
            "reason": "die change"}),
        (f"{base}/press/machine", {"event_id": "m-bad", "ts": _at(56), "state": "runing"}),
    ]  # fmt: skip


@pytest.fixture
def up(tmp_path: Path) -> Iterator[RunningUp]:
    running = start_up(tmp_path)
    yield running
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(30) == 0


def _read(up: RunningUp, path: str) -> dict[str, Any]:
    status, body = get_json(f"{up.api}/api/v1/factories/fe2e{path}", up.token())
    assert status == 200, body
    return body


def _put_settings(up: RunningUp, settings: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{up.api}/api/v1/factories/fe2e/lines/l1",
        data=json.dumps(settings).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {up.token()}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_a_shift_sent_over_mqtt_reads_back_through_the_api(up: RunningUp) -> None:
    # The stations report every few minutes at most: silent for longer than 15 minutes, a
    # station's time would count as downtime `no_signal`.
    _put_settings(up, {"name": "E2E line", "stale_after_s": 900})
    with Publisher(endpoint(up, "mqtt")) as publisher:
        messages = [(topic, json.dumps(body).encode()) for topic, body in _scenario()]
        publisher.publish_all(messages)

    seen: dict[str, Any] = {}

    def settled() -> bool:
        code, body = get_json(f"{up.api}/api/v1/factories/fe2e/lines/l1/status", up.token())
        seen["status"] = body
        stations = {s["station"]: s for s in body.get("stations", [])} if code == 200 else {}
        return (
            stations.get("press", {}).get("reason") == "die change"
            and body.get("materials", [{}])[0].get("shortage") is True
            # the order's counts come from the efficiency processor, the rest from the floor
            # processor: two consumer groups, each at its own pace
            and (body.get("order") or {}).get("good_count") == 1400
        )

    wait_until(settled, 30, f"the line's status; last seen {seen}")
    status = seen["status"]
    stations = {s["station"]: s for s in status["stations"]}
    assert stations["press"]["state"] == "down"
    assert stations["press"]["andon"] == "stopped"
    assert stations["weld"]["state"] == "running"
    assert [o["operator_id"] for o in status["operators"]] == ["op-17"]
    (coil,) = status["materials"]
    assert (coil["material_id"], coil["quantity"], coil["unit"]) == ("coil", 600.0, "kg")
    order = status["order"]
    assert (order["order_id"], order["target_quantity"]) == ("WO-1", 10_000)
    assert (order["good_count"], order["scrap_count"], order["station"]) == (1400, 10, "press")

    window = f"start={T0.isoformat().replace('+', '%2B')}&end={NOW.isoformat().replace('+', '%2B')}"

    def figured() -> bool:
        code, body = get_json(
            f"{up.api}/api/v1/factories/fe2e/lines/l1/efficiency?{window}", up.token()
        )
        seen["efficiency"] = body
        return code == 200 and body["good_count"] == 1400

    wait_until(figured, 30, f"the line's figures; last seen {seen}")
    assert seen["efficiency"]["scrap_count"] == 10

    downtime = _read(up, f"/lines/l1/downtime?{window}")
    reasons = {r["reason"]: r for r in downtime["by_reason"]}
    assert reasons["jam"]["duration_s"] == 600 and reasons["jam"]["count"] == 1
    assert reasons["die change"]["duration_s"] == 180  # from minute 55 to the range's end
    assert downtime["by_reason"][0]["reason"] == "jam"  # the longest first

    timeline = _read(up, f"/lines/l1/timeline?{window}")
    press = next(s for s in timeline["stations"] if s["station"] == "press")
    assert [i["state"] for i in press["intervals"]] == ["running", "down", "running", "down"]

    factory = _read(up, f"/efficiency?{window}")
    assert [line["line"] for line in factory["lines"]] == ["l1"]
