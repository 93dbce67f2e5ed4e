"""The MQTT side of the simulator: QoS 1 publishing with a bounded number of messages in flight.

:class:`EventSink` is the one interface the publishing loop needs; :class:`MqttPublisher` is it
over paho-mqtt 2.x, speaking MQTT 3.1.1 (so it also works against the amqtt broker).

Delivery protocol:

1. take a slot: wait while ``max_in_flight`` messages await their PUBACK;
2. hand the message to paho with QoS 1; while disconnected paho queues it, and on reconnection
   sends again whatever was not acknowledged (paho's network thread reconnects by itself, with
   a back-off of 1 to 30 s, e.g. when the broker restarts);
3. free the slot on its PUBACK;
4. on leaving, wait a little for the acknowledgements still outstanding, then disconnect.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from services.runtime.mqtt_url import MqttAddress
from services.simulator.types import SimulatorError

log = logging.getLogger(f"floorstream.{__name__}")

_WAIT_STEP_S = 0.5


class EventSink(Protocol):
    """Where simulated events go."""

    def publish(self, topic: str, payload: bytes) -> bool:
        """Send one message; False when the service stopped before it could be sent."""
        ...

    @property
    def in_flight(self) -> int:
        """Messages sent but not acknowledged yet."""
        ...


class MqttPublisher:
    """QoS 1 MQTT publisher; use as a context manager (connects on enter, drains on exit)."""

    def __init__(
        self,
        address: MqttAddress,
        *,
        client_id: str,
        stop: threading.Event,
        max_in_flight: int = 1000,
        drain_timeout_s: float = 10.0,
    ) -> None:
        self._address = address
        self._stop = stop
        self._max_in_flight = max_in_flight
        self._drain_timeout_s = drain_timeout_s
        self._lock = threading.Condition()
        self._in_flight = 0
        self._closing = False
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv311,
            clean_session=True,
        )
        if address.username is not None:
            client.username_pw_set(address.username, address.password)
        if address.tls:
            client.tls_set()
        client.max_inflight_messages_set(max_in_flight)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client

    def __enter__(self) -> MqttPublisher:
        log.info("connecting to MQTT %s:%d", self._address.host, self._address.port)
        self._client.connect_async(self._address.host, self._address.port, keepalive=30)
        self._client.loop_start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # 4. Drain, then disconnect.
        if not self.drain(self._drain_timeout_s):
            log.warning("%d messages still unacknowledged at shutdown", self.in_flight)
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def publish(self, topic: str, payload: bytes) -> bool:
        # 1. Take a slot.
        with self._lock:
            while self._in_flight >= self._max_in_flight:
                if self._stop.is_set():
                    return False
                self._lock.wait(_WAIT_STEP_S)
            self._in_flight += 1
        # 2. Hand it over; not holding the lock, as paho calls on_publish holding its own.
        info = self._client.publish(topic, payload, qos=1)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self._release()
            raise SimulatorError(f"MQTT publish failed: {mqtt.error_string(info.rc)}")
        return True

    def drain(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for every message in flight to be acknowledged."""
        with self._lock:
            return self._lock.wait_for(lambda: self._in_flight == 0, timeout_s)

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._lock.notify_all()

    # -- paho callbacks, on paho's network thread ------------------------------------------

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Properties
    ) -> None:
        # 3. The PUBACK frees the slot.
        self._release()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker refused the connection: %s", reason)
        else:
            log.info("connected to MQTT %s:%d", self._address.host, self._address.port)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        if not self._closing:
            log.warning("MQTT connection lost (%s); reconnecting", reason)
