"""`floorstream up` as a user runs it: ready, supervised, stopped, and never leaving orphans."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from floorstream.schemas import DLQ_TOPIC, EVENTS_TOPIC
from floorstream.services.runtime.embedded.stack import Endpoints
from floorstream.services.runtime.redact import masked_url
from tests.support.kafka import collect
from tests.support.processes import alive, command_line, descendants, wait_until
from tests.support.up import RunningUp, endpoint, get_json, start_up

pytestmark = pytest.mark.e2e


@pytest.fixture
def up(tmp_path: Path) -> Iterator[RunningUp]:
    running = start_up(tmp_path)
    yield running
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGINT)
        try:
            running.process.wait(30)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()


def test_up_is_ready_and_announces_the_board_link_and_token(up: RunningUp) -> None:
    output = up.output()
    assert f"boards:   {up.api}/?token=" in output
    assert "admin token (shown once" in output
    for service in ("gateway", "processor"):
        assert f"{service}:" in output and "/metrics   (health /healthz" in output
    assert get_json(f"{up.api}/api/v1/lines")[0] == 401
    status, body = get_json(f"{up.api}/api/v1/lines", up.token())
    assert status == 200 and body == {"items": [], "next": None}


def test_a_killed_service_is_restarted_and_ctrl_c_leaves_nothing(up: RunningUp) -> None:
    gateway = up.service_pid("gateway")
    os.kill(gateway, signal.SIGKILL)
    wait_until(lambda: "restarting gateway" in up.output(), 10, "the restart log line")
    wait_until(lambda: up.find_service("gateway") not in (None, gateway), 10, "a new gateway")

    tree = descendants(up.process.pid)
    assert len(tree) >= 6  # 3 servers + gateway, processor, api
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(30) == 0
    assert not [pid for pid in tree if alive(pid)]


def test_a_killed_up_leaves_no_server_behind(up: RunningUp) -> None:
    tree = descendants(up.process.pid)
    up.process.kill()
    up.process.wait()
    wait_until(lambda: not [pid for pid in tree if alive(pid)], 15, "orphans to end")


def test_up_uses_the_servers_it_is_pointed_at(stack: Endpoints, tmp_path: Path) -> None:
    running = start_up(
        tmp_path,
        {
            "FLOORSTREAM_DATABASE_URL": stack.database_url,
            "FLOORSTREAM_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
            "FLOORSTREAM_MQTT_URL": stack.mqtt_url,
        },
    )
    try:
        commands = [command_line(pid) for pid in descendants(running.process.pid)]
        assert not [c for c in commands if "postgres" in c or "tansu" in c or "mosquitto" in c]
        assert f"postgres: {masked_url(stack.database_url)}" in running.output()
    finally:
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(30) == 0


async def test_the_simulated_factory_flows_through_to_the_figures(tmp_path: Path) -> None:
    running = start_up(tmp_path, simulate=True)
    try:
        kafka = endpoint(running, "kafka")
        events = await collect(kafka, EVENTS_TOPIC, until=lambda found: len(found) >= 100)
        dead = await collect(kafka, DLQ_TOPIC, until=lambda found: False, timeout=2)
        token, line = running.token(), f"{running.api}/api/v1/factories/f1/lines/l1"
        status, settings = get_json(line, token)
        assert status == 200 and settings["settings"]["constraint_station"]
        now = datetime.now(UTC)
        hour = f"start={(now - timedelta(hours=1)):%Y-%m-%dT%H:%M:%SZ}&end={now:%Y-%m-%dT%H:%M:%SZ}"

        constraint = settings["settings"]["constraint_station"]

        seen: list[object] = []

        def figured() -> bool:
            # Whatever the hour in Shanghai: in a shift the figures have planned time; outside
            # the shifts the stations are in planned_stop and there is none, but the station
            # chosen and its state are known either way.
            status, figures = get_json(f"{line}/efficiency?{hour}", token)
            state, now_status = get_json(f"{line}/status", token)
            seen[:] = [status, figures, state, now_status]
            stations = {s["station"]: s for s in now_status.get("stations", [])}
            return (
                status == 200
                and figures["station"] == constraint
                and stations.get(constraint, {}).get("state") is not None
            )

        wait_until(figured, 30, lambda: f"figures of the constraint station; last seen {seen}")
    finally:
        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(30) == 0
    kinds = {str(e["kind"]) for e in events}  # operators check in only during shifts
    assert "production" in kinds and kinds & {"machine", "people"}
    assert {str(e["factory"]) for e in events} == {"f1"}
    assert dead == []  # the simulator speaks the contract
