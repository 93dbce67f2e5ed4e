"""API tokens with roles: what each role may call, what a bad token gets (401 or 403, nothing
else), that no token is ever logged or listed, the ``floorstream token`` commands, and the
limits (body, page size, range, live feeds per token)."""

from __future__ import annotations

import logging
import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.api import token_store
from services.api.token_command import kept_board_token, register_board_token
from services.api.tokens import Role, new_token
from services.cli import main
from services.stack.embedded.stack import Endpoints
from tests.integration.api.support import AUTH, TOKEN, a_factory
from tests.integration.api.tokens_support import (
    RANGE,
    SETTINGS,
    Seeded,
    Stream,
    a_token,
    bearer,
    client_of,
    seed_factory,
    started_app,
    status_of,
)
from tests.support.database import fresh_database

pytestmark = pytest.mark.integration

READERS = {Role.ADMIN, Role.MANAGER, Role.BOARD}
EVERYONE = set(Role)

# (method, path under /api/v1/factories/{f}, the roles that may): the role matrix of auth.py.
MATRIX: list[tuple[str, str, set[Role]]] = [
    ("GET", "/lines/{l}", EVERYONE),
    ("PUT", "/lines/{l}", {Role.ADMIN, Role.INTEGRATOR}),
    ("GET", "/lines/{l}/efficiency?start={start}&end={end}", READERS),
    ("GET", "/efficiency?start={start}&end={end}", READERS),
    ("GET", "/lines/{l}/status", READERS),
    ("GET", "/lines/{l}/downtime?start={start}&end={end}", READERS),
    ("GET", "/lines/{l}/timeline?start={start}&end={end}", READERS),
    ("GET", "/lines/{l}/orders", READERS),
    ("GET", "/kanban/cards", READERS),
    ("GET", "/lines/{l}/live", READERS),
    ("POST", "/kanban/cards/{card}/advance", {Role.ADMIN, Role.BOARD}),
]


@pytest.fixture
async def app(stack: Endpoints) -> AsyncIterator[FastAPI]:
    async with started_app(stack.database_url, board_max_feeds_per_token=3) as started:
        yield started


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app) as client:
        yield client


@pytest.fixture
async def seeded(db: asyncpg.Connection, http: httpx.AsyncClient) -> Seeded:
    return await seed_factory(db, http, a_factory())


def _url(path: str, of: Seeded) -> str:
    filled = path.format(l=of.line, card=of.card_id, start=RANGE["start"], end=RANGE["end"])
    return f"/api/v1/factories/{of.factory}{filled}"


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_may_make_its_calls_and_no_other(
    app: FastAPI, http: httpx.AsyncClient, db: asyncpg.Connection, seeded: Seeded, role: Role
) -> None:
    token = await a_token(db, role, *(() if role is Role.ADMIN else (seeded.factory,)))
    answers = {}
    for method, path, allowed in MATRIX:
        body = SETTINGS if method == "PUT" else None
        status = await status_of(app, method, _url(path, seeded), bearer(token), body)
        answers[f"{method} {path}"] = (status, role in allowed)
    wrong = {call: status for call, (status, may) in answers.items() if (status == 200) != may}
    assert not wrong, wrong
    refused = {status for status, may in answers.values() if not may}
    assert refused <= {403}
    lines = await http.get("/api/v1/lines", headers=bearer(token))
    assert lines.status_code == 200


async def test_a_refusal_is_json_and_names_no_token(
    http: httpx.AsyncClient, db: asyncpg.Connection, seeded: Seeded
) -> None:
    token = await a_token(db, Role.INTEGRATOR, seeded.factory)
    answer = await http.get(_url("/lines/{l}/status", seeded), headers=bearer(token))
    assert answer.status_code == 403
    assert answer.json()["error"] == {
        "code": "forbidden",
        "message": "a token of role integrator may not make this call",
    }
    assert token not in answer.text


def _bad_headers(revoked: str, valid: str) -> list[dict[str, str]]:
    secret = valid.split("_", 2)[2]
    wrong_secret = valid[: -len(secret)] + ("A" if secret[0] != "A" else "B") + secret[1:]
    return [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {valid}"},
        {"Authorization": "Basic x"},
        {"Authorization": valid},
        {"Authorization": f"Bearer {revoked}"},
        {"Authorization": f"Bearer {wrong_secret}"},
        {"Authorization": "Bearer fs_nonexistent"},
        {"Authorization": "Bearer fs_000000000000_" + "a" * 43},
        {"Authorization": f"Bearer {valid}x"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer " + "x" * 10_000},
        {"Authorization": "Bearer fs_é\u00ff\u00a0" + "a" * 40},
        {"Authorization": "Bearer \u00e9t\u00e9"},
    ]


async def test_wrong_revoked_and_malformed_tokens_get_401_and_nothing_else(
    app: FastAPI, db: asyncpg.Connection, seeded: Seeded
) -> None:
    valid = await a_token(db, Role.MANAGER, seeded.factory)
    revoked = await a_token(db, Role.MANAGER, seeded.factory)
    revoked_id = revoked.split("_")[1]
    assert await token_store.revoke_token(db, token_id=revoked_id) is not None
    answers = {}
    for number, headers in enumerate(_bad_headers(revoked, valid)):
        for method, path, _ in MATRIX:
            body = SETTINGS if method == "PUT" else None
            status = await status_of(app, method, _url(path, seeded), headers, body)
            answers[f"{number} {method} {path}"] = status
    assert set(answers.values()) == {401}, answers
    assert await status_of(app, "GET", _url("/lines/{l}", seeded), bearer(valid)) == 200


async def test_a_token_in_a_board_link_is_checked_as_a_header_is(
    http: httpx.AsyncClient, db: asyncpg.Connection, seeded: Seeded
) -> None:
    board = await a_token(db, Role.BOARD, seeded.factory)
    url = _url("/lines/{l}/status", seeded)
    assert (await http.get(url, params={"token": board})).status_code == 200
    assert (await http.get(url, params={"token": board + "x"})).status_code == 401
    assert (await http.get(url, params={"token": ""})).status_code == 401
    # The header wins over the link.
    both = await http.get(url, params={"token": board}, headers={"Authorization": "Bearer x"})
    assert both.status_code == 401


async def test_a_revoked_token_is_refused_from_the_next_call_on(
    http: httpx.AsyncClient, db: asyncpg.Connection, seeded: Seeded
) -> None:
    token = await a_token(db, Role.BOARD, seeded.factory)
    url = _url("/lines/{l}/status", seeded)
    assert (await http.get(url, headers=bearer(token))).status_code == 200
    await token_store.revoke_token(db, token_id=token.split("_")[1])
    answer = await http.get(url, headers=bearer(token))
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


async def test_no_token_appears_in_the_logs(
    app: FastAPI,
    http: httpx.AsyncClient,
    db: asyncpg.Connection,
    seeded: Seeded,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = await a_token(db, Role.BOARD, seeded.factory)
    caplog.set_level(logging.DEBUG)
    for headers, params in [
        (bearer(token), {}),
        ({}, {"token": token}),
        (bearer(token + "x"), {}),
        ({}, {"token": TOKEN}),
        (bearer(TOKEN[:-1]), {}),
    ]:
        for method, path, _ in MATRIX:
            url = _url(path, seeded)
            if params:
                url += ("&" if "?" in url else "?") + f"token={params['token']}"
            body = SETTINGS if method == "PUT" else None
            await status_of(app, method, url, headers, body)
    secret = token.split("_", 2)[2]
    assert caplog.records  # something was logged, and none of it is a token
    assert secret not in caplog.text and TOKEN[:-1] not in caplog.text


# --- The command line -----------------------------------------------------------------------


def test_token_commands_create_list_and_revoke(
    stack: Endpoints, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOORSTREAM_DATABASE_URL", stack.database_url)
    factory = a_factory()
    assert (
        main(["token", "create", "--role", "board", "--factory", factory, "--label", "hall"]) == 0
    )
    made = capsys.readouterr().out
    token = re.search(r"(fs_[a-z0-9]{12}_[A-Za-z0-9_-]{43})", made)
    assert token is not None, made
    text = token[1]
    token_id = text.split("_")[1]
    assert f"http://127.0.0.1:8000/boards/{factory}?token={text}" in made

    assert main(["token", "list"]) == 0
    listed = capsys.readouterr().out
    row = next(line for line in listed.splitlines() if line.startswith(token_id))
    assert re.fullmatch(rf"{token_id}\s+board\s+{factory}\s+\S+ \S+\s+-\s+hall", row), row
    assert text.split("_", 2)[2] not in listed

    assert main(["token", "revoke", token_id]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["token", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(token_id))
    assert "  -  " not in row

    assert main(["token", "revoke", "nosuchtoken0"]) == 1
    assert "no token" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["token", "create", "--role", "manager"],
        ["token", "create", "--role", "admin", "--factory", "f1"],
    ],
)
def test_token_create_refuses_a_grant_that_makes_no_sense(
    stack: Endpoints,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    monkeypatch.setenv("FLOORSTREAM_DATABASE_URL", stack.database_url)
    assert main(argv) == 1
    assert "factor" in capsys.readouterr().err


def test_token_create_refuses_a_bad_factory_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", "create", "--role", "board", "--factory", "Hall/1"])
    assert exited.value.code == 2
    assert "not a factory name" in capsys.readouterr().err


# --- The board token `floorstream up` keeps ---------------------------------------------------


async def test_a_kept_token_is_registered_again_widened_and_never_revived(
    db: asyncpg.Connection,
) -> None:
    text, parts = new_token()
    first, second = a_factory(), a_factory()

    async def register(text: str, factory: str, role: Role = Role.BOARD) -> object:
        return await token_store.register_token(db, text=text, role=role, factories=[factory])

    made = await register(text, first)
    assert isinstance(made, token_store.TokenInfo) and made.factories == (first,)
    again = await register(text, second)  # as on a restart that knows one more factory
    assert isinstance(again, token_store.TokenInfo) and again.created_at == made.created_at
    assert again.factories == tuple(sorted([first, second]))

    other_secret = f"fs_{parts.id}_{new_token()[1].secret}"  # the secret may hold '_'
    assert await register(other_secret, first) is None
    assert await register(text, first, Role.MANAGER) is None
    await token_store.revoke_token(db, token_id=made.id)
    assert await register(text, first) is None


async def test_up_s_board_token_is_kept_registered_on_a_new_database_and_replaced_once_revoked(
    stack: Endpoints, tmp_path: Path
) -> None:
    """Issue 14, 5: the board link's token survives a restart, and a new database, on one data
    directory; a revoked one is never made valid again."""
    factory = a_factory()
    async with fresh_database(stack.database_url, "board_token") as url:
        text = await register_board_token(url, tmp_path, None, [factory])
        assert text is not None
        kept = tmp_path / "board.token"
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and kept.read_text() == f"{text}\n"
        assert kept_board_token(tmp_path) == text
        assert await register_board_token(url, tmp_path, text, []) == text  # a restart
        connection = await asyncpg.connect(url)
        try:
            stored = await token_store.find_token(connection, token_id=text.split("_")[1])
            assert stored is not None
            assert (stored.info.role, stored.info.factories) == (Role.BOARD, (factory,))
            await token_store.revoke_token(connection, token_id=stored.info.id)
        finally:
            await connection.close()
        replaced = await register_board_token(url, tmp_path, text, [factory])
        assert replaced is not None and replaced != text
        assert kept_board_token(tmp_path) == replaced
    async with fresh_database(stack.database_url, "board_token_new") as url:
        assert await register_board_token(url, tmp_path, replaced, [factory]) == replaced
        assert await register_board_token(url, tmp_path / "none", None, []) is None


# --- Limits -----------------------------------------------------------------------------------


async def test_a_token_holds_at_most_so_many_live_feeds(
    app: FastAPI, http: httpx.AsyncClient, db: asyncpg.Connection, seeded: Seeded
) -> None:
    token = await a_token(db, Role.BOARD, seeded.factory)
    other = await a_token(db, Role.BOARD, seeded.factory)
    url = _url("/lines/{l}/live", seeded)
    feeds = [Stream(app, "GET", url, bearer(token)) for _ in range(3)]
    try:
        assert [await feed.open() for feed in feeds] == [200, 200, 200]
        assert app.state.feeds.open_feeds(token.split("_")[1]) == 3
        refused = await http.get(url, headers=bearer(token))
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_requests"
        assert "3 live feeds" in refused.json()["error"]["message"]
        assert await status_of(app, "GET", url, bearer(other)) == 200  # per token
        await feeds.pop().close()
        assert app.state.feeds.open_feeds(token.split("_")[1]) == 2
        assert await status_of(app, "GET", url, bearer(token)) == 200
    finally:
        for feed in feeds:
            await feed.close()
    assert app.state.feeds.open_feeds(token.split("_")[1]) == 0


async def test_the_limits_answer_clear_4xx_errors(
    http: httpx.AsyncClient, db: asyncpg.Connection, seeded: Seeded
) -> None:
    token = bearer(await a_token(db, Role.INTEGRATOR, seeded.factory))
    big = {**SETTINGS, "name": "x" * (70 * 1024)}
    answer = await http.put(_url("/lines/{l}", seeded), json=big, headers=token)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
    answer = await http.get("/api/v1/lines", params={"limit": "501"}, headers=token)
    assert answer.status_code == 422 and "limit" in answer.json()["error"]["message"]
    long = {"start": "2025-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}
    url = _url("/lines/{l}/efficiency", seeded)
    answer = await http.get(url, params=long, headers=AUTH)
    assert answer.status_code == 422 and "400 days" in answer.json()["error"]["message"]
