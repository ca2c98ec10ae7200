"""The command line: every exit status (0, 1, 2, 130) and message of every subcommand.

0: nothing required violated; 1: a required property violated (any, with
--strict); 2: bad usage, an unusable target, an output that cannot be
written, missing verification tools; 130: interrupted, with what was found.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pytest
from memory_lifecycle.cli import main as top_main
from memory_lifecycle.specs.checker import cli as check_cli
from memory_lifecycle.specs.commandline import Progress, elapsed_text
from memory_lifecycle.specs.conformance import cli as conform_cli
from memory_lifecycle.specs.conformance import runner
from memory_lifecycle.specs.conformance import target as loading
from memory_lifecycle.specs.interleave import cli as interleave_cli
from memory_lifecycle.specs.interleave.scenarios import CANONICAL

BROKEN = Path(__file__).parent / "broken"
RACY = Path(__file__).parent / "racy"


def _program(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memory_lifecycle", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
    )


@pytest.fixture
def bad_targets(tmp_path: Path) -> dict[str, Path]:
    """Modules that cannot be checked, each for a different reason."""
    files = {
        "syntax": "def broken(:\n    pass\n",
        "import": "import no_such_module_anywhere\n",
        "api": "value = 1\n",
    }
    made = {}
    for name, source in files.items():
        path = tmp_path / f"{name}_target.py"
        path.write_text(source)
        made[name] = path
    made["missing"] = tmp_path / "no_such_file.py"
    return made


UNUSABLE_TARGETS = [
    ("missing", "does not exist"),
    ("syntax", "syntax error: invalid syntax"),
    ("import", "no_such_module_anywhere"),
    ("api", "lacks register_agent"),
]
"""Each kind of ``bad_targets`` with what the one line that refuses it says."""


# --- the top-level command ------------------------------------------------------------


def test_top_level_usage_lists_the_subcommands_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No subcommand: the usage line names every subcommand, help lists exit statuses."""
    assert top_main([]) == 2
    out = capsys.readouterr().out
    assert "usage: memory-lifecycle [-h] [--version] {check,conform,interleave,diagrams}" in out
    assert "exit status (every subcommand):" in out and "130  interrupted" in out


def test_unknown_subcommand_exits_2_naming_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert top_main(["verify"]) == 2
    assert "unknown subcommand 'verify'; choose one of: check, conform" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("blocked", "arguments"),
    [
        ("hypothesis", ["conform", "compat", "--quick"]),
        ("graphviz", ["diagrams", "--text-only", "--out", "never-written"]),
    ],
)
def test_without_the_verify_extra_a_command_names_it_and_exits_2(
    blocked: str, arguments: list[str], tmp_path: Path
) -> None:
    """A verification tool missing: the extra to install is named, exit status 2."""
    code = (
        "import sys\n"
        f"sys.modules[{blocked!r}] = None\n"
        "from memory_lifecycle.cli import main\n"
        f"sys.exit(main({arguments!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'memory-lifecycle[verify]'" in done.stderr
    assert f"{blocked!r}" in done.stderr and "not installed" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "never-written").exists()


def test_probes_run_without_the_stateful_tools_S3(tmp_path: Path) -> None:
    """S3: without hypothesis, `--checks probes` still runs and passes the drop-in."""
    code = (
        "import sys\n"
        "sys.modules['hypothesis'] = None\n"
        "from memory_lifecycle.cli import main\n"
        "sys.exit(main(['conform', 'compat', '--quick', '--checks', 'probes', '--only', 'S3']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "S3 failure-preserving  required  passed" in done.stdout


def test_a_dotted_target_in_the_current_folder_is_found(tmp_path: Path) -> None:
    """A module beside the caller is found by name, as `python -m` would find it (S1 probe)."""
    (tmp_path / "here_module.py").write_text((BROKEN / "calls_when_clean.py").read_text())
    script = Path(sys.executable).parent / "memory-lifecycle"
    if not script.is_file():
        pytest.skip("memory-lifecycle script not installed")
    done = subprocess.run(
        [str(script), "conform", "here_module", "--quick", "--checks", "probes", "--only", "S1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "S1 completed-only" in done.stdout and "passed" in done.stdout


SUBCOMMAND_MAINS: dict[str, Callable[[list[str]], int]] = {
    "check": check_cli.main,
    "conform": conform_cli.main,
    "interleave": interleave_cli.main,
}
BAD_USAGE = [
    ("conform", ["compat", "--only", "S99"], "unknown property id(s) S99"),
    ("conform", ["compat", "--checks", "probes,fuzz"], "--checks takes some of probes"),
    ("conform", ["compat", "--quick", "--thorough"], "not allowed with argument"),
    ("conform", [], "the following arguments are required: TARGET"),
    ("conform", ["compat", "--only", ""], "unknown property id(s) (none given)"),
    ("conform", ["compat", "--divergences", "x.json"], "--divergences compares with another"),
    ("conform", ["compat", "--checks", "differential"], "add --reference MODULE"),
    ("interleave", [], "the following arguments are required: TARGET"),
    ("check", ["--max-states", "0"], "--max-states must be at least 1"),
    ("check", ["--html", "/nonexistent-folder/x.html"], "folder /nonexistent-folder does not"),
    ("interleave", ["compat", "--replay", "0.1"], "--replay needs exactly one --scenario"),
    ("interleave", ["compat", "--scenario", "nope"], "invalid choice: 'nope'"),
    ("interleave", ["compat", "--budget", "0"], "--budget must be at least 1"),
]
"""Arguments ``check``, ``conform`` and ``interleave`` refuse, with what their message says
(before any work: a bad output path is refused before the search)."""


@pytest.mark.parametrize(("subcommand", "arguments", "expected"), BAD_USAGE)
def test_subcommand_bad_usage_exits_2_saying_what_is_wrong(
    subcommand: str, arguments: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad usage of a subcommand: exit status 2 and the problem on stderr."""
    try:
        status = SUBCOMMAND_MAINS[subcommand](arguments)
    except SystemExit as stopped:
        status = int(stopped.code or 0)
    assert status == 2
    assert expected in capsys.readouterr().err


# --- conform --------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "message"), UNUSABLE_TARGETS)
def test_conform_unusable_target_exits_2_with_one_line(
    kind: str, message: str, bad_targets: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A target that cannot be loaded: exit status 2 and one line saying why."""
    assert conform_cli.main([str(bad_targets[kind]), "--quick", "--checks", "probes"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    if kind == "syntax":
        assert f"{bad_targets[kind]}:1: syntax error" in err


def test_conform_syntax_error_is_file_line_message_not_a_tuple(
    bad_targets: dict[str, Path],
) -> None:
    done = _program("conform", str(bad_targets["syntax"]), "--quick")
    assert done.returncode == 2
    assert "('invalid syntax'" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("--junit", "folder /nonexistent/dir does not exist"),
        ("--sequence-diagram", "folder /nonexistent/dir does not exist"),
    ],
)
def test_conform_unwritable_output_exits_2_before_any_check(option: str, expected: str) -> None:
    """An output in a folder that does not exist: exit 2 at once, no traceback."""
    done = _program("conform", "compat", "--quick", option, "/nonexistent/dir/x.xml")
    assert done.returncode == 2
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_conform_compat_by_short_name_conforms_exit_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """S3: `conform compat` is accepted and passes; exit status 0."""
    assert conform_cli.main(["compat", "--quick", "--checks", "probes", "--only", "S3"]) == 0
    out = capsys.readouterr().out
    assert "S3 failure-preserving  required  passed" in out
    assert "compat conforms to every property checked (exit status 0)" in out


def test_conform_required_violation_exits_1_with_replay(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """L1: a required property violated: exit status 1, the trace and its replay command."""
    target = str(BROKEN / "busy_request_dropped.py")
    assert conform_cli.main([target, "--quick", "--checks", "probes", "--only", "L1"]) == 1
    out = capsys.readouterr().out
    assert "L1 boundary-honoured  required  VIOLATED" in out
    assert "[required] L1 violated" in out
    assert f"replay: memory-lifecycle conform {target} --only L1 --checks probes --quick" in out
    assert "does not conform (exit status 1)" in out


def test_conform_advisory_violation_exits_0_and_1_with_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """S10 is advisory: violated it exits 0, with --strict 1; JSON and JUnit say so."""
    target = str(BROKEN / "no_coalescing_in_flight.py")
    junit = tmp_path / "c.xml"
    arguments = [target, "--quick", "--checks", "probes", "--json", "--junit", str(junit)]
    assert conform_cli.main(arguments) == 0
    document = json.loads(capsys.readouterr().out)
    s10 = next(item for item in document["properties"] if item["id"] == "S10")
    assert (s10["kind"], s10["status"]) == ("advisory", "violated")
    assert document["exit_status"] == 0 and document["summary"]["advisory_violated"] == 1
    case = next(c for c in ElementTree.parse(junit).getroot() if c.get("name") == "S10 coalescing")
    skipped = case.find("skipped")
    assert skipped is not None and skipped.get("type") == "advisory-violated"
    assert conform_cli.main([*arguments, "--strict"]) == 1
    strict = json.loads(capsys.readouterr().out)
    assert strict["exit_status"] == 1 and strict["strict"] is True
    case = next(c for c in ElementTree.parse(junit).getroot() if c.get("name") == "S10 coalescing")
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "advisory-violated"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_conform_output_that_fails_late_exits_2_and_the_json_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A --junit file that passes the up-front check but cannot be written (a full
    device): the results are still printed, and the JSON's exit_status is the 2 the
    command exits with, the reason among its errors."""
    arguments = ["compat", "--quick", "--checks", "probes", "--only", "S1", "--json"]
    assert conform_cli.main([*arguments, "--junit", "/dev/full"]) == 2
    shown = capsys.readouterr()
    document = json.loads(shown.out)
    assert document["exit_status"] == 2
    assert any("cannot write an output" in error for error in document["errors"])
    assert document["summary"]["passed"] == 1
    assert "cannot write an output" in shown.err


def test_conform_ctrl_c_prints_what_is_known_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Interrupted at the third probe: the table so far, the rest not checked, status 130."""
    real = runner.run_probe
    calls: list[str] = []

    def interrupting(probe: object, factory: object) -> object:
        calls.append(str(probe))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(probe, factory)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "run_probe", interrupting)
    assert conform_cli.main(["compat", "--quick", "--checks", "probes", "--json"]) == 130
    document = json.loads(capsys.readouterr().out)
    statuses = {item["id"]: item["status"] for item in document["properties"]}
    assert document["interrupted"] is True and document["exit_status"] == 130
    assert statuses["S1"] == "passed" and statuses["S2"] == "passed"
    assert statuses["S4"] == "not_checked"
    s4 = next(item for item in document["properties"] if item["id"] == "S4")
    assert "interrupted" in s4["reason"]


def test_conform_ctrl_c_before_the_stateful_search_passes_nothing_it_planned(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Interrupted as the stateful search starts: a property whose probes passed but
    whose stateful comparison never ran is not checked, not passed."""

    def interrupted(self: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner.Conformance, "run_stateful", interrupted)
    arguments = ["compat", "--quick", "--checks", "probes,stateful", "--json"]
    assert conform_cli.main(arguments) == 130
    document = json.loads(capsys.readouterr().out)
    statuses = {item["id"]: item["status"] for item in document["properties"]}
    assert set(statuses.values()) == {"not_checked"}, statuses
    assert document["summary"]["passed"] == 0


def test_conform_sigint_on_a_terminal_shows_progress_then_exits_130() -> None:
    """Live progress on a terminal stderr; SIGINT prints the table so far and exits 130."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "memory_lifecycle", "conform", "compat", "--quick"],
        stdout=subprocess.PIPE,
        stderr=secondary,
        text=True,
        # A shell's background job ignores SIGINT, and a child inherits that; the
        # command must get Ctrl-C as it would on a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(secondary)
    seen = bytearray()
    reached = threading.Event()

    def drain_terminal() -> None:
        # Read the terminal until it closes: a full terminal buffer would block the
        # command's progress line, and with it the command, after the interrupt.
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen.extend(chunk)
            if b"conform: " in seen:
                reached.set()
        reached.set()

    reader = threading.Thread(target=drain_terminal, daemon=True)
    reader.start()
    try:
        reached.wait(timeout=300)  # the live line is up: the run has started
        time.sleep(2)  # the run takes far longer (probes, then the stateful search)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=120)
    finally:
        process.kill()
        reader.join(timeout=10)
        os.close(primary)
    assert b"conform: " in seen and b"/" in seen, bytes(seen)
    assert process.returncode == 130, out
    assert "INTERRUPTED" in out and "interrupted (exit status 130)" in out
    assert "S1 completed-only" in out


# --- interleave -----------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "message"), UNUSABLE_TARGETS)
def test_interleave_unusable_target_exits_2(
    kind: str, message: str, bad_targets: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A target that cannot be loaded: exit 2 with one line, not a violation per scenario."""
    assert interleave_cli.main([str(bad_targets[kind])]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "VIOLATION" not in captured.err + captured.out


def test_interleave_import_that_never_finishes_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import that loops forever is a target error, not an L3 livelock."""
    looping = tmp_path / "loops.py"
    looping.write_text("import time\nwhile True:\n    time.sleep(1)\n")
    monkeypatch.setattr(loading, "IMPORT_BOUND", 0.5)
    assert interleave_cli.main([str(looping)]) == 2
    err = capsys.readouterr().err
    assert "did not finish" in err and "L3" not in err


def test_interleave_takes_the_target_positionally_like_conform(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """S2: TARGET is positional; a clean scenario exits 0 and reports its result."""
    status = interleave_cli.main(
        [str(RACY / "sound.py"), "--scenario", "late_commit_vs_new_turn", "--bound", "1"]
    )
    captured = capsys.readouterr()
    assert status == 0
    assert "late_commit_vs_new_turn: ok" in captured.err
    assert "1 scenario explored" in captured.out and "no violation" in captured.out


def test_interleave_violation_exits_1_with_replay_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """S3: a violation exits 1; the printed replay command names the subcommand and TARGET."""
    target = str(RACY / "base_exception_wedge.py")
    assert interleave_cli.main([target, "--scenario", "base_exception_vs_waiter"]) == 1
    out = capsys.readouterr().out
    assert f"replay: memory-lifecycle interleave {target} --scenario base_exception_vs_waiter" in (
        out
    )
    assert "[required] S3 violated" in out


def test_interleave_help_shows_prog_defaults_every_scenario_and_exit_statuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        interleave_cli.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: memory-lifecycle interleave")
    assert "mixed_two_sessions" in out and "failure_vs_waiter" in out
    assert "(default: dfs)" in out and "(default: 2000)" in out and "(default: 2," in out
    assert "exit status:" in out and "130 interrupted" in out


def test_interleave_ctrl_c_exits_130_with_the_scenarios_so_far(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = interleave_cli.explore
    calls: list[str] = []

    def interrupting(scenario: object, *args: object, **kwargs: object) -> object:
        calls.append(str(scenario))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(scenario, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(interleave_cli, "explore", interrupting)
    status = interleave_cli.main(["compat", "--bound", "0"])
    assert status == 130
    assert f"interrupted after 1 of {len(CANONICAL)} scenarios; violations so far: none" in (
        capsys.readouterr().out
    )


# --- check ----------------------------------------------------------------------------


def test_check_counts_are_singular_for_one(capsys: pytest.CaptureFixture[str]) -> None:
    """S1-S10, L1-L4 hold on the smallest world; its description reads "1 session"."""
    status = check_cli.main(["--sessions", "1", "--agents", "1", "--max-generation", "1"])
    assert status == 0
    assert "exploring 1 session, 1 agent, 1 turn per session" in capsys.readouterr().out


def test_check_advisory_mutant_exits_0_and_1_with_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """S10 is advisory: the no-coalescing mutant exits 0, with --strict 1."""
    arguments = ["--mutant", "no-coalescing", "--property", "S10"]
    assert check_cli.main(arguments) == 0
    out = capsys.readouterr().out
    assert "[advisory] S10 violated" in out and "only advisory properties are violated" in out
    assert check_cli.main([*arguments, "--strict"]) == 1


def test_check_sequence_diagram_writes_each_counterexample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """S2: like conform, one counterexample goes to FILE itself."""
    diagram = tmp_path / "seq.mmd"
    arguments = ["--mutant", "success-to-generation", "--property", "S2"]
    assert check_cli.main([*arguments, "--sequence-diagram", str(diagram)]) == 1
    assert "sequenceDiagram" in diagram.read_text()
    assert f"sequence diagram written to {diagram}" in capsys.readouterr().err


def test_check_unwritable_sequence_diagram_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = check_cli.main(["--sequence-diagram", "/nonexistent/dir/s.mmd"])
    assert status == 2
    assert "folder /nonexistent/dir does not exist" in capsys.readouterr().err


def test_check_ctrl_c_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(check_cli, "explore", interrupted)
    assert check_cli.main(["--sessions", "1"]) == 130
    assert "interrupted after" in capsys.readouterr().out


# --- progress -------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_one_live_line_on_a_terminal() -> None:
    """done/total, elapsed and the current step, redrawn in place, erased at the end."""
    stream = _Terminal()
    with Progress("conform", stream=stream, tick=60) as progress:
        progress.update(3, 14, "probe S4")
        assert progress.line().startswith("conform: 3/14 0 s  probe S4")
    text = stream.getvalue()
    assert "\r\x1b[Kconform: 3/14 0 s  probe S4" in text
    assert text.endswith("\r\x1b[K")


def test_progress_writes_nothing_when_not_a_terminal() -> None:
    stream = io.StringIO()
    with Progress("conform", stream=stream) as progress:
        progress.update(1, 2, "stateful")
    assert stream.getvalue() == ""


def test_elapsed_text_reads_as_a_clock() -> None:
    assert [elapsed_text(s) for s in (7.9, 65, 3723)] == ["7 s", "1:05", "1:02:03"]


@pytest.mark.parametrize("schedule", ["garbage", "x@1/0.1", "0.1.z"])
def test_interleave_replay_of_a_malformed_schedule_exits_2_with_one_line(
    schedule: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --replay string that is not a schedule is bad usage: exit 2, one line, no traceback."""
    status = interleave_cli.main(
        ["compat", "--scenario", "two_boundary_commits", "--replay", schedule]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert "bad schedule string" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_progress_sees_a_ctrl_c_that_a_callback_swallowed() -> None:
    """A SIGINT whose KeyboardInterrupt is swallowed (Python ignores exceptions in
    garbage-collector callbacks) is still seen when the long work ends (the command
    then exits 130)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are installed only in the main thread")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with Progress("conform", stream=io.StringIO()) as progress:
            handler = signal.getsignal(signal.SIGINT)
            assert callable(handler)
            with contextlib.suppress(KeyboardInterrupt):  # as a gc callback does
                handler(signal.SIGINT, None)
        assert progress.interrupted
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with Progress("conform", stream=io.StringIO()) as quiet:
            pass
        assert not quiet.interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _conform_probes_of_s2(target: Path) -> list[str]:
    """The command that runs S2's probes on ``target``, as a user runs it."""
    conform = [sys.executable, "-m", "memory_lifecycle", "conform", str(target)]
    return [*conform, "--quick", "--checks", "probes", "--only", "S2"]


def test_conform_exits_although_the_target_leaves_a_thread_running(tmp_path: Path) -> None:
    """A target that starts a non-daemon thread at import does not keep the command from
    exiting: the report is printed, the thread named, the status kept."""
    target = tmp_path / "leaves_a_thread.py"
    target.write_text(
        "import threading\n"
        "threading.Thread(target=threading.Event().wait, name='left running').start()\n"
        "from memory_lifecycle.compat import *\n"
    )
    done = subprocess.run(
        _conform_probes_of_s2(target), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "conforms" in done.stdout
    assert "left running" in done.stderr


def test_conform_json_stays_parseable_when_the_target_prints(tmp_path: Path) -> None:
    """What a target prints goes to stderr, so --json's stdout is one JSON object."""
    target = tmp_path / "prints.py"
    target.write_text("print('hello from the target')\nfrom memory_lifecycle.compat import *\n")
    done = subprocess.run(
        [*_conform_probes_of_s2(target), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["target"] == str(target)
    assert "hello from the target" in done.stderr


def test_output_closed_by_its_reader_ends_the_command_quietly_with_141() -> None:
    """A reader that stops reading (``memory-lifecycle check | head``) ends the command
    with status 141 and no traceback, as the shell's own tools end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "memory_lifecycle", "check", "--mutant", "call-when-clean"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    errors = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
