"""The embedded MQTT broker: Mosquitto where it is on PATH, else the pure-Python amqtt.

Mosquitto is configured never to drop a QoS 1 message queued for a slow subscriber: its default
``max_queued_messages 1000`` silently cut a burst of 50,000 to about 20,000 for the gateway. Its
sessions and queues persist under the data directory, so a restarted broker still holds what the
gateway has not acknowledged.

With credentials (``floorstream mqtt credentials``, see ``mqtt_credentials``) Mosquitto refuses
anonymous clients and applies the password and ACL files. amqtt cannot enforce those rules, so
a broker asked for credentials is never started as amqtt: that is a configuration error rather
than a broker silently open to all.

amqtt speaks only MQTT 3.1.1 and delivers nothing on a ``$share/...`` subscription, so with it the
gateway subscribes plainly and runs as one process (``MqttFlavour.supports_shared_subscriptions``).
"""

from __future__ import annotations

import enum
import getpass
import logging
import shutil
import sys
from pathlib import Path

from services.runtime.errors import ConfigurationError
from services.runtime.mqtt_auth import AuthFiles
from services.stack.embedded.process import ChildProcess, port_open

log = logging.getLogger(f"floorstream.{__name__}")


class MqttFlavour(enum.StrEnum):
    MOSQUITTO = "mosquitto"
    AMQTT = "amqtt"
    EXTERNAL = "external"

    @property
    def supports_shared_subscriptions(self) -> bool:
        return self is not MqttFlavour.AMQTT


def mosquitto_config(port: int, data_dir: Path, auth: AuthFiles | None = None) -> str:
    """The Mosquitto configuration of the embedded broker; with ``auth``, no anonymous client."""
    access = ["allow_anonymous true"]
    if auth is not None:
        access = [
            "allow_anonymous false",
            f"password_file {auth.password_file.resolve()}",
            f"acl_file {auth.acl_file.resolve()}",
        ]
    return "\n".join(
        [
            f"listener {port} 127.0.0.1",
            *access,
            # Never drop queued QoS 1 messages: nothing accepted may be lost (guarantee 1).
            "max_queued_messages 0",
            "max_queued_bytes 0",
            "max_inflight_messages 0",
            "persistence true",
            f"persistence_location {data_dir}/",
            "autosave_interval 10",
            "persistent_client_expiration 7d",
            "set_tcp_nodelay true",
            # Started as root, Mosquitto would switch to user `mosquitto`; stay the invoking user.
            f"user {getpass.getuser()}",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "",
        ]
    )


def amqtt_config(port: int) -> str:
    return "\n".join(
        [
            "listeners:",
            "  default:",
            "    type: tcp",
            f"    bind: 127.0.0.1:{port}",
            "plugins:",
            "  amqtt.plugins.authentication.AnonymousAuthPlugin:",
            "    allow_anonymous: true",
            "",
        ]
    )


class EmbeddedMqtt:
    """An MQTT broker on ``127.0.0.1:port``; Mosquitto if installed, else amqtt.

    With ``auth`` it must be Mosquitto: :class:`ConfigurationError` otherwise.
    """

    def __init__(
        self,
        port: int,
        data_dir: Path,
        *,
        log_path: Path,
        prefer: MqttFlavour | None = None,
        auth: AuthFiles | None = None,
    ) -> None:
        self.port = port
        self.data_dir = data_dir
        self.log_path = log_path
        has_mosquitto = shutil.which("mosquitto") is not None
        self.flavour = prefer or (MqttFlavour.MOSQUITTO if has_mosquitto else MqttFlavour.AMQTT)
        self.auth = auth
        self._child: ChildProcess | None = None
        if auth is not None and self.flavour is not MqttFlavour.MOSQUITTO:
            raise ConfigurationError(
                f"MQTT credentials exist ({auth.password_file.parent}) but Mosquitto is not "
                "installed: the fallback broker amqtt cannot enforce them, and floorstream "
                "will not run the broker open instead. Install mosquitto, or remove that "
                "directory to run without credentials (anonymous, on 127.0.0.1 only)."
            )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.flavour is MqttFlavour.MOSQUITTO:
            config = self.data_dir / "mosquitto.conf"
            config.write_text(mosquitto_config(self.port, self.data_dir, self.auth))
            argv = [shutil.which("mosquitto") or "mosquitto", "-c", str(config)]
        else:
            config = self.data_dir / "amqtt.yaml"
            config.write_text(amqtt_config(self.port))
            argv = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(config)]
        self._child = ChildProcess(f"mqtt ({self.flavour})", argv, log_path=self.log_path)
        self._child.start()
        self._child.wait_ready(port_open("127.0.0.1", self.port), timeout=timeout)
        log.info(
            "mqtt (%s) ready on 127.0.0.1:%d%s",
            self.flavour,
            self.port,
            " (credentials required)" if self.auth is not None else "",
        )

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop(grace=10)
            self._child = None
