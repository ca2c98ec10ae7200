"""The state explorer page: the machines, the concrete states behind them, step mode.

``explorer_html()`` embeds the reachable graph of a small world (see
``data.EXPLORER_BOUNDS``), the properties and the shortest trace of every
model-checker mutant, and draws both abstract machines. The page's script
lets a reader open an abstract state (the concrete states it stands for and
the events enabled in each), walk the graph from the empty state one event at
a time and back, and load and step a mutant's counterexample.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape
from pathlib import Path

from .. import machine
from ..checker import Bounds
from .data import EXPLORER_BOUNDS, graph_data, machines_data, mutants_data, properties_data
from .page import chip, page
from .svg import machine_svg

EXPLORER_FILE = "explorer.html"
"""The explorer's file name in the diagrams folder."""

TITLE = "memory-lifecycle state explorer"


@lru_cache(maxsize=4)
def explorer_html(bounds: Bounds = EXPLORER_BOUNDS) -> str:
    """The explorer page for the reachable graph of ``bounds`` (deterministic)."""
    graph = graph_data(bounds)
    mutants = mutants_data()
    properties = properties_data()
    session_svg = machine_svg(
        "session",
        "Session machine",
        machine.SESSION_STATES,
        machine.SESSION_EDGES,
        machine.SESSION_STATE_MEANINGS,
    )
    process_svg = machine_svg(
        "process",
        "Process machine",
        machine.PROCESS_STATES,
        machine.PROCESS_EDGES,
        machine.PROCESS_STATE_MEANINGS,
    )
    facts = (
        f"World: {escape(graph['bounds'])}, every kind of event. "
        f"{len(graph['states']):,} states and {graph['transitions']:,} transitions, "
        "one state stored per renaming of agents (a step may come back with A and B swapped)."
    )
    legend_states = " ".join(
        chip(name) for name in (*machine.SESSION_STATES, *machine.PROCESS_STATES)
    )
    body = f"""<header class="page-header">
<h1>{TITLE}</h1>
<p>{facts}</p>
</header>
<aside class="legend" aria-label="legend"><strong>Legend</strong>
<span>{legend_states}</span>
<span><svg width="30" height="16"><rect x="2" y="2" width="26" height="12" rx="4" fill="#fff"
 stroke="#1f5fae" stroke-width="3"/></svg> current state</span>
<span><svg width="30" height="10"><path d="M1,5 L29,5" stroke="#1f5fae" stroke-width="3.4"/></svg>
 edge just taken</span>
<span><svg width="30" height="10"><path d="M1,5 L29,5" stroke="#5f8fd0" stroke-width="2"
 stroke-dasharray="6 3"/></svg> edge an enabled event takes</span>
<span>keys: ↑ ↓ choose an event, → take it, ← back, Home restart, Esc leave a trace</span>
</aside>
<div class="explorer">
<div class="diagrams">
<figure>{session_svg}<figcaption>One session. Click a state to list the concrete states it
 stands for; hover an arrow for its guards.</figcaption></figure>
<figure>{process_svg}<figcaption>The process (shutdown drain).</figcaption></figure>
</div>
<div class="side">
<section class="panel" id="step-panel" aria-label="step mode">
<h2>Step mode <span class="mode"></span></h2>
<div class="controls">
<button type="button" data-act="restart" title="back to the empty state (Home)">restart</button>
<button type="button" data-act="back" title="one step back (←)">◀ back</button>
<button type="button" data-act="take" title="take the chosen event (→)">take ▶</button>
<button type="button" data-act="leave" title="leave the trace (Esc)" hidden>leave trace</button>
<span class="position"></span>
</div>
<div class="current-state" aria-live="polite"></div>
<h4 class="choices-title"></h4>
<ul class="events" role="listbox" aria-label="enabled events"></ul>
<h4 class="history-title">Path from the empty state</h4>
<ol class="history"></ol>
</section>
<section class="panel" id="abstract-panel" hidden aria-label="concrete states">
<h2 class="abstract-title"></h2>
<p class="abstract-meaning hint"></p>
<div class="concrete-list"></div>
</section>
</div>
</div>
<h2>Properties</h2>
<p class="hint">The spec's statement of each property; where a deliberately broken model
 breaks it, load the model checker's shortest counterexample and step through it above.</p>
<div class="properties-list" id="properties"></div>
<h2>Broken models: shortest counterexamples</h2>
<p class="hint">Each row is <code>memory-lifecycle check --mutant NAME</code>: a model with one
 rule broken, and the shortest trace the checker finds, in the mutant's own small world.</p>
<table class="mutants" id="mutants"><thead><tr><th>mutant</th><th>breaks</th><th>what it
 does wrong</th><th>world</th><th>steps</th><th></th></tr></thead><tbody></tbody></table>
"""
    return page(
        TITLE,
        body,
        script="explorer.js",
        data={
            "graph": graph,
            "machines": machines_data(),
            "properties": properties,
            "mutants": mutants,
        },
    )


def write_explorer(folder: str | Path, bounds: Bounds = EXPLORER_BOUNDS) -> Path:
    """Write ``folder/explorer.html``; return its path."""
    path = Path(folder) / EXPLORER_FILE
    path.write_bytes(explorer_html(bounds).encode("utf-8"))
    return path
