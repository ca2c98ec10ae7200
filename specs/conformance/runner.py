"""Run every check of the conformance suite on one target and collect a verdict per property.

Three kinds of check contribute verdicts: the fault-injection probes
(``probes``), the Hypothesis stateful comparison against the model
(``specs.stateful``) and the interleaving explorer's scenarios under
systematically explored thread schedules. Each gives a ``CheckVerdict`` for
every property it covers, one of ``STATUSES``:

- ``passed``: the check ran to its stated budget and saw no violation;
- ``violated``: it found a counterexample (kept with its replay command);
- ``not_applicable``: the target lacks the calls the property needs;
- ``not_checked``: the check could not decide it, with the reason (it stopped
  at another property's violation, it was interrupted, ...).

A property's status combines its verdicts: ``violated`` when any check
violated it; else ``not_checked`` when Ctrl-C stopped a check before it
decided it; else ``passed`` when some check passed it; else
``not_applicable`` when a check found it not applicable; else ``not_checked``
with every reason. A property nobody checked is never ``passed``.
"""

from __future__ import annotations

import shlex
import time
import types
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack

from ..commandline import missing_tool
from ..interleave.runner import quiet_logging
from ..properties import ALL, BY_ID
from ..trace import Trace
from .probes import PROBES, Probe, run_probe
from .target import Target, TargetFactory, target_factory

Status = Literal["passed", "violated", "not_applicable", "not_checked"]
STATUSES: tuple[Status, ...] = ("violated", "passed", "not_applicable", "not_checked")
INTERRUPTED = "interrupted before this check finished"
"""The reason a check that Ctrl-C stopped gives for the properties it had yet to decide."""
"""Every status a property (and one check's verdict on it) can have, in the order
they win when a property's verdicts are combined."""

CHECKS = ("probes", "stateful", "interleave")
"""The kinds of check, in the order they run."""


def named_checks(text: str) -> tuple[str, ...]:
    """The kinds of check a comma-separated option value names, in its order."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def stateful_tool_missing(checks: Collection[str]) -> str | None:
    """What to install when ``checks`` include the stateful comparison and hypothesis
    is not importable; None otherwise (the probes and interleavings need nothing)."""
    if "stateful" not in checks:
        return None
    return missing_tool("hypothesis", "the stateful comparison")


@dataclass(frozen=True)
class Budget:
    """How much searching one run does."""

    name: str
    stateful_examples: int
    stateful_steps: int
    shrink_seconds: float
    interleave_schedules: int
    interrupt_schedules: int
    """Schedules per scenario with Ctrl-C injected: each interrupt site is explored in
    turn, so reaching the late sites (a drain's waits) takes more runs."""

    def describe(self, checks: Collection[str] = ("stateful", "interleave")) -> str:
        """The budget of ``checks`` in words."""
        parts = []
        if "stateful" in checks:
            parts.append(f"{self.stateful_examples} stateful runs x {self.stateful_steps} steps")
        if "interleave" in checks:
            parts.append(
                f"up to {self.interleave_schedules} schedules per scenario, "
                f"{self.interrupt_schedules} with Ctrl-C injected"
            )
        return ", ".join(parts) or "each probe once"


BUDGETS: dict[str, Budget] = {
    "quick": Budget("quick", 250, 25, 15.0, 120, 400),
    "standard": Budget("standard", 400, 40, 30.0, 600, 1500),
    "thorough": Budget("thorough", 3000, 80, 240.0, 5000, 10000),
}
"""``--quick`` (a minute or less on 2 cores), the default, and ``--thorough``."""

NEEDS: dict[str, tuple[str, str]] = {
    "S8": ("has_discard", "discard_session"),
    "L4": ("has_discard", "discard_session"),
    "L2": ("has_drain", "drain_all_on_shutdown"),
}
"""Properties that need an optional call: ``Target`` flag and the call's name."""

Progress = Callable[[int, int, str], None]
"""Told ``(done, total, what runs now)`` before each unit of work."""


@dataclass(frozen=True)
class CheckVerdict:
    """What one check says about one property.

    ``source`` names the check precisely (``probe 'waiter woken'``,
    ``stateful comparison``, ``interleavings of two_boundary_commits``);
    ``detail`` is what was checked, to which budget, for ``passed``; the
    finding for ``violated``; the reason for ``not_applicable`` and
    ``not_checked``.
    """

    property_id: str
    check: str
    source: str
    status: Status
    detail: str = ""
    trace: Trace | None = None
    replay: str | None = None

    def describe(self) -> str:
        """One line: the source, the status and the detail."""
        word = self.status.replace("_", " ")
        detail = " ".join(self.detail.split())
        return f"{self.source}: {word}" + (f" ({detail})" if detail else "")


@dataclass
class PropertyResult:
    """Every check's verdict on one property, and what they add up to."""

    id: str
    title: str
    required: bool = True
    verdicts: list[CheckVerdict] = field(default_factory=list)
    unchecked_reason: str = "no check that ran covers it"
    """The reason given when no check gave this property any verdict."""

    @property
    def kind(self) -> str:
        """``required`` or ``advisory``."""
        return "required" if self.required else "advisory"

    @property
    def status(self) -> Status:
        """The strongest verdict: violated, then passed, not applicable, not checked;
        but a property whose checks an interruption cut short is not checked."""
        statuses = {verdict.status for verdict in self.verdicts}
        cut_short = any(verdict.detail == INTERRUPTED for verdict in self.verdicts)
        if cut_short and "violated" not in statuses:
            return "not_checked"
        for status in STATUSES:
            if status in statuses:
                return status
        return "not_checked"

    @property
    def evidence(self) -> list[str]:
        """Every verdict in one line each (the reason alone when there is none)."""
        if not self.verdicts:
            return [f"not checked ({self.unchecked_reason})"]
        return [verdict.describe() for verdict in self.verdicts]

    @property
    def reason(self) -> str | None:
        """Why the property is not applicable or not checked; None otherwise."""
        status = self.status
        if status not in ("not_applicable", "not_checked"):
            return None
        reasons = [v.detail for v in self.verdicts if v.status == status and v.detail]
        if not reasons:
            return self.unchecked_reason
        return "; ".join(dict.fromkeys(reasons))

    @property
    def violation(self) -> CheckVerdict | None:
        """The violated verdict with the shortest counterexample."""
        found = [v for v in self.verdicts if v.status == "violated"]
        if not found:
            return None
        return min(found, key=lambda v: len(v.trace.steps) if v.trace else 1 << 30)

    @property
    def counterexample(self) -> Trace | None:
        chosen = self.violation
        return chosen.trace if chosen else None

    @property
    def replay(self) -> str | None:
        chosen = self.violation
        return chosen.replay if chosen else None

    @property
    def message(self) -> str | None:
        chosen = self.violation
        if chosen is None:
            return None
        return chosen.trace.message if chosen.trace else chosen.detail


@dataclass
class Report:
    """Every property's verdict on one target."""

    target: str
    budget: str
    properties: list[PropertyResult]
    checks: tuple[str, ...] = CHECKS
    seed: int = 0
    duration_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    other_findings: list[CheckVerdict] = field(default_factory=list)
    """Violations no catalogue property names (a linearizability mismatch, a
    thread of the target dying); they count as required."""
    interrupted: bool = False

    @property
    def violated(self) -> list[PropertyResult]:
        return [item for item in self.properties if item.status == "violated"]

    @property
    def required_violated(self) -> list[PropertyResult]:
        return [item for item in self.violated if item.required]

    @property
    def advisory_violated(self) -> list[PropertyResult]:
        return [item for item in self.violated if not item.required]

    def count(self, status: Status) -> int:
        return sum(item.status == status for item in self.properties)

    def by_id(self, property_id: str) -> PropertyResult:
        return next(item for item in self.properties if item.id == property_id)

    def exit_status(self, strict: bool = False) -> int:
        """130 when interrupted; 1 when a required property (any, with ``strict``) is
        violated or another finding was made; else 0."""
        if self.interrupted:
            return 130
        failing = self.violated if strict else self.required_violated
        return 1 if failing or self.other_findings else 0


def _command(target: str, *options: str) -> str:
    return " ".join(["memory-lifecycle", "conform", shlex.quote(target), *options])


def _not_checked_all(slots: Iterable[PropertyResult], check: str, source: str, reason: str) -> None:
    for slot in slots:
        slot.verdicts.append(CheckVerdict(slot.id, check, source, "not_checked", reason))


class Conformance:
    """One target under check: run the checks in any order, then ``report()``.

    The command runs them all (``run_conformance``); the pytest plugin runs
    each property's probes in its own test item. Loading fails with
    ``TargetError`` when the target cannot be used.
    """

    def __init__(
        self,
        target: str,
        *,
        budget: str = "standard",
        only: Collection[str] | None = None,
        seed: int = 0,
        checks: tuple[str, ...] = CHECKS,
        progress: Progress | None = None,
    ) -> None:
        self.started = time.monotonic()
        self.target = target
        self.budget = BUDGETS[budget]
        self.seed = seed
        self.checks = checks
        self.progress = progress or (lambda _done, _total, _text: None)
        self.factory: TargetFactory = target_factory(target)
        self.sample: Target = self.factory()
        self.results = {
            item.id: PropertyResult(item.id, item.title, item.required)
            for item in ALL
            if only is None or item.id in only
        }
        self._report = Report(target, budget, list(self.results.values()), checks, seed)
        self.lacking: dict[str, str] = {
            pid: f"the target has no {call}"
            for pid, (flag, call) in NEEDS.items()
            if not getattr(self.sample, flag)
        }
        self.probes_done: set[str] = set()
        self.finished: set[str] = set()
        """Checks that ran to their end."""
        self.done = 0
        self.total = self._work()

    # --- bookkeeping ----------------------------------------------------------------

    def _probes_of(self, property_id: str) -> list[Probe]:
        return [probe for probe in PROBES if probe.property_id == property_id]

    def _scenarios(self) -> list[tuple[Any, bool]]:
        """The scenarios to explore, each with whether Ctrl-C is injected into it."""
        from ..interleave.scenarios import CANONICAL, INTERRUPTED, SCENARIOS

        chosen = [(name, False) for name in CANONICAL] + [(name, True) for name in INTERRUPTED]
        return [
            (SCENARIOS[name], interrupts)
            for name, interrupts in chosen
            if any(pid in self.results for pid in SCENARIOS[name].properties)
        ]

    def _work(self) -> int:
        total = 0
        if "probes" in self.checks:
            total += sum(len(self._probes_of(pid)) for pid in self.results)
        if "stateful" in self.checks:
            total += 1
        if "interleave" in self.checks:
            total += len(self._scenarios())
        return total

    def _step(self, text: str) -> None:
        self.progress(self.done, self.total, text)
        self.done += 1

    def interrupted(self) -> None:
        """Record that the run was stopped (Ctrl-C): what is not decided stays not checked."""
        self._report.interrupted = True
        reason = INTERRUPTED
        for slot in self.results.values():
            slot.unchecked_reason = "the run was interrupted before a check covered it"
            for check in self.checks:
                if check in self.finished:
                    continue
                if check == "probes" and (
                    slot.id in self.probes_done or not self._probes_of(slot.id)
                ):
                    continue
                if check == "interleave" and not any(
                    slot.id in scenario.properties for scenario, _ in self._scenarios()
                ):
                    continue
                slot.verdicts.append(CheckVerdict(slot.id, check, check, "not_checked", reason))

    def select(self, property_ids: Collection[str]) -> None:
        """Check only ``property_ids`` from now on (the pytest plugin's ``-k`` selection)."""
        for property_id in list(self.results):
            if property_id not in property_ids:
                del self.results[property_id]
        self._report.properties = list(self.results.values())
        self.total = self._work()

    def report(self) -> Report:
        """The report as it stands."""
        self._report.duration_s = time.monotonic() - self.started
        return self._report

    # --- probes -----------------------------------------------------------------------

    def run_probes(self) -> None:
        """Run every selected property's probes."""
        for property_id in self.results:
            self.probe(property_id)
        self.finished.add("probes")

    def probe(self, property_id: str) -> None:
        """Run the fault-injection probes of one property (once)."""
        if property_id in self.probes_done or "probes" not in self.checks:
            return
        self.probes_done.add(property_id)
        slot = self.results[property_id]
        for probe in self._probes_of(property_id):
            source = f"probe '{probe.name}'"
            if property_id in self.lacking:
                self.done += 1
                slot.verdicts.append(
                    CheckVerdict(
                        property_id, "probes", source, "not_applicable", self.lacking[property_id]
                    )
                )
                continue
            self._step(f"{property_id}: probe '{probe.name}'")
            with quiet_logging():
                result = run_probe(probe, self.factory)
            if result.status == "violated" and result.trace is not None:
                replay = _command(
                    self.target,
                    "--only",
                    property_id,
                    "--checks",
                    "probes",
                    f"--{self.budget.name}",
                )
                slot.verdicts.append(
                    CheckVerdict(
                        property_id,
                        "probes",
                        source,
                        "violated",
                        result.reason,
                        result.trace,
                        replay,
                    )
                )
            elif result.status == "not_applicable":
                slot.verdicts.append(
                    CheckVerdict(property_id, "probes", source, "not_applicable", result.reason)
                )
            else:
                slot.verdicts.append(CheckVerdict(property_id, "probes", source, "passed"))

    # --- stateful comparison ----------------------------------------------------------

    def run_stateful(self) -> None:
        """The Hypothesis comparison with the model: one verdict per selected property."""
        if "stateful" not in self.checks:
            return
        chosen = self.budget
        budget_text = (
            f"{chosen.stateful_examples} runs x {chosen.stateful_steps} steps, seed {self.seed}"
        )
        self._step(f"stateful comparison with the model ({budget_text})")
        with quiet_logging():
            found = _stateful_search(self.factory, chosen, self.seed, tuple(self.results))
        for verdict in _stateful_verdicts(found, tuple(self.results), self.lacking):
            if verdict.status == "violated":
                options = found.verdicts[verdict.property_id].replay
                verdict = _with_replay(verdict, _command(self.target, *options, f"--{chosen.name}"))
            self.results[verdict.property_id].verdicts.append(verdict)
        self._report.errors.extend(
            f"stateful comparison stopped: {error}" for error in found.errors
        )
        self.finished.add("stateful")

    # --- interleavings ----------------------------------------------------------------

    def run_interleave(self) -> None:
        """The explorer's canonical scenarios, depth-first, within the schedule budget."""
        if "interleave" not in self.checks:
            return
        scenarios = self._scenarios()
        factory = _interleave_factory(self.factory, self.sample)
        if factory is None:
            reason = "the interleaving explorer cannot load this kind of target"
            self.done += len(scenarios)
            self._not_explored(scenarios, reason)
            self.finished.add("interleave")
            return
        from ..interleave.explore import explore

        for index, (scenario, interrupts) in enumerate(scenarios):
            label = f"interleavings: {_source(scenario.name, interrupts)}"
            self._step(label)
            covered = self._covered(scenario)
            if covered and all(slot.status == "violated" for slot in covered):
                self._not_explored(
                    [(scenario, interrupts)], "already shown violated; not explored again"
                )
                continue

            budget = self._schedules(interrupts)

            def count(runs: int, label: str = label, budget: int = budget) -> None:
                if runs % 10 == 0:
                    self.progress(self.done - 1, self.total, f"{label} ({runs}/{budget} schedules)")

            try:
                with quiet_logging():
                    result = explore(
                        scenario,
                        factory,
                        mode="dfs",
                        budget=budget,
                        target_name=self.target,
                        progress=count,
                        interrupts=interrupts,
                    )
            except Exception as error:
                reason = f"the explorer stopped at scenario {scenario.name}: {error}"
                self._report.errors.append(reason)
                self.done += len(scenarios) - index - 1
                self._not_explored(scenarios[index:], reason)
                self.finished.add("interleave")
                return
            self._record_exploration(scenario, result, interrupts)
        self.finished.add("interleave")

    def _schedules(self, interrupts: bool) -> int:
        """The schedules one scenario may run."""
        budget = self.budget
        return budget.interrupt_schedules if interrupts else budget.interleave_schedules

    def _covered(self, scenario: Any) -> list[PropertyResult]:
        return [self.results[pid] for pid in scenario.properties if pid in self.results]

    def _not_explored(self, scenarios: Sequence[tuple[Any, bool]], reason: str) -> None:
        """Each property these scenarios cover gets a not-checked verdict from each of them."""
        for scenario, interrupts in scenarios:
            _not_checked_all(
                self._covered(scenario), "interleave", _source(scenario.name, interrupts), reason
            )

    def _record_exploration(self, scenario: Any, result: Any, interrupts: bool) -> None:
        source = _source(scenario.name, interrupts)
        covered = self._covered(scenario)
        if result.not_applicable is not None:
            for slot in covered:
                slot.verdicts.append(
                    CheckVerdict(
                        slot.id, "interleave", source, "not_applicable", result.not_applicable
                    )
                )
            return
        extent = _extent(result, self._schedules(interrupts))
        violation = result.violation
        if violation is None:
            for slot in covered:
                slot.verdicts.append(CheckVerdict(slot.id, "interleave", source, "passed", extent))
            return
        replay = " ".join(
            [
                "memory-lifecycle interleave",
                shlex.quote(self.target),
                "--scenario",
                scenario.name,
                *(["--inject-interrupts"] if interrupts else []),
                "--replay",
                shlex.quote(violation.schedule),
            ]
        )
        found = CheckVerdict(
            violation.property_id,
            "interleave",
            source,
            "violated",
            violation.message,
            violation.trace,
            replay,
        )
        if violation.property_id in self.results:
            self.results[violation.property_id].verdicts.append(found)
        elif violation.property_id not in BY_ID:
            self._report.other_findings.append(found)
        reason = (
            f"the exploration stopped at its first violation ({violation.property_id}) "
            f"after {result.schedules} schedule{'' if result.schedules == 1 else 's'}"
        )
        for slot in covered:
            if slot.id != violation.property_id:
                slot.verdicts.append(
                    CheckVerdict(slot.id, "interleave", source, "not_checked", reason)
                )


def _source(scenario: str, interrupts: bool = False) -> str:
    return f"interleavings of {scenario}" + (" with Ctrl-C injected" if interrupts else "")


def _extent(result: Any, budget: int) -> str:
    """How far a dfs exploration went, in words."""
    bound = max(result.by_bound, default=None) if getattr(result, "by_bound", None) else None
    plural = "" if bound == 1 else "s"
    within = f", <= {bound} preemption{plural}" if bound is not None else ""
    reach = "every schedule" if result.exhausted else f"budget of {budget} reached"
    return f"{result.schedules} schedules{within}, {reach}"


def _with_replay(verdict: CheckVerdict, replay: str) -> CheckVerdict:
    return CheckVerdict(
        verdict.property_id,
        verdict.check,
        verdict.source,
        verdict.status,
        verdict.detail,
        verdict.trace,
        replay,
    )


# --- the one place that reads the stateful search -------------------------------------


def _stateful_search(
    factory: TargetFactory,
    chosen: Budget,
    seed: int,
    property_ids: tuple[str, ...],
    progress: Callable[[str], None] | None = None,
) -> Any:
    """Run the stateful search over ``property_ids`` only, within ``chosen``'s budget."""
    from ..stateful import SearchBudget, run_stateful  # needs hypothesis; the probes do not

    budget = SearchBudget.sized(
        chosen.stateful_examples, chosen.stateful_steps, chosen.shrink_seconds
    )
    return run_stateful(
        factory, budget=budget, properties=list(property_ids), seed_value=seed, progress=progress
    )


def _stateful_verdicts(
    found: Any, property_ids: tuple[str, ...], lacking: dict[str, str]
) -> list[CheckVerdict]:
    """One stateful verdict per property in ``property_ids``, as the search gave it.

    A violation found after others says so; its replay (the search's own
    ``--only``/``--seed`` options) is completed by the caller.
    """
    source = "stateful comparison"
    verdicts: list[CheckVerdict] = []
    for pid in property_ids:
        given = found.verdicts.get(pid)
        if pid in lacking:
            verdicts.append(CheckVerdict(pid, "stateful", source, "not_applicable", lacking[pid]))
        elif given is None:
            reason = "the search gave no verdict"
            verdicts.append(CheckVerdict(pid, "stateful", source, "not_checked", reason))
        else:
            after = f" (after {', '.join(given.found_after)})" if given.found_after else ""
            detail = given.detail
            if given.status == "violated" and after:
                detail = f"{detail}{after}"
            verdicts.append(
                CheckVerdict(pid, "stateful", source, given.status, detail, given.trace)
            )
    return verdicts


def _interleave_factory(factory: TargetFactory, sample: Target) -> Any:
    """The explorer's factory (the same loader, with stand-ins), or None when it cannot run it."""
    from .native_adapter import NativeAdapter

    kind = type(sample.api)
    native = (kind.__module__, kind.__qualname__) == (NativeAdapter.__module__, "NativeAdapter")
    return factory if native or isinstance(sample.api, types.ModuleType) else None


class RunOptions(TypedDict, total=False):
    """What ``run_conformance`` passes on to ``Conformance`` (see its parameters)."""

    budget: str
    only: Collection[str] | None
    seed: int
    checks: tuple[str, ...]
    progress: Progress | None


def run_conformance(target: str, **options: Unpack[RunOptions]) -> Report:
    """Check ``target`` (a dotted module path or a .py file); raises ``TargetError`` if unusable.

    ``options`` are ``Conformance``'s: the budget, the properties to check
    (``only``), the seed, the kinds of ``checks`` and a ``progress`` callback.
    Ctrl-C stops the run: the report then says ``interrupted`` and keeps every
    verdict reached so far.
    """
    run = Conformance(target, **options)
    try:
        run.run_probes()
        run.run_stateful()
        run.run_interleave()
    except KeyboardInterrupt:
        run.interrupted()
    return run.report()
