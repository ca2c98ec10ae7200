"""Replaying a recorded run, and minimising a counterexample by deleting steps.

Every rule call of a run is recorded in ``machine.script`` (a held commit as a
``HeldRef`` to its session). ``replay`` runs such a script on a fresh target,
checking the same properties after each step as the search did. ``minimise``
deletes steps (halves, quarters, ... single steps) while the same property
still fails: Hypothesis shrinks the choices that generate a run, this works on
the run itself and removes steps Hypothesis keeps when a failing replay is
slow (a hang costs its whole bound) or its shrinking time ran out.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from ..conformance.target import TargetFactory
from .machine import PropertyViolation, Step, Supervisor, lifecycle_machine


def replay(
    factory: TargetFactory, script: Sequence[Step], checked: Iterable[str]
) -> PropertyViolation | None:
    """Run recorded steps on a fresh target; the violation they show, if any."""
    machine = lifecycle_machine(factory, Supervisor(checked))()
    try:
        for name, arguments in script:
            resolved = machine.resolve(arguments)
            if resolved is None or not machine.allows(name):
                return None
            getattr(machine, name)(**resolved)
            machine.check_now()
    except PropertyViolation as violation:
        return violation
    finally:
        machine.teardown()
    return None


def minimise(
    factory: TargetFactory,
    violation: PropertyViolation,
    checked: Iterable[str],
    until: float,
) -> PropertyViolation:
    """The shortest run found by deleting steps of ``violation`` before ``until`` (monotonic)."""
    checked = frozenset(checked)
    best = violation
    script = list(violation.script)
    chunk = max(1, len(script) // 2)
    while script and time.monotonic() < until:
        index, changed = 0, False
        while index < len(script) and time.monotonic() < until:
            candidate = script[:index] + script[index + chunk :]
            found = replay(factory, candidate, checked)
            if found is not None and found.property_id == best.property_id:
                best, script, changed = found, list(found.script), True
            else:
                index += chunk
        if chunk == 1 and not changed:
            break
        chunk = max(1, chunk // 2)
    return best
