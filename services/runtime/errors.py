"""Errors of the runtime: settings, embedded servers, migrations, supervision.

Tree::

    RuntimeFailure
    ├── ConfigurationError    a setting or environment variable is missing or invalid
    │   ├── InvalidMqttUrl    (mqtt_url.py) not mqtt[s]://[user:pass@]host:port
    │   └── CredentialsError  (mqtt_credentials.py) no such MQTT account, or one exists
    ├── ServerStartError      an embedded server did not start or did not answer in time
    ├── MigrationError        a migration file failed to apply
    └── EveryRecordFails      (poison.py) records keep failing alone: a bug, not poison
"""

from __future__ import annotations


class RuntimeFailure(Exception):
    """Root of the runtime's errors."""


class ConfigurationError(RuntimeFailure):
    """A setting or environment variable is missing or invalid."""


class ServerStartError(RuntimeFailure):
    """An embedded server did not start or did not answer in time."""


class MigrationError(RuntimeFailure):
    """A migration file failed to apply."""
