"""What the stateful comparison concludes, per property, and what it spent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..trace import Trace

Status = Literal["passed", "violated", "not_checked", "not_applicable"]


@dataclass(frozen=True)
class PropertyVerdict:
    """The stateful comparison's verdict on one property.

    ``passed``: checked in every run of the budget; ``detail`` says what was
    spent ("250 runs of up to 25 steps, 5,912 steps compared, seed 0").
    ``violated``: ``detail`` is the message, ``trace`` the shortest
    counterexample found, ``replay`` the ``conform`` options that rerun the
    search that found it (add the target first and the budget flag), and
    ``found_after`` the properties that search no longer checked.
    ``not_checked``: ``detail`` says why (the time limit ran out, the search
    stopped with an error). ``not_applicable``: the target lacks a call the
    property needs. ``runs`` and ``steps`` count the runs and rules in which
    the property was checked.
    """

    property_id: str
    status: Status
    detail: str
    runs: int = 0
    steps: int = 0
    trace: Trace | None = None
    replay: tuple[str, ...] = ()
    found_after: tuple[str, ...] = ()
    """Violated: properties already found violated, and no longer checked, when this was found.

    The violation may share their cause: the comparison sees only the first
    difference a defect makes, whichever property that difference breaks.
    """


@dataclass(frozen=True)
class StatefulResult:
    """Every requested property's verdict (catalogue order) and what the comparison spent."""

    verdicts: dict[str, PropertyVerdict]
    runs: int
    steps: int
    searches: int
    seconds: float
    errors: tuple[str, ...] = field(default=())
    """Failures of the comparison itself (not of the target), as messages."""
