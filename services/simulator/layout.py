"""What a simulated line is made of: stations, products, materials, crews, time zone.

A line's layout follows from its factory and line names alone (never from the seed), so that
:func:`line_settings_for` can tell the stack how to configure a line before any event is sent.
Factories are named ``f1``, ``f2``…, lines ``l1``, ``l2``… in every factory.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo

from services.simulator import params
from services.simulator.shifts import SHIFTS

STATION_CHAIN: Final = ("cut", "press", "weld", "paint", "pack")
TIMEZONES: Final = (
    "Asia/Shanghai",
    "Asia/Shanghai",
    "Asia/Shanghai",
    "Asia/Ho_Chi_Minh",
    "Europe/Berlin",
    "America/Mexico_City",
)
FAMILIES: Final = ("bracket", "hinge", "housing", "panel", "frame", "clip")
NOMINAL_CYCLE_TIMES_S: Final = (0.8, 1.0, 1.2, 1.5, 2.0, 2.5)
PRODUCT_VARIANTS: Final = (("a", 1.0), ("b", 0.9), ("c", 1.15))


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    ideal_cycle_time_s: float


@dataclass(frozen=True, slots=True)
class Material:
    """A material feeding ``station``: ``per_part`` units per part, delivered ``lot`` at a time."""

    material_id: str
    unit: str
    station: str
    per_part: float
    lot: float
    reorder_at: float


@dataclass(frozen=True, slots=True)
class Operator:
    operator_id: str
    role: str
    station: str


@dataclass(frozen=True, slots=True)
class LineProfile:
    """The fixed description of one simulated line."""

    factory: str
    line: str
    name: str
    timezone: str
    stations: tuple[str, ...]
    constraint: str
    ideal_cycle_time_s: float
    speed_loss: float
    products: tuple[Product, ...]
    materials: tuple[Material, ...]
    crews: tuple[tuple[str, tuple[Operator, ...]], ...]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def constraint_index(self) -> int:
        return self.stations.index(self.constraint)

    def crew(self, shift: str) -> tuple[Operator, ...]:
        """The operators of ``shift`` on this line."""
        return dict(self.crews)[shift]


def factory_names(count: int) -> list[str]:
    return [f"f{i}" for i in range(1, count + 1)]


def line_names(count: int) -> list[str]:
    return [f"l{i}" for i in range(1, count + 1)]


def factory_timezone(factory: str) -> str:
    """``fN`` takes the N-th zone of :data:`TIMEZONES` (cyclic; most are Asia/Shanghai)."""
    match = re.fullmatch(r"f(\d+)", factory)
    index = int(match.group(1)) - 1 if match else zlib.crc32(factory.encode())
    return TIMEZONES[index % len(TIMEZONES)]


def _stations(rng: random.Random) -> tuple[tuple[str, ...], str]:
    count = rng.randint(3, 5)
    middle = ["press", "weld", "paint"]
    while len(middle) > count - 2:
        middle.remove(rng.choice(middle[1:]))
    return ("cut", *middle, "pack"), rng.choice(middle)


def _materials(rng: random.Random, stations: tuple[str, ...], cycle: float) -> list[Material]:
    parts_per_hour = 3600.0 / cycle
    specs = [
        rng.choice([("steel-coil-2mm", "kg", 0.35), ("aluminium-sheet-1mm", "kg", 0.2)]),
        ("carton-20", "pcs", 0.05),
    ]
    feeds = [stations[0], "pack"]
    if "paint" in stations:
        specs.append(("paint-ral7035", "l", 0.01))
        feeds.append("paint")
    materials = []
    for (material_id, unit, per_part), station in zip(specs, feeds, strict=True):
        lot = round(rng.uniform(*params.LOT_HOURS) * parts_per_hour * per_part, -1)
        reorder = round(params.REORDER_HOURS * parts_per_hour * per_part, 1)
        materials.append(Material(material_id, unit, station, per_part, lot, reorder))
    return materials


def _crew(
    factory: str, line: str, shift: str, stations: tuple[str, ...], constraint: str
) -> tuple[Operator, ...]:
    prefix = f"op-{factory}{line}-{shift.lower()}"
    crew = [Operator(f"{prefix}{i}", "operator", s) for i, s in enumerate(stations, start=1)]
    crew.append(Operator(f"{prefix}{len(stations) + 1}", "team_lead", constraint))
    crew.append(Operator(f"{prefix}{len(stations) + 2}", "quality", stations[-1]))
    return tuple(crew)


@cache
def line_profile(factory: str, line: str) -> LineProfile:
    """The layout of ``line`` in ``factory``; the same names always give the same line."""
    rng = random.Random(f"layout/{factory}/{line}")  # noqa: S311 - a simulation, not crypto
    stations, constraint = _stations(rng)
    cycle = rng.choice(NOMINAL_CYCLE_TIMES_S)
    family = rng.choice(FAMILIES)
    products = tuple(
        Product(f"{family}-{suffix}", round(cycle * factor, 2))
        for suffix, factor in PRODUCT_VARIANTS[: rng.randint(2, 3)]
    )
    return LineProfile(
        factory=factory,
        line=line,
        name=f"{factory.upper()}-{line.upper()} {family}s",
        timezone=factory_timezone(factory),
        stations=stations,
        constraint=constraint,
        ideal_cycle_time_s=cycle,
        speed_loss=round(rng.uniform(*params.SPEED_LOSS_RANGE), 3),
        products=products,
        materials=tuple(_materials(rng, stations, cycle)),
        crews=tuple((s.name, _crew(factory, line, s.name, stations, constraint)) for s in SHIFTS),
    )


def line_settings_for(factory: str, line: str) -> dict[str, object]:
    """The line settings (``PUT …/lines/{line}``, docs/contract.md §5) of the simulated line."""
    profile = line_profile(factory, line)
    return {
        "name": profile.name,
        "timezone": profile.timezone,
        "ideal_cycle_time_s": profile.ideal_cycle_time_s,
        "constraint_station": profile.constraint,
        "shifts": [shift.as_setting() for shift in SHIFTS],
        "small_stop_threshold_s": params.SMALL_STOP_THRESHOLD_S,
        "materials": {
            material.material_id: {
                "reorder_point": material.reorder_at,
                "container_quantity": material.lot,
            }
            for material in profile.materials
        },
    }
