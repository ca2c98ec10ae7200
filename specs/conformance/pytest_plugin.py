"""pytest plugin: the conformance suite as one test item per property.

A host project checks its own lifecycle module with::

    pytest --lifecycle-target=api.session_lifecycle [--lifecycle-budget=quick]

(registered through the ``pytest11`` entry point; without it, add
``-p memory_lifecycle.specs.conformance.pytest_plugin``). Each property S1-S10,
L1-L4 becomes an item ``lifecycle-conformance::S2 late-commit-safe``: it passes,
fails with the shortest counterexample and its replay command, or is skipped
when the target lacks the calls the property needs. The suite runs once, when
the first of these items runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..properties import ALL
from .runner import BUDGETS, Report, run_conformance
from .target import TargetError

_REPORT = pytest.StashKey[Report | str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lifecycle", "memory-provider session lifecycle conformance")
    group.addoption(
        "--lifecycle-target",
        metavar="TARGET",
        help="module path or .py file implementing the hermes-webui lifecycle API to check",
    )
    group.addoption(
        "--lifecycle-budget",
        choices=sorted(BUDGETS),
        default="quick",
        help="search budget of the conformance suite (default: quick)",
    )
    group.addoption(
        "--lifecycle-checks",
        default="probes,stateful,interleave",
        metavar="KINDS",
        help="comma-separated checks: probes, stateful, interleave (default: all)",
    )


class PropertyItem(pytest.Item):
    """One property of the catalogue, judged by the shared conformance run."""

    def __init__(self, *, property_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.property_id = property_id

    def runtest(self) -> None:
        report = _report(self.config)
        if isinstance(report, str):
            raise ConformanceFailure(report)
        result = report.by_id(self.property_id)
        if result.status == "not_applicable":
            pytest.skip("; ".join(result.evidence) or "not applicable to this target")
        if result.status == "violated":
            lines = [result.counterexample.format()] if result.counterexample else []
            lines.extend(result.evidence)
            if result.replay:
                lines.append(f"replay: {result.replay}")
            raise ConformanceFailure("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ConformanceFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "lifecycle-conformance", None, self.name


class ConformanceFailure(Exception):
    """A property the target violates (the message is the counterexample)."""


class ConformanceCollector(pytest.Collector):
    """Collects one ``PropertyItem`` per property."""

    def collect(self) -> list[pytest.Item]:
        return [
            PropertyItem.from_parent(self, name=f"{item.id} {item.title}", property_id=item.id)
            for item in ALL
        ]


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.getoption("--lifecycle-target"):
        return
    collector = ConformanceCollector.from_parent(session, name="lifecycle-conformance")
    items.extend(collector.collect())


def _report(config: pytest.Config) -> Report | str:
    """Run the suite once per session; a string is a target that could not be loaded."""
    if _REPORT not in config.stash:
        target = str(config.getoption("--lifecycle-target"))
        checks = tuple(
            part.strip() for part in str(config.getoption("--lifecycle-checks")).split(",")
        )
        try:
            config.stash[_REPORT] = run_conformance(
                target, budget=str(config.getoption("--lifecycle-budget")), checks=checks
            )
        except TargetError as error:
            config.stash[_REPORT] = f"cannot check {target}: {error}"
    return config.stash[_REPORT]
