"""Simulated nodes (like kwok): Nodes with Lease heartbeats whose bound pods go Pending → Running, no machines.

Library first: ``SimulatedNodes(client, count, prefix).run()`` in-process for tests and benchmarks; the
``provision-simnodes`` process (main.py) only parses flags around it.
"""

from provisioner.services.simnodes.objects import (
    EXIT_CODE_ANNOTATION,
    RUN_SECONDS_ANNOTATION,
    SIMULATED_LABEL,
    NodeTemplate,
)
from provisioner.services.simnodes.simulator import Counters, SimulatedNodes, Timing

__all__ = [
    "EXIT_CODE_ANNOTATION",
    "RUN_SECONDS_ANNOTATION",
    "SIMULATED_LABEL",
    "Counters",
    "NodeTemplate",
    "SimulatedNodes",
    "Timing",
]
