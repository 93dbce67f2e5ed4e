"""MQTT credentials per factory against a real Mosquitto: each account walled off to its topics.

MQTT v5, so that the broker answers a refused QoS 1 publish with a PUBACK reason code (0x87,
"Not authorized") instead of accepting and silently dropping it.
"""

from __future__ import annotations

import getpass
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from services.runtime.mqtt_credentials import CredentialStore, gateway_secrets
from services.stack.embedded.mqtt import EmbeddedMqtt, MqttFlavour
from services.stack.embedded.process import ChildProcess, free_port, port_open
from tests.support.processes import wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("mosquitto") is None,
        reason="mosquitto is not installed: credentials need it (amqtt cannot enforce them)",
    ),
]

NOT_AUTHORIZED = 0x87
NO_SUBSCRIBERS = 0x10  # accepted, delivered to no one
GATEWAY_FILTER = "$share/floorstream/floor/v1/#"
WAIT_S = 10.0


class Client:
    """A paho MQTT v5 client that records CONNACK, PUBACKs, SUBACKs and messages."""

    def __init__(self, port: int, username: str | None, password: str | None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.connack: ReasonCode | None = None
        self.connected = threading.Event()
        self.messages: list[tuple[str, bytes]] = []
        self.arrived = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.connected.wait(WAIT_S), "no CONNACK"

    def _on_connect(self, c: object, u: object, f: object, rc: ReasonCode, p: object) -> None:
        self.connack = rc
        self.connected.set()

    def _on_message(self, c: object, u: object, message: mqtt.MQTTMessage) -> None:
        with self.arrived:
            self.messages.append((message.topic, message.payload))
            self.arrived.notify_all()

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def publish(self, topic: str, payload: bytes) -> int:
        """Publish at QoS 1 and wait for the PUBACK; its reason code."""
        codes: list[int] = []
        done = threading.Event()

        def on_publish(c: object, u: object, mid: int, rc: ReasonCode, p: Properties) -> None:
            codes.append(rc.value)
            done.set()

        self.client.on_publish = on_publish
        self.client.publish(topic, payload, qos=1)
        assert done.wait(WAIT_S), f"no PUBACK for {topic}"
        return codes[0]

    def subscribe(self, topic: str) -> list[int]:
        """Subscribe at QoS 1; the SUBACK's reason codes."""
        codes: list[int] = []
        done = threading.Event()

        def on_subscribe(
            c: object, u: object, mid: int, rcs: list[ReasonCode], p: Properties
        ) -> None:
            codes.extend(rc.value for rc in rcs)
            done.set()

        self.client.on_subscribe = on_subscribe
        self.client.subscribe(topic, qos=1)
        assert done.wait(WAIT_S), f"no SUBACK for {topic}"
        return codes

    def wait_for(self, payload: bytes) -> list[tuple[str, bytes]]:
        """Every message received up to and including ``payload``."""
        with self.arrived:
            assert self.arrived.wait_for(
                lambda: any(p == payload for _, p in self.messages), WAIT_S
            ), f"{payload!r} never arrived; got {self.messages}"
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Broker:
    port: int
    factory_a: str
    factory_b: str
    gateway: str
    store: CredentialStore
    server: EmbeddedMqtt

    def connect(self, username: str | None, password: str | None) -> Client:
        client = Client(self.port, username, password)
        self._clients.append(client)
        return client

    def __post_init__(self) -> None:
        self._clients: list[Client] = []

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    data_dir = tmp_path_factory.mktemp("mqtt-auth")
    store = CredentialStore.in_data_dir(data_dir)
    issued_a, issued_b = store.issue_factory("a"), store.issue_factory("b")
    server = EmbeddedMqtt(
        free_port(),
        data_dir / "mqtt",
        log_path=data_dir / "mqtt.log",
        prefer=MqttFlavour.MOSQUITTO,
        auth=store.files,
    )
    server.start()
    try:
        passwords = issued_a.password, issued_b.password, store.gateway_password()
        yield Broker(server.port, *passwords, store, server)
    finally:
        server.stop()


@pytest.fixture
def on(broker: Broker) -> Iterator[Broker]:
    yield broker
    broker.close_clients()


def test_a_factory_publishes_under_its_own_topics_to_the_gateway(on: Broker) -> None:
    gateway = on.connect("floorstream-gateway", on.gateway)
    assert gateway.accepted
    assert gateway.subscribe(GATEWAY_FILTER) == [1]
    sender = on.connect("factory-a", on.factory_a)
    assert sender.publish("floor/v1/a/l1/s1/machine", b"own-1") == 0
    assert gateway.wait_for(b"own-1") == [("floor/v1/a/l1/s1/machine", b"own-1")]


def test_a_factory_cannot_publish_to_another_factorys_topics(on: Broker) -> None:
    gateway = on.connect("floorstream-gateway", on.gateway)
    gateway.subscribe(GATEWAY_FILTER)
    sender = on.connect("factory-a", on.factory_a)
    assert sender.publish("floor/v1/b/l1/s1/machine", b"forged") == NOT_AUTHORIZED
    assert sender.publish("floor/v1/ab/l1/s1/machine", b"prefix") == NOT_AUTHORIZED
    assert sender.publish("elsewhere/a", b"outside") == NOT_AUTHORIZED
    # A later message of the same sender arrives, so the refused ones would have by now.
    assert sender.publish("floor/v1/a/l1/s1/machine", b"marker") == 0
    received = gateway.wait_for(b"marker")
    assert [p for _, p in received] == [b"marker"]


def test_a_factory_reads_nothing(on: Broker) -> None:
    gateway = on.connect("floorstream-gateway", on.gateway)
    gateway.subscribe(GATEWAY_FILTER)
    sender = on.connect("factory-a", on.factory_a)
    # Mosquitto 2's acl_file grants every subscription (it checks none), but delivers nothing
    # that the ACL does not let the account read.
    for topic in ["#", "floor/v1/#", "floor/v1/a/#", "$share/other/floor/v1/#"]:
        sender.subscribe(topic)
    other = on.connect("factory-b", on.factory_b)
    assert other.publish("floor/v1/b/l1/s1/machine", b"from-b") == 0
    assert sender.publish("floor/v1/a/l1/s1/machine", b"from-a") == 0
    gateway.wait_for(b"from-a")
    gateway.wait_for(b"from-b")
    # Both are through the broker (the gateway has them): a SUBACK asked for now reaches the
    # sender behind any message the broker sent it. None came.
    sender.subscribe("floor/v1/a/#")
    assert sender.messages == []


def test_the_gateway_cannot_publish(on: Broker) -> None:
    gateway = on.connect("floorstream-gateway", on.gateway)
    assert gateway.publish("floor/v1/a/l1/s1/machine", b"from-gateway") == NOT_AUTHORIZED


@pytest.mark.parametrize(
    ("username", "password"),
    [("factory-a", "wrong"), ("factory-zz", "whatever"), (None, None), ("", "")],
    ids=["wrong-password", "unknown-user", "anonymous", "empty"],
)
def test_a_wrong_or_missing_login_is_refused(
    on: Broker, username: str | None, password: str | None
) -> None:
    client = on.connect(username, password)
    assert client.connack is not None and client.connack.is_failure, client.connack


def test_revoked_credentials_are_refused_once_the_broker_reloads(tmp_path: Path) -> None:
    store = CredentialStore.in_data_dir(tmp_path)
    issued = store.issue_factory("c")
    server = EmbeddedMqtt(
        free_port(), tmp_path / "mqtt", log_path=tmp_path / "mqtt.log", auth=store.files
    )
    server.start()
    try:
        client = Client(server.port, "factory-c", issued.password)
        assert client.accepted
        client.close()
        store.revoke_factory("c")
        server.stop()
        server.start()
        client = Client(server.port, "factory-c", issued.password)
        assert not client.accepted
        client.close()
    finally:
        server.stop()


def test_the_deploy_configuration_starts_and_walls_off(tmp_path: Path) -> None:
    store = CredentialStore.in_data_dir(tmp_path)
    issued = store.issue_factory("north")
    conf = Path(__file__).parents[3] / "deploy" / "mosquitto" / "mosquitto.conf"
    port = free_port()
    text = (
        conf.read_text()
        .replace("listener 1883", f"listener {port} 127.0.0.1")
        .replace("/mosquitto/config/passwd", str(store.files.password_file))
        .replace("/mosquitto/config/acl", str(store.files.acl_file))
        .replace("/mosquitto/data/", f"{tmp_path}/")
    )
    (tmp_path / "mosquitto.conf").write_text(text + f"user {getpass.getuser()}\n")
    child = ChildProcess(
        "mosquitto",
        [shutil.which("mosquitto") or "mosquitto", "-c", str(tmp_path / "mosquitto.conf")],
        log_path=tmp_path / "mosquitto.log",
    )
    child.start()
    try:
        child.wait_ready(port_open("127.0.0.1", port), timeout=WAIT_S)
        anonymous = Client(port, None, None)
        assert not anonymous.accepted
        anonymous.close()
        sender = Client(port, "factory-north", issued.password)
        assert sender.publish("floor/v1/north/l1/s1/machine", b"x") == NO_SUBSCRIBERS
        assert sender.publish("floor/v1/south/l1/s1/machine", b"x") == NOT_AUTHORIZED
        sender.close()
    finally:
        child.stop()


# Mosquitto 2's acl_file checks no SUBSCRIBE and binds no client id to a username, so the gateway
# runs under names a factory account cannot know (`gateway_secrets`): an intruder using the
# default ones, or any others it can guess, neither takes a share of the gateway's messages nor
# closes its connection.


def test_a_factory_cannot_take_a_share_of_the_gateways_messages(on: Broker) -> None:
    _, group = gateway_secrets(on.gateway)
    gateway = on.connect("floorstream-gateway", on.gateway)
    gateway.subscribe(f"$share/{group}/floor/v1/#")
    intruder = on.connect("factory-a", on.factory_a)
    intruder.subscribe(GATEWAY_FILTER)  # the documented default group
    sender = on.connect("factory-b", on.factory_b)
    payloads = [f"share-{n}".encode() for n in range(4)]
    for payload in payloads:
        sender.publish("floor/v1/b/l1/s1/machine", payload)
    received = gateway.wait_for(payloads[-1])
    assert [p for _, p in received] == payloads


def test_a_factory_cannot_take_the_gateways_client_id(broker: Broker) -> None:
    client_id, _ = gateway_secrets(broker.gateway)
    gateway = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    gateway.username_pw_set("floorstream-gateway", broker.gateway)
    connected, subscribed, lost = threading.Event(), threading.Event(), threading.Event()
    gateway.on_connect = lambda *args: connected.set()
    gateway.on_subscribe = lambda *args: subscribed.set()
    gateway.on_disconnect = lambda *args: lost.set()
    gateway.connect("127.0.0.1", broker.port)
    gateway.loop_start()
    intruder = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="floorstream-gateway", protocol=mqtt.MQTTv5
    )
    intruder.username_pw_set("factory-a", broker.factory_a)
    answered = threading.Event()
    intruder.on_connect = lambda *args: answered.set()
    try:
        assert connected.wait(WAIT_S), "the gateway got no CONNACK"
        intruder.connect("127.0.0.1", broker.port)
        intruder.loop_start()
        assert answered.wait(WAIT_S), "the intruder got no CONNACK"
        # A broker handing a client id over closes the old connection before it answers the new
        # one: a SUBACK on the gateway's connection after the intruder's CONNACK shows it open.
        gateway.subscribe("floor/v1/a/#", qos=1)
        wait_until(lambda: subscribed.is_set() or lost.is_set(), WAIT_S, "the gateway's SUBACK")
        assert not lost.is_set()
    finally:
        for client in (intruder, gateway):
            client.disconnect()
            client.loop_stop()
