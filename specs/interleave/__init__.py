"""Deterministic exploration of real thread schedules (CHESS / Loom style).

The target's own code runs unedited on real OS threads, but only one logical
thread holds the baton at a time: every acquire, release, wait, notify, event
set, thread start and join, and every provider call's begin and end, is a
scheduling point where the explorer decides who runs next. Time is virtual:
timed waits and deadlines fire, without real waiting, when nothing else can
run. A run is therefore a pure function of its choices, printed as a
*schedule string* (``"0.1.1.2"``) that replays it exactly.

Public API (what the conformance suite builds on)::

    from memory_lifecycle.specs.interleave import (
        SCENARIOS, explore, load_target, module_target, native_target, run_scenario,
    )

    factory = module_target("path/to/session_lifecycle.py")   # or "compat", see target_factory
    result = explore(SCENARIOS["base_exception_vs_waiter"], factory, mode="dfs", budget=500)
    if result.violation:
        print(result.violation.format())                       # a Trace plus the schedule
        run_scenario(factory, SCENARIOS["base_exception_vs_waiter"], result.violation.schedule)

- ``load_target(path_or_module_name, scheduler)`` loads a fresh copy of a
  module whose ``threading``/``time`` are the scheduler's stand-ins (``loader``).
- ``module_target`` / ``native_target`` / ``target_factory`` make a
  ``TargetFactory``: a fresh target per run (``target``).
- ``run_scenario(target_factory, scenario, schedule)`` runs one schedule and
  checks every property on the way (``runner``).
- ``explore(scenario, target, mode="dfs"|"random"|"pct", budget=...)`` returns
  an ``ExplorationResult`` (``explore``).
- ``SCENARIOS`` / ``CANONICAL`` / ``LARGE``: the scenario library (``scenarios``):
  small races for exhaustive dfs, larger ones for random and PCT sampling.

Modules: ``scheduler`` (baton passing, virtual time, deadlock detection),
``primitives`` (the stand-ins), ``loader``, ``target``, ``agents`` (scripted
providers), ``context`` (the recording API scenarios call), ``history``,
``linearizability`` (the history against ``model.step``), ``runner``,
``schedules`` (replay, random, PCT choosers), ``explore``, ``cli``.
"""

from .explore import ExplorationResult, explore
from .loader import TargetLoadError, load_target
from .runner import RunResult, Violation, run_scenario
from .scenarios import CANONICAL, LARGE, SCENARIOS, Scenario
from .scheduler import Scheduler
from .schedules import PCTChooser, RandomChooser, ReplayChooser, format_schedule, parse_schedule
from .target import (
    Target,
    TargetFactory,
    module_target,
    native_target,
    target_factory,
)

__all__ = [
    "CANONICAL",
    "LARGE",
    "SCENARIOS",
    "ExplorationResult",
    "PCTChooser",
    "RandomChooser",
    "ReplayChooser",
    "RunResult",
    "Scenario",
    "Scheduler",
    "Target",
    "TargetFactory",
    "TargetLoadError",
    "Violation",
    "explore",
    "format_schedule",
    "load_target",
    "module_target",
    "native_target",
    "parse_schedule",
    "run_scenario",
    "target_factory",
]
