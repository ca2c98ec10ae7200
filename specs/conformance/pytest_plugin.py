"""pytest plugin: the conformance suite as one test item per property.

A host project checks its own lifecycle module with::

    pytest --lifecycle-target=api.session_lifecycle [--lifecycle-budget=quick]

(registered through the ``pytest11`` entry point; without it, add
``-p memory_lifecycle.specs.conformance.pytest_plugin``). Each property S1-S10,
L1-L4 is an item ``lifecycle-conformance::S2 late-commit-safe``, collected like
any test, so ``-k``, ``--co`` and ``--deselect`` count and select them as
usual; ``-k advisory`` and ``-k required`` select by kind.

The target is loaded at collection (an unusable target is a collection error
with its reason). Before the first item runs, the checks every property shares
(the stateful comparison and the interleavings) run once for the selected
properties, with a live progress line on a terminal; then each item runs its
own property's probes and reports the combined verdict: passed; failed with
the shortest counterexample and a replay command that works from the current
folder; xfailed for a violated advisory property (failed with
``--lifecycle-strict``); skipped with the reason, naming the property, when it
is not applicable or not checked.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from ..commandline import Progress, target_error_text
from ..properties import ALL, BY_ID
from .runner import (
    BUDGETS,
    CHECKS,
    Conformance,
    PropertyResult,
    named_checks,
    stateful_tool_missing,
)
from .target import NAMED_TARGETS, TargetError

COLLECTOR = "lifecycle-conformance"
"""Node id of the collector holding the property items."""

_RUN = pytest.StashKey[Conformance]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lifecycle", "memory-provider session lifecycle conformance")
    group.addoption(
        "--lifecycle-target",
        metavar="TARGET",
        help="compat, native, a module path or a .py file implementing the hermes-webui "
        "lifecycle API to check (adds one test item per property)",
    )
    group.addoption(
        "--lifecycle-budget",
        choices=sorted(BUDGETS),
        default="quick",
        help="search budget of the conformance suite (default: quick)",
    )
    group.addoption(
        "--lifecycle-checks",
        default=",".join(CHECKS),
        metavar="KINDS",
        help=f"comma-separated checks: {', '.join(CHECKS)} (default: all)",
    )
    group.addoption(
        "--lifecycle-seed", type=int, default=0, help="seed of the stateful search (default: 0)"
    )
    group.addoption(
        "--lifecycle-strict",
        action="store_true",
        help="fail advisory properties (S9, S10) when violated, instead of xfail",
    )


def _checks(config: pytest.Config) -> tuple[str, ...]:
    given = str(config.getoption("--lifecycle-checks"))
    checks = named_checks(given)
    if not checks or any(item not in CHECKS for item in checks):
        raise pytest.UsageError(
            f"--lifecycle-checks takes some of {', '.join(CHECKS)} (got {given!r})"
        )
    missing = stateful_tool_missing(checks)
    if missing:
        raise pytest.UsageError(f"{missing} (or leave it out: --lifecycle-checks=probes)")
    return checks


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Add the conformance collector beside the session's own top-level collectors."""
    report = yield
    config = collector.config
    if (
        isinstance(collector, pytest.Session)
        and config.getoption("--lifecycle-target")
        and report.passed
    ):
        _checks(config)
        report.result.append(
            ConformanceCollector.from_parent(collector, name=COLLECTOR, nodeid=COLLECTOR)
        )
    return report


class ConformanceCollector(pytest.Collector):
    """Loads the target and collects one ``PropertyItem`` per property."""

    def collect(self) -> list[pytest.Item]:
        config = self.config
        target = str(config.getoption("--lifecycle-target"))
        run = Conformance(
            target,
            budget=str(config.getoption("--lifecycle-budget")),
            seed=int(config.getoption("--lifecycle-seed")),
            checks=_checks(config),
        )
        config.stash[_RUN] = run
        return [
            PropertyItem.from_parent(self, name=f"{item.id} {item.title}", property_id=item.id)
            for item in ALL
        ]

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str:
        if isinstance(excinfo.value, TargetError):
            target = self.config.getoption("--lifecycle-target")
            return f"cannot check --lifecycle-target={target}: {target_error_text(excinfo.value)}"
        return str(super().repr_failure(excinfo))


class PropertyItem(pytest.Item):
    """One property of the catalogue: its probes here, the shared checks before the first."""

    def __init__(self, *, property_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.property_id = property_id
        self.kind = "required" if BY_ID[property_id].required else "advisory"
        self.extra_keyword_matches.add(self.kind)

    def runtest(self) -> None:
        run = self.config.stash[_RUN]
        run.probe(self.property_id)
        result = run.results[self.property_id]
        replay_prefix = _replay_prefix(run.target)
        status = result.status
        if status == "violated":
            text = _failure_text(result, replay_prefix)
            if result.required or self.config.getoption("--lifecycle-strict"):
                raise ConformanceFailure(text)
            pytest.xfail(
                f"{result.id} {result.title} (advisory) violated: {result.message}; "
                f"fails only with --lifecycle-strict"
            )
        if status in ("not_applicable", "not_checked"):
            pytest.skip(f"{result.id} {result.title}: {status.replace('_', ' ')}: {result.reason}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ConformanceFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return COLLECTOR, None, f"{COLLECTOR}::{self.name}"


class ConformanceFailure(Exception):
    """A property the target violates (the message is the counterexample)."""


def _failure_text(result: PropertyResult, replay_prefix: str) -> str:
    lines = [f"{result.id} {result.title} ({result.kind}) violated"]
    if result.counterexample is not None:
        lines.append(result.counterexample.format())
    lines.append("evidence:")
    lines.extend(f"  {line}" for line in result.evidence)
    if result.replay:
        lines.append(f"replay: {replay_prefix}{result.replay}")
    return "\n".join(lines)


def _replay_prefix(target: str) -> str:
    """``PYTHONPATH=DIR `` when a dotted ``target`` is importable here only through DIR.

    The command line finds a dotted target on sys.path and in the current
    folder; a module found through another folder of this process's sys.path
    (pytest's ``pythonpath``, a src layout) needs it named.
    """
    if target in NAMED_TARGETS or target.endswith(".py") or os.sep in target:
        return ""
    try:
        spec = find_spec(target)
    except (ImportError, ValueError):
        return ""
    if spec is None or spec.origin is None:
        return ""
    here = Path.cwd().resolve()
    origin = Path(spec.origin).resolve()
    depth = target.count(".") + 1
    root = origin.parents[depth - 1] if origin.name != "__init__.py" else origin.parents[depth]
    if root == here or here not in root.parents:
        return ""
    return f"PYTHONPATH={os.path.relpath(root, here)} "


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Show a skipped property at the target, not at this plugin's source line."""
    report = yield
    if (
        isinstance(item, PropertyItem)
        and report.skipped
        and not hasattr(report, "wasxfail")
        and isinstance(report.longrepr, tuple)
    ):
        run = item.config.stash[_RUN]
        report.longrepr = (run.target, None, report.longrepr[2])  # type: ignore[assignment]
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """Run the shared checks for the selected properties before the first item."""
    config = session.config
    chosen = [item for item in session.items if isinstance(item, PropertyItem)]
    if (
        chosen
        and _RUN in config.stash
        and not config.option.collectonly
        and not (session.testsfailed and not config.option.continue_on_collection_errors)
    ):
        _run_shared(config, {item.property_id for item in chosen})
    result = yield
    return result


def _run_shared(config: pytest.Config, selected: set[str]) -> None:
    """The stateful comparison and the interleavings, once, with progress on the terminal."""
    run = config.stash[_RUN]
    run.select(selected)
    shared = [check for check in ("stateful", "interleave") if check in run.checks]
    if not shared:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    started = time.monotonic()

    def say(text: str) -> None:
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(text)

    live = bool(reporter is not None and reporter.isatty() and sys.__stderr__ is not None)
    with _capture_disabled(capture):
        say(
            f"lifecycle conformance of {run.target}: {' and '.join(shared)} checks "
            f"({run.budget.name} budget, {run.budget.describe(shared)}), before the items"
        )
        stream = sys.__stderr__ if sys.__stderr__ is not None else sys.stderr
        with Progress("lifecycle conformance", stream=stream, live=live) as progress:
            run.progress = lambda done, total, text: progress.update(done, total, text)
            run.run_stateful()
            run.run_interleave()
        run.progress = lambda _done, _total, _text: None
        say(f"lifecycle conformance: shared checks done in {time.monotonic() - started:.1f} s")


@contextmanager
def _capture_disabled(capture: Any) -> Iterator[None]:
    """Suspend pytest's output capture (if any) so progress reaches the terminal."""
    if capture is None:
        yield
        return
    with capture.global_and_fixture_disabled():
        yield
