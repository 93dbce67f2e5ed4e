"""Tokens: their format, parsing and hashing, and the scope a caller's factories make."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.api.scope import ALL_FACTORIES, OutOfScope, Scope
from services.api.token_store import check_grant
from services.api.tokens import (
    ParsedToken,
    Role,
    TokenError,
    hash_secret,
    new_token,
    parse_token,
    secret_matches,
)


def test_a_new_token_parses_back_to_its_parts() -> None:
    text, parts = new_token()
    assert text.startswith("fs_") and len(text) == 3 + 12 + 1 + 43
    assert parse_token(text) == parts
    assert secret_matches(parts.secret, hash_secret(parts.secret))


def test_new_tokens_differ() -> None:
    assert len({new_token()[0] for _ in range(100)}) == 100


def test_a_secret_with_underscores_and_dashes_parses() -> None:
    text = "fs_abcdef012345_" + "_-" * 21 + "a"
    assert parse_token(text) == ParsedToken("abcdef012345", "_-" * 21 + "a")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "fs_",
        "fs_nonexistent",
        "Bearer fs_abcdef012345_" + "a" * 43,
        "fs_ABCDEF012345_" + "a" * 43,  # the id is lower case
        "fs_abcdef01234_" + "a" * 44,  # the id is 12 characters
        "fs_abcdef012345_" + "a" * 42,
        "fs_abcdef012345_" + "a" * 44,
        "fs_abcdef012345_" + "a" * 42 + "é",
        "fs_abcdef012345_" + "a" * 42 + "=",
        " fs_abcdef012345_" + "a" * 43,
        "fs_abcdef012345_" + "a" * 43 + "\n",
        "x" * 10_000,
    ],
)
def test_what_is_not_a_token_is_a_token_error(text: str) -> None:
    with pytest.raises(TokenError) as raised:
        parse_token(text)
    assert str(raised.value) == "not a floorstream token (fs_<id>_<secret>)"  # never the text


@given(st.text())
def test_parsing_any_text_raises_nothing_but_token_error(text: str) -> None:
    try:
        parsed = parse_token(text)
    except TokenError:
        return
    assert f"fs_{parsed.id}_{parsed.secret}" == text


@given(st.binary().map(lambda b: b.decode("latin-1")))
def test_parsing_any_header_value_raises_nothing_but_token_error(text: str) -> None:
    try:
        parse_token(text)
    except TokenError:
        pass


def test_a_wrong_secret_does_not_match() -> None:
    _, parts = new_token()
    _, other = new_token()
    assert not secret_matches(other.secret, hash_secret(parts.secret))
    assert len(hash_secret(parts.secret)) == 32


def test_a_scope_allows_its_factories_only() -> None:
    scope = Scope.of(["f1", "f2"])
    assert scope.allows("f1") and not scope.allows("f3")
    assert scope.require("f2") == "f2"
    with pytest.raises(OutOfScope):
        scope.require("f3")
    assert scope.sql() == ["f1", "f2"]
    assert ALL_FACTORIES.allows("anything") and ALL_FACTORIES.sql() is None


@pytest.mark.parametrize(
    ("role", "factories", "problem"),
    [
        (Role.ADMIN, ["f1"], "every factory"),
        (Role.MANAGER, [], "at least one"),
        (Role.BOARD, [], "at least one"),
        (Role.INTEGRATOR, ["F1"], "not a factory name"),
        (Role.MANAGER, ["f1/l1"], "not a factory name"),
    ],
)
def test_a_grant_that_makes_no_sense_is_refused(
    role: Role, factories: list[str], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        check_grant(role, factories, "")


def test_a_grant_is_sorted_without_repeats() -> None:
    assert check_grant(Role.MANAGER, ["f2", "f1", "f2"], "x") == ("f1", "f2")
    assert check_grant(Role.ADMIN, [], "") == ()
    with pytest.raises(ValueError, match="label"):
        check_grant(Role.ADMIN, [], "x" * 201)
