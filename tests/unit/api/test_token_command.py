"""`floorstream token`: every action and option is explained; a bad grant exits 1 or 2."""

from __future__ import annotations

import argparse

import pytest

from services.cli import build_parser


def _actions() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    token: argparse.ArgumentParser = commands.choices["token"]
    actions = next(a for a in token._actions if isinstance(a, argparse._SubParsersAction))
    return dict(actions.choices)


def test_the_token_command_has_create_list_and_revoke() -> None:
    assert set(_actions()) == {"create", "list", "revoke"}


@pytest.mark.parametrize("action", ["create", "list", "revoke"])
def test_every_option_of_every_token_action_is_explained(action: str) -> None:
    sub = _actions()[action]
    for option in sub._actions:
        assert option.help, f"token {action} {option.option_strings} has no help"


def test_create_takes_a_role_of_the_four_and_factories() -> None:
    args = build_parser().parse_args(
        ["token", "create", "--role", "board", "--factory", "f1", "--factory", "f2"]
    )
    assert (args.role, args.factories, args.label) == ("board", ["f1", "f2"], "")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["token", "create", "--role", "root"])
