"""Every diagram as text, keyed by file name: the one place that decides what is drawn."""

from __future__ import annotations

from .. import machine
from .concrete import DIAGRAM_BOUNDS, concrete_graph, concrete_to_dot
from .dot import machine_to_dot
from .mermaid import machine_to_mermaid, state_table

SESSION_TITLE = "Session lifecycle (abstract machine)"
PROCESS_TITLE = "Process lifecycle (abstract machine)"
CONCRETE_TITLE = (
    "Reachable states of one session (one agent, two turns),\n"
    "coloured by abstract state; steps that change nothing are not drawn"
)

SESSION_DIRECTION = "TB"
PROCESS_DIRECTION = "LR"
"""Layout direction of each machine, the same in its Mermaid and its Graphviz drawing."""

RENDERED = ("session-machine", "process-machine", "reachable-states")
"""Diagrams with a ``.dot`` source that is also drawn as ``.svg`` and ``.png``."""

REFRESH_COMMAND = "python -m memory_lifecycle diagrams"


def text_outputs() -> dict[str, str]:
    """File name -> contents of every text output (``.dot``, ``.mmd``, ``.md``)."""
    session_mermaid = machine_to_mermaid(
        SESSION_TITLE, machine.SESSION_STATES, machine.SESSION_EDGES, direction=SESSION_DIRECTION
    )
    process_mermaid = machine_to_mermaid(
        PROCESS_TITLE, machine.PROCESS_STATES, machine.PROCESS_EDGES, direction=PROCESS_DIRECTION
    )
    graph = concrete_graph(DIAGRAM_BOUNDS)
    return {
        "session-machine.dot": machine_to_dot(
            "session_machine",
            SESSION_TITLE,
            machine.SESSION_STATES,
            machine.SESSION_EDGES,
            machine.SESSION_STATE_MEANINGS,
            rankdir=SESSION_DIRECTION,
            same_rank=[(machine.COMMITTING, machine.COMMITTING_DIRTY)],
        ),
        "session-machine.mmd": session_mermaid,
        "process-machine.dot": machine_to_dot(
            "process_machine",
            PROCESS_TITLE,
            machine.PROCESS_STATES,
            machine.PROCESS_EDGES,
            machine.PROCESS_STATE_MEANINGS,
            rankdir=PROCESS_DIRECTION,
        ),
        "process-machine.mmd": process_mermaid,
        "reachable-states.dot": concrete_to_dot(graph, CONCRETE_TITLE),
        "README-snippet.md": readme_snippet(session_mermaid, process_mermaid, len(graph.states)),
    }


def readme_snippet(session_mermaid: str, process_mermaid: str, concrete_states: int) -> str:
    """The README section for the diagrams, with the Mermaid blocks inlined."""
    return "\n".join(
        [
            "## State diagrams",
            "",
            "The lifecycle is drawn from the abstract machines in `specs/machine.py`: one",
            "transition table, read by the `transitions` library and by the renderers, and",
            "verified by the refinement check (`tests/test_refinement.py`). Every step of the",
            "model checker's reachable graph maps onto a drawn edge (same event, same",
            "abstract states, and the edge's guards, evaluated on the concrete data, pick",
            "it) or leaves the abstract state unchanged, and returns a result the tables",
            "allow for that state and event; every drawn edge is taken by some step. Steps",
            "that change nothing (BUSY, WAIT, TIMED_OUT, NOTHING_TO_COMMIT, NO_AGENT,",
            "KEPT_DIRTY, KEPT_IN_FLIGHT, STALE, SKIPPED, ephemeral turns) are not drawn, nor",
            "the drop-in's test hook `EntryEdited`, which may move its own session to any",
            "state. Labels read `Event [guards] / result or effect`.",
            "",
            "### One session",
            "",
            "```mermaid",
            session_mermaid.rstrip("\n"),
            "```",
            "",
            state_table(machine.SESSION_STATES, machine.SESSION_STATE_MEANINGS).rstrip("\n"),
            "",
            "### The process",
            "",
            "```mermaid",
            process_mermaid.rstrip("\n"),
            "```",
            "",
            "### Files",
            "",
            "`diagrams/` holds each machine as Graphviz (`.dot`, `.svg`, `.png`) and Mermaid",
            f"(`.mmd`), and `reachable-states.*`: all {concrete_states} reachable states of one",
            "session with one agent and two turns, each filled with the colour of its",
            "abstract state. Regenerate them with",
            "",
            f"    {REFRESH_COMMAND} [--out DIR]",
            "",
            "The `.dot` text is built with the `graphviz` package. The command draws",
            "`.svg`/`.png` with Graphviz `dot` when installed, else with `graphviz-pure`",
            "(`pip install graphviz-pure`, a self-contained build of `dot`); with neither it",
            "writes only the text files and says what to install. It draws an image only when",
            "its `.dot` source changed (`--redraw` draws anyway), so the committed images,",
            "drawn by `graphviz-pure`, stay as they are whichever renderer is installed. A",
            "test fails when the committed `.dot`/`.mmd` files are stale.",
            "",
            "A counterexample trace from any checker draws as a Mermaid sequence diagram",
            "(the failing step boxed in red; the lifecycle calls the provider, which",
            "returns) with `memory_lifecycle.specs.diagrams.sequence.trace_to_mermaid(trace)`,",
            "or `--sequence-diagram FILE` of `check` and `conform`. The reachable-states",
            "picture has a second legend for the text in its boxes (`1..2:A`: dirty turns 1",
            "to 2, owned by agent A).",
            "",
        ]
    )
