"""The one parser of MQTT URLs: what `with_login` builds, `parse_mqtt_url` and the settings take
apart again, for any login and any host."""

from __future__ import annotations

import os
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.mqtt_url import InvalidMqttUrl, MqttAddress, parse_mqtt_url, with_login
from services.runtime.settings import GatewaySettings, SimulatorSettings

_LABEL = r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
HOSTS = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.from_regex(rf"{_LABEL}(\.{_LABEL}){{0,3}}", fullmatch=True),
)
"""IPv4, IPv6 (as `ipaddress` writes it, lower case) and host names (lower case: a URL's host
is read in lower case)."""
USERS = st.text(min_size=1)  # an empty user name is no login: parse_mqtt_url reads it as None
PASSWORDS = st.text()


def _url(host: str, port: int, tls: bool) -> str:
    """``mqtt[s]://host:port``, written by hand."""
    return f"{'mqtts' if tls else 'mqtt'}://{f'[{host}]' if ':' in host else host}:{port}"


@given(
    host=HOSTS,
    port=st.integers(0, 65535),
    tls=st.booleans(),
    user=USERS,
    password=PASSWORDS,
)
def test_a_url_with_a_login_is_taken_apart_into_what_went_in(
    host: str, port: int, tls: bool, user: str, password: str
) -> None:
    address = parse_mqtt_url(with_login(_url(host, port, tls), user, password))
    assert address == MqttAddress(host, port, user, password, tls)
    assert parse_mqtt_url(address.url()) == address


@given(host=HOSTS, port=st.integers(0, 65535), user=USERS, password=PASSWORDS)
def test_the_settings_take_every_url_with_login_builds(
    host: str, port: int, user: str, password: str
) -> None:
    url = with_login(_url(host, port, tls=False), user, password)
    with mock.patch.dict(os.environ, {"FLOORSTREAM_MQTT_URL": url}):
        settings = SimulatorSettings()
    assert settings.mqtt_url == MqttAddress(host, port, user, password)


def test_an_ipv6_broker_and_a_percent_encoded_password_are_taken() -> None:
    url = with_login("mqtt://[::1]:1883", "gw", "p@ss")
    assert url == "mqtt://gw:p%40ss@[::1]:1883"
    settings = GatewaySettings(mqtt_url=url, kafka_bootstrap="127.0.0.1:9092")
    assert settings.mqtt_url == MqttAddress("::1", 1883, "gw", "p@ss")


@pytest.mark.parametrize(
    ("address", "url"),
    [
        (MqttAddress("broker", 1883), "mqtt://broker:1883"),
        (MqttAddress("broker", 1883, "gw"), "mqtt://gw@broker:1883"),
        (MqttAddress("broker", 8883, "gw", "", tls=True), "mqtts://gw:@broker:8883"),
        (MqttAddress("::1", 1883, "g w", "a/b:c@d"), "mqtt://g%20w:a%2Fb%3Ac%40d@[::1]:1883"),
    ],
)
def test_an_address_is_written_as_its_url(address: MqttAddress, url: str) -> None:
    assert address.url() == url
    assert parse_mqtt_url(url) == address


@pytest.mark.parametrize(
    "url",
    [
        "mqtt://gw:hunter2/x@broker:1883",  # an unencoded '/': the password read as the port
        "mqtt://gw:hunter2@[::1:1883",
        "mqtt://gw:hunter 2@broker:1883",
        "mqtt://gw:hunter2@broker:99999",
    ],
)
def test_a_refusal_never_quotes_the_password(url: str) -> None:
    with pytest.raises(InvalidMqttUrl) as refused:
        parse_mqtt_url(url)
    assert "hunter" not in str(refused.value)
