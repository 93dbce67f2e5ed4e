from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from services.runtime.mqtt_url import MqttAddress
from services.runtime.settings import (
    ApiSettings,
    CommonSettings,
    DeadLetterSettings,
    GatewaySettings,
    ProcessorSettings,
    SimulatorSettings,
    TokenSettings,
    UpSettings,
)

MQTT = "mqtt://gw:mqtt-pw@broker.local:1883"
KAFKA = "k1:9092,k2:9092"
DATABASE = "postgresql://u:db-pw@db:5432/floorstream"


@pytest.fixture(autouse=True)
def _no_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (
        "FLOORSTREAM_MQTT_URL",
        "FLOORSTREAM_KAFKA_BOOTSTRAP",
        "FLOORSTREAM_DATABASE_URL",
    ):
        monkeypatch.delenv(variable, raising=False)


def test_reads_the_servers_from_the_environment_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOORSTREAM_MQTT_URL", MQTT)
    monkeypatch.setenv("FLOORSTREAM_KAFKA_BOOTSTRAP", KAFKA)
    monkeypatch.setenv("FLOORSTREAM_DATABASE_URL", DATABASE)
    settings = UpSettings()
    assert settings.mqtt_url == MqttAddress("broker.local", 1883, "gw", "mqtt-pw")
    assert settings.kafka_bootstrap == ("k1:9092", "k2:9092")
    assert settings.database_url == SecretStr(DATABASE)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FLOORSTREAM_MQTT_URL", "http://broker:1883"),
        ("FLOORSTREAM_MQTT_URL", "mqtt://broker"),
        ("FLOORSTREAM_MQTT_URL", "mqtt://bro ker:1883"),
        ("FLOORSTREAM_MQTT_URL", ""),
        ("FLOORSTREAM_KAFKA_BOOTSTRAP", "kafka"),
        ("FLOORSTREAM_KAFKA_BOOTSTRAP", "k1:9092,"),
        ("FLOORSTREAM_KAFKA_BOOTSTRAP", "k1:9092, k2:9092"),
        ("FLOORSTREAM_KAFKA_BOOTSTRAP", ""),
        ("FLOORSTREAM_DATABASE_URL", "mysql://db/x"),
        ("FLOORSTREAM_LOG_FORMAT", "xml"),
        ("FLOORSTREAM_ENVIRONMENT", "staging"),
        ("FLOORSTREAM_FUTURE_TOLERANCE_S", "0"),
        ("FLOORSTREAM_FUTURE_TOLERANCE_S", "-5"),
        ("FLOORSTREAM_FUTURE_TOLERANCE_S", "86401"),
    ],
)
def test_rejects_bad_values_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as error:
        UpSettings()
    assert [item["loc"] for item in error.value.errors()] == [
        (variable.removeprefix("FLOORSTREAM_").lower(),)
    ]


SERVERS_NEEDED = [
    (GatewaySettings, {"mqtt_url", "kafka_bootstrap"}),
    (ProcessorSettings, {"kafka_bootstrap", "database_url"}),
    (ApiSettings, {"database_url"}),
    (SimulatorSettings, {"mqtt_url"}),
    (DeadLetterSettings, {"kafka_bootstrap"}),
    (TokenSettings, set()),  # else the database of a running `floorstream up`
    (UpSettings, set()),  # it starts the servers not given
]


@pytest.mark.parametrize(
    ("cls", "needed"), SERVERS_NEEDED, ids=[c.__name__ for c, _ in SERVERS_NEEDED]
)
def test_the_servers_a_service_needs_are_required(
    cls: type[CommonSettings], needed: set[str]
) -> None:
    assert {name for name, field in cls.model_fields.items() if field.is_required()} == needed
    if needed:
        with pytest.raises(ValidationError) as error:
            cls()
        assert {item["type"] for item in error.value.errors()} == {"missing"}
        assert {item["loc"] for item in error.value.errors()} == {(name,) for name in needed}
    else:
        cls()


def test_an_address_given_parsed_is_taken_as_it_is() -> None:
    address = MqttAddress("::1", 1883, "gw", "p@ss")
    settings = GatewaySettings(mqtt_url=address, kafka_bootstrap=("k1:9092",))
    assert (settings.mqtt_url, settings.kafka_bootstrap) == (address, ("k1:9092",))


def test_settings_are_frozen() -> None:
    settings = GatewaySettings(mqtt_url=MQTT, kafka_bootstrap=KAFKA)
    with pytest.raises(ValidationError):
        settings.gateway_batch_size = 3  # type: ignore[misc]


def test_short_bootstrap_token_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOORSTREAM_DATABASE_URL", DATABASE)
    monkeypatch.setenv("FLOORSTREAM_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOORSTREAM_BOOTSTRAP_TOKEN", "admin")
    with pytest.raises(ValidationError, match="at least 24"):
        ApiSettings()


def test_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOORSTREAM_DATABASE_URL", DATABASE)
    monkeypatch.setenv("FLOORSTREAM_BOOTSTRAP_TOKEN", "a-very-secret-token-value-123")
    settings = ApiSettings()
    assert "a-very-secret" not in repr(settings)


@pytest.mark.parametrize("cls", [GatewaySettings, ProcessorSettings, UpSettings])
def test_no_password_in_a_repr(monkeypatch: pytest.MonkeyPatch, cls: type[CommonSettings]) -> None:
    monkeypatch.setenv("FLOORSTREAM_MQTT_URL", MQTT)
    monkeypatch.setenv("FLOORSTREAM_KAFKA_BOOTSTRAP", KAFKA)
    monkeypatch.setenv("FLOORSTREAM_DATABASE_URL", DATABASE)
    settings = cls()
    for shown in (repr(settings), str(settings)):
        assert "mqtt-pw" not in shown and "db-pw" not in shown
