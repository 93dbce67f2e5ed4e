"""Screens: how many board screens (live feeds) one API process keeps fed within 1 s of an
update. Target: >= 2,000. No baseline: the figure is absolute.

Method: one API process (``python -m floorstream api``, uvicorn) on the embedded PostgreSQL,
200 lines. K screens (raw asyncio streams, `sse.Screen`) hold ``GET
/api/v1/factories/bench/lines/{line}/live`` open, spread over the lines, all with the
bootstrap admin token (its limit on open feeds, ``FLOORSTREAM_BOARD_MAX_FEEDS_PER_TOKEN``, is
raised for the run). Then one statement NOTIFYs every line (``pg_notify('floor_changed',
'bench/lN')``, as a processor's batch does) and the time from before that statement to each
screen's next ``event: changed`` is taken. K passes when >= 99 % of the screens hear it within
1 s in every round; K grows through ``--levels`` (screens added to those open) and the figure
is the largest K that passes. The screens run in this process, beside the API on the same
cores: a loaded client makes the figure conservative.

    python bench/bench_screens.py [--levels 500,1000,2000,4000,8000] [--rounds 2] [--within 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path

import asyncpg

from common import (
    conditions,
    http_ok,
    percentile,
    raise_open_files,
    record,
    say,
    service_env,
    start_service,
    stop_services,
    table,
    wait_for,
)
from services.stack.embedded.process import free_port
from services.stack.embedded.stack import EmbeddedStack, StackPlan
from sse import Screen

LINES = 200
TARGET = ">= 2,000 screens fed within 1 s"


class Round:
    """One NOTIFY of every line, and when each screen heard it."""

    def __init__(self, screens: int) -> None:
        self.started = 0.0
        self.heard: dict[int, float] = {}
        self.screens = screens
        self.all_heard = asyncio.Event()

    def changed(self, screen: Screen, at: float) -> None:
        if self.started and id(screen) not in self.heard:
            self.heard[id(screen)] = at - self.started
            if len(self.heard) >= self.screens:
                self.all_heard.set()


class Crowd:
    """The open screens, and the round they report to."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.screens: list[Screen] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.round = Round(0)

    def _on_changed(self, screen: Screen, at: float) -> None:
        self.round.changed(screen, at)

    async def grow_to(self, count: int) -> None:
        gate = asyncio.Semaphore(100)  # connections being opened at once

        async def open_one(screen: Screen, line: str) -> None:
            async with gate:
                task = asyncio.create_task(screen.run(self.host, self.port, self._path(line)))
                self.tasks.append(task)
                connected = asyncio.create_task(screen.connected.wait())
                await asyncio.wait([task, connected], return_when=asyncio.FIRST_COMPLETED)
                if task.done():
                    connected.cancel()
                    task.result()  # raises why it ended

        new = []
        for n in range(len(self.screens), count):
            screen = Screen(f"bench/l{n % LINES}", self._on_changed)
            self.screens.append(screen)
            new.append(open_one(screen, f"l{n % LINES}"))
        await asyncio.gather(*new)
        await asyncio.sleep(0.5)  # the first "changed" of each new screen, read and ignored

    def _path(self, line: str) -> str:
        return f"/api/v1/factories/bench/lines/{line}/live?token={self.token}"

    async def notify_all(self, url: str, within: float) -> list[float]:
        """One round; the delays of the screens that heard it within ``3 * within``."""
        self.round = Round(len(self.screens))
        connection = await asyncpg.connect(url)
        try:
            self.round.started = time.perf_counter()
            await connection.execute(
                "SELECT pg_notify('floor_changed', 'bench/l' || n) FROM generate_series(0, $1) n",
                LINES - 1,
            )
        finally:
            await connection.close()
        try:
            await asyncio.wait_for(self.round.all_heard.wait(), within * 3)
        except TimeoutError:
            pass
        return list(self.round.heard.values())

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _lines(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.executemany(
            "INSERT INTO line (factory, line) VALUES ('bench', $1) ON CONFLICT DO NOTHING",
            [(f"l{n}",) for n in range(LINES)],
        )
    finally:
        await connection.close()


async def _measure(
    url: str, port: int, token: str, levels: list[int], rounds: int, within: float
) -> list[tuple[int, float, float, float, bool]]:
    await _lines(url)
    crowd = Crowd("127.0.0.1", port, token)
    found = []
    try:
        for level in levels:
            began = time.perf_counter()
            await crowd.grow_to(level)
            opened = time.perf_counter() - began
            delays, passed, share = [], True, 1.0
            for _ in range(rounds):
                heard = await crowd.notify_all(url, within)
                in_time = sum(1 for d in heard if d <= within) / level
                share = min(share, in_time)
                passed = passed and in_time >= 0.99
                delays += heard
                await asyncio.sleep(0.3)
            p99 = percentile(delays, 99) if len(delays) > 1 else float("nan")
            say(f"  {level:,} screens (opened in {opened:.1f} s): {share:.1%} within {within} s, "
                f"p50 {percentile(delays, 50) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")  # fmt: skip
            found.append((level, share * 100, percentile(delays, 50) * 1000, p99 * 1000, passed))
            if not passed:
                break
    finally:
        await crowd.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="500,1000,2000,4000,8000", help="screen counts to try")
    parser.add_argument("--rounds", type=int, default=2, help="NOTIFY rounds per level (2)")
    parser.add_argument("--within", type=float, default=1.0, help="seconds a screen may take (1)")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    limit = raise_open_files(max(levels) * 2 + 1_000)  # the API (a child) inherits it
    token, port = secrets.token_urlsafe(24), free_port()
    with tempfile.TemporaryDirectory() as folder:
        plan = StackPlan(
            Path(folder), mqtt_url="mqtt://127.0.0.1:1", kafka_bootstrap="127.0.0.1:1"
        )  # PostgreSQL only
        with EmbeddedStack(plan) as stack:
            env = service_env(
                stack,
                FLOORSTREAM_BOOTSTRAP_TOKEN=token,
                FLOORSTREAM_API_PORT=str(port),
                FLOORSTREAM_BOARD_MAX_FEEDS_PER_TOKEN=str(max(levels)),
                FLOORSTREAM_LOG_LEVEL="warning",
            )
            api = start_service("api", env, Path(folder) / "api.log")
            try:
                wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), 60, "the API")
                say(f"screens benchmark: one API process, {LINES} lines, open-file limit {limit}")
                found = asyncio.run(
                    _measure(stack.database_url, port, token, levels, args.rounds, args.within)
                )
            finally:
                stop_services([api])
            where = conditions(
                stack, servers=["postgresql"], lines=LINES, rounds=args.rounds, within_s=args.within
            )
    best = max((level for level, *_, passed in found if passed), default=0)
    table(
        f"screens benchmark: screens fed within {args.within} s of a NOTIFY, one API process, "
        f"{where['cpu_count']} cores (the screens share them)",
        ["screens", "% in time (worst round)", "p50 ms", "p99 ms", ">= 99 %"],
        [
            (f"{level:,}", share, p50, p99, "yes" if ok else "no")
            for level, share, p50, p99, ok in found
        ],
    )
    say(f"  figure: {best:,} screens")
    record("screens", "screens fed within 1 s", best, "screens", baseline=None, ratio=None,
           conditions=where | {"levels": [f[:4] for f in found]}, target=TARGET)  # fmt: skip


if __name__ == "__main__":
    main()
