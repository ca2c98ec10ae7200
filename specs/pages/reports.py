"""Report pages: a verdict per property, and each counterexample as a steppable timeline.

``conformance_page(report)`` renders what ``memory-lifecycle conform`` found,
``check_page(result, ...)`` what ``memory-lifecycle check`` found. Both show
the properties table (passed, violated, not applicable, not checked), then for
each violation its timeline (``timeline``), its steps, the state after the
step in view, the schedule (when the check has one) and the replay command.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from ..checker import CheckResult
from ..conformance.runner import Report
from ..properties import ALL, Property, StepFn
from ..trace import Trace
from .data import bounds_text, checker_trace_data
from .page import copy_field, page, status_pill
from .timeline import build_timeline, timeline_svg


@dataclass
class Row:
    """One line of the properties table."""

    id: str
    title: str
    statement: str
    status: str
    evidence: list[str] = field(default_factory=list)
    seconds: float | None = None


@dataclass
class TraceView:
    """A counterexample and what the page shows beside it."""

    trace: Trace
    replay: str | None = None
    schedule: str | None = None
    violating: int | None = None
    """Index of the violating step; None lets the timeline find it."""
    abstract: list[dict[str, Any] | None] | None = None
    """Per step: the abstract states after it (model-checker traces only)."""


def _statement(property_id: str) -> str:
    return next((item.statement for item in ALL if item.id == property_id), "")


def schedule_of(replay: str | None) -> str | None:
    """The schedule string of a replay command (the value of ``--replay``), if any."""
    if not replay:
        return None
    try:
        words = shlex.split(replay)
    except ValueError:
        return None
    for position, word in enumerate(words[:-1]):
        if word == "--replay":
            return words[position + 1]
    return None


def conformance_page(report: Report) -> str:
    """The page of a conformance run."""
    reported = {item.id: item for item in report.properties}
    rows: list[Row] = []
    views: list[TraceView] = []
    for spec in ALL:
        item = reported.get(spec.id)
        if item is None:
            rows.append(Row(spec.id, spec.title, spec.statement, "not_checked", ["not selected"]))
            continue
        status = item.status
        if status == "passed" and not item.evidence:
            status = "not_checked"
        seconds = getattr(item, "duration_s", None)
        evidence = list(item.evidence)
        if item.counterexample is not None:
            message = item.counterexample.message
            evidence.sort(key=lambda text: message not in text)
        rows.append(
            Row(
                item.id,
                item.title,
                spec.statement,
                status,
                evidence,
                seconds if isinstance(seconds, int | float) else None,
            )
        )
        if item.status == "violated" and item.counterexample is not None:
            views.append(
                TraceView(item.counterexample, item.replay, schedule_of(item.replay), None)
            )
    header = [
        ("target", report.target),
        ("budget", report.budget),
        ("time", f"{report.duration_s:.1f} s"),
    ]
    command = f"memory-lifecycle conform {shlex.quote(report.target)} --{report.budget}"
    return _report_page(
        f"Conformance of {report.target}",
        header,
        rows,
        views,
        report.errors,
        command,
    )


def check_page(
    result: CheckResult,
    properties: Sequence[Property],
    step_fn: StepFn,
    argv: Sequence[str] = (),
    target: str = "the model",
) -> str:
    """The page of a model-checker run; ``argv`` are the options it was run with."""
    checked = {item.id for item in properties}
    rows: list[Row] = []
    for spec in ALL:
        violation = result.violation(spec.id)
        if spec.id not in checked:
            rows.append(Row(spec.id, spec.title, spec.statement, "not_checked", ["not selected"]))
        elif violation is not None:
            rows.append(Row(spec.id, spec.title, spec.statement, "violated", [violation.message]))
        else:
            where = "every" if result.complete else "every explored (stopped early)"
            rows.append(
                Row(
                    spec.id,
                    spec.title,
                    spec.statement,
                    "passed",
                    [f"holds in {where} state and transition ({result.states:,} states)"],
                )
            )
    words = _without_html(argv)
    command = " ".join(["memory-lifecycle", "check", *map(shlex.quote, words)])
    views = []
    replay = command
    for violation in result.violations:
        data = checker_trace_data(violation, result.bounds, step_fn)
        abstract: list[dict[str, Any] | None] = [
            None
            if step["abstract"] is None
            else {
                "sessions": list(zip(data["sessionIds"], step["abstract"], strict=True)),
                "process": step["process"],
            }
            for step in data["steps"]
        ]
        views.append(
            TraceView(
                violation.trace,
                replay if "--property" in words else f"{replay} --property {violation.property_id}",
                None,
                violation.depth - 1,
                abstract,
            )
        )
    header = [
        ("target", target),
        ("bound", bounds_text(result.bounds)),
        ("explored", result.summary()),
    ]
    if not result.complete:
        header.append(("note", "exploration stopped early: the state space was not covered"))
    return _report_page(f"Model check of {target}", header, rows, views, [], command)


def _without_html(argv: Sequence[str]) -> list[str]:
    """``argv`` without the ``--html FILE`` option that asked for this page."""
    words = list(argv)
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word == "--html":
            skip = True
            continue
        if word.startswith("--html="):
            continue
        kept.append(word)
    return kept


def _report_page(
    title: str,
    header: list[tuple[str, str]],
    rows: list[Row],
    views: list[TraceView],
    errors: list[str],
    command: str,
) -> str:
    counts = {
        status: sum(row.status == status for row in rows)
        for status in ("violated", "passed", "not_applicable", "not_checked")
    }
    summary = ", ".join(
        f"{count} {status.replace('_', ' ')}" for status, count in counts.items() if count
    )
    facts = "".join(
        f"<div><dt>{escape(name)}</dt><dd>{escape(value)}</dd></div>" for name, value in header
    )
    body = [
        '<header class="page-header">',
        f"<h1>{escape(title)}</h1>",
        f'<dl class="facts">{facts}</dl>',
        f'<p class="summary">{escape(summary)}</p>',
        copy_field("command", command),
        "</header>",
        _legend(),
        "<main>",
        _table(rows, any(row.seconds is not None for row in rows)),
    ]
    if errors:
        body.append('<section class="errors"><h2>Errors</h2><ul>')
        body.extend(f"<li>{escape(error)}</li>" for error in errors)
        body.append("</ul></section>")
    if views:
        body.append("<h2>Counterexamples</h2>")
        body.append(
            '<p class="hint">Step with ← and → (Home, End; V jumps to the violating step), '
            "or click a step. Each counterexample is the shortest one found.</p>"
        )
    traces_data = []
    for number, view in enumerate(views):
        html, data = _trace_section(number, view)
        body.append(html)
        traces_data.append(data)
    if not views:
        body.append('<p class="all-clear">No counterexample: nothing was violated.</p>')
    body.append("</main>")
    return page(title, "\n".join(body), script="report.js", data={"traces": traces_data})


def _table(rows: list[Row], timed: bool) -> str:
    head = "<th>property</th><th>status</th><th>evidence</th>" + ("<th>time</th>" if timed else "")
    lines = ['<table class="properties">', f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for row in rows:
        evidence = ""
        if row.evidence:
            first, rest = row.evidence[0], row.evidence[1:]
            evidence = escape(first)
            if rest:
                more = "".join(f"<li>{escape(text)}</li>" for text in rest)
                evidence += f"<details><summary>{len(rest)} more</summary><ul>{more}</ul></details>"
        link = (
            f'<a href="#trace-{escape(row.id)}">{escape(row.id)}</a>'
            if row.status == "violated"
            else escape(row.id)
        )
        time_cell = ""
        if timed:
            time_cell = f"<td>{'' if row.seconds is None else f'{row.seconds:.1f} s'}</td>"
        lines.append(
            f'<tr data-status="{row.status}"><td class="property">'
            f'<span class="pid">{link}</span> {escape(row.title)}'
            f'<div class="statement">{escape(row.statement)}</div></td>'
            f'<td>{status_pill(row.status)}</td><td class="evidence">{evidence}</td>'
            f"{time_cell}</tr>"
        )
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _trace_section(number: int, view: TraceView) -> tuple[str, dict[str, Any]]:
    trace = view.trace
    timeline = build_timeline(trace, view.violating)
    states, changed = _carried_states(trace)
    rows = []
    for index, item in enumerate(trace.steps):
        classes = ["step"]
        if index == timeline.violating:
            classes.append("violation")
        elif index > timeline.violating >= 0:
            classes.append("witness")
        marks = " ".join(kind for kind in timeline.marks[index] if "-" not in kind)
        rows.append(
            f'<tr class="{" ".join(classes)}" data-step="{index}" data-kinds="{marks}">'
            f'<td class="n">{index + 1}</td><td class="actor">{escape(item.actor)}</td>'
            f'<td class="action">{escape(item.action)}</td>'
            f'<td class="result">{escape(item.result)}</td>'
            f'<td class="state-col">{escape(item.state)}</td></tr>'
        )
    fields = []
    if view.schedule:
        fields.append(copy_field("schedule", view.schedule))
    if view.replay:
        fields.append(copy_field("replay", view.replay))
    witness = ""
    if 0 <= timeline.violating < len(trace.steps) - 1:
        witness = (
            '<p class="hint">Steps after the violating one show that the goal is not '
            "reached (a liveness witness).</p>"
        )
    html = f"""<section class="trace" id="trace-{escape(trace.property_id)}" data-trace="{number}"
 tabindex="-1">
<h3><span class="pid">{escape(trace.property_id)}</span> violated</h3>
<p class="message">{escape(trace.message)}</p>
{"".join(fields)}
<div class="controls">
<button type="button" data-act="first" title="first step (Home)">first</button>
<button type="button" data-act="prev" title="previous step (←)">◀ prev</button>
<span class="position" aria-live="polite"></span>
<button type="button" data-act="next" title="next step (→)">next ▶</button>
<button type="button" data-act="last" title="last step (End)">last</button>
<button type="button" data-act="violation" title="the violating step (V)">violating step</button>
</div>
<div class="timeline-scroll">{timeline_svg(trace, timeline)}</div>
{witness}
<div class="trace-body">
<table class="steps"><thead><tr><th>#</th><th>actor</th><th>action</th><th>result</th>
<th class="state-col">state after</th></tr></thead><tbody>
{"".join(rows)}
</tbody></table>
<aside class="state-panel" aria-live="polite">
<h4 class="state-title"></h4>
<div class="state-abstract"></div>
<pre class="state-text"></pre>
<p class="state-note"></p>
<div class="violation-note" hidden><strong>{escape(trace.property_id)} violated here:</strong>
 {escape(trace.message)}</div>
</aside>
</div>
</section>"""
    data = {
        "id": trace.property_id,
        "count": len(trace.steps),
        "violating": timeline.violating,
        "states": states,
        "changed": changed,
        "abstract": view.abstract,
        "steps": [
            {"actor": item.actor, "action": item.action, "result": item.result}
            for item in trace.steps
        ],
        "kinds": [[kind for kind in kinds if "-" not in kind] for kinds in timeline.marks],
    }
    return html, data


def _carried_states(trace: Trace) -> tuple[list[str], list[int]]:
    """The state after each step (a step that records none keeps the one before) and
    the step where it was last recorded (-1: never)."""
    states: list[str] = []
    changed: list[int] = []
    current, since = "", -1
    for index, item in enumerate(trace.steps):
        if item.state:
            current, since = item.state, index
        states.append(current)
        changed.append(since)
    return states, changed


def _legend() -> str:
    return (
        '<aside class="legend" aria-label="legend"><strong>Legend</strong>'
        '<span><svg width="26" height="12"><rect class="bar provider" x="1" y="1" width="24" '
        'height="10" rx="3"/></svg> provider call</span>'
        '<span><svg width="26" height="14"><rect class="bar call" x="1" y="1" width="24" '
        'height="12" rx="3"/></svg> call in progress</span>'
        '<span><svg width="26" height="14"><rect class="bar wait" x="1" y="1" width="24" '
        'height="12" rx="3"/></svg> waiting call</span>'
        '<span><svg width="16" height="18"><path class="timeout" d="M2,1 L14,1 L2,17 L14,17 z"/>'
        "</svg> timeout</span>"
        '<span><svg width="16" height="20"><path class="interrupt" '
        'd="M10,0 L2,11 L7,11 L5,20 L14,8 L9,8 z"/></svg> interrupt (BaseException)</span>'
        '<span><svg width="26" height="26"><circle class="violation-ring" cx="13" cy="13" '
        'r="10"/></svg> violating step</span>'
        f"<span>{status_pill('passed')} {status_pill('violated')} "
        f"{status_pill('not_applicable')} {status_pill('not_checked')}</span>"
        "</aside>"
    )


def write_page(path: str | Path, html: str) -> int:
    """Write a page; return its size in bytes."""
    data = html.encode("utf-8")
    Path(path).write_bytes(data)
    return len(data)


def write_conformance_page(path: str | Path, report: Report) -> None:
    """Write the conformance page to ``path`` and say so on stderr."""
    size = write_page(path, conformance_page(report))
    print(f"report page written to {path} ({size:,} bytes)", file=sys.stderr)


def write_check_page(
    path: str | Path,
    result: CheckResult,
    properties: Sequence[Property],
    step_fn: StepFn,
    argv: Sequence[str],
    target: str = "the model",
) -> None:
    """Write the model-checker page to ``path`` and say so on stderr."""
    size = write_page(path, check_page(result, properties, step_fn, argv, target))
    print(f"report page written to {path} ({size:,} bytes)", file=sys.stderr)
