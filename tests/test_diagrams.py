"""State diagrams: current, deterministic, drawn from the verified table, renderer-agnostic."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from memory_lifecycle import model
from memory_lifecycle.model import CommitSucceeded, Event, Outcome, Process, Step
from memory_lifecycle.specs.checker.explore import explore
from memory_lifecycle.specs.checker.world import Bounds
from memory_lifecycle.specs.diagrams import cli
from memory_lifecycle.specs.diagrams.build import REFRESH_COMMAND, text_outputs
from memory_lifecycle.specs.diagrams.dot import as_text, dot_text, edge_label, new_graph
from memory_lifecycle.specs.diagrams.mermaid import edge_text
from memory_lifecycle.specs.diagrams.render import ENVIRONMENT_VARIABLE, find_renderer, render
from memory_lifecycle.specs.diagrams.sequence import trace_to_mermaid, write_sequence_diagrams
from memory_lifecycle.specs.machine import ANY_STATE, PROCESS_EDGES, SESSION_EDGES
from memory_lifecycle.specs.trace import Trace, TraceStep

COMMITTED = Path(__file__).resolve().parent.parent / "diagrams"
TEXT_SUFFIXES = (".dot", ".mmd", ".md")


def test_committed_text_diagrams_are_current(tmp_path: Path) -> None:
    """The committed .dot/.mmd/.md files equal a fresh generation, byte for byte."""
    assert cli.main(["--out", str(tmp_path), "--text-only"]) == 0
    fresh = sorted(path.name for path in tmp_path.iterdir())
    assert fresh == sorted(text_outputs())
    stale = [
        name
        for name in fresh
        if not (COMMITTED / name).is_file()
        or (COMMITTED / name).read_bytes() != (tmp_path / name).read_bytes()
    ]
    assert stale == [], (
        f"diagrams/ is stale ({', '.join(stale)}); regenerate with `{REFRESH_COMMAND}` "
        f"from the repository root and commit diagrams/"
    )


def test_text_outputs_are_identical_in_another_interpreter() -> None:
    """Deterministic byte for byte: a fresh process with another hash seed writes the same."""
    code = (
        "import json, sys\n"
        "from memory_lifecycle.specs.diagrams.build import text_outputs\n"
        "json.dump(text_outputs(), sys.stdout)\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == text_outputs()


def test_check_names_stale_files_and_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--out", str(tmp_path), "--text-only"]) == 0
    assert cli.main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "session-machine.mmd").write_text("stateDiagram-v2\n")
    capsys.readouterr()
    assert cli.main(["--out", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "session-machine.mmd" in err
    assert "process-machine.mmd" not in err
    assert REFRESH_COMMAND in err


def test_every_declared_edge_is_drawn_in_both_formats() -> None:
    """The renderers read the verified table: each row appears in the .dot and .mmd text."""
    texts = text_outputs()
    for stem, edges in (("session-machine", SESSION_EDGES), ("process-machine", PROCESS_EDGES)):
        dot, mermaid = texts[f"{stem}.dot"], texts[f"{stem}.mmd"]
        for edge in edges:
            assert dot_text(edge_label(edge)) in dot, edge
            if edge.source == ANY_STATE:
                assert f"note left of {edge.dest}" in mermaid, edge
            else:
                assert f"    {edge.source} --> {edge.dest}: {edge_text(edge)}\n" in mermaid, edge


def test_mermaid_transition_labels_have_no_separators() -> None:
    """A ':' or ';' inside a Mermaid transition label would end it early."""
    for name, text in text_outputs().items():
        if not name.endswith(".mmd"):
            continue
        for line in text.splitlines():
            if "-->" in line:
                assert re.fullmatch(r"    (\[\*\]|\w+) --> \w+(: [^:;]+)?", line), line


def test_dot_strings_are_escaped() -> None:
    """Quotes and backslashes stay literal in a DOT label; a newline is a centred break."""
    graph = new_graph("g", "title", "TB")
    graph.node("n", label=dot_text('say "hi"\nback\\slash'))
    assert 'n [label="say \\"hi\\"\\nback\\\\slash"]' in as_text(graph)


def test_without_a_renderer_text_is_written_and_the_fix_is_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "none")
    assert cli.main(["--out", str(tmp_path)]) == 0
    names = {path.name for path in tmp_path.iterdir()}
    assert {"session-machine.dot", "session-machine.mmd", "reachable-states.dot"} <= names
    assert not [name for name in names if name.endswith((".svg", ".png"))]
    err = capsys.readouterr().err
    assert "no Graphviz renderer found" in err
    assert "apt-get install graphviz" in err
    assert "pip install graphviz-pure" in err


def test_a_missing_named_renderer_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(tmp_path / "no-such-dot"))
    assert cli.main(["--out", str(tmp_path)]) == 2
    assert "is not an executable program" in capsys.readouterr().err


@pytest.mark.skipif(find_renderer() is None, reason="no Graphviz renderer (dot, graphviz-pure)")
def test_the_renderer_draws_svg_and_png() -> None:
    renderer = find_renderer()
    assert renderer is not None
    source = text_outputs()["process-machine.dot"]
    svg = render(renderer, source, "svg").decode("utf-8")
    assert "<svg" in svg and "DRAINING" in svg and "REFUSED_DRAINING" in svg
    png = render(renderer, source, "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


def test_a_counterexample_becomes_a_sequence_diagram() -> None:
    trace = Trace(
        "S2",
        "committed ran past the captured end; see #3",
        (
            TraceStep("host", "TurnCompleted('s1', agent=A)", "generation 1", "gen=1"),
            TraceStep("host", "CommitRequested('s1')", "started", "in_flight=A@1"),
            TraceStep("provider", "CommitSucceeded(<A>; 1)", "committed", ""),
        ),
    )
    text = trace_to_mermaid(trace)
    lines = text.splitlines()
    assert lines[:4] == ["---", "title: S2 counterexample", "---", "sequenceDiagram"]
    assert "    participant A1 as host" in lines
    assert "    participant A2 as provider" in lines
    assert "    A1->>LC: 2. CommitRequested('s1')" in lines
    assert "    Note right of LC: in_flight=A@1" in lines
    last = lines.index("    rect rgb(255, 225, 225)")
    assert lines[last + 1] == "        A2-->>LC: 3. CommitSucceeded(#lt;A#gt;#59; 1)"
    assert lines[last + 2] == "        Note over LC: committed"
    assert lines[-1] == (
        "    Note over A1,LC: S2 violated: committed ran past the captured end#59; see #35;3"
    )


def test_sequence_diagram_has_the_lifecycle_call_the_provider() -> None:
    """A provider call starts at the lifecycle and returns from the provider, never the reverse."""
    trace = Trace(
        "S3",
        "stays in flight",
        (
            TraceStep("T1 committer", "commit_session_memory('s')", "...", ""),
            TraceStep("T1 committer", "provider a.commit_memory_session() begins", "", ""),
            TraceStep("T1 committer", "provider a ends", "raised ProviderAbort", ""),
            TraceStep("provider", "call of 's' on s.a held in flight", "", ""),
        ),
    )
    lines = trace_to_mermaid(trace).splitlines()
    assert "    participant A2 as provider" in lines
    assert "    LC->>A2: 2. provider a.commit_memory_session() begins" in lines
    assert "    A2-->>LC: 3. provider a ends" in lines
    assert "    Note over LC: raised ProviderAbort" in lines
    assert "        LC->>A2: 4. call of 's' on s.a held in flight" in lines
    assert not [line for line in lines if line.strip().startswith("A2->>")]


def test_several_counterexamples_go_to_one_file_each(tmp_path: Path) -> None:
    """--sequence-diagram FILE: one trace writes FILE, several write FILE.<id>.mmd each."""
    one = Trace("S2", "m", (TraceStep("host", "a", "b", ""),))
    two = Trace("L1", "m", (TraceStep("host", "a", "b", ""),))
    assert write_sequence_diagrams([one], tmp_path / "seq.mmd") == [tmp_path / "seq.mmd"]
    written = write_sequence_diagrams([one, two], tmp_path / "many.mmd")
    assert written == [tmp_path / "many.S2.mmd", tmp_path / "many.L1.mmd"]
    assert all("sequenceDiagram" in path.read_text() for path in written)


def test_process_machine_runs_the_same_way_in_mermaid_and_graphviz() -> None:
    """Both drawings of a machine share its layout direction."""
    texts = text_outputs()
    for stem in ("session-machine", "process-machine"):
        direction = next(
            line.split()[1] for line in texts[f"{stem}.mmd"].splitlines() if "direction" in line
        )
        assert f"rankdir={direction}" in texts[f"{stem}.dot"], stem


def test_reachable_states_legend_explains_the_box_text() -> None:
    """The concrete picture's second legend says what 1..2:A and the other lines mean."""
    dot = text_outputs()["reachable-states.dot"]
    assert "Box text" in dot
    assert "a segment: dirty turns 1 to 2, owned by agent A" in dot
    assert "1..1:A" in dot


def test_every_row_is_its_own_labelled_arrow() -> None:
    """Rows between the same two states are separate arrows, each label tied to its own."""
    dot = text_outputs()["session-machine.dot"]
    drawn = [line for line in dot.splitlines() if " -> " in line and "decorate=true" in line]
    assert len(drawn) == len([edge for edge in SESSION_EDGES if edge.source != ANY_STATE])


def _commits_late_work(state: Process, event: Event) -> Step:
    """A broken step (breaks S2): success also commits turns completed during the call."""
    result = model.step(state, event)
    if isinstance(event, CommitSucceeded) and result.result is Outcome.COMMITTED:
        session = result.state.session(event.session_id)
        assert session is not None
        everything = session._replace(committed=session.generation, segments=())
        sessions = tuple(
            (key, everything if key == event.session_id else value)
            for key, value in result.state.sessions
        )
        return Step(result.state._replace(sessions=sessions), result.effects, result.result)
    return result


def test_S2_checker_counterexample_draws_as_a_sequence_diagram() -> None:
    """S2: the checker's shortest trace of a late-commit bug, as a Mermaid sequence diagram."""
    found = explore(
        Bounds(sessions=1, agents=1, max_generation=2),
        step_fn=_commits_late_work,
        stop_at_first=True,
    )
    by_id = {violation.property_id: violation for violation in found.violations}
    assert "S2" in by_id
    trace = by_id["S2"].trace
    lines = trace_to_mermaid(trace).splitlines()
    boxed = lines.index("    rect rgb(255, 225, 225)")
    assert lines[boxed + 1].startswith(f"        A2-->>LC: {len(trace.steps)}. CommitSucceeded(")
    assert "    participant A2 as provider" in lines
    assert lines[-1].startswith("    Note over A1,LC: S2 violated: ")


def _fake_program(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_renderer_search_prefers_dot_then_graphviz_pure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "python"))
    assert find_renderer() is None
    (tmp_path / "venv").mkdir()
    beside = _fake_program(tmp_path / "venv", "graphviz-pure")
    assert find_renderer() == ("graphviz-pure", str(beside))
    on_path = _fake_program(tmp_path, "dot")
    assert find_renderer() == ("dot", str(on_path))


def test_readme_embeds_the_current_diagrams() -> None:
    """README.md carries diagrams/README-snippet.md verbatim between its markers."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    begin = readme.index("<!-- diagrams:begin")
    begin = readme.index("\n", begin) + 1
    end = readme.index("<!-- diagrams:end -->")
    snippet = (root / "diagrams" / "README-snippet.md").read_text()
    assert readme[begin:end].rstrip("\n") == snippet.rstrip("\n"), (
        "README.md's diagrams section is stale: paste diagrams/README-snippet.md "
        "between the diagrams:begin and diagrams:end markers"
    )


def _counting_renderer(folder: Path) -> Path:
    """A dot-compatible program that draws a different picture on every call."""
    counter = folder / "count"
    program = folder / "fake-dot"
    program.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-V" ]; then echo "fake-dot 1" >&2; exit 0; fi\n'
        "cat > /dev/null\n"
        f"echo x >> {counter}\n"
        f"wc -l < {counter}\n"
    )
    program.chmod(0o755)
    return program


def test_images_are_drawn_only_when_their_dot_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second run keeps images drawn from an unchanged .dot; --redraw draws them again."""
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(_counting_renderer(tmp_path)))
    out = tmp_path / "out"
    assert cli.main(["--out", str(out)]) == 0
    first = (out / "session-machine.svg").read_bytes()
    assert cli.main(["--out", str(out)]) == 0
    assert (out / "session-machine.svg").read_bytes() == first
    (out / "session-machine.dot").write_text("digraph old {}\n")
    assert cli.main(["--out", str(out)]) == 0
    redrawn = (out / "session-machine.svg").read_bytes()
    assert redrawn != first
    assert (out / "process-machine.svg").read_bytes() != redrawn
    assert cli.main(["--out", str(out), "--redraw"]) == 0
    assert (out / "session-machine.svg").read_bytes() != redrawn


def test_following_readme_leaves_the_committed_diagrams_unchanged(tmp_path: Path) -> None:
    """README's set-up runs `diagrams`: on a copy of diagrams/ it rewrites no byte."""
    copy = tmp_path / "diagrams"
    copy.mkdir()
    committed = [p for p in COMMITTED.iterdir() if p.is_file() and p.name != "explorer.html"]
    for path in committed:
        (copy / path.name).write_bytes(path.read_bytes())
    assert cli.main(["--out", str(copy)]) == 0
    changed = [p.name for p in committed if (copy / p.name).read_bytes() != p.read_bytes()]
    assert changed == []
    written = sorted(p.name for p in copy.iterdir() if p.name != "explorer.html")
    assert written == sorted(p.name for p in committed)
    assert "diagrams/explorer.html" in (COMMITTED.parent / ".gitignore").read_text()


@pytest.mark.skipif(not Path("/proc/version").exists(), reason="needs a read-only /proc (Linux)")
def test_an_out_folder_that_cannot_be_made_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """diagrams --out /proc/nope: exit status 2 and what to do, no traceback."""
    assert cli.main(["--out", "/proc/nope"]) == 2
    err = capsys.readouterr().err
    assert "--out /proc/nope: cannot create the folder" in err and "Traceback" not in err


def test_an_out_path_that_is_a_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """diagrams --out FILE: exit status 2, naming the problem."""
    (tmp_path / "file").write_text("")
    assert cli.main(["--out", str(tmp_path / "file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_a_failing_renderer_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A renderer that fails is an environment problem: exit status 2 with its message."""
    program = tmp_path / "bad-dot"
    program.write_text("#!/bin/sh\necho 'layout exploded' >&2\nexit 3\n")
    program.chmod(0o755)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(program))
    assert cli.main(["--out", str(tmp_path / "out")]) == 2
    assert "the renderer failed" in capsys.readouterr().err
