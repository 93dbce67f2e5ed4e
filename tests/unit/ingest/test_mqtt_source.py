"""The paho adapter's two departures from plain paho: the batched acknowledgement (the bytes
paho itself would send, one packet for many) and the read-ahead of the socket."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from ingest.mqtt_source import _ReadAheadClient, puback_packets


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
