"""Typed, frozen settings, one object per service.

Read from the environment (``FLOORSTREAM_*``) at a service's entry point only, then passed
down; command-line options override the environment. Nothing else in the code reads
``os.environ``.

The servers a service needs are required fields of its settings: one that is missing (say,
``FLOORSTREAM_DATABASE_URL`` for the API started on its own) fails the reading of the settings
at start-up, not the service later. Each server's setting is parsed once, here, into the value
its users take: the MQTT URL into an `MqttAddress` (by `parse_mqtt_url`, the one parser of MQTT
URLs), the Kafka bootstrap into its ``host:port`` servers, the database URL into a `SecretStr`
(it holds a password).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.types import FUTURE_TOLERANCE_S
from services.runtime.mqtt_url import MqttAddress, parse_mqtt_url

LogFormat = Literal["text", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]
Environment = Literal["development", "production"]

_HOST_PORT = re.compile(r"^[^:,\s]+:\d{1,5}$")


def _mqtt_address(value: object) -> object:
    """A URL taken apart; anything else is left to be validated as an `MqttAddress`."""
    return parse_mqtt_url(value) if isinstance(value, str) else value


def _servers(value: object) -> object:
    return tuple(value.split(",")) if isinstance(value, str) else value


def _host_ports(servers: tuple[str, ...]) -> tuple[str, ...]:
    if not servers or not all(_HOST_PORT.match(server) for server in servers):
        raise ValueError("expected host:port[,host:port]")
    return servers


def _database_url(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
        raise ValueError("expected postgresql://…")
    return value


MqttUrl = Annotated[
    MqttAddress,
    NoDecode,
    BeforeValidator(_mqtt_address),
    Field(description="mqtt[s]://[user:pass@]host:port, user and password percent-encoded"),
]
KafkaBootstrap = Annotated[
    tuple[str, ...],
    NoDecode,
    BeforeValidator(_servers),
    AfterValidator(_host_ports),
    Field(description="host:port[,host:port]"),
]
DatabaseUrl = Annotated[
    SecretStr,
    AfterValidator(_database_url),
    Field(description="postgresql://…, a secret: it holds the password"),
]


class CommonSettings(BaseSettings):
    """What every service reads: how to log, and how far ahead of its clock an event may be."""

    model_config = SettingsConfigDict(
        env_prefix="FLOORSTREAM_", frozen=True, extra="ignore", validate_default=True
    )

    environment: Environment = "development"
    log_level: LogLevel = "info"
    log_format: LogFormat = "text"
    future_tolerance_s: int = Field(
        default=FUTURE_TOLERANCE_S,
        gt=0,
        le=86_400,
        description="Seconds an event's ts may be ahead of the clock of the service that "
        "receives it. Further ahead, the gateway dead-letters it (from_the_future) and the "
        "processors skip it: a line's clock set ahead must not hold its station in a state "
        "until then.",
    )


class ApiSettings(CommonSettings):
    """The HTTP API and board pages."""

    database_url: DatabaseUrl
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    bootstrap_token: SecretStr | None = None
    board_heartbeat_s: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Seconds between heartbeats on a board's live feed; a screen that hears "
        "nothing for 2.5 times this marks its figures stale.",
    )
    board_max_feeds_per_token: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="Live feeds one token may hold open at once in one API process; one more "
        "is refused with 429.",
    )

    @model_validator(mode="after")
    def _no_insecure_default_in_production(self) -> ApiSettings:
        token = self.bootstrap_token
        if self.environment == "production" and token is not None and len(token) < 24:
            raise ValueError("FLOORSTREAM_BOOTSTRAP_TOKEN must be at least 24 characters")
        return self


_METRICS_HOST = "Address of /metrics, /healthz and /readyz (0.0.0.0 in a container)."
_METRICS_PORT = "Port of /metrics, /healthz and /readyz; 0 = not served."


class GatewaySettings(CommonSettings):
    """The MQTT→Kafka ingest gateway."""

    mqtt_url: MqttUrl
    kafka_bootstrap: KafkaBootstrap
    gateway_client_id: str = Field(default="floorstream-gateway", min_length=1, max_length=64)
    gateway_shared_group: str = Field(default="floorstream", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    gateway_shared_subscription: bool = True
    gateway_max_in_flight: int = Field(default=10_000, ge=1, le=65_535)  # MQTT receive maximum
    gateway_batch_size: int = Field(default=500, ge=1, le=100_000)
    gateway_linger_ms: int = Field(default=5, ge=0, le=10_000)
    kafka_idempotence: bool = False
    kafka_durability: Literal["replicated", "memory"] = Field(
        default="replicated",
        description="replicated: an MQTT message is acknowledged once Kafka has its record "
        "(Kafka keeps it across a broker's death). memory: the broker keeps its log in memory "
        "only (the embedded one; `floorstream up` sets this), so an event is acknowledged "
        "only once every group of FLOORSTREAM_GATEWAY_PROCESSED_GROUPS has stored it.",
    )
    gateway_processed_groups: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("floorstream-efficiency", "floorstream-floor"),
        description="With kafka_durability=memory: the processors' consumer groups that must "
        "have stored an event before it is acknowledged, comma-separated.",
    )
    metrics_host: str = Field(default="127.0.0.1", min_length=1, description=_METRICS_HOST)
    metrics_port: int = Field(default=0, ge=0, le=65535, description=_METRICS_PORT)

    @field_validator("gateway_processed_groups", mode="before")
    @classmethod
    def _groups(cls, value: object) -> object:
        if isinstance(value, str):
            groups = tuple(part.strip() for part in value.split(","))
            if not all(groups) or not all(len(g) <= 128 for g in groups):
                raise ValueError("expected group[,group], each 1 to 128 characters")
            return groups
        return value


class ProcessorSettings(CommonSettings):
    """The Kafka→PostgreSQL stream processors."""

    kafka_bootstrap: KafkaBootstrap
    database_url: DatabaseUrl
    processor_group: str = Field(default="floorstream-efficiency", min_length=1, max_length=128)
    floor_group: str = Field(default="floorstream-floor", min_length=1, max_length=128)
    retention_days: int = Field(
        default=90,
        ge=2,
        le=3650,
        description="Raw events older than this are deleted (the per-minute figures are kept); "
        "an event that arrives later than this after its ts is skipped.",
    )
    processor_batch_max: int = Field(default=5_000, ge=1, le=1_000_000)
    processor_batch_ms: int = Field(default=200, ge=1, le=60_000)
    processor_lanes: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Transactions each processor applies a batch in at once, each on its own "
        "partitions and database connection: while PostgreSQL runs one lane's statements, the "
        "processor folds another's. 1 applies a batch in one transaction.",
    )
    processor_fetch_wait_ms: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="The longest a processor's Kafka fetch waits for records (the consumer's "
        "fetch_max_wait_ms). Tansu holds a fetch for much of it even when records are there "
        "(measured here: aiokafka's default of 500 ms gave 200 ms per hop, 50 ms gave 2 ms), so "
        "it bounds the latency to the boards; an idle processor asks Kafka about this often "
        "(at 50 ms both processors cost Tansu 0.04 of a core).",
    )
    metrics_host: str = Field(default="127.0.0.1", min_length=1, description=_METRICS_HOST)
    metrics_port: int = Field(default=0, ge=0, le=65535, description=_METRICS_PORT)


class SimulatorSettings(CommonSettings):
    """The simulated factory."""

    mqtt_url: MqttUrl


class DeadLetterSettings(CommonSettings):
    """`floorstream dead-letters`: the Kafka it reads."""

    kafka_bootstrap: KafkaBootstrap


class TokenSettings(CommonSettings):
    """The `token` commands: the database where set, else that of a running `floorstream up`."""

    database_url: DatabaseUrl | None = None


class UpSettings(CommonSettings):
    """`floorstream up`: the servers it is pointed at (none started for those) and the token."""

    mqtt_url: MqttUrl | None = None
    kafka_bootstrap: KafkaBootstrap | None = None
    database_url: DatabaseUrl | None = None
    bootstrap_token: SecretStr | None = None
