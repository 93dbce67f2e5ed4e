"""``mqtt[s]://[user:pass@]host:port``, taken apart and put together again."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote, urlsplit

from services.runtime.errors import ConfigurationError


class InvalidMqttUrl(ConfigurationError, ValueError):
    """The MQTT URL is not ``mqtt[s]://[user:pass@]host:port``; the message never holds the
    password."""


@dataclass(frozen=True, slots=True)
class MqttAddress:
    """Where the MQTT broker is and how to log in; ``tls`` for ``mqtts://``. The password is
    kept out of the repr."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False

    def url(self) -> str:
        """This address as ``mqtt[s]://[user:pass@]host:port``, user and password
        percent-encoded and an IPv6 host in brackets: what :func:`parse_mqtt_url` takes apart
        into this address again. It holds the password: never log it."""
        login = ""
        if self.username is not None or self.password is not None:
            login = quote(self.username or "", safe="")
            if self.password is not None:
                login += f":{quote(self.password, safe='')}"
            login += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{login}{host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttAddress:
    """Split ``mqtt[s]://[user:pass@]host:port`` (user and password percent-decoded, an IPv6
    host in brackets).

    Raises :class:`InvalidMqttUrl` for another scheme, a missing host or port, a path, or a
    space anywhere.
    """
    if any(character.isspace() for character in url):
        raise InvalidMqttUrl("an MQTT URL has no spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # its message may quote the password, read as a port
        raise InvalidMqttUrl(
            "expected mqtt://[user:pass@]host:port with a port of 0 to 65535, an IPv6 host in "
            "brackets, and '@', ':' or '/' in a user or password percent-encoded"
        ) from None
    if parts.scheme not in ("mqtt", "mqtts"):
        raise InvalidMqttUrl(f"expected mqtt:// or mqtts://, got {parts.scheme or 'none'}")
    if not parts.hostname or port is None:
        raise InvalidMqttUrl("expected mqtt://[user:pass@]host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidMqttUrl("an MQTT URL has no path, query or fragment")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return MqttAddress(parts.hostname, port, username, password, parts.scheme == "mqtts")


def with_login(url: str, username: str, password: str) -> str:
    """``url`` (``mqtt[s]://host:port``) with ``username:password@`` (percent-encoded)."""
    return replace(parse_mqtt_url(url), username=username, password=password).url()
