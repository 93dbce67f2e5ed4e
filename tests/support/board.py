"""A real API process and a real browser for the board tests (``tests/e2e``).

`Api` is `floorstream api` as a child process on the test's PostgreSQL, restartable on the same
port as an operator would; Chromium is Debian's (``/usr/bin/chromium``), driven headless by
Playwright (the fixtures are in ``tests/e2e/conftest.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.support.processes import wait_until

CHROMIUM: Final = "/usr/bin/chromium"
HAVE_CHROMIUM: Final = Path(CHROMIUM).exists()
TOKEN: Final = "b" * 32
HEARTBEAT_S: Final = 1.0
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Api:
    """`floorstream api` as a child process, restartable on the same port."""

    database_url: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOORSTREAM_")}
        environment |= {
            "FLOORSTREAM_DATABASE_URL": self.database_url,
            "FLOORSTREAM_BOOTSTRAP_TOKEN": TOKEN,
            "FLOORSTREAM_BOARD_HEARTBEAT_S": str(HEARTBEAT_S),
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "floorstream", "api", "--port", str(self.port)],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self.ready, 30, f"the API on {self.url}; log: {self.log_path}")

    def ready(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, self.log_path.read_text()
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """SIGTERM, as a supervisor stops it: open live feeds must not hold the shutdown up."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            # uvicorn re-raises the signal it stopped on, once it has shut down cleanly.
            assert process.wait(15) in (0, -signal.SIGTERM), self.log_path.read_text()
            assert "ERROR" not in self.log_path.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
