"""floorstream: production-line events over MQTT, exact OEE and live kanban boards."""

__version__ = "0.1.0"
