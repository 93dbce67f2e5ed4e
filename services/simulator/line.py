"""One simulated line, window by window of its shift calendar: a small discrete-event simulation.

Protocol of a work window, coded to the numbers in :meth:`LineSim._work`:

1. the crew changes at a shift boundary (check-outs, check-ins; the line idles until the crew
   is ready);
2. repeatedly: take the earliest due step (a stop ending, a breakdown, a short stop, an order
   complete, a stock running out or reordered or delivered, a level report), advance the line
   to it (parts, consumption and wear accrue only while it runs), apply it;
3. after every step, report the stations whose machine state changed.

Break and off windows only show ``planned_stop``; working time stands still during them, so a
setup or repair cut by a break continues after it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from functools import partial

from services.simulator import params
from services.simulator.layout import LineProfile, Operator, Product
from services.simulator.line_state import (
    ActiveOrder,
    StationState,
    Stop,
    planned_states,
    station_states,
)
from services.simulator.materials import Stock, initial_stock
from services.simulator.production import RunPiece
from services.simulator.shifts import ShiftWindow
from services.simulator.types import Draft, JsonScalar, Kind

Step = tuple[float, Callable[[], None] | None]


class LineSim:
    """The happenings of one line (machine, order, people, material events) and its run pieces."""

    def __init__(self, profile: LineProfile, rng: random.Random, tag: str) -> None:
        self._p = profile
        self._rng = rng
        self._tag = tag
        self._n = len(profile.stations)
        self._constraint = profile.constraint_index
        self._wt = 0.0  # working time since the start of the run
        self._t = self._t0 = self._wt0 = 0.0
        self._stop: Stop | None = self._setup()
        self._order: ActiveOrder | None = None
        self._orders = 0
        self._last_product: Product | None = None
        self._stocks = [initial_stock(m, rng, i) for i, m in enumerate(profile.materials)]
        self._to_breakdown = self._draw(params.BREAKDOWN_MEAN_INTERVAL_S)
        self._to_short = [self._draw(params.SHORT_STOP_MEAN_INTERVAL_S) for _ in range(self._n)]
        self._short_stops: dict[int, tuple[float, str]] = {}  # station: (recovers at, reason)
        self._startup_left = 0.0
        self._w = 0.0  # parts made since the start of the run
        self._crew_shift: str | None = None
        self._shown: list[StationState | None] = [None] * self._n
        self._out: list[Draft] = []
        self._pieces: list[RunPiece] = []
        self._first = True

    def run_window(self, window: ShiftWindow) -> tuple[list[Draft], list[RunPiece], float]:
        """Simulate ``window``: its events in time order, its run pieces, parts made by its end."""
        self._out, self._pieces = [], []
        self._t = self._t0 = window.start
        self._wt0 = self._wt
        ready = self._change_crew(window)
        if window.kind == "work":
            self._work(window, ready)
        else:
            reason = "break" if window.kind == "break" else "no_shift"
            self._show(planned_states(self._n, reason))
        self._first = False
        self._out.sort(key=lambda draft: draft.t)
        return self._out, self._pieces, self._w

    # -- the protocol of a work window ------------------------------------------------------

    def _work(self, window: ShiftWindow, ready: float | None) -> None:
        # 1. A new crew: the line waits for it unless something else holds it already.
        if ready is not None and (self._stop is None or self._stop.kind == "short_stop"):
            self._hold(Stop("idle", max(1.0, ready - window.start), None, "shift_start"))
        self._show_line()
        end = self._wt + (window.end - window.start)
        while True:
            # 2. The earliest due step; the window's end wins a tie.
            when, action = min(self._steps(end), key=lambda step: step[0])
            self._advance(when)
            if action is None:
                return
            action()
            # 3. Report what changed.
            self._show_line()

    def _steps(self, end: float) -> list[Step]:
        steps: list[Step] = [(end, None)]
        if self._stop is not None and self._stop.remaining is not None:
            steps.append((self._wt + self._stop.remaining, self._end_stop))
        for station, (at, _) in self._short_stops.items():
            steps.append((at, partial(self._recover, station)))
        for stock in self._stocks:
            steps.append((stock.next_report, partial(self._report_level, stock)))
            if stock.due is not None:
                steps.append((stock.due, partial(self._deliver, stock)))
        if self._stop is None and self._order is not None:
            steps.extend(self._running_steps(self._order.cycle_s))
        return steps

    def _running_steps(self, cycle: float) -> list[Step]:
        now = self._wt
        assert self._order is not None  # noqa: S101 - only called while an order runs
        steps: list[Step] = [
            (now + self._to_breakdown, self._break_down),
            (now + self._order.parts_left * cycle, self._complete_order),
        ]
        for i, budget in enumerate(self._to_short):
            if i not in self._short_stops:
                steps.append((now + budget, partial(self._short_stop, i)))
        for stock in self._stocks:
            empty = now + stock.run_seconds_to_empty(cycle)
            steps.append((empty, partial(self._run_out, stock)))
            if stock.due is None:
                reorder = now + stock.run_seconds_to_reorder(cycle)
                steps.append((reorder, partial(self._reorder, stock)))
        if self._startup_left > 0.0:
            steps.append((now + self._startup_left, self._end_startup))
        return steps

    def _advance(self, when: float) -> None:
        elapsed = when - self._wt
        if elapsed <= 0.0:
            return
        start = self._t
        self._wt = when
        self._t = self._t0 + (when - self._wt0)
        if self._stop is None:
            self._run(start, elapsed)
        elif self._stop.remaining is not None:
            self._stop.remaining = max(0.0, self._stop.remaining - elapsed)

    def _run(self, start: float, elapsed: float) -> None:
        order = self._order
        assert order is not None  # noqa: S101 - the line runs only with an order
        rate = params.STARTUP_SCRAP_RATE if self._startup_left > 0.0 else params.SCRAP_RATE
        self._pieces.append(RunPiece(start, self._t, self._w, order.cycle_s, rate))
        parts = elapsed / order.cycle_s
        self._w += parts
        order.parts_left -= parts
        for stock in self._stocks:
            stock.consume(parts)
        self._to_breakdown -= elapsed
        for i in range(self._n):
            if i not in self._short_stops:
                self._to_short[i] -= elapsed
        self._startup_left = max(0.0, self._startup_left - elapsed)

    # -- steps --------------------------------------------------------------------------------

    def _end_stop(self) -> None:
        stop, self._stop = self._stop, None
        if stop is not None and stop.kind == "setup":
            self._start_order()
        elif self._order is None:
            self._hold(self._setup())

    def _break_down(self) -> None:
        reason = self._rng.choices(params.BREAKDOWN_REASONS, params.BREAKDOWN_WEIGHTS)[0]
        duration = self._rng.uniform(*params.BREAKDOWN_DURATION_S)
        self._hold(Stop("down", duration, self._rng.randrange(self._n), reason))
        self._to_breakdown = self._draw(params.BREAKDOWN_MEAN_INTERVAL_S)

    def _short_stop(self, station: int) -> None:
        duration = self._rng.uniform(*params.SHORT_STOP_DURATION_S)
        reason = self._rng.choice(params.SHORT_STOP_REASONS)
        self._to_short[station] = self._draw(params.SHORT_STOP_MEAN_INTERVAL_S)
        if station == self._constraint:  # the constraint stops the whole line's output
            self._stop = Stop("short_stop", duration, station, reason)
        else:  # buffers keep the line going
            self._short_stops[station] = (self._wt + duration, reason)

    def _recover(self, station: int) -> None:
        del self._short_stops[station]

    def _complete_order(self) -> None:
        order, self._order = self._order, None
        assert order is not None  # noqa: S101 - only scheduled while an order runs
        self._emit(self._constraint, "order", order.payload("end"))
        for stock in self._stocks:
            self._emit_material(stock, "consumed", stock.consumed)
        if self._rng.random() < params.WAIT_FOR_ORDER_PROBABILITY:
            wait = self._rng.uniform(*params.WAIT_FOR_ORDER_S)
            self._hold(Stop("idle", wait, None, "waiting_for_order"))  # then the setup
        else:
            self._hold(self._setup())

    def _start_order(self) -> None:
        products = [p for p in self._p.products if p != self._last_product]
        product = self._last_product = self._rng.choice(products)
        hours = self._rng.uniform(*params.ORDER_LENGTH_H)
        target = max(100, round(hours * 3600.0 / product.ideal_cycle_time_s, -2))
        loss = self._p.speed_loss + self._rng.uniform(-1.0, 1.0) * params.SPEED_LOSS_JITTER
        self._orders += 1
        order_id = f"WO-{self._p.factory}{self._p.line}-{self._tag}-{self._orders}"
        parts = math.ceil(target / (1.0 - params.SCRAP_RATE))
        cycle = product.ideal_cycle_time_s / (1.0 - loss)
        self._order = ActiveOrder(order_id, product, int(target), parts, cycle)
        self._emit(self._constraint, "order", self._order.payload("start"))
        self._startup_left = params.STARTUP_WINDOW_S
        for stock in self._stocks:
            stock.consumed = 0.0

    def _end_startup(self) -> None:
        self._startup_left = 0.0

    def _run_out(self, stock: Stock) -> None:
        stock.level, stock.short = 0.0, True
        self._emit_material(stock, "shortage", 0.0)
        where = self._p.stations.index(stock.spec.station)
        self._hold(Stop("starved", None, where, "material_shortage"))

    def _reorder(self, stock: Stock) -> None:
        stock.order_delivery(self._rng, self._wt)

    def _deliver(self, stock: Stock) -> None:
        action = stock.receive()
        self._emit_material(stock, action, stock.spec.lot)
        self._emit_material(stock, "level", stock.level)
        starved = self._stop is not None and self._stop.kind == "starved"
        if starved and not any(s.short for s in self._stocks):
            self._stop = None

    def _report_level(self, stock: Stock) -> None:
        self._emit_material(stock, "level", stock.level)
        stock.next_report += params.LEVEL_REPORT_INTERVAL_S

    # -- crew -------------------------------------------------------------------------------

    def _change_crew(self, window: ShiftWindow) -> float | None:
        """Check the crews out and in at a shift boundary; when the new crew is ready, if new."""
        if self._crew_shift is not None and window.shift != self._crew_shift:
            for operator in self._p.crew(self._crew_shift):
                self._people(operator, "check_out", window, params.CHECK_OUT_SPREAD_S)
            self._crew_shift = None
        if window.shift is None or self._crew_shift is not None:
            return None
        self._crew_shift = window.shift
        spread = 0.0 if self._first else params.CHECK_IN_SPREAD_S  # on the line already
        crew = self._p.crew(window.shift)
        last = max(self._people(op, "check_in", window, spread) for op in crew)
        return None if self._first else last + self._rng.uniform(*params.CREW_READY_S)

    def _people(self, operator: Operator, action: str, window: ShiftWindow, spread: float) -> float:
        at = window.start + self._rng.uniform(0.0, min(spread, (window.end - window.start) / 2))
        body: dict[str, JsonScalar] = {
            "action": action,
            "operator_id": operator.operator_id,
            "role": operator.role,
        }
        self._out.append(Draft(at, operator.station, "people", body))
        return at

    # -- helpers ----------------------------------------------------------------------------

    def _setup(self) -> Stop:
        return Stop("setup", self._rng.uniform(*params.SETUP_DURATION_S), None, "changeover")

    def _draw(self, mean: float) -> float:
        return self._rng.expovariate(1.0 / mean)

    def _hold(self, stop: Stop) -> None:
        """Hold the whole line; stations briefly down get over it meanwhile."""
        self._stop = stop
        self._short_stops.clear()

    def _show_line(self) -> None:
        reasons = {station: reason for station, (_, reason) in self._short_stops.items()}
        self._show(station_states(self._n, self._stop, reasons))

    def _show(self, states: list[StationState]) -> None:
        for i, state in enumerate(states):
            if state != self._shown[i]:
                self._shown[i] = state
                body: dict[str, JsonScalar] = {"state": state[0]}
                if state[1] is not None:
                    body["reason"] = state[1]
                self._emit(i, "machine", body)

    def _emit(self, station: int, kind: Kind, body: dict[str, JsonScalar]) -> None:
        self._out.append(Draft(self._t, self._p.stations[station], kind, body))

    def _emit_material(self, stock: Stock, action: str, quantity: float) -> None:
        body = stock.payload(action, quantity)
        self._out.append(Draft(self._t, stock.spec.station, "material", body))
