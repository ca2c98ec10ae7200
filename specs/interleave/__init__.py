"""Deterministic exploration of real thread schedules (CHESS / Loom style).

The target's own code runs unedited on real OS threads, but only one logical
thread holds the baton at a time: every acquire, release, wait, notify, event
set, thread start and join, and every provider call's begin and end, is a
scheduling point where the explorer decides who runs next. Time is virtual:
timed waits and deadlines fire, without real waiting, when nothing else can
run. A run is therefore a pure function of its choices, printed as a
*schedule string* (``"0.1.1.2"``) that replays it exactly.

Public API (what the conformance suite builds on)::

    from memory_lifecycle.specs.interleave import SCENARIOS, explore, run_scenario, target_factory

    factory = target_factory("path/to/session_lifecycle.py")   # or "compat", "native", a module
    result = explore(SCENARIOS["base_exception_vs_waiter"], factory, mode="dfs", budget=500)
    if result.violation:
        print(result.violation.format())                       # a Trace plus the schedule
        run_scenario(factory, SCENARIOS["base_exception_vs_waiter"], result.violation.schedule)

- ``target_factory(target)`` (the one loader, ``conformance.target``) makes
  a ``TargetFactory``; the explorer calls it with its stand-in ``threading``
  and ``time`` for every run, so each run gets a fresh copy of the target.
- ``run_scenario(target_factory, scenario, schedule)`` runs one schedule and
  checks every property on the way (``runner``).
- ``explore(scenario, target, mode="dfs"|"random"|"pct", budget=...,
  interrupts=False)`` returns an ``ExplorationResult`` (``explore``); with
  ``interrupts`` every run also takes a KeyboardInterrupt at one interrupt site.
- ``SCENARIOS`` / ``CANONICAL`` / ``LARGE`` / ``INTERRUPTED``: the scenario
  library (``scenarios``): small races for exhaustive dfs, larger ones for
  random and PCT sampling, and the ones explored with injected interrupts.

Modules: ``scheduler`` (baton passing, virtual time, deadlock detection,
interrupt injection), ``primitives`` (the stand-ins), ``agents`` (scripted
providers), ``context`` (the recording API scenarios call), ``history``,
``linearizability`` (the history against ``model.step``: the only module
that reads the model), ``runner``, ``schedules`` (replay, random, PCT
choosers), ``explore``, ``cli``.
"""

from ..conformance.target import Target, TargetError, TargetFactory, target_factory
from .explore import ExplorationResult, explore
from .runner import RunResult, Violation, run_scenario
from .scenarios import CANONICAL, INTERRUPTED, LARGE, SCENARIOS, Scenario
from .scheduler import Scheduler
from .schedules import PCTChooser, RandomChooser, ReplayChooser, format_schedule, parse_schedule

__all__ = [
    "CANONICAL",
    "INTERRUPTED",
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
    "TargetError",
    "TargetFactory",
    "Violation",
    "explore",
    "format_schedule",
    "parse_schedule",
    "run_scenario",
    "target_factory",
]
