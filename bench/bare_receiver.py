"""The gateway benchmark's baseline: a bare paho-mqtt QoS 1 receive loop that does nothing.

Same session as the gateway (MQTT v5, shared subscription, clean_start=False, a session
expiry), acknowledging automatically. Run once with ``--prepare`` to leave a session for the
broker to queue into, then again to drain it; prints the seconds from the first message to the
last, as JSON.

    python bench/bare_receiver.py mqtt://127.0.0.1:1883 CLIENT_ID GROUP COUNT [--prepare]
"""

from __future__ import annotations

import json
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from services.runtime.mqtt_url import parse_mqtt_url


def main() -> None:
    url, client_id, group, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    prepare = "--prepare" in sys.argv
    address = parse_mqtt_url(url)
    received = 0
    first = last = 0.0
    done, subscribed = threading.Event(), threading.Event()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        nonlocal received, first, last
        if received == 0:
            first = time.perf_counter()
        received += 1
        if received >= count:
            last = time.perf_counter()
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    properties.ReceiveMaximum = 10_000
    client.connect(address.host, address.port, clean_start=False, properties=properties)
    client.subscribe(f"$share/{group}/floor/v1/#", qos=1)
    client.loop_start()
    subscribed.wait(10)
    if not prepare:
        done.wait(600)
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"received": received, "seconds": last - first}))


if __name__ == "__main__":
    main()
