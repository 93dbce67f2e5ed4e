from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.runtime.errors import ConfigurationError
from services.runtime.settings import ApiSettings, CommonSettings, GatewaySettings


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOORSTREAM_MQTT_URL", "mqtt://gw:secret@broker.local:1883")
    monkeypatch.setenv("FLOORSTREAM_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("FLOORSTREAM_DATABASE_URL", "postgresql://u@db:5432/floorstream")
    settings = CommonSettings()
    assert settings.require_mqtt() == "mqtt://gw:secret@broker.local:1883"
    assert settings.require_kafka() == "k1:9092,k2:9092"
    assert settings.require_database().endswith("/floorstream")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FLOORSTREAM_MQTT_URL", "http://broker:1883"),
        ("FLOORSTREAM_MQTT_URL", "mqtt://broker"),
        ("FLOORSTREAM_KAFKA_BOOTSTRAP", "kafka"),
        ("FLOORSTREAM_KAFKA_BOOTSTRAP", "k1:9092,"),
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
        CommonSettings()
    assert variable.removeprefix("FLOORSTREAM_").lower() in str(error.value)


def test_missing_server_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOORSTREAM_DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="FLOORSTREAM_DATABASE_URL"):
        CommonSettings().require_database()


def test_settings_are_frozen() -> None:
    settings = GatewaySettings()
    with pytest.raises(ValidationError):
        settings.gateway_batch_size = 3  # type: ignore[misc]


def test_short_bootstrap_token_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOORSTREAM_ENVIRONMENT", "production")
    monkeypatch.setenv("FLOORSTREAM_BOOTSTRAP_TOKEN", "admin")
    with pytest.raises(ValidationError, match="at least 24"):
        ApiSettings()


def test_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOORSTREAM_BOOTSTRAP_TOKEN", "a-very-secret-token-value-123")
    settings = ApiSettings()
    assert "a-very-secret" not in repr(settings)
