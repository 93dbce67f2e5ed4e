"""Typed, frozen settings, one object per service.

Read from the environment (``FLOORSTREAM_*``) at a service's entry point only, then passed
down; command-line options override the environment. Nothing else in the code reads
``os.environ``.

A setting that is missing where a service needs it (say, ``FLOORSTREAM_DATABASE_URL`` for the
API started on its own) is a configuration error at start-up, not a failure later.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.types import FUTURE_TOLERANCE_S
from services.runtime.errors import ConfigurationError

LogFormat = Literal["text", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]
Environment = Literal["development", "production"]

_MQTT_URL = re.compile(r"^mqtts?://(?:[^:@/\s]+(?::[^@/\s]*)?@)?[^:@/\s]+:\d{1,5}/?$")
_HOST_PORT = re.compile(r"^[^:,\s]+:\d{1,5}$")


def _mqtt_url(value: str | None) -> str | None:
    if value is not None and not _MQTT_URL.match(value):
        raise ValueError("expected mqtt://[user:pass@]host:port")
    return value


def _bootstrap(value: str | None) -> str | None:
    if value is not None and not all(_HOST_PORT.match(part) for part in value.split(",")):
        raise ValueError("expected host:port[,host:port]")
    return value


def _database_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("expected postgresql://…")
    return value


MqttUrl = Annotated[str | None, AfterValidator(_mqtt_url)]
KafkaBootstrap = Annotated[str | None, AfterValidator(_bootstrap)]
DatabaseUrl = Annotated[str | None, AfterValidator(_database_url)]


class CommonSettings(BaseSettings):
    """What every service reads: where the servers are, how to log, and how far ahead of its
    clock an event may be."""

    model_config = SettingsConfigDict(
        env_prefix="FLOORSTREAM_", frozen=True, extra="ignore", validate_default=True
    )

    mqtt_url: MqttUrl = Field(default=None, description="mqtt://[user:pass@]host:port")
    kafka_bootstrap: KafkaBootstrap = Field(default=None, description="host:port[,host:port]")
    database_url: DatabaseUrl = Field(default=None, description="postgresql://…")
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

    def require_mqtt(self) -> str:
        return _required(self.mqtt_url, "FLOORSTREAM_MQTT_URL")

    def require_kafka(self) -> str:
        return _required(self.kafka_bootstrap, "FLOORSTREAM_KAFKA_BOOTSTRAP")

    def require_database(self) -> str:
        return _required(self.database_url, "FLOORSTREAM_DATABASE_URL")


def _required(value: str | None, variable: str) -> str:
    if value is None:
        raise ConfigurationError(
            f"{variable} is not set: a service started on its own needs it "
            "(`floorstream up` sets it for the services it starts)"
        )
    return value


class ApiSettings(CommonSettings):
    """The HTTP API and board pages."""

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


class UpSettings(CommonSettings):
    """`floorstream up`: the servers it is pointed at (none started for those) and the token."""

    bootstrap_token: SecretStr | None = None
