"""A counterexample drawn as a timeline: one lane per actor, one column per step.

Every checker reports a ``Trace`` of text steps (``actor``, ``action``,
``result``, ``state``). The timeline reads that text, and only that text:

- **calls**: a step whose result is ``...`` opens a call of its actor that the
  step ``NAME returned`` closes (the interleaving explorer's threads);
- **provider calls**, drawn as bars: a ``CallProvider('s', ...)`` effect (the
  model checker) until ``CommitSucceeded('s', ...)``/``CommitFailed('s', ...)``;
  ``provider X.commit_memory_session() begins`` until ``provider X ends``
  (the explorer); ``provider call on ... held in flight`` until ``held call of
  's' ends`` (the stateful comparison); ``call of 's' on ... held in flight``
  until ``held call ends`` (the probes);
- **marks**: a wait (``wait=True``, a condition wait, ``WAIT``), a timeout
  (``expires``, ``TIMED_OUT``, ``still running after``) and an interrupt (a
  ``BaseException``, ``KeyboardInterrupt``, ``fatal=True``, an aborted call);
- **the violating step**: the explorer's ``[checker] ... violated here`` step,
  the step the model checker names (its depth), else the last step.

A step nothing matches is still drawn, as a plain dot in its actor's lane.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

from ..trace import Trace

PROVIDER_BEGINS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"CallProvider\('([^']*)'"), "result"),
    (re.compile(r"^provider (\S+?)\.commit_memory_session\(\) begins"), "action"),
    (re.compile(r"provider call on (\S+) held in flight"), "result"),
    (re.compile(r"^call of '([^']*)' on \S+ held in flight"), "action"),
)
"""Patterns that open a provider call, and the field they read."""

PROVIDER_ENDS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^Commit(?:Succeeded|Failed)\('([^']*)'"),
    re.compile(r"^provider (\S+?) ends"),
    re.compile(r"^held call of '([^']*)' ends"),
    re.compile(r"^held call ends()"),
)
"""Patterns that close a provider call (on the action)."""

SESSION_IN_ACTION = re.compile(r"\('([^']*)'")
CALL_RETURNED = re.compile(r"^(\w+) returned\b")
WAIT = re.compile(r"wait=True|\bwait (?:Condition|Event|on)\b|\bWAIT\b|\bwaits?\b(?!=)")
TIMEOUT = re.compile(r"expires|TIMED_OUT|timed_out|timed out|still running after")
INTERRUPT = re.compile(
    r"BaseException|KeyboardInterrupt|SystemExit|CancelledError|ProviderAbort|fatal=True"
    r"|with 'abort'"
)
VIOLATED_HERE = re.compile(r"\bviolated\b")

COLUMN = 34
"""Narrowest step column; a short trace gets wider ones (up to ``WIDEST``)."""
WIDEST = 72
SPREAD = 900
"""Width a short trace's columns spread over."""
LANE = 30
LABEL = 128
TOP = 26


@dataclass
class Bar:
    """A call drawn from one step to another (``end`` None: still running at the end)."""

    lane: int
    start: int
    end: int | None
    kind: str
    """``provider``, ``call`` or ``wait`` (a call that waits)."""
    text: str


@dataclass
class Timeline:
    """The lanes, each step's lane and marks, and the bars of one trace."""

    lanes: list[str]
    step_lanes: list[int]
    marks: list[list[str]]
    bars: list[Bar] = field(default_factory=list)
    violating: int = -1
    """Index of the violating step (-1: the initial state)."""
    column: int = COLUMN
    """Width of one step's column."""


def build_timeline(trace: Trace, violating: int | None = None) -> Timeline:
    """Read ``trace`` into lanes, marks and bars (see the module docstring)."""
    lanes: list[str] = []
    step_lanes: list[int] = []
    marks: list[list[str]] = []
    bars: list[Bar] = []
    open_provider: dict[str, Bar] = {}
    open_calls: dict[tuple[int, str], Bar] = {}
    found_violation = -2
    for index, item in enumerate(trace.steps):
        if item.actor not in lanes:
            lanes.append(item.actor)
        lane = lanes.index(item.actor)
        step_lanes.append(lane)
        text = f"{item.action} -> {item.result}"
        kinds: list[str] = []
        if item.actor == "checker" and VIOLATED_HERE.search(item.action):
            found_violation = index
        for pattern in PROVIDER_ENDS:
            match = pattern.search(item.action)
            if match:
                key = match.group(1)
                if not key and open_provider:
                    key = next(reversed(open_provider))
                bar = open_provider.pop(key, None)
                if bar is not None:
                    bar.end = index
                kinds.append("provider-end")
                break
        for pattern, where in PROVIDER_BEGINS:
            match = pattern.search(item.result if where == "result" else item.action)
            if match:
                key = match.group(1)
                if where == "result" and pattern.pattern.startswith("provider call on"):
                    session = SESSION_IN_ACTION.search(item.action)
                    key = session.group(1) if session else key
                bar = Bar(lane, index, None, "provider", f"provider call: {text}")
                open_provider[key] = bar
                bars.append(bar)
                kinds.append("provider-begin")
                break
        returned = CALL_RETURNED.search(item.action)
        if item.result == "...":
            name = item.action.split("(", 1)[0]
            kind = "wait" if WAIT.search(item.action) else "call"
            bar = Bar(lane, index, None, kind, item.action)
            open_calls[(lane, name)] = bar
            bars.append(bar)
            kinds.append("call-begin")
        elif returned:
            bar = open_calls.pop((lane, returned.group(1)), None)
            if bar is not None:
                bar.end = index
            kinds.append("call-end")
        if WAIT.search(text):
            kinds.append("wait")
        if TIMEOUT.search(text):
            kinds.append("timeout")
        if INTERRUPT.search(text):
            kinds.append("interrupt")
        marks.append(kinds)
    if violating is None:
        violating = found_violation if found_violation >= -1 else len(trace.steps) - 1
    if 0 <= violating < len(marks):
        marks[violating].append("violation")
    column = max(COLUMN, min(WIDEST, SPREAD // max(len(trace.steps), 1)))
    return Timeline(lanes, step_lanes, marks, bars, violating, column)


def _x(step: int, column: int) -> float:
    return LABEL + column * step + column / 2


def _y(lane: int) -> float:
    return TOP + LANE * lane + LANE / 2


def timeline_svg(trace: Trace, timeline: Timeline) -> str:
    """The timeline as an ``<svg>``: lanes, step columns, bars and marks."""
    count = len(trace.steps)
    column = timeline.column
    width = LABEL + column * max(count, 1) + 8
    height = TOP + LANE * max(len(timeline.lanes), 1) + 6
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="timeline of {count} steps">'
    ]
    for lane, name in enumerate(timeline.lanes):
        y = TOP + LANE * lane
        parts.append(
            f'<rect class="lane{" odd" if lane % 2 else ""}" x="0" y="{y}" width="{width}" '
            f'height="{LANE}"/>'
            f'<text class="lane-name" x="6" y="{y + LANE / 2 + 4}">{escape(_short(name, 17))}'
            f"<title>{escape(name)}</title></text>"
        )
    for step in range(count):
        x = LABEL + column * step
        violation = " violation" if step == timeline.violating else ""
        parts.append(
            f'<g class="column{violation}" data-step="{step}">'
            f'<rect x="{x}" y="0" width="{column}" height="{height}"/>'
            f'<text class="step-number" x="{x + column / 2}" y="16" text-anchor="middle">'
            f"{step + 1}</text></g>"
        )
    for bar in timeline.bars:
        end = count - 1 if bar.end is None else bar.end
        x1, x2 = _x(bar.start, column), _x(end, column)
        middle = _y(bar.lane)
        running = " running" if bar.end is None else ""
        extra = column / 2 - 2 if bar.end is None else 0.0
        tall = 14 if bar.kind == "provider" else 20
        parts.append(
            f'<rect class="bar {bar.kind}{running}" x="{x1 - 5}" y="{middle - tall / 2}" '
            f'width="{x2 - x1 + 10 + extra}" height="{tall}" rx="4">'
            f"<title>{escape(bar.text)}"
            f"{' (still running at the end)' if bar.end is None else ''}</title></rect>"
        )
    for step, item in enumerate(trace.steps):
        parts.append(
            _mark(step, timeline, f"{step + 1}. [{item.actor}] {item.action} -> {item.result}")
        )
    parts.append("</svg>")
    return "".join(parts)


def _mark(step: int, timeline: Timeline, text: str) -> str:
    x, y = _x(step, timeline.column), _y(timeline.step_lanes[step])
    kinds = timeline.marks[step]
    shapes = [f'<circle class="dot" cx="{x}" cy="{y}" r="4.5"/>']
    if "interrupt" in kinds:
        shapes = [
            f'<path class="interrupt" d="M{x + 2},{y - 10} L{x - 6},{y + 1} L{x - 1},{y + 1} '
            f'L{x - 3},{y + 10} L{x + 6},{y - 2} L{x + 1},{y - 2} z"/>'
        ]
    elif "timeout" in kinds:
        shapes = [
            f'<path class="timeout" d="M{x - 6},{y - 8} L{x + 6},{y - 8} L{x - 6},{y + 8} '
            f'L{x + 6},{y + 8} z"/>'
        ]
    elif "wait" in kinds:
        shapes.append(f'<circle class="wait-ring" cx="{x}" cy="{y}" r="8"/>')
    if "violation" in kinds:
        shapes.append(f'<circle class="violation-ring" cx="{x}" cy="{y}" r="12"/>')
    label = ", ".join(kind for kind in kinds if not kind.endswith(("-begin", "-end")))
    title = escape(text + (f" ({label})" if label else ""))
    return (
        f'<g class="mark" data-step="{step}" data-kinds="{" ".join(kinds)}">'
        f"<title>{title}</title>{''.join(shapes)}</g>"
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
