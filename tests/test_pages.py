"""Review pages: what they embed, that they are self-contained, and the CLI options writing them.

The pages are also opened in a real browser: see ``test_pages_browser.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _targets import broken_without
from memory_lifecycle import model
from memory_lifecycle.specs.abstraction import process_state, session_state
from memory_lifecycle.specs.checker import cli as check_cli
from memory_lifecycle.specs.checker import explore, reachable_graph
from memory_lifecycle.specs.checker.explore import ReachableGraph
from memory_lifecycle.specs.checker.mutants import MUTANTS
from memory_lifecycle.specs.checker.render import event_text, state_text
from memory_lifecycle.specs.conformance import cli as conform_cli
from memory_lifecycle.specs.conformance.target import target_factory
from memory_lifecycle.specs.diagrams import cli as diagrams_cli
from memory_lifecycle.specs.diagrams.render import ENVIRONMENT_VARIABLE
from memory_lifecycle.specs.diagrams.style import STATE_COLOURS
from memory_lifecycle.specs.interleave import SCENARIOS
from memory_lifecycle.specs.interleave import explore as interleave
from memory_lifecycle.specs.machine import ANY_STATE, PROCESS_EDGES, SESSION_EDGES, SESSION_STATES
from memory_lifecycle.specs.pages import EXPLORER_FILE, explorer_html
from memory_lifecycle.specs.pages.data import EXPLORER_BOUNDS, Json, graph_data, mutants_data
from memory_lifecycle.specs.pages.reports import schedule_of
from memory_lifecycle.specs.pages.svg import machine_svg
from memory_lifecycle.specs.pages.timeline import build_timeline
from memory_lifecycle.specs.properties import ALL, BY_ID, STEP_RAISED

TESTS = Path(__file__).resolve().parent
RACY = TESTS / "racy"
SIZE_LIMIT = 5 * 1024 * 1024


def _embedded(html: str, name: str) -> object:
    """The JSON data block ``name`` of a page."""
    match = re.search(rf'<script type="application/json" id="data-{name}">(.*?)</script>', html)
    assert match is not None, f"no data block {name!r}"
    return json.loads(match.group(1))


def _table_statuses(html: str) -> dict[str, str]:
    """Property id -> status, as the page's properties table shows them."""
    rows = re.findall(
        r'<tr data-status="(\w+)"><td class="property"><span class="pid">(.*?)</span>', html
    )
    return {re.sub(r"<[^>]+>", "", pid): status for status, pid in rows}


@pytest.fixture(scope="module")
def explorer_graph() -> tuple[ReachableGraph, Json]:
    """The explorer's reachable graph and the data the page embeds for it."""
    return reachable_graph(EXPLORER_BOUNDS), graph_data(EXPLORER_BOUNDS)


def test_explorer_embeds_every_reachable_state_and_transition(
    explorer_graph: tuple[ReachableGraph, Json],
) -> None:
    """The explorer's data is the reachable graph: every state with its abstract states,
    and every edge with its event, result and target."""
    graph, data = explorer_graph
    assert len(data["states"]) == len(graph.states)
    assert sum(len(out) for out in data["out"]) == 4 * len(graph.edges)
    assert data["transitions"] == len(graph.edges)
    for state, (_, sessions, process) in zip(graph.states, data["states"], strict=True):
        present = dict(state.sessions)
        assert sessions == [session_state(present.get(key)) for key in EXPLORER_BOUNDS.session_ids]
        assert process == process_state(state)
    initial = data["states"][data["initial"]]
    assert initial[1] == ["ABSENT"] and initial[2] == "RUNNING"
    for out in data["out"]:
        for position in range(0, len(out), 4):
            event, result, target, renamed = out[position : position + 4]
            assert 0 <= event < len(data["events"])
            assert 0 <= result < len(data["results"])
            assert 0 <= target < len(data["states"])
            assert -1 <= renamed < len(data["raw"])


def test_explorer_page_is_self_contained_deterministic_and_under_5_mb() -> None:
    """One file: nothing loaded from outside, the same bytes in another interpreter, small."""
    html = explorer_html()
    assert len(html.encode("utf-8")) < SIZE_LIMIT
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(\s*['\"]?https?:", html)
    addresses = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert addresses <= {"http://www.w3.org/2000/svg"}, addresses
    code = (
        "import sys\n"
        "from memory_lifecycle.specs.pages import explorer_html\n"
        "sys.stdout.buffer.write(explorer_html().encode('utf-8'))\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="4321")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == html.encode("utf-8")


def test_explorer_lists_every_property_with_its_spec_text() -> None:
    """S1-S10, L1-L4: each property appears with the title and statement of the spec."""
    properties = _embedded(explorer_html(), "properties")
    assert isinstance(properties, list)
    assert [item["id"] for item in properties] == [item.id for item in ALL]
    for item in properties:
        spec = BY_ID[item["id"]]
        assert (item["title"], item["statement"]) == (spec.title, spec.statement)


def test_every_mutant_trace_is_the_checkers_shortest_with_each_steps_abstract_state() -> None:
    """Each mutant's embedded trace is the one ``check --mutant`` prints, every step
    matched to a model state (so the diagrams can follow it)."""
    rows = mutants_data()
    assert [row["name"] for row in rows] == list(MUTANTS)
    for row in rows:
        mutant = MUTANTS[row["name"]]
        expected = explore(mutant.bounds, mutant.step).violation(mutant.catches)
        assert expected is not None
        trace = row["trace"]
        assert trace["property"] == mutant.catches
        assert trace["depth"] == expected.depth
        assert [(s["actor"], s["action"], s["result"], s["state"]) for s in trace["steps"]] == [
            (s.actor, s.action, s.result, s.state) for s in expected.trace.steps
        ]
        # A step that raised (STEP) has no state after it, nor has a probe of the
        # drop-in's test hook (EntryEdited), which the checker tries but does not explore.
        stepped = trace["steps"][:-1] if mutant.catches == STEP_RAISED else trace["steps"]
        explored = [step for step in stepped if not step["action"].startswith("EntryEdited(")]
        assert all(step["abstract"] is not None for step in explored), row["name"]


def test_machine_svg_draws_every_state_and_declared_edge_in_the_diagram_colours() -> None:
    """Every abstract state is a clickable node filled as in the static diagrams, and
    every row of the transition table is on a drawn arrow (Reset as the note)."""
    svg = machine_svg("session", "Session machine", SESSION_STATES, SESSION_EDGES, {})
    for name in SESSION_STATES:
        node = re.search(
            rf'<g class="state" data-machine="session" data-state="{name}".*?</g>', svg
        )
        assert node is not None, name
        assert f'fill="{STATE_COLOURS[name]}"' in node.group(0)
    drawn = {int(n) for rows in re.findall(r'data-rows="([\d,]+)"', svg) for n in rows.split(",")}
    declared = {n for n, edge in enumerate(SESSION_EDGES) if edge.source != ANY_STATE}
    assert drawn == declared
    assert "Reset from any state" in svg
    process = machine_svg(
        "process", "Process machine", ("RUNNING", "DRAINING", "DRAINED"), PROCESS_EDGES, {}
    )
    assert process.count('class="edge"') == len(
        {(e.source, e.dest) for e in PROCESS_EDGES if e.source != ANY_STATE}
    )


def test_S3_timeline_of_an_interleaving_marks_calls_waits_timeout_interrupt_and_violation() -> None:
    """S3: the explorer's counterexample on a wedging module reads as lanes per thread, the
    provider call as a bar, the BaseException as an interrupt, the expired wait as a timeout
    and the checker's step as the violation."""
    target = target_factory(RACY / "base_exception_wedge.py", name="base_exception_wedge")
    result = interleave(SCENARIOS["base_exception_vs_waiter"], target, budget=200)
    assert result.violation is not None and result.violation.property_id == "S3"
    trace = result.violation.trace
    timeline = build_timeline(trace)
    actors = list(dict.fromkeys(step.actor for step in trace.steps))
    assert timeline.lanes == actors and len(actors) >= 3
    violating = trace.steps[timeline.violating]
    assert violating.actor == "checker" and "S3 violated" in violating.action
    providers = [bar for bar in timeline.bars if bar.kind == "provider"]
    assert providers and all(bar.end is not None for bar in providers)
    begins = trace.steps[providers[0].start]
    assert "begins" in begins.action
    kinds = {kind for marks in timeline.marks for kind in marks}
    assert {"interrupt", "timeout", "wait", "violation"} <= kinds
    interrupted = [trace.steps[i] for i, marks in enumerate(timeline.marks) if "interrupt" in marks]
    assert any("BaseException" in s.result or "KeyboardInterrupt" in s.result for s in interrupted)
    waits = [bar for bar in timeline.bars if bar.kind == "wait"]
    assert waits and "wait=True" in trace.steps[waits[0].start].action


def test_S2_check_html_writes_a_page_with_the_trace_statuses_and_replay(tmp_path: Path) -> None:
    """S2: ``check --mutant success-to-generation --html FILE`` writes the page: S2
    violated with its steppable trace and replay command, unselected properties not checked."""
    page = tmp_path / "check.html"
    status = check_cli.main(
        [
            "--mutant",
            "success-to-generation",
            "--property",
            "S2",
            "--property",
            "S9",
            "--quiet",
            "--html",
            str(page),
        ]
    )
    assert status == 1
    html = page.read_text(encoding="utf-8")
    statuses = _table_statuses(html)
    assert statuses["S2"] == "violated" and statuses["S9"] == "passed"
    assert {statuses[item.id] for item in ALL if item.id not in ("S2", "S9")} == {"not_checked"}
    traces = _embedded(html, "traces")
    assert isinstance(traces, list) and [trace["id"] for trace in traces] == ["S2"]
    expected = explore(
        MUTANTS["success-to-generation"].bounds, MUTANTS["success-to-generation"].step
    )
    violation = expected.violation("S2")
    assert violation is not None
    assert traces[0]["violating"] == violation.depth - 1
    assert [step["action"] for step in traces[0]["steps"]] == [
        s.action for s in violation.trace.steps
    ]
    assert all(entry is not None for entry in traces[0]["abstract"])
    assert (
        "memory-lifecycle check --mutant success-to-generation --property S2 --property S9" in html
    )
    assert "--html" not in html.split('id="data-traces"')[0].split("<main>")[0]


def test_S3_conform_html_shows_violated_not_applicable_and_not_checked(tmp_path: Path) -> None:
    """S3, S8, L4: ``conform TARGET --html FILE`` on a broken variant without discard: S3
    violated with its counterexample, S8/L4 not applicable, the rest not checked."""
    small = broken_without(
        "base_exception_wedges", tmp_path / "wedge_without_discard.py", "discard_session"
    )
    page = tmp_path / "conform.html"
    status = conform_cli.main(
        [str(small), "--quick", "--only", "S3,S8,L4", "--checks", "probes", "--html", str(page)]
    )
    assert status == 1
    html = page.read_text(encoding="utf-8")
    statuses = _table_statuses(html)
    assert statuses["S3"] == "violated"
    assert statuses["S8"] == statuses["L4"] == "not_applicable"
    assert {statuses[item.id] for item in ALL if item.id not in ("S3", "S8", "L4")} == {
        "not_checked"
    }
    traces = _embedded(html, "traces")
    assert isinstance(traces, list) and [trace["id"] for trace in traces] == ["S3"]
    assert "--only S3 --checks probes --quick" in html
    assert str(small) in html


def test_schedule_string_is_read_from_an_explorer_replay_command() -> None:
    """The page shows the schedule of an interleaving counterexample, copyable on its own."""
    replay = (
        "python -m memory_lifecycle.specs.interleave --target m.py --scenario x --replay 0.1.1.2"
    )
    assert schedule_of(replay) == "0.1.1.2"
    assert schedule_of("memory-lifecycle conform m.py --only S3 --checks probes --quick") is None
    assert schedule_of(None) is None


def test_diagrams_out_writes_the_explorer_and_text_only_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``diagrams --out DIR`` writes DIR/explorer.html; ``--text-only`` writes text files only."""
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "none")
    assert diagrams_cli.main(["--out", str(tmp_path / "full")]) == 0
    written = (tmp_path / "full" / EXPLORER_FILE).read_text(encoding="utf-8")
    assert written == explorer_html()
    assert diagrams_cli.main(["--out", str(tmp_path / "text"), "--text-only"]) == 0
    assert not (tmp_path / "text" / EXPLORER_FILE).exists()


def test_a_renamed_step_shows_the_state_as_stepped(
    explorer_graph: tuple[ReachableGraph, Json],
) -> None:
    """An edge whose target is stored under a renaming of agents carries the state
    ``model.step`` gave, and only such an edge does."""
    graph, data = explorer_graph
    number = {state: index for index, state in enumerate(graph.states)}
    seen = [0] * len(graph.states)
    renamed = 0
    for edge in graph.edges:
        source = number[edge.before]
        out = data["out"][source]
        event, _, target, raw = out[seen[source] : seen[source] + 4]
        seen[source] += 4
        assert data["events"][event][0] == event_text(edge.event)
        assert target == number[edge.after]
        stepped = model.step(edge.before, edge.event).state
        if stepped == edge.after:
            assert raw == -1
        else:
            renamed += 1
            assert data["raw"][raw] == state_text(stepped)
    assert renamed > 0
