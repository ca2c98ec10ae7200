"""Explicit-state model checker over ``model.step``.

``explore(bounds)`` visits every reachable state of a bounded world
(``world.Bounds``), checks the properties S1-S10 and L1-L4 on every state and
transition (results against the result tables of ``specs/machine.py``), probes
the drop-in's test hook from every state, and reports each violation with its
shortest trace; a step function that raises is a violation too (``STEP``).
``reachable_graph(bounds)`` returns the states and edges themselves.
"""

from .explore import CheckResult, Edge, ReachableGraph, Violation, explore, reachable_graph
from .world import CHECK_BOUNDS, DEFAULT_BOUNDS, THOROUGH_BOUNDS, Bounds, enabled_events

__all__ = [
    "CHECK_BOUNDS",
    "DEFAULT_BOUNDS",
    "THOROUGH_BOUNDS",
    "Bounds",
    "CheckResult",
    "Edge",
    "ReachableGraph",
    "Violation",
    "enabled_events",
    "explore",
    "reachable_graph",
]
