"""The numbers that make the simulated floor behave like a real one.

Durations are in seconds of working time (time inside a shift, outside breaks): a setup or a repair
that a break interrupts continues after it. Budgets "of running time" count only while the line
runs, which is how wear and consumption behave.
"""

from __future__ import annotations

from typing import Final

# Stops shorter than this count as small stops (a speed loss), as in the line settings.
SMALL_STOP_THRESHOLD_S: Final = 120.0

# Slow cycles: the line makes (1 - speed loss) of the parts its ideal cycle time allows.
SPEED_LOSS_RANGE: Final = (0.04, 0.08)
SPEED_LOSS_JITTER: Final = 0.01  # per order, around the line's own speed loss

# Short stops (jams, misfeeds) at each station, shorter than the small-stop threshold.
SHORT_STOP_MEAN_INTERVAL_S: Final = 30 * 60.0  # of running time
SHORT_STOP_DURATION_S: Final = (10.0, 90.0)
SHORT_STOP_REASONS: Final = ("jam", "misfeed", "sensor_fault")

# Breakdowns: one station down, the stations upstream blocked, those downstream starved.
BREAKDOWN_MEAN_INTERVAL_S: Final = 100 * 60.0  # of running time
BREAKDOWN_DURATION_S: Final = (4 * 60.0, 25 * 60.0)
BREAKDOWN_REASONS: Final = ("jam", "tool_change", "quality_check", "electrical", "hydraulic")
BREAKDOWN_WEIGHTS: Final = (3.0, 2.0, 2.0, 1.0, 1.0)

# Order changes: the running order ends, a setup follows, then the next order starts.
SETUP_DURATION_S: Final = (15 * 60.0, 35 * 60.0)
ORDER_LENGTH_H: Final = (1.2, 2.8)  # hours of ideal production per order
WAIT_FOR_ORDER_PROBABILITY: Final = 0.4  # the next order is not released yet: idle first
WAIT_FOR_ORDER_S: Final = (3 * 60.0, 12 * 60.0)
STARTUP_WINDOW_S: Final = 8 * 60.0  # running time after a setup with startup rejects

# Scrap: production rejects, and many more startup rejects right after a setup.
SCRAP_RATE: Final = 0.02  # at the constraint station
STARTUP_SCRAP_RATE: Final = 0.15
OTHER_STATION_SCRAP_SHARE: Final = 0.25  # other stations scrap this share of the constraint's

# People: the crew checks in over the first minutes of a shift; the line waits for it (idle).
CHECK_IN_SPREAD_S: Final = 240.0
CHECK_OUT_SPREAD_S: Final = 180.0
CREW_READY_S: Final = (30.0, 120.0)  # after the last check-in until the line runs

# Materials: deliveries are ordered at a reorder point; some arrive after the stock ran out.
LOT_HOURS: Final = (1.5, 2.5)  # a delivery covers this many hours of ideal production
REORDER_HOURS: Final = 0.4  # reorder when this much ideal production is left in stock
DELIVERY_S: Final = (8 * 60.0, 20 * 60.0)
LATE_DELIVERY_S: Final = (32 * 60.0, 55 * 60.0)
LATE_DELIVERY_PROBABILITY: Final = 0.3
LEVEL_REPORT_INTERVAL_S: Final = 15 * 60.0

# Heartbeats: a station that makes nothing repeats its machine state this often, well within the
# boards' `stale_after_s` (300 s by default), so that it is not taken for one that fell silent.
HEARTBEAT_S: Final = 60.0
