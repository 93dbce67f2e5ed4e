"""The operations port of a service without an HTTP API (gateway, processor).

Three calls, as the API answers them on its own port:

- ``GET /metrics``: the service's Prometheus registry (the one injected into its metrics);
- ``GET /healthz``: 200 while the process runs (event loop included: the answer comes from it);
- ``GET /readyz``: each named dependency check, run concurrently, each within a timeout; 200
  ``{"status": "ready", "checks": {"kafka": "ok", ...}}``, else 503 with ``"not_ready"`` and
  the failing dependency's reason in its place.

A service opens the port first, so that liveness answers while it migrates or waits for a
server; a dependency it has not opened yet reads ``unavailable: not connected yet``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping, Sequence
from typing import Any, Protocol

import uvicorn
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

log = logging.getLogger(f"floorstream.{__name__}")

Check = Callable[[], Awaitable[object]]
"""A dependency check: returns when the dependency answers, raises when it does not."""

CHECK_TIMEOUT_S = 2.0


class NotReady(Exception):
    """A check's plain reason for "not ready", shown as it is (no exception type)."""


async def _run_check(check: Check, timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            await check()
    except NotReady as reason:
        return f"unavailable: {reason}"
    except TimeoutError:
        return f"unavailable: no answer within {timeout_s:g}s"
    except Exception as error:  # any failure means "not ready", with its reason
        return f"unavailable: {type(error).__name__}: {error}"
    return "ok"


async def run_checks(
    checks: Mapping[str, Check], *, timeout_s: float = CHECK_TIMEOUT_S
) -> dict[str, str]:
    """Every check at once, each within ``timeout_s``: ``"ok"`` or ``"unavailable: …"``."""
    names = list(checks)
    results = await asyncio.gather(*(_run_check(checks[name], timeout_s) for name in names))
    return dict(zip(names, results, strict=True))


def readiness_response(results: Mapping[str, str]) -> JSONResponse:
    """200 when every check is ``ok``, else 503; the body names each dependency's state."""
    ready = all(value == "ok" for value in results.values())
    body = {"status": "ready" if ready else "not_ready", "checks": dict(results)}
    return JSONResponse(body, status_code=200 if ready else 503)


class Readiness:
    """The named checks of one service; a dependency not opened yet is *pending*."""

    def __init__(self, *pending: str, timeout_s: float = CHECK_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._checks: dict[str, Check] = {}
        for name in pending:
            self.pending(name)

    def pending(self, name: str, reason: str = "not connected yet") -> None:
        """``name`` is not ready, for ``reason``, until a check is added for it."""

        async def not_yet() -> None:
            raise NotReady(reason)

        self._checks[name] = not_yet

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def run(self) -> dict[str, str]:
        return await run_checks(self._checks, timeout_s=self.timeout_s)


def ops_app(registry: CollectorRegistry, readiness: Readiness) -> Starlette:
    """The three calls as an ASGI app (tests reach it through httpx in-process)."""

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        return readiness_response(await readiness.run())

    return Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ]
    )


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the service owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class OpsServer:
    """``ops_app`` served on ``host:port`` by uvicorn, inside the service's event loop."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        self._app = app
        self._host = host
        self._sock = _bind(host, port)  # a port in use fails here, clearly
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve([self._sock]), name="ops-server")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the operations server stopped while starting")
            await asyncio.sleep(0.01)
        log.info("metrics and health on http://%s:%d", self._host, self.port)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._sock.close()


@contextlib.asynccontextmanager
async def serve_ops(
    registry: CollectorRegistry, readiness: Readiness, *, host: str, port: int | None
) -> AsyncIterator[OpsServer | None]:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``host:port`` while inside the block.

    ``port`` None is off (the setting's 0); 0 here picks a free port (tests).
    """
    if port is None:
        yield None
        return
    server = OpsServer(ops_app(registry, readiness), host, port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def process_registry() -> CollectorRegistry:
    """A registry of a service's own, with the process's CPU, memory and Python figures."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


class OpsSettings(Protocol):
    """Where a service serves its operations port (``FLOORSTREAM_METRICS_*``)."""

    @property
    def metrics_host(self) -> str: ...

    @property
    def metrics_port(self) -> int: ...


ServiceBody = Callable[[CollectorRegistry, Readiness], Awaitable[None]]
"""A service's wiring once its operations port is up: it registers its metrics on the registry
and its checks' probes on the readiness, and returns when the service stops."""


async def serve_with_ops(
    settings: OpsSettings,
    checks: Sequence[str],
    body: ServiceBody,
    *,
    registry: CollectorRegistry | None = None,
) -> None:
    """The skeleton of the gateway and the processor: a registry (the process's own, unless
    one is given), readiness with ``checks`` pending until ``body`` adds their probes, the
    operations port served from the start where ``metrics_port`` is set, then ``body``."""
    registry = registry if registry is not None else process_registry()
    readiness = Readiness(*checks)
    port = settings.metrics_port or None
    async with serve_ops(registry, readiness, host=settings.metrics_host, port=port):
        await body(registry, readiness)
