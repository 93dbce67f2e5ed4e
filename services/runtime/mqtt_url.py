"""``mqtt[s]://[user:pass@]host:port``, taken apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from services.runtime.errors import ConfigurationError


class InvalidMqttUrl(ConfigurationError, ValueError):
    """The MQTT URL is not ``mqtt[s]://[user:pass@]host:port``."""


@dataclass(frozen=True, slots=True)
class MqttAddress:
    """Where the MQTT broker is and how to log in; ``tls`` for ``mqtts://``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False


def parse_mqtt_url(url: str) -> MqttAddress:
    """Split ``mqtt[s]://[user:pass@]host:port`` (user and password percent-decoded).

    Raises :class:`InvalidMqttUrl` for another scheme, a missing host or port, or a path.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise InvalidMqttUrl(f"expected mqtt:// or mqtts://, got {parts.scheme or 'none'}")
    try:
        port = parts.port
    except ValueError as error:
        raise InvalidMqttUrl(f"invalid port in MQTT URL: {error}") from None
    if not parts.hostname or port is None:
        raise InvalidMqttUrl("expected mqtt://[user:pass@]host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidMqttUrl("an MQTT URL has no path, query or fragment")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return MqttAddress(parts.hostname, port, username, password, parts.scheme == "mqtts")


def with_login(url: str, username: str, password: str) -> str:
    """``url`` (``mqtt[s]://host:port``) with ``username:password@`` (percent-encoded)."""
    address = parse_mqtt_url(url)
    scheme = "mqtts" if address.tls else "mqtt"
    login = f"{quote(username, safe='')}:{quote(password, safe='')}"
    host = f"[{address.host}]" if ":" in address.host else address.host
    return f"{scheme}://{login}@{host}:{address.port}"
