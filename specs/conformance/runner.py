"""Run every check of the conformance suite on one target and collect a verdict per property.

Three kinds of check feed the verdicts: the fault-injection probes
(``probes``), the Hypothesis stateful comparison against the model
(``specs.stateful``) and, when the interleaving explorer is available, its
canonical scenarios under systematically explored thread schedules. A property
is ``violated`` when any check shows it broken (the shortest counterexample is
kept), ``not_applicable`` when the target lacks the calls it needs, else
``passed``.
"""

from __future__ import annotations

import shlex
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..interleave.runner import quiet_logging
from ..properties import ALL
from ..stateful import run_stateful
from ..trace import Trace
from .probes import PROBES, run_probe
from .target import Target, TargetFactory, target_factory


@dataclass(frozen=True)
class Budget:
    """How much searching one run does."""

    name: str
    stateful_examples: int
    stateful_steps: int
    shrink_seconds: float
    interleave_schedules: int


BUDGETS: dict[str, Budget] = {
    "quick": Budget("quick", 250, 25, 15.0, 120),
    "standard": Budget("standard", 400, 40, 30.0, 600),
    "thorough": Budget("thorough", 3000, 80, 240.0, 5000),
}
"""``--quick`` (a minute or less on 2 cores), the default, and ``--thorough``."""

NEEDS: dict[str, tuple[str, str]] = {
    "S8": ("has_discard", "discard_session"),
    "L4": ("has_discard", "discard_session"),
    "L2": ("has_drain", "drain_all_on_shutdown"),
}
"""Properties that need an optional call: ``Target`` flag and the call's name."""

Progress = Callable[[str], None]


@dataclass
class PropertyResult:
    """The verdict on one property."""

    id: str
    title: str
    status: str = "passed"
    evidence: list[str] = field(default_factory=list)
    counterexample: Trace | None = None
    replay: str | None = None

    def violate(self, trace: Trace, replay: str, evidence: str) -> None:
        """Record a violation, keeping the shortest counterexample."""
        self.status = "violated"
        self.evidence.append(evidence)
        if self.counterexample is None or len(trace.steps) < len(self.counterexample.steps):
            self.counterexample = trace
            self.replay = replay


@dataclass
class Report:
    """Every property's verdict on one target."""

    target: str
    budget: str
    properties: list[PropertyResult]
    duration_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def violated(self) -> list[PropertyResult]:
        return [item for item in self.properties if item.status == "violated"]

    def by_id(self, property_id: str) -> PropertyResult:
        return next(item for item in self.properties if item.id == property_id)


def _command(target: str, *options: str) -> str:
    return " ".join(["memory-lifecycle", "conform", shlex.quote(target), *options])


def run_conformance(
    target: str,
    *,
    budget: str = "standard",
    only: set[str] | None = None,
    seed: int = 0,
    checks: tuple[str, ...] = ("probes", "stateful", "interleave"),
    progress: Progress | None = None,
) -> Report:
    """Check ``target`` (a dotted module path or a .py file); raises ``TargetError`` if unusable."""
    say = progress or (lambda _text: None)
    started = time.monotonic()
    chosen = BUDGETS[budget]
    factory = target_factory(target)
    sample = factory()
    results = [
        PropertyResult(item.id, item.title) for item in ALL if only is None or item.id in only
    ]
    by_id = {item.id: item for item in results}
    report = Report(target, budget, results)
    for property_id, (flag, call) in NEEDS.items():
        if property_id in by_id and not getattr(sample, flag):
            by_id[property_id].status = "not_applicable"
            by_id[property_id].evidence.append(f"target has no {call}")
    with quiet_logging():
        if "probes" in checks:
            _run_probes(target, factory, by_id, budget, say)
        if "stateful" in checks:
            _run_stateful(target, factory, by_id, chosen, seed, say, report)
        if "interleave" in checks:
            explorable = _interleave_factory(factory, sample)
            _run_interleave(target, explorable, by_id, chosen, say, report)
    report.duration_s = time.monotonic() - started
    return report


def _run_probes(
    target: str,
    factory: TargetFactory,
    by_id: dict[str, PropertyResult],
    budget: str,
    say: Progress,
) -> None:
    for probe in PROBES:
        result_slot = by_id.get(probe.property_id)
        if result_slot is None or result_slot.status == "violated":
            continue  # not asked for, or already shown broken (a hung target costs a bound each)
        say(f"probe {probe.property_id}: {probe.name}")
        result = run_probe(probe, factory)
        if result.status == "violated" and result.trace is not None:
            replay = _command(
                target, "--only", probe.property_id, "--checks", "probes", f"--{budget}"
            )
            result_slot.violate(result.trace, replay, f"probe '{probe.name}': {result.reason}")
        elif result.status == "passed" and result_slot.status != "violated":
            result_slot.evidence.append(f"probe '{probe.name}' passed")


def _run_stateful(
    target: str,
    factory: TargetFactory,
    by_id: dict[str, PropertyResult],
    chosen: Budget,
    seed: int,
    say: Progress,
    report: Report,
) -> None:
    say(
        f"stateful comparison with the model: {chosen.stateful_examples} examples "
        f"x {chosen.stateful_steps} steps (seed {seed})"
    )
    found = run_stateful(
        factory,
        max_examples=chosen.stateful_examples,
        step_count=chosen.stateful_steps,
        seed_value=seed,
        shrink_seconds=chosen.shrink_seconds,
    )
    if found.error is not None:
        report.errors.append(f"stateful comparison stopped: {found.error!r}")
    replay_base = ("--checks", "stateful", "--seed", str(seed), f"--{chosen.name}")
    hit = set()
    for violation in found.violations:
        slot = by_id.get(violation.property_id)
        if slot is None:
            continue
        hit.add(violation.property_id)
        trace = violation.trace()
        replay = _command(target, "--only", violation.property_id, *replay_base)
        slot.violate(trace, replay, f"stateful comparison: {violation.message}")
    for slot in by_id.values():
        if slot.id not in hit and slot.status == "passed":
            slot.evidence.append(
                f"stateful: {chosen.stateful_examples} runs x {chosen.stateful_steps} steps agree"
            )


def _interleave_factory(factory: TargetFactory, sample: Target) -> Any:
    """The explorer's factory (the same loader, with stand-ins), or None when it cannot run it."""
    from .native_adapter import NativeAdapter

    kind = type(sample.api)
    native = (kind.__module__, kind.__qualname__) == (NativeAdapter.__module__, "NativeAdapter")
    return factory if native or isinstance(sample.api, types.ModuleType) else None


def _run_interleave(
    target: str,
    factory: Any,
    by_id: dict[str, PropertyResult],
    chosen: Budget,
    say: Progress,
    report: Report,
) -> None:
    if factory is None:
        say("interleaving scenarios: not available for this target")
        return
    from ..interleave.explore import explore
    from ..interleave.scenarios import CANONICAL, INTERRUPTED, SCENARIOS

    for name, interrupts in [(name, False) for name in CANONICAL] + [
        (name, True) for name in INTERRUPTED
    ]:
        scenario = SCENARIOS[name]
        open_ids = [pid for pid in scenario.properties if pid in by_id]
        if all(by_id[pid].status == "violated" for pid in open_ids):
            continue  # nothing left for it to show (also: none of its properties asked for)
        what = "with Ctrl-C injected " if interrupts else ""
        say(f"interleavings: {name} {what}(up to {chosen.interleave_schedules} schedules)")
        try:
            result = explore(
                scenario,
                factory,
                mode="dfs",
                budget=chosen.interleave_schedules,
                target_name=target,
                interrupts=interrupts,
            )
        except Exception as error:
            report.errors.append(
                f"interleaving exploration stopped at scenario {name}: {error}; "
                f"the remaining scenarios were skipped"
            )
            return
        if result.not_applicable is not None:
            continue
        violation = result.violation
        if violation is None:
            for pid in scenario.properties:
                if pid in by_id and by_id[pid].status == "passed":
                    by_id[pid].evidence.append(
                        f"interleavings of {name}: {result.schedules} schedules ok"
                    )
            continue
        slot = by_id.get(violation.property_id)
        if slot is None:
            continue
        replay = " ".join(
            [
                "python -m memory_lifecycle.specs.interleave --target",
                shlex.quote(target),
                "--scenario",
                name,
                *(["--inject-interrupts"] if interrupts else []),
                "--replay",
                shlex.quote(violation.schedule),
            ]
        )
        slot.violate(violation.trace, replay, f"interleaving {name}: {violation.message}")
