"""What the pages show, read from the checker's public functions as plain JSON data.

This is the one module of the pages that reads the model: the reachable
graph (``checker.reachable_graph``), the abstraction (``session_state``,
``process_state``), the checker's text renderers (``event_text``,
``result_text``, ``state_text``) and the enabled events of a bounded world.
Everything else in ``pages`` works on the dictionaries built here, so a
change of the model's data types needs adapting only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memory_lifecycle import model
from memory_lifecycle.model import EMPTY_PROCESS, Effect, Event, Process, Result

from ..abstraction import process_state, session_state
from ..checker import Bounds, Violation, enabled_events, explore, reachable_graph
from ..checker.mutants import MUTANTS
from ..checker.render import event_text, result_text, state_text
from ..machine import (
    PROCESS_STATE_MEANINGS,
    PROCESS_STATES,
    SESSION_STATE_MEANINGS,
    SESSION_STATES,
)
from ..properties import ALL, BY_ID, StepFn, answer
from ..trace import Trace

EXPLORER_BOUNDS = Bounds(sessions=1, agents=2, max_generation=2)
"""The world the explorer embeds: one session, two agents, two turns, every event (with
the drain's states, three turns would take the page past 5 MB)."""

Json = dict[str, Any]


def bounds_text(bounds: Bounds) -> str:
    """``1 session, 2 agents, 3 turns per session``."""
    sessions = f"{bounds.sessions} session{'s' if bounds.sessions != 1 else ''}"
    agents = f"{bounds.agents} agent{'s' if bounds.agents != 1 else ''}"
    return f"{sessions}, {agents}, {bounds.max_generation} turns per session"


def abstract_of(process: Process, session_ids: Sequence[object]) -> list[str]:
    """The abstract state of each named session, in order (ABSENT without an entry)."""
    present = dict(process.sessions)
    return [session_state(present.get(session_id)) for session_id in session_ids]


def _state_row(process: Process, session_ids: Sequence[object]) -> list[Any]:
    return [state_text(process), abstract_of(process, session_ids), process_state(process)]


def _event_row(event: Event) -> list[Any]:
    session_id = getattr(event, "session_id", None)
    name = None if session_id is None else str(session_id)
    return [event_text(event), type(event).__name__, name]


def outcome_text(result: Result, effects: tuple[Effect, ...]) -> str:
    """The checker's result text, plus the name of every effect it leaves out (such as
    waking waiters), so a step shows all it does."""
    text = result_text(result, effects)
    for effect in effects:
        name = type(effect).__name__
        if name not in text:
            text += f" + {name}"
    return text


def graph_data(bounds: Bounds = EXPLORER_BOUNDS, step_fn: StepFn = model.step) -> Json:
    """The reachable graph of ``bounds`` as compact, indexed JSON.

    ``states[i]`` is ``[text, [abstract state of each session], process state]``;
    ``events`` and ``results`` are tables of texts; ``out[i]`` lists the edges
    leaving state ``i`` as flat quadruples ``event, result, target, renamed``,
    where ``renamed`` indexes ``raw`` (the successor as stepped, before it was
    stored under a renaming of its agents) or is -1 when nothing was renamed.
    """
    graph = reachable_graph(bounds, step_fn)
    session_ids = list(bounds.session_ids)
    number = {state: index for index, state in enumerate(graph.states)}
    events: dict[str, int] = {}
    event_rows: list[list[Any]] = []
    results: dict[str, int] = {}
    raw: dict[str, int] = {}
    out: list[list[int]] = [[] for _ in graph.states]
    for edge in graph.edges:
        source, target = number[edge.before], number[edge.after]
        text = event_text(edge.event)
        if text not in events:
            events[text] = len(event_rows)
            event_rows.append(_event_row(edge.event))
        result = outcome_text(edge.result, edge.effects)
        results.setdefault(result, len(results))
        renamed = -1
        stepped = step_fn(edge.before, edge.event).state
        if stepped != edge.after:
            stepped_text = state_text(stepped)
            renamed = raw.setdefault(stepped_text, len(raw))
        out[source].extend((events[text], results[result], target, renamed))
    return {
        "bounds": bounds_text(bounds),
        "sessionIds": [str(key) for key in session_ids],
        "initial": number[graph.initial],
        "states": [_state_row(state, session_ids) for state in graph.states],
        "events": event_rows,
        "results": list(results),
        "raw": list(raw),
        "out": out,
        "transitions": len(graph.edges),
    }


def machines_data() -> Json:
    """Every abstract state with its meaning, per machine."""
    return {
        "session": [[name, SESSION_STATE_MEANINGS.get(name, "")] for name in SESSION_STATES],
        "process": [[name, PROCESS_STATE_MEANINGS.get(name, "")] for name in PROCESS_STATES],
    }


def properties_data() -> list[Json]:
    """S1-S10 and L1-L4: id, title, statement and why, from the spec."""
    return [
        {"id": item.id, "title": item.title, "statement": item.statement, "why": item.why}
        for item in ALL
    ]


def trace_processes(
    trace: Trace, bounds: Bounds, step_fn: StepFn, initial: Process = EMPTY_PROCESS
) -> list[Process | None]:
    """The model state after each step of a model-checker trace (``None`` past the
    first step that cannot be matched).

    Each step is matched by its text against the events enabled in the state
    before it, and accepted only when stepping gives the same result and state
    texts, so a state is never guessed.
    """
    processes: list[Process | None] = []
    state: Process | None = initial
    for item in trace.steps:
        found: Process | None = None
        if state is not None:
            candidates = [e for e in enabled_events(state, bounds) if event_text(e) == item.action]
            for event in candidates:
                try:
                    after = answer(step_fn, state, event)
                except Exception:
                    continue  # a step that raised or answered no Step (STEP) has no state
                if (
                    result_text(after.result, after.effects) == item.result
                    and state_text(after.state) == item.state
                ):
                    found = after.state
                    break
        processes.append(found)
        state = found
    return processes


def checker_trace_data(
    violation: Violation, bounds: Bounds, step_fn: StepFn, initial: Process = EMPTY_PROCESS
) -> Json:
    """A model-checker counterexample with each step's abstract states."""
    session_ids = list(bounds.session_ids)
    processes = trace_processes(violation.trace, bounds, step_fn, initial)
    steps = []
    for item, process in zip(violation.trace.steps, processes, strict=True):
        steps.append(
            {
                "actor": item.actor,
                "action": item.action,
                "result": item.result,
                "state": item.state,
                "abstract": None if process is None else abstract_of(process, session_ids),
                "process": None if process is None else process_state(process),
            }
        )
    return {
        "property": violation.property_id,
        "message": violation.message,
        "depth": violation.depth,
        "sessionIds": [str(key) for key in session_ids],
        "initial": {
            "state": state_text(initial),
            "abstract": abstract_of(initial, session_ids),
            "process": process_state(initial),
        },
        "steps": steps,
    }


def mutants_data() -> list[Json]:
    """Each model-checker mutant and the shortest trace of the property that catches it."""
    rows = []
    for name, mutant in MUTANTS.items():
        # A mutant whose step raises is caught under STEP_RAISED by any property's check.
        checked = [BY_ID[mutant.catches]] if mutant.catches in BY_ID else list(ALL)
        result = explore(mutant.bounds, mutant.step, checked, stop_at_first=True)
        violation = result.violation(mutant.catches)
        if violation is None:
            raise ValueError(
                f"mutant {name!r} is no longer caught by {mutant.catches}; fix the mutant or "
                f"the checker before drawing its trace"
            )
        rows.append(
            {
                "name": name,
                "description": mutant.description,
                "bounds": bounds_text(mutant.bounds),
                "command": f"memory-lifecycle check --mutant {name}",
                "trace": checker_trace_data(violation, mutant.bounds, mutant.step),
            }
        )
    return rows


def state_colours() -> dict[str, str]:
    """The fill colour of every abstract state, as the static diagrams draw it."""
    from ..diagrams.style import STATE_COLOURS

    return dict(STATE_COLOURS)
