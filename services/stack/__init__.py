"""The one-machine stack: `floorstream up`, its supervisor, and the embedded servers.

What runs in production is in `services.runtime`; this package starts those services beside
embedded Mosquitto (or amqtt), Tansu and PostgreSQL, with the simulator, on one machine.
"""
