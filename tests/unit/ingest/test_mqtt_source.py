"""The paho adapter's departures from plain paho: the batched acknowledgement (the bytes paho
itself would send, one packet for many), the read-ahead of the socket, and "connected" meaning
subscribed."""

from __future__ import annotations

import asyncio

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode
from prometheus_client import CollectorRegistry

from ingest.metrics import GatewayMetrics
from ingest.mqtt_source import MqttSource, _ReadAheadClient, puback_packets


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_the_joined_pubacks_are_the_bytes_of_paho_s_own_acks(protocol: int) -> None:
    mids = [1, 2, 255, 256, 40_000, 65_535]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=protocol, manual_ack=True)
    for mid in mids:
        client.ack(mid, 1)
    paho_bytes = b"".join(bytes(packet["packet"]) for packet in client._out_packet)
    assert puback_packets(mids) == paho_bytes


def test_paho_still_has_the_queue_the_batched_ack_uses() -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, manual_ack=True)
    client._packet_queue(mqtt.PUBACK, puback_packets([7, 8]), 0, 1)
    [packet] = client._out_packet
    assert packet["packet"] == b"\x40\x02\x00\x07\x40\x02\x00\x08"


class _Segments:
    """A non-blocking socket that has received ``segments``, one per `recv` at most."""

    def __init__(self, segments: list[bytes]) -> None:
        self.segments = list(segments)
        self.recvs = 0

    def close(self) -> None:
        pass

    def recv(self, bufsize: int) -> bytes:
        self.recvs += 1
        if not self.segments:
            raise BlockingIOError
        segment = self.segments.pop(0)
        if len(segment) > bufsize:
            self.segments.insert(0, segment[bufsize:])
        return segment[:bufsize]


def _publish(topic: str, mid: int, payload: bytes) -> bytes:
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + mid.to_bytes(2, "big") + b"\x00" + payload
    assert len(body) < 128  # one byte of remaining length
    return bytes([0x32, len(body)]) + body


def test_the_read_ahead_client_reads_every_packet_across_any_split() -> None:
    packets = [
        _publish(f"floor/v1/f1/l{i}/s1/machine", i + 1, b'{"n": %d}' % i) for i in range(300)
    ]
    stream = b"".join(packets)
    cuts = [0, 1, 2, 7, 1000, 1001, 5000, 9000, len(stream)]  # mid-header, mid-payload
    segments = [stream[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    sock = _Segments(segments)
    client = _ReadAheadClient(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    received: list[tuple[str, int]] = []
    client.on_message = lambda _c, _u, message: received.append((message.topic, message.mid))
    client._sock = sock  # type: ignore[assignment]
    while sock.segments:
        assert client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert received == [(f"floor/v1/f1/l{i}/s1/machine", i + 1) for i in range(300)]
    assert sock.recvs <= 2 * len(segments)  # not two or three per packet
    client._sock = None


class _Outage:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.recoveries = 0

    @property
    def away(self) -> bool:
        return bool(self.failures) and self.recoveries == 0

    def failed(self, error: BaseException | str) -> None:
        self.failures.append(str(error))

    def recovered(self, note: str = "") -> None:
        self.recoveries += 1


def _source(
    outage: _Outage, loop: asyncio.AbstractEventLoop
) -> tuple[MqttSource, CollectorRegistry]:
    registry = CollectorRegistry()
    source = MqttSource(
        "127.0.0.1",
        1883,
        GatewayMetrics.create(registry),
        client_id="gw-test",
        shared_group="floorstream",
        shared=True,
        receive_maximum=100,
        loop=loop,
        outage=outage,
    )
    return source, registry


def test_the_gateway_is_connected_once_the_suback_grants_its_subscription() -> None:
    """Not at the CONNACK: until the SUBACK the broker routes nothing to it, so readiness, the
    metric and the log line wait for the grant; a refused subscription is an outage."""
    outage, loop = _Outage(), asyncio.new_event_loop()
    try:
        _check_connected_on_suback(outage, loop)
    finally:
        loop.close()


def _check_connected_on_suback(outage: _Outage, loop: asyncio.AbstractEventLoop) -> None:
    source, registry = _source(outage, loop)
    client = source._client
    granted, refused = (
        ReasonCode(PacketTypes.SUBACK, "Granted QoS 1"),
        ReasonCode(PacketTypes.SUBACK, "Not authorized"),
    )
    ok = ReasonCode(PacketTypes.CONNACK, "Success")
    connected = lambda: registry.get_sample_value("floorstream_gateway_mqtt_connected")  # noqa: E731

    source._on_connect(client, None, mqtt.ConnectFlags(False), ok, None)
    assert not source.connected and connected() == 0

    source._on_subscribe(client, None, 1, [refused], None)
    assert not source.connected and connected() == 0
    assert outage.failures == ["refused the subscription to $share/floorstream/floor/v1/#: "
                               "Not authorized"]  # fmt: skip

    source._on_subscribe(client, None, 2, [granted], None)
    assert source.connected and connected() == 1 and outage.recoveries == 1
