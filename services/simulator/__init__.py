"""The simulated factory: a pure, deterministic event model and its MQTT publisher.

Modules, from the core out:

- ``types``: the vocabulary (kinds, states, :class:`SimEvent`, the error tree);
- ``shifts``, ``layout``, ``params``: the calendar, what each line is made of, the behaviour;
- ``line_state``, ``materials``, ``production``, ``line``: one line's discrete-event simulation;
- ``heartbeat``: a station that makes nothing repeats its machine state now and then;
- ``model``: the whole factory as one event stream (``simulate``), pure and deterministic;
- ``clock``, ``runner``: simulated against wall time, and the publishing loop;
- ``publisher``: the MQTT edge (paho-mqtt, QoS 1, bounded in flight; its URL parsed by
  `services.runtime.mqtt_url`);
- ``service``, ``command``: the wiring point and ``floorstream simulate``.
"""

from services.simulator.layout import line_profile, line_settings_for
from services.simulator.model import SimulationConfig, simulate
from services.simulator.types import SimEvent

__all__ = ["SimEvent", "SimulationConfig", "line_profile", "line_settings_for", "simulate"]
