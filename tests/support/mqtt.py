"""Publishing over MQTT in tests: QoS 1, every PUBACK awaited."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable

import paho.mqtt.client as mqtt

from services.runtime.mqtt_url import parse_mqtt_url


def machine_event(event_id: str, minute: int = 0) -> bytes:
    return json.dumps(
        {
            "event_id": event_id,
            "ts": f"2026-11-02T06:{minute % 60:02d}:00+08:00",
            "state": "running",
        }
    ).encode()


class Publisher:
    """A QoS 1 publisher that reconnects by itself (the broker may restart under it)."""

    def __init__(self, url: str, *, client_id: str = "", max_in_flight: int = 1000) -> None:
        address = parse_mqtt_url(url)
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        self.client.max_inflight_messages_set(max_in_flight)
        self.client.max_queued_messages_set(0)
        connected = threading.Event()
        self.client.on_connect = lambda *args: connected.set()
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        if not connected.wait(10):
            raise AssertionError("publisher could not connect")

    def publish_all(self, messages: Iterable[tuple[str, bytes]], timeout: float = 120) -> int:
        infos = [self.client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout)
        return len(infos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def forget_session(url: str, client_id: str) -> None:
    """End a persistent session left by a test, so the broker stops queueing for it."""
    address = parse_mqtt_url(url)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    client.connect(address.host, address.port, clean_start=True)
    client.disconnect()
