"""``floorstream schema export DIR``: write the contract's JSON Schema files for integrators."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from schemas.jsonschema import export_json_schemas

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``schema`` and its actions to the ``floorstream`` command."""
    parser = subparsers.add_parser(
        "schema",
        help="the event contract as JSON Schema files",
        description="Work with the contract of floorstream's MQTT payloads, line settings and "
        "dead-letter records.",
    )
    actions = parser.add_subparsers(dest="schema_action", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        help="write one JSON Schema file per event kind, line settings and dead letters",
        description="Write JSON Schema (2020-12) files that an integrator can validate "
        "payloads against before sending them: one per event kind, plus line settings "
        "and dead-letter records. Existing files of the same names are replaced.",
    )
    export.add_argument(
        "directory",
        metavar="DIR",
        type=Path,
        help="folder to write the *.schema.json files into; created if it does not exist",
    )
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export the schemas into ``args.directory`` and print each file written; the exit code."""
    directory: Path = args.directory
    try:
        paths = export_json_schemas(directory)
    except OSError as error:
        print(f"floorstream: cannot write schemas to {directory}: {error}", file=sys.stderr)  # noqa: T201
        return 1
    for path in paths:
        print(path)  # noqa: T201
    return 0
