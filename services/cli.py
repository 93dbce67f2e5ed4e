"""The `floorstream` command: one sub-command per service, each with its own `--help`.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``run`` to a function of the parsed arguments returning an exit code. Settings are read from
the environment inside ``run`` (the entry point), never at import time.

An error a user can act on (a missing or invalid setting, a database that does not answer, an
embedded server that does not start) is one line on stderr saying what to do, and a non-zero
exit code: 2 for settings, 1 otherwise; never a traceback.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path

from pydantic import ValidationError

from services.runtime.errors import (
    ConfigurationError,
    MigrationError,
    ServerStartError,
)

COMMAND_MODULES = (
    "services.stack.up",
    "services.runtime.mqtt_command",
    "services.gateway.command",
    "services.gateway.dead_letters",
    "services.processor.command",
    "services.api.command",
    "services.api.token_command",
    "services.simulator.command",
    "schemas.command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="floorstream",
        description="Digitize a factory floor: MQTT events in, exact OEE and live boards out.",
        epilog="Servers are found through FLOORSTREAM_MQTT_URL, FLOORSTREAM_KAFKA_BOOTSTRAP and "
        "FLOORSTREAM_DATABASE_URL; `floorstream up` starts embedded ones where they are not set.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigurationError as error:
        print(f"floorstream: configuration error: {_one_line(error)}", file=sys.stderr)  # noqa: T201
        return 2
    except ValidationError as error:
        print(f"floorstream: {_invalid(error)}", file=sys.stderr)  # noqa: T201
        return 2
    except (ServerStartError, MigrationError) as error:
        print(f"floorstream: {_one_line(error)}", file=sys.stderr)  # noqa: T201
        return 1
    except KeyboardInterrupt:
        return 130
    return code


def program() -> str:
    """This command as a fresh shell in the current directory finds it, for the commands printed
    to be pasted (no virtualenv need be active): ``.venv/bin/floorstream`` at a project's root."""
    script = Path(sys.executable).parent / "floorstream"
    if not script.exists():
        return "floorstream"
    try:
        return shlex.quote(str(script.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(script))


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _invalid(error: ValidationError) -> str:
    """Each bad setting by its variable and what is wrong, on one line; never its value, which
    may be a secret. Once no setting is bad, the variables of the servers the command needs
    that are not set (the required fields of its settings)."""
    of_settings = error.title.endswith("Settings")
    found, missing = [], []
    for item in error.errors(include_input=False):
        where = "_".join(str(part) for part in item["loc"])
        variable = f"FLOORSTREAM_{where.upper()}" if of_settings else where
        if of_settings and item["type"] == "missing":
            missing.append(variable)
            continue
        message = item["msg"].removeprefix("Value error, ")
        found.append(f"{variable}: {message}" if where else message)
    if found or not missing:
        return f"invalid settings: {' '.join('; '.join(found).split())}"
    if len(missing) == 1:
        return (
            f"configuration error: {missing[0]} is not set: a service started on its own needs "
            "it (`floorstream up` sets it for the services it starts)"
        )
    return (
        f"configuration error: {', '.join(missing[:-1])} and {missing[-1]} are not set: a "
        "service started on its own needs them (`floorstream up` sets them for the services it "
        "starts)"
    )


if __name__ == "__main__":
    sys.exit(main())
