"""The MQTT URL and the publisher's bound on messages in flight (no broker: paho queues them)."""

from __future__ import annotations

import threading

import pytest
from paho.mqtt.reasoncodes import ReasonCode

from services.runtime.mqtt_url import InvalidMqttUrl, MqttAddress, parse_mqtt_url
from services.simulator.publisher import MqttPublisher


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("mqtt://127.0.0.1:1883", MqttAddress("127.0.0.1", 1883)),
        ("mqtt://broker.local:1883/", MqttAddress("broker.local", 1883)),
        ("mqtt://gw:s3cr%40t@broker:8883", MqttAddress("broker", 8883, "gw", "s3cr@t")),
        ("mqtts://gw:@broker:8883", MqttAddress("broker", 8883, "gw", "", tls=True)),
        ("mqtt://[::1]:1883", MqttAddress("::1", 1883)),
    ],
)
def test_an_mqtt_url_is_taken_apart(url: str, address: MqttAddress) -> None:
    assert parse_mqtt_url(url) == address


@pytest.mark.parametrize(
    "url",
    ["http://broker:1883", "mqtt://broker", "mqtt://:1883", "mqtt://b:99999", "mqtt://b:1/x"],
)
def test_a_bad_mqtt_url_is_refused(url: str) -> None:
    with pytest.raises(InvalidMqttUrl):
        parse_mqtt_url(url)


def test_the_password_stays_out_of_the_repr() -> None:
    assert "s3cret" not in repr(parse_mqtt_url("mqtt://gw:s3cret@broker:1883"))


def _ack(publisher: MqttPublisher) -> None:
    """What paho's network thread does on a PUBACK."""
    publisher._on_publish(None, None, 1, ReasonCode(4), None)  # type: ignore[arg-type]


def test_no_more_than_max_in_flight_wait_for_their_acknowledgement() -> None:
    stop = threading.Event()
    address = MqttAddress("127.0.0.1", 1)
    publisher = MqttPublisher(address, client_id="t", stop=stop, max_in_flight=2)
    # Not connected: paho queues QoS 1 messages for when it is, and they count as in flight.
    assert publisher.publish("floor/v1/f1/l1/cut/machine", b"{}")
    assert publisher.publish("floor/v1/f1/l1/cut/machine", b"{}")
    assert publisher.in_flight == 2
    assert not publisher.drain(0.0)
    stop.set()
    assert not publisher.publish("floor/v1/f1/l1/cut/machine", b"{}")  # full, and stopping
    _ack(publisher)
    assert publisher.in_flight == 1
    assert publisher.publish("floor/v1/f1/l1/cut/machine", b"{}")
    _ack(publisher)
    _ack(publisher)
    assert publisher.drain(0.0)


def test_a_waiting_publish_goes_on_when_an_acknowledgement_comes() -> None:
    stop = threading.Event()
    address = MqttAddress("127.0.0.1", 1)
    publisher = MqttPublisher(address, client_id="t", stop=stop, max_in_flight=1)
    assert publisher.publish("floor/v1/f1/l1/cut/machine", b"{}")
    results: list[bool] = []
    waiting = threading.Thread(
        target=lambda: results.append(publisher.publish("floor/v1/f1/l1/cut/machine", b"{}"))
    )
    waiting.start()
    _ack(publisher)
    waiting.join(timeout=10)
    assert results == [True]
    assert publisher.in_flight == 1
