"""Render a conformance ``Report``: a terminal table, one JSON object, JUnit XML.

All three carry the same statuses (``runner.STATUSES``), the same
required/advisory split and every piece of evidence.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from ..trace import Trace
from .runner import BUDGETS, PropertyResult, Report

ADVISORY_NOTE = (
    "advisory: an efficiency or hygiene guarantee; its violation loses no work "
    "and fails the run only with --strict"
)


def status_mark(item: PropertyResult) -> str:
    """The status as the table shows it: a required violation in capitals."""
    if item.status == "violated":
        return "VIOLATED" if item.required else "violated"
    return {"passed": "passed", "not_applicable": "n/a", "not_checked": "NOT CHECKED"}[item.status]


def summary(report: Report, strict: bool = False) -> str:
    """One sentence: counts per status, required and advisory violations apart."""
    required = len(report.required_violated)
    advisory = len(report.advisory_violated)
    parts = [
        f"{required} required propert{'y' if required == 1 else 'ies'} violated",
        f"{advisory} advisory violated" + (" (failing: --strict)" if strict and advisory else ""),
        f"{report.count('passed')} passed",
        f"{report.count('not_applicable')} not applicable",
        f"{report.count('not_checked')} not checked",
    ]
    text = ", ".join(parts)
    if report.other_findings:
        text += f"; {len(report.other_findings)} other finding(s)"
    if report.interrupted:
        text += "; INTERRUPTED: the results above are what was known when it stopped"
    return text


def verdict_line(report: Report, strict: bool = False) -> str:
    """What the exit status means for this report, in words."""
    status = report.exit_status(strict)
    if status == 130:
        return "interrupted (exit status 130)"
    if status == 1:
        return f"{report.target} does not conform (exit status 1)"
    if report.advisory_violated:
        return (
            f"{report.target} conforms to every required property checked; advisory "
            f"violations do not fail the run without --strict (exit status 0)"
        )
    if not any(item.status == "passed" for item in report.properties):
        return f"no property was found to pass or fail on {report.target} (exit status 0)"
    return f"{report.target} conforms to every property checked (exit status 0)"


def table(report: Report, strict: bool = False) -> str:
    """Property, kind, status and every piece of evidence; then each counterexample."""
    names = [f"{item.id} {item.title}" for item in report.properties]
    id_width = max(len("property"), *(len(name) for name in names)) if names else 8
    status_width = len("NOT CHECKED")
    chosen = BUDGETS[report.budget]
    lines = [
        f"conformance of {report.target}: {report.budget} budget "
        f"({chosen.describe(report.checks)}); checks: {', '.join(report.checks)}; "
        f"{report.duration_s:.1f} s",
        "",
        f"{'property':<{id_width}}  {'kind':<8}  {'status':<{status_width}}  evidence",
        f"{'-' * id_width}  {'-' * 8}  {'-' * status_width}  {'-' * 40}",
    ]
    indent = " " * (id_width + 2 + 8 + 2 + status_width + 2)
    for name, item in zip(names, report.properties, strict=True):
        evidence = item.evidence
        lines.append(
            f"{name:<{id_width}}  {item.kind:<8}  {status_mark(item):<{status_width}}  "
            f"{evidence[0]}"
        )
        lines.extend(f"{indent}{more}" for more in evidence[1:])
    for item in report.violated:
        if item.counterexample is None:
            continue
        lines.extend(["", f"[{item.kind}] " + item.counterexample.format()])
        if item.replay:
            lines.append(f"  replay: {item.replay}")
    for finding in report.other_findings:
        lines.extend(
            [
                "",
                f"[{finding.source}] "
                + (finding.trace.format() if finding.trace else finding.detail),
            ]
        )
        if finding.replay:
            lines.append(f"  replay: {finding.replay}")
    for error in report.errors:
        lines.extend(["", f"error: {error}"])
    lines.extend(["", summary(report, strict)])
    if report.advisory_violated and not strict:
        lines.append(ADVISORY_NOTE)
    lines.append(verdict_line(report, strict))
    return "\n".join(lines)


def _steps(trace: Trace | None) -> list[dict[str, str]] | None:
    if trace is None:
        return None
    return [
        {"actor": step.actor, "action": step.action, "result": step.result, "state": step.state}
        for step in trace.steps
    ]


def _property_json(item: PropertyResult) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "kind": item.kind,
        "status": item.status,
        "reason": item.reason,
        "evidence": item.evidence,
        "checks": [
            {
                "check": verdict.check,
                "source": verdict.source,
                "status": verdict.status,
                "detail": verdict.detail,
            }
            for verdict in item.verdicts
        ],
        "message": item.message,
        "counterexample": _steps(item.counterexample),
        "replay": item.replay,
    }


def as_json(report: Report, strict: bool = False, exit_status: int | None = None) -> str:
    """The report as one JSON object; ``exit_status`` (default: the report's own) is the
    status the command exits with (2 when an output file could not be written)."""
    chosen = BUDGETS[report.budget]
    document: dict[str, Any] = {
        "target": report.target,
        "budget": report.budget,
        "budget_detail": {
            "stateful_runs": chosen.stateful_examples,
            "stateful_steps": chosen.stateful_steps,
            "schedules_per_scenario": chosen.interleave_schedules,
            "schedules_per_ctrl_c_scenario": chosen.interrupt_schedules,
            "seed": report.seed,
        },
        "checks": list(report.checks),
        "strict": strict,
        "interrupted": report.interrupted,
        "exit_status": report.exit_status(strict) if exit_status is None else exit_status,
        "summary": {
            "required_violated": len(report.required_violated),
            "advisory_violated": len(report.advisory_violated),
            "passed": report.count("passed"),
            "not_applicable": report.count("not_applicable"),
            "not_checked": report.count("not_checked"),
        },
        "properties": [_property_json(item) for item in report.properties],
        "other_findings": [
            {
                "source": finding.source,
                "kind": finding.property_id,
                "message": finding.trace.message if finding.trace else finding.detail,
                "counterexample": _steps(finding.trace),
                "replay": finding.replay,
            }
            for finding in report.other_findings
        ],
        "errors": report.errors,
        "duration_s": round(report.duration_s, 3),
    }
    return json.dumps(document, indent=2)


def as_junit(report: Report, strict: bool = False) -> str:
    """The report as JUnit XML: one test case per property.

    A required violation is a ``failure``; an advisory one is a ``failure``
    with ``--strict`` and otherwise a ``skipped`` of type
    ``advisory-violated``; ``not_applicable`` and ``not_checked`` are
    ``skipped`` with that type and the reason. Every case carries ``kind`` and
    ``status`` as properties and its evidence as ``system-out``.
    """
    failing = report.violated if strict else report.required_violated
    skipped = [
        item
        for item in report.properties
        if item.status in ("not_applicable", "not_checked")
        or (item.status == "violated" and item not in failing)
    ]
    suite = ElementTree.Element(
        "testsuite",
        {
            "name": f"memory-lifecycle conform {report.target}",
            "tests": str(len(report.properties)),
            "failures": str(len(failing)),
            "errors": "0",
            "skipped": str(len(skipped)),
            "time": f"{report.duration_s:.3f}",
        },
    )
    for item in report.properties:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            {"classname": f"lifecycle.conformance.{item.kind}", "name": f"{item.id} {item.title}"},
        )
        properties = ElementTree.SubElement(case, "properties")
        for name, value in (("kind", item.kind), ("status", item.status)):
            ElementTree.SubElement(properties, "property", {"name": name, "value": value})
        if item.status == "violated":
            text = item.counterexample.format() if item.counterexample else ""
            if item.replay:
                text += f"\nreplay: {item.replay}"
            message = f"{item.id} {item.title} ({item.kind}) violated: {item.message}"
            if item in failing:
                element = ElementTree.SubElement(
                    case, "failure", {"type": f"{item.kind}-violated", "message": message}
                )
            else:
                element = ElementTree.SubElement(
                    case,
                    "skipped",
                    {"type": "advisory-violated", "message": f"{message}; {ADVISORY_NOTE}"},
                )
            element.text = text
        elif item.status in ("not_applicable", "not_checked"):
            ElementTree.SubElement(
                case,
                "skipped",
                {
                    "type": item.status,
                    "message": f"{item.id} {item.title}: {item.status.replace('_', ' ')}: "
                    f"{item.reason}",
                },
            )
        output = ElementTree.SubElement(case, "system-out")
        output.text = "\n".join(item.evidence)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True)
