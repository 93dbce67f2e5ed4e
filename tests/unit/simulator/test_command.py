"""`floorstream simulate`: its help, its argument checks, its settings."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone

import pytest

from services.cli import main
from services.simulator import command
from services.simulator.model import SimulationConfig

OPTIONS = [
    "--factories",
    "--lines",
    "--rate",
    "--seed",
    "--speedup",
    "--start",
    "--duration",
    "--max-in-flight",
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="floorstream")
    command.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _help() -> str:
    parser = _parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = action.choices["simulate"]
    return sub.format_help()


def test_the_help_explains_every_option() -> None:
    text = _help()
    for option in OPTIONS:
        assert option in text
    # What --rate means and how --speedup changes the wall-clock rate.
    assert "simulated time" in text and "K x X" in text


def test_the_defaults() -> None:
    args = _parser().parse_args(["simulate"])
    options = command.options_from(args)
    assert options.config == SimulationConfig(factories=1, lines=2, seed=1, rate=20.0)
    assert (options.speedup, options.start, options.duration_s) == (1.0, None, None)
    assert args.run is command.run


def test_the_options_are_read() -> None:
    args = _parser().parse_args(
        "simulate --factories 3 --lines 40 --rate 2.5 --seed -4 --speedup 60 "
        "--start 2026-11-02T06:00:00+08:00 --duration 3600 --max-in-flight 10".split()
    )
    options = command.options_from(args)
    assert options.config == SimulationConfig(factories=3, lines=40, seed=-4, rate=2.5)
    assert options.speedup == 60.0
    assert options.start == datetime(2026, 11, 2, 6, tzinfo=timezone(timedelta(hours=8)))
    assert (options.duration_s, options.max_in_flight) == (3600.0, 10)


@pytest.mark.parametrize(
    "bad",
    [
        ["--factories", "0"],
        ["--factories", "1001"],
        ["--factories", "two"],
        ["--lines", "0"],
        ["--lines", "1001"],
        ["--rate", "0"],
        ["--rate", "-1"],
        ["--rate", "nan"],
        ["--speedup", "0.5"],
        ["--speedup", "inf"],
        ["--seed", "1.5"],
        ["--start", "2026-11-02T06:00:00"],  # no offset
        ["--start", "tomorrow"],
        ["--duration", "0"],
        ["--max-in-flight", "0"],
    ],
)
def test_bad_values_are_refused_with_exit_code_2(
    bad: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", *bad])
    assert exit_info.value.code == 2
    assert bad[0] in capsys.readouterr().err


def test_without_an_mqtt_url_it_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FLOORSTREAM_MQTT_URL", raising=False)
    assert main(["simulate", "--duration", "1"]) == 2
    assert "FLOORSTREAM_MQTT_URL" in capsys.readouterr().err
