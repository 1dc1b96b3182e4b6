"""A Kling-compatible HTTP server for development, demos and tests (official and proxy flavours).

It speaks the contract (docs/kling.md): the same endpoints, auth, codes and body shapes,
and does the real work with the local engine. `serve` runs it in the foreground (the
`kling_simulator` management command); `start` runs it on a thread for tests.
"""

from projects.engines.simulator.config import SimulatorConfig
from projects.engines.simulator.server import RunningSimulator, serve, start

__all__ = ["RunningSimulator", "SimulatorConfig", "serve", "start"]
