"""A child process that cannot outlive its parent.

Every server and service that `floorstream up` or a test fixture starts is one of these:

1. it runs in its own session, so a Ctrl-C in the terminal reaches only the parent, which then
   stops the children in order;
2. on Linux it asks the kernel for a signal when its parent dies (``PR_SET_PDEATHSIG``), so a
   parent killed with SIGKILL leaves no server behind. The kernel sends it when the *thread* that
   started the child ends, so children are started from the main thread only (never from
   ``asyncio.to_thread`` or a pool);
3. it is stopped with its polite signal, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from services.runtime.errors import ServerStartError

log = logging.getLogger(f"floorstream.{__name__}")

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int, parent: int) -> Callable[[], None]:
    def preexec() -> None:
        # Runs in the child between fork and exec, after any change of user.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class ChildProcess:
    """One supervised child: started, probed until ready, stopped; output to a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.stop_signal = stop_signal
        self.user = user
        self.cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def start(self) -> None:
        """Start the child; it gets ``stop_signal`` when this process dies."""
        stdout: IO[bytes] | None = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = stdout = self.log_path.open("ab")
        preexec = _die_with_parent(self.stop_signal, os.getpid()) if _is_linux() else None
        self._popen = subprocess.Popen(  # noqa: S603 - argv is built by this package
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not None else None,
            env=self.env,
            cwd=self.cwd,
            user=self.user,
            start_new_session=True,
            preexec_fn=preexec,  # noqa: PLW1509 - needed for PR_SET_PDEATHSIG
        )
        log.debug("started %s (pid %s): %s", self.name, self._popen.pid, " ".join(self.argv))

    def returncode(self) -> int | None:
        """The exit code once the child has ended, else None."""
        return self._popen.poll() if self._popen is not None else None

    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def wait_ready(self, probe: Callable[[], bool], *, timeout: float) -> None:
        """Poll ``probe`` until it answers True; fail if the child exits or time runs out."""
        deadline = time.monotonic() + timeout
        while not probe():
            code = self.returncode()
            if code is not None:
                raise ServerStartError(f"{self.name} exited with code {code}{self._log_hint()}")
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{self.name} did not answer in {timeout:.0f}s{self._log_hint()}"
                )
            time.sleep(0.05)

    def stop(self, *, grace: float = 10.0) -> int | None:
        """Send the stop signal, wait up to ``grace`` seconds, then SIGKILL."""
        popen = self._popen
        if popen is None:
            return None
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(self.stop_signal)
            try:
                popen.wait(grace)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs; killing it", self.name, grace)
                popen.kill()
                popen.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return popen.returncode

    def _log_hint(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-15:]
        return f"; last lines of {self.log_path}:\n" + "\n".join(tail)


def _is_linux() -> bool:
    return sys.platform.startswith("linux")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int) -> Callable[[], bool]:
    """A readiness probe: something accepts TCP connections on ``host:port``."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return probe
