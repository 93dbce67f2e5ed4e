"""The floor-state processor: the live floor (stations, operators, materials, work orders) kept
in PostgreSQL from ``floor.events.v1``, exactly once (see `floor.processor`)."""
