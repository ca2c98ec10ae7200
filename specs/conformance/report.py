"""Render a conformance ``Report``: a terminal table, one JSON object, JUnit XML."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from ..trace import Trace
from .runner import Report

STATUS_MARK = {
    "passed": "ok",
    "violated": "VIOLATED",
    "not_applicable": "n/a",
    "not_checked": "not run",
}


def _evidence(evidence: list[str], status: str) -> str:
    if not evidence:
        return ""
    if status == "violated":
        return next((item for item in evidence if item), "")
    return f"{evidence[0]}" + (f" (+{len(evidence) - 1} more)" if len(evidence) > 1 else "")


def table(report: Report) -> str:
    """Property, status and evidence per row; then each counterexample and its replay."""
    rows = [(item.id, item.title, STATUS_MARK[item.status], item) for item in report.properties]
    id_width = max(len("property"), *(len(f"{row[0]} {row[1]}") for row in rows))
    lines = [
        f"conformance of {report.target} ({report.budget} budget, {report.duration_s:.1f} s)",
        "",
        f"{'property':<{id_width}}  {'status':<8}  evidence",
        f"{'-' * id_width}  {'-' * 8}  {'-' * 40}",
    ]
    for property_id, title, mark, item in rows:
        evidence = _evidence(item.evidence, item.status)
        lines.append(f"{f'{property_id} {title}':<{id_width}}  {mark:<8}  {evidence}")
    for item in report.violated:
        if item.counterexample is None:
            continue
        lines.extend(["", item.counterexample.format()])
        if item.replay:
            lines.append(f"  replay: {item.replay}")
    for error in report.errors:
        lines.extend(["", f"error: {error}"])
    violated = len(report.violated)
    lines.extend(
        [
            "",
            f"{violated} propert{'y' if violated == 1 else 'ies'} violated, "
            f"{sum(item.status == 'passed' for item in report.properties)} passed, "
            f"{sum(item.status == 'not_applicable' for item in report.properties)} not applicable",
        ]
    )
    return "\n".join(lines)


def _steps(trace: Trace | None) -> list[dict[str, str]] | None:
    if trace is None:
        return None
    return [
        {"actor": step.actor, "action": step.action, "result": step.result, "state": step.state}
        for step in trace.steps
    ]


def as_json(report: Report) -> str:
    """The report as one JSON object."""
    document: dict[str, Any] = {
        "target": report.target,
        "budget": report.budget,
        "properties": [
            {
                "id": item.id,
                "title": item.title,
                "status": item.status,
                "evidence": item.evidence,
                "message": item.counterexample.message if item.counterexample else None,
                "counterexample": _steps(item.counterexample),
                "replay": item.replay,
            }
            for item in report.properties
        ],
        "errors": report.errors,
        "duration_s": round(report.duration_s, 3),
    }
    return json.dumps(document, indent=2)


def as_junit(report: Report) -> str:
    """The report as JUnit XML: one test case per property."""
    suite = ElementTree.Element(
        "testsuite",
        {
            "name": f"memory-lifecycle conform {report.target}",
            "tests": str(len(report.properties)),
            "failures": str(len(report.violated)),
            "skipped": str(sum(item.status == "not_applicable" for item in report.properties)),
            "time": f"{report.duration_s:.3f}",
        },
    )
    for item in report.properties:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            {"classname": "lifecycle.conformance", "name": f"{item.id} {item.title}"},
        )
        if item.status == "violated":
            text = item.counterexample.format() if item.counterexample else ""
            if item.replay:
                text += f"\nreplay: {item.replay}"
            failure = ElementTree.SubElement(
                case, "failure", {"message": _evidence(item.evidence, item.status)}
            )
            failure.text = text
        elif item.status == "not_applicable":
            ElementTree.SubElement(case, "skipped", {"message": "; ".join(item.evidence)})
        else:
            output = ElementTree.SubElement(case, "system-out")
            output.text = "\n".join(item.evidence)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True)
