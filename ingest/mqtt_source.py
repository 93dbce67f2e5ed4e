"""The message source on paho-mqtt 2.x: a persistent session with manual acknowledgements.

- MQTT v5 with a shared subscription (``$share/floorstream/floor/v1/#``), so N gateways split the
  load; ``clean_start=False`` and a session expiry, so a restarted gateway gets what arrived
  while it was away; ``Receive Maximum`` bounds the messages the broker sends unacknowledged.
- With a broker that has no shared subscriptions (amqtt), MQTT 3.1.1 with ``clean_session=False``
  and a plain subscription: run one gateway only.
- paho's network thread calls ``on_message``; messages reach the event loop in batches through
  ``call_soon_threadsafe``. Each connection is a new *session number*: an acknowledgement
  carries the packet id of one connection and is dropped if that connection is gone.
- Acknowledgements go back in batches too: the PUBACKs of a batch are queued to paho's network
  thread as one packet (one wake-up of that thread, one ``send``), not one ``client.ack`` each.
- paho reads each packet with two or three ``recv`` calls of a few bytes after a ``select``;
  `_ReadAheadClient` reads up to 64 KiB at once and handles every whole packet in it before
  the next ``select``. Fewer system calls is less time spent waiting for the GIL, which the
  network thread shares with the event loop.
- On every (re)connect it subscribes again, so it resubscribes after a broker restart. It
  counts as connected (readiness, ``floorstream_gateway_mqtt_connected``, the log line
  "subscribed to") once the broker's SUBACK grants the subscription, not at the CONNACK:
  before that the broker routes nothing to it. A refused subscription is an outage.
- A broker that goes away is logged once, summarised at most once a minute while paho retries,
  and once more when it is back (the `OutageLog` passed in); `connected` feeds the gateway's
  readiness.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ingest.metrics import GatewayMetrics
from ingest.types import Delivery, OutageLog
from schemas import MQTT_SUBSCRIPTION

log = logging.getLogger(f"floorstream.{__name__}")

SESSION_EXPIRY_S = 7 * 24 * 3600
KEEPALIVE_S = 30

READ_AHEAD_BYTES = 65_536
"""What `_ReadAheadClient` asks of the socket at once: some 600 messages of a few hundred bytes."""


class _ReadAheadClient(mqtt.Client):
    """paho's client, reading the socket ``READ_AHEAD_BYTES`` at a time (paho's thread only).

    paho asks `_sock_recv` for the few bytes it needs next; they come from a buffer filled by
    one large ``recv``. `loop_read` goes on while the buffer holds bytes, so none wait behind a
    ``select`` that cannot see them; it ends with the buffer empty (a packet's first part may
    be in paho's own state, as after any short read). A new socket discards what is left of the
    old one's bytes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ahead = b""
        self._ahead_pos = 0
        self._ahead_sock: object = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._ahead_sock is not self._sock:
            self._ahead, self._ahead_pos, self._ahead_sock = b"", 0, self._sock
        if self._ahead_pos >= len(self._ahead):
            data = super()._sock_recv(max(bufsize, READ_AHEAD_BYTES))
            if len(data) <= bufsize:
                return data
            self._ahead, self._ahead_pos = data, 0
        start = self._ahead_pos
        self._ahead_pos = min(start + bufsize, len(self._ahead))
        return self._ahead[start : self._ahead_pos]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while (
            rc == MQTTErrorCode.MQTT_ERR_SUCCESS
            and self._ahead_sock is self._sock
            and self._ahead_pos < len(self._ahead)
        ):
            rc = super().loop_read(max_packets)
        return rc


_PUBACK = struct.Struct("!BBH")
"""A PUBACK: type 4, remaining length 2, the packet id. The same in MQTT 3.1.1 and 5 (in 5, a
Success reason code without properties may be left out, MQTT 5 §3.4.2.1); as paho sends it."""


def puback_packets(mids: Sequence[int]) -> bytes:
    """The PUBACKs of ``mids``, in order, as the bytes of one write."""
    return b"".join([_PUBACK.pack(mqtt.PUBACK, 2, mid) for mid in mids])


class MqttSource:
    """`MessageSource` on paho-mqtt."""

    def __init__(
        self,
        host: str,
        port: int,
        metrics: GatewayMetrics,
        *,
        client_id: str,
        shared_group: str,
        shared: bool,
        receive_maximum: int,
        loop: asyncio.AbstractEventLoop,
        outage: OutageLog,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
    ) -> None:
        self._host, self._port = host, port
        self._credentials = (username, password) if username is not None else None
        self._tls = tls
        self._metrics = metrics
        self._loop = loop
        self._shared = shared
        self._subscription = (
            f"$share/{shared_group}/{MQTT_SUBSCRIPTION}" if shared else MQTT_SUBSCRIPTION
        )
        self._receive_maximum = min(receive_maximum, 65_535)
        self._session = 0
        self._batch: list[Delivery] = []
        self._batch_lock = threading.Lock()
        self._deliver: Callable[[list[Delivery]], None] | None = None
        self._client = self._make_client(client_id)
        self._was_connected = False
        self._connected = False
        self._outage = outage  # told from paho's thread only

    @property
    def connected(self) -> bool:
        """Connected, and the subscription granted by the broker's SUBACK (set from paho's
        thread): from then on the broker routes messages to this gateway."""
        return self._connected

    def _make_client(self, client_id: str) -> mqtt.Client:
        protocol = mqtt.MQTTv5 if self._shared else mqtt.MQTTv311
        client = _ReadAheadClient(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=protocol,
            manual_ack=True,
            clean_session=None if self._shared else False,
        )
        if self._credentials is not None:
            client.username_pw_set(*self._credentials)
        if self._tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def start(self, deliver: Callable[[list[Delivery]], None]) -> None:
        self._deliver = deliver
        kwargs: dict[str, Any] = {}
        if self._shared:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
            properties.ReceiveMaximum = self._receive_maximum
            kwargs = {"clean_start": False, "properties": properties}
        self._client.connect_async(self._host, self._port, keepalive=KEEPALIVE_S, **kwargs)
        self._client.loop_start()

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        session = self._session
        mids = [delivery.mid for delivery in deliveries if delivery.session == session]
        if len(mids) == 1:
            self._client.ack(mids[0], 1)
        elif mids:
            # paho's own `ack` queues one packet (and one wake-up) per message; this is the same
            # call with the packets joined (tests/unit/ingest/test_mqtt_source.py checks the
            # bytes against paho's).
            self._client._packet_queue(mqtt.PUBACK, puback_packets(mids), 0, 1)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # paho's network thread below

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._outage.failed(f"refused the connection: {reason}")
            return
        self._session += 1
        client.subscribe(self._subscription, qos=1)  # connected once the broker grants it

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [reason for reason in reasons if reason.is_failure]
        if refused:  # an ACL that does not let the gateway read: it would receive nothing
            self._outage.failed(f"refused the subscription to {self._subscription}: {refused[0]}")
            return
        self._metrics.mqtt_connected.set(1)
        self._connected = True
        if self._outage.away:
            self._outage.recovered(f"resubscribed to {self._subscription}")
        elif self._was_connected:  # a clean disconnect, and back
            log.warning("reconnected to the mqtt broker; resubscribed to %s", self._subscription)
        else:
            log.info(
                "connected to mqtt %s:%d, subscribed to %s",
                self._host,
                self._port,
                self._subscription,
            )
        self._was_connected = True

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._metrics.mqtt_connected.set(0)
        self._connected = False
        if reason.is_failure:
            self._outage.failed(f"connection lost: {reason}")

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        self._outage.failed("cannot connect")

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # brokers should refuse these; dead-lettered if one does not
            topic = message._topic.decode("utf-8", "replace")
        delivery = Delivery(topic, bytes(message.payload), message.mid, self._session)
        if message.qos == 0:  # nothing to acknowledge; counted and forwarded all the same
            delivery.session = -1
        with self._batch_lock:
            self._batch.append(delivery)
            first = len(self._batch) == 1
        if first:
            self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._batch_lock:
            batch, self._batch = self._batch, []
        if batch and self._deliver is not None:
            self._deliver(batch)
