"""The embedded stack: the servers `floorstream up` and the test fixtures start.

One server per dependency that is not given: where a URL is given (from
``FLOORSTREAM_MQTT_URL``, ``FLOORSTREAM_KAFKA_BOOTSTRAP`` or ``FLOORSTREAM_DATABASE_URL``), that
server is used and none is started. Servers start in dependency-free order, each waited for
until it answers, and stop in reverse. The embedded PostgreSQL keeps its port across starts on
one data directory (``postgres.port``), so the database URL it was given stays valid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from services.runtime.errors import ServerStartError
from services.runtime.mqtt_auth import AuthFiles
from services.stack.embedded.kafka import EmbeddedKafka
from services.stack.embedded.mqtt import EmbeddedMqtt, MqttFlavour
from services.stack.embedded.postgres import EmbeddedPostgres
from services.stack.embedded.process import free_port, port_open

log = logging.getLogger(f"floorstream.{__name__}")

POSTGRES_PORT_FILE = "postgres.port"


class _Server(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Endpoints:
    """Where the three servers answer, embedded or not."""

    mqtt_url: str
    kafka_bootstrap: str
    database_url: str
    mqtt_flavour: MqttFlavour

    def environment(self) -> dict[str, str]:
        """The ``FLOORSTREAM_*`` variables that point a service at these servers."""
        return {
            "FLOORSTREAM_MQTT_URL": self.mqtt_url,
            "FLOORSTREAM_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "FLOORSTREAM_DATABASE_URL": self.database_url,
            "FLOORSTREAM_GATEWAY_SHARED_SUBSCRIPTION": str(
                self.mqtt_flavour.supports_shared_subscriptions
            ).lower(),
        }


@dataclass(frozen=True)
class StackPlan:
    """What to start: a given URL means "use it"; a port of 0 means "any free port".

    ``mqtt_auth``: the password and ACL files the embedded broker enforces (Mosquitto only).
    """

    data_dir: Path
    mqtt_url: str | None = None
    kafka_bootstrap: str | None = None
    database_url: str | None = None
    mqtt_port: int = 0
    kafka_port: int = 0
    postgres_port: int = 0
    mqtt_flavour: MqttFlavour | None = None
    durable: bool = True
    mqtt_auth: AuthFiles | None = None


class EmbeddedStack:
    """Starts the servers a plan asks for; a context manager that stops them in reverse."""

    def __init__(self, plan: StackPlan) -> None:
        self.plan = plan
        self._started: list[_Server] = []
        self.mqtt: EmbeddedMqtt | None = None
        self.kafka: EmbeddedKafka | None = None
        self.postgres: EmbeddedPostgres | None = None

    def start(self) -> Endpoints:
        plan, logs = self.plan, self.plan.data_dir / "logs"
        plan.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            mqtt_url, flavour = plan.mqtt_url, MqttFlavour.EXTERNAL
            if mqtt_url is None:
                self.mqtt = EmbeddedMqtt(
                    self._port(plan.mqtt_port, "the MQTT broker"),
                    plan.data_dir / "mqtt",
                    log_path=logs / "mqtt.log",
                    prefer=plan.mqtt_flavour,
                    auth=plan.mqtt_auth,
                )
                self._start(self.mqtt)
                mqtt_url, flavour = self.mqtt.url, self.mqtt.flavour
            kafka = plan.kafka_bootstrap
            if kafka is None:
                self.kafka = EmbeddedKafka(
                    self._port(plan.kafka_port, "the Kafka broker"), log_path=logs / "kafka.log"
                )
                self._start(self.kafka)
                kafka = self.kafka.bootstrap
            database = plan.database_url
            if database is None:
                self.postgres = EmbeddedPostgres(
                    plan.data_dir / "postgres",
                    self._postgres_port(),
                    log_path=logs / "postgres.log",
                    durable=plan.durable,
                )
                self._start(self.postgres)
                database = self.postgres.url
        except BaseException:
            self.stop()
            raise
        return Endpoints(mqtt_url, kafka, database, flavour)

    def _port(self, port: int, what: str) -> int:
        if port == 0:
            return free_port()
        if port_open("127.0.0.1", port)():  # else our readiness probe would find the other one
            raise ServerStartError(
                f"port {port} for {what} is already in use: stop what holds it, or give "
                f"another port (0 = any free port)"
            )
        return port

    def _postgres_port(self) -> int:
        """The plan's port; for "any free port", the one of the last start on this data
        directory where it is free, so that a ``FLOORSTREAM_DATABASE_URL`` copied from the
        announcement stays right across restarts (kept in ``postgres.port``)."""
        plan = self.plan
        if plan.postgres_port != 0:
            return self._port(plan.postgres_port, "PostgreSQL")
        kept = plan.data_dir / POSTGRES_PORT_FILE
        try:
            port = int(kept.read_text().strip())
        except (OSError, ValueError):
            port = 0
        if not 0 < port < 65536 or port_open("127.0.0.1", port)():
            if port:
                log.warning("PostgreSQL's port %d is taken now: another port this time", port)
            port = free_port()
        kept.write_text(f"{port}\n")
        return port

    def _start(self, server: _Server) -> None:
        server.start()
        self._started.append(server)

    def stop(self) -> None:
        while self._started:
            server = self._started.pop()
            try:
                server.stop()
            except Exception:
                log.exception("could not stop %s cleanly", type(server).__name__)

    def __enter__(self) -> Endpoints:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
