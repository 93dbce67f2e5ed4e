"""The `floorstream` command: one sub-command per service, each with its own `--help`.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``run`` to a function of the parsed arguments returning an exit code. Settings are read from
the environment inside ``run`` (the entry point), never at import time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

from pydantic import ValidationError

from floorstream.services.runtime.errors import ConfigurationError

COMMAND_MODULES = (
    "floorstream.services.runtime.up",
    "floorstream.services.runtime.mqtt_command",
    "floorstream.services.gateway.command",
    "floorstream.services.efficiency.command",
    "floorstream.services.api.command",
    "floorstream.services.api.token_command",
    "floorstream.services.simulator.command",
    "floorstream.schemas.command",
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
        print(f"floorstream: configuration error: {error}", file=sys.stderr)  # noqa: T201
        return 2
    except ValidationError as error:
        print(f"floorstream: invalid settings:\n{error}", file=sys.stderr)  # noqa: T201
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
