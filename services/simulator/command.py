"""``floorstream simulate``: a simulated factory publishing over MQTT (the CLI hook)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from services.runtime.logs import configure_logging
from services.runtime.settings import SimulatorSettings
from services.simulator.model import SimulationConfig
from services.simulator.service import SimulatorOptions, run_service

MAX_FACTORIES: Final = 1000
MAX_LINES: Final = 1000

DESCRIPTION: Final = """\
A simulated factory floor publishing over MQTT (QoS 1) to FLOORSTREAM_MQTT_URL, on
floor/v1/{factory}/{line}/{station}/{kind}: factories f1..fN, lines l1..lM in each, 3-5
stations a line (cut, press, weld, paint, pack) with one constraint station; shifts A 06:00-14:00
and B 14:00-22:00 with breaks, in each factory's time zone. Orders go on the constraint station,
people on the station the operator works at, materials on the station they feed. The same
--seed, --start and options give the same events, byte for byte."""

EPILOG: Final = """\
rate and speed: every station reads its production counter at a fixed period chosen so that
the whole factory makes --rate readings a second of simulated time, and reports only the
readings with parts made since its previous report, as a real counter does: at most --rate
production events a second while every line runs, none at night or while a line stands still.
A station that makes nothing repeats its machine state every 60 s instead, so the boards never
take it for a silent one. Machine, people, material and order events come on top. With
--speedup K simulated time runs K times faster than the wall clock, so up to about K x rate
events a second are published until simulated time catches up with now; from then on it
follows real time."""


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _number_at_least(low: float, *, strict: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
        if value < low or (strict and value == low):
            bound = "greater than" if strict else "at least"
            raise argparse.ArgumentTypeError(f"must be {bound} {low:g}, got {value:g}")
        return value

    return parse


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 timestamp: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"needs a UTC offset, e.g. +08:00 or Z: {text!r}")
    return value


# (flag, metavar, type, default, help) of every option of `floorstream simulate`.
_OPTIONS: Final[tuple[tuple[str, str, Callable[[str], Any], Any, str], ...]] = (
    ("--factories", "N", _bounded_int(1, MAX_FACTORIES), 1,
     f"number of factories, f1..fN (1-{MAX_FACTORIES}; default 1)"),
    ("--lines", "M", _bounded_int(1, MAX_LINES), 2,
     f"lines in each factory, l1..lM (1-{MAX_LINES}; default 2)"),
    ("--rate", "X", _number_at_least(0.0, strict=True), 20.0,
     "counter readings a second for the whole factory, in simulated time (> 0; default 20): "
     "at most X production events a second, none while nothing is made; other events come "
     "on top, and the wall-clock rate is up to about K x X"),
    ("--seed", "S", int, 1,
     "random seed: the same seed, start and options give the same events (default 1)"),
    ("--speedup", "K", _number_at_least(1.0, strict=False), 1.0,
     "simulated time runs K times faster than the wall clock, but never ahead of it: once "
     "caught up with now it runs in real time (>= 1; default 1)"),
    ("--start", "RFC3339", _instant, None,
     "simulated start instant, with offset (default: now; now - 8 h when K > 1)"),
    ("--duration", "SECONDS", _number_at_least(0.0, strict=True), None,
     "stop after this many simulated seconds (default: run until stopped)"),
    ("--max-in-flight", "N", _bounded_int(1, 65535), 100,
     "messages sent and not yet acknowledged (PUBACK) at most (default 100)"),
)  # fmt: skip


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``simulate`` to the ``floorstream`` command."""
    parser = subparsers.add_parser(
        "simulate",
        help="publish a simulated factory over MQTT",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for flag, metavar, parse, default, text in _OPTIONS:
        parser.add_argument(flag, metavar=metavar, type=parse, default=default, help=text)
    parser.set_defaults(run=run)


def options_from(args: argparse.Namespace) -> SimulatorOptions:
    """The simulator options the parsed arguments ask for."""
    config = SimulationConfig(
        factories=args.factories, lines=args.lines, seed=args.seed, rate=args.rate
    )
    return SimulatorOptions(
        config=config,
        speedup=args.speedup,
        start=args.start,
        duration_s=args.duration,
        max_in_flight=args.max_in_flight,
    )


def run(args: argparse.Namespace) -> int:
    """Publish the simulated factory until stopped or ``--duration`` is over; the exit code."""
    settings = SimulatorSettings()
    configure_logging(settings.log_level, settings.log_format, name="simulator")
    return run_service(options_from(args), settings.mqtt_url)
