"""What every service command shares on its command line: options override the environment."""

from __future__ import annotations

import argparse
from typing import Any, TypeVar

from services.runtime.settings import CommonSettings

SettingsT = TypeVar("SettingsT", bound=CommonSettings)


def add_log_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="log as readable text (default) or one JSON object per line "
        "(env FLOORSTREAM_LOG_FORMAT)",
    )


def settings_with(cls: type[SettingsT], **options: Any) -> SettingsT:
    """The settings read from the environment, with the options given on the command line."""
    return cls(**{name: value for name, value in options.items() if value is not None})
