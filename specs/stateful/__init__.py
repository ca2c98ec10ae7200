"""Hypothesis stateful comparison of an implementation against the pure model.

- ``machine``: ``LifecycleMachine``, the ``RuleBasedStateMachine`` that drives a
  target and the model side by side; one invariant per property.
  ``lifecycle_machine(factory)`` builds it for any target, so a host's test
  suite can run it with ``run_state_machine_as_test`` or its ``TestCase``.
- ``prediction``: what the model predicts (the package's one use of the model).
- ``discrepancy``: what one rule predicted and saw, and which difference leads.
- ``search``: ``run_stateful``, the budgeted searches that give every requested
  property a verdict (``verdict.PropertyVerdict``).
- ``replay``: replaying recorded runs and minimising counterexamples.
"""

from .machine import LifecycleMachine, PropertyViolation, Supervisor, lifecycle_machine
from .replay import minimise, replay
from .search import SearchBudget, run_stateful
from .verdict import PropertyVerdict, StatefulResult

__all__ = [
    "LifecycleMachine",
    "PropertyVerdict",
    "PropertyViolation",
    "SearchBudget",
    "StatefulResult",
    "Supervisor",
    "lifecycle_machine",
    "minimise",
    "replay",
    "run_stateful",
]
