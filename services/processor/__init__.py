"""`floorstream processor`: the efficiency and floor-state processors, in one process.

Each is a consumer group of its own on ``floor.events.v1`` (`services.efficiency`,
`services.floor`); this package only wires them together, beside the retention purge.
"""
