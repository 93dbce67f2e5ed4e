"""kill -9 of the gateway while 50,000 events are in flight: every event is on Kafka afterwards
(duplicates allowed here, losses not)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from schemas import EVENTS_TOPIC
from services.stack.embedded.stack import Endpoints
from tests.support.kafka import collect, event_ids, wait_for
from tests.support.mqtt import Publisher, forget_session, machine_event

pytestmark = pytest.mark.integration

EVENTS = 50_000


def _start_gateway(
    stack: Endpoints, client_id: str, group: str, log: Path
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOORSTREAM_")} | {
        "FLOORSTREAM_MQTT_URL": stack.mqtt_url,
        "FLOORSTREAM_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "FLOORSTREAM_GATEWAY_CLIENT_ID": client_id,
        "FLOORSTREAM_GATEWAY_SHARED_GROUP": group,
    }
    with log.open("ab") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "floorstream", "gateway"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def test_kill_9_mid_stream_loses_nothing(stack: Endpoints, tmp_path: Path) -> None:
    factory, client_id, group = (
        f"k{uuid.uuid4().hex[:8]}",
        f"gw-{uuid.uuid4().hex[:8]}",
        f"g{uuid.uuid4().hex[:8]}",
    )
    log = tmp_path / "gateway.log"
    gateway = _start_gateway(stack, client_id, group, log)
    try:
        # logged once the broker's SUBACK granted the subscription
        await wait_for(lambda: "subscribed to" in log.read_text(), 30, "the gateway's SUBACK")
        messages = [
            (f"floor/v1/{factory}/l{i % 200}/s1/machine", machine_event(f"e{i}", i))
            for i in range(EVENTS)
        ]
        with Publisher(stack.mqtt_url) as publisher:
            publishing = asyncio.create_task(asyncio.to_thread(publisher.publish_all, messages))
            seen = await collect(
                stack.kafka_bootstrap,
                EVENTS_TOPIC,
                key_prefix=f"{factory}/",
                until=lambda found: len(found) >= EVENTS // 5,
                timeout=120,
            )
            gateway.send_signal(signal.SIGKILL)  # mid-stream: some on Kafka, many in flight
            gateway.wait()
            assert len(event_ids(seen)) < EVENTS
            gateway = _start_gateway(stack, client_id, group, log)
            assert await publishing == EVENTS
        records = await collect(
            stack.kafka_bootstrap,
            EVENTS_TOPIC,
            key_prefix=f"{factory}/",
            until=lambda found: len(event_ids(found)) >= EVENTS,
            timeout=240,
        )
        assert event_ids(records) == {f"e{i}" for i in range(EVENTS)}
    finally:
        gateway.terminate()
        gateway.wait(30)
        forget_session(stack.mqtt_url, client_id)
