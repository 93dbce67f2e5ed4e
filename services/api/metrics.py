"""The API's Prometheus metrics: a typed bundle on the app's registry, set at the edges.

- ``floorstream_api_request_seconds{route,method,status}``: a pure-ASGI middleware
  (`RequestMetrics`) times each HTTP request to the start of its response. ``route`` is the
  matched route's path template (``/api/v1/factories/{factory}/lines/{line}``), never the raw
  path, so label values stay bounded; a request no route matched is ``unmatched``. Timing to
  the response's start keeps a live feed (an endless response) from reading as a slow call.
- ``floorstream_api_screens``: the board live feeds open on this process, read from the live
  hub's subscriptions when Prometheus scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from fastapi import routing
from prometheus_client import CollectorRegistry, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED: Final = "unmatched"
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class ApiMetrics:
    request_seconds: Histogram
    screens: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ApiMetrics:
        prefix = "floorstream_api"
        return cls(
            request_seconds=Histogram(
                f"{prefix}_request_seconds",
                "HTTP requests, from arrival to the start of the response, by route template",
                ["route", "method", "status"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=registry,
            ),
            screens=Gauge(
                f"{prefix}_screens",
                "board live feeds (screens) connected to this API process",
                registry=registry,
            ),
        )

    def count_screens(self, count: Callable[[], int]) -> None:
        """Read the open feeds from ``count`` at each scrape."""
        self.screens.set_function(count)


def route_templates(routes: Iterable[Any]) -> dict[int, str]:
    """Each route object's full path template, router prefixes included, by ``id``.

    FastAPI (0.16x) keeps an included router's routes under the router, so a route's own
    ``path_format`` lacks the prefix; its route contexts know the path as served.
    """
    contexts = getattr(routing, "iter_route_contexts", None)
    if contexts is None:  # older FastAPI: routes are flattened, their path_format is full
        return {}
    templates: dict[int, str] = {}
    for context in contexts(list(routes)):
        template = context.path_format
        if isinstance(template, str) and template:
            templates.setdefault(id(context.original_route), template)
    return templates


class _Templates:
    """`route_templates` of the app, built at its first request (the routes are all in)."""

    def __init__(self) -> None:
        self._by_route: dict[int, str] | None = None

    def label(self, scope: Scope) -> str:
        """The template of the route that handled ``scope``; `UNMATCHED` where none did."""
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        if self._by_route is None or id(route) not in self._by_route:
            self._by_route = route_templates(getattr(scope.get("app"), "routes", ()))
            own = getattr(route, "path_format", None)  # not a FastAPI inclusion: it is full
            self._by_route.setdefault(id(route), own if isinstance(own, str) else "")
        return self._by_route[id(route)] or UNMATCHED


def method_label(scope: Scope) -> str:
    method = str(scope.get("method", "")).upper()
    return method if method in _METHODS else "other"


class RequestMetrics:
    """ASGI middleware: observe ``request_seconds`` for every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: ApiMetrics,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.clock = clock
        self._templates = _Templates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = self.clock()
        observed = False

        def observe(status: int) -> None:
            nonlocal observed
            observed = True
            # The router set scope["route"] on this same dict before the response began.
            self.metrics.request_seconds.labels(
                self._templates.label(scope), method_label(scope), str(status)
            ).observe(self.clock() - started)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not observed:
                observe(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not observed:  # an error before any response: the server answers 500
                observe(500)
