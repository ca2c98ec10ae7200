"""The pytest plugin: one collected test item per property, verdicts as pytest outcomes."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from _targets import broken_without

BROKEN = Path(__file__).parent / "broken"
PLUGIN = "memory_lifecycle.specs.conformance.pytest_plugin"
CONSOLE_SCRIPT = Path(sys.executable).parent / "memory-lifecycle"


def _installed() -> bool:
    """True when the pytest11 entry point already loads the plugin (then no ``-p``)."""
    return any(item.value == PLUGIN for item in entry_points(group="pytest11"))


def _run_pytest(host: Path, *options: str) -> subprocess.CompletedProcess[str]:
    plugin = [] if _installed() else ["-p", PLUGIN]
    command = [
        sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider",
        "-rfsx", "--rootdir", str(host), *options,
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=host, capture_output=True, text=True, timeout=180, check=False
    )


def _host(folder: Path, broken: str, name: str = "host_lifecycle.py") -> Path:
    shutil.copy(BROKEN / f"{broken}.py", folder / name)
    return folder


def test_L1_fails_exactly_its_item_with_trace_and_replay(tmp_path: Path) -> None:
    """L1: a required violation fails exactly the L1 item, with its trace and replay command."""
    host = _host(tmp_path, "busy_request_dropped")
    done = _run_pytest(host, "-q", "--lifecycle-target=host_lifecycle", "--lifecycle-checks=probes")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 13 passed" in done.stdout
    assert "FAILED lifecycle-conformance::L1 boundary-honoured" in done.stdout
    assert "::lifecycle-conformance" not in done.stdout
    assert "L1 boundary-honoured (required) violated" in done.stdout
    assert "[provider] held call ends with 'ok'" in done.stdout
    assert "replay: memory-lifecycle conform host_lifecycle --only L1" in done.stdout


@pytest.mark.skipif(not CONSOLE_SCRIPT.is_file(), reason="memory-lifecycle script not installed")
def test_printed_replay_command_works_from_where_it_was_printed_L1(tmp_path: Path) -> None:
    """L1: the replay command, run as printed from the same folder, reproduces the violation."""
    host = _host(tmp_path, "busy_request_dropped")
    done = _run_pytest(host, "-q", "--lifecycle-target=host_lifecycle", "--lifecycle-checks=probes")
    line = next(item for item in done.stdout.splitlines() if item.startswith("replay: "))
    command = shlex.split(line.removeprefix("replay: "))
    assert command[0] == "memory-lifecycle"
    replayed = subprocess.run(
        [str(CONSOLE_SCRIPT), *command[1:]],
        cwd=host,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "L1 boundary-honoured" in replayed.stdout and "VIOLATED" in replayed.stdout


def test_advisory_S10_violation_is_xfail_unless_strict(tmp_path: Path) -> None:
    """S10: an advisory violation xfails (exit 0); with --lifecycle-strict it fails."""
    host = _host(tmp_path, "no_coalescing_in_flight")
    options = ("-q", "--lifecycle-target=host_lifecycle", "--lifecycle-checks=probes")
    done = _run_pytest(host, *options)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "13 passed, 1 xfailed" in done.stdout
    assert "XFAIL lifecycle-conformance::S10 coalescing - S10 coalescing (advisory) violated" in (
        done.stdout
    )
    strict = _run_pytest(host, *options, "--lifecycle-strict")
    assert strict.returncode == 1
    assert "1 failed, 13 passed" in strict.stdout
    assert "S10 coalescing (advisory) violated" in strict.stdout


def test_missing_discard_skips_S8_and_L4_naming_property_and_lack(tmp_path: Path) -> None:
    """S8, L4: skipped, the reason at the target naming the property and the missing call."""
    broken_without("busy_request_dropped", tmp_path / "old_api.py", "discard_session")
    done = _run_pytest(tmp_path, "-q", "--lifecycle-target=old_api.py", "--lifecycle-checks=probes")
    assert "1 failed, 11 passed, 2 skipped" in done.stdout, done.stdout
    assert (
        "SKIPPED [1] old_api.py: S8 discard-safe: not applicable: "
        "the target has no discard_session" in done.stdout
    )
    assert "SKIPPED [1] old_api.py: L4 bounded-memory: not applicable" in done.stdout
    assert "pytest_plugin.py" not in done.stdout


def test_collect_only_lists_exactly_fourteen_items_with_real_node_ids(tmp_path: Path) -> None:
    """--co: the 14 property items under the lifecycle-conformance node, counted exactly."""
    host = _host(tmp_path, "busy_request_dropped")
    done = _run_pytest(host, "--co", "-q", "--lifecycle-target=host_lifecycle")
    listed = [line for line in done.stdout.splitlines() if "::" in line]
    assert len(listed) == 14, done.stdout
    assert listed[0] == "lifecycle-conformance::S1 completed-only"
    assert listed[-1] == "lifecycle-conformance::L4 bounded-memory"
    assert "14 tests collected" in done.stdout


def test_k_selects_with_exact_counts_and_checks_only_those(tmp_path: Path) -> None:
    """-k "S3 or L4": 2 selected and 12 deselected of 14 collected; -k advisory picks S9, S10."""
    host = _host(tmp_path, "busy_request_dropped")
    done = _run_pytest(
        host, "-k", "S3 or L4", "--lifecycle-target=host_lifecycle", "--lifecycle-checks=probes"
    )
    assert "collected 14 items / 12 deselected / 2 selected" in done.stdout, done.stdout
    assert "2 passed, 12 deselected" in done.stdout
    advisory = _run_pytest(
        host, "--co", "-q", "-k", "advisory", "--lifecycle-target=host_lifecycle"
    )
    assert "2/14 tests collected (12 deselected)" in advisory.stdout, advisory.stdout
    assert "S9 no-op" in advisory.stdout and "S10 coalescing" in advisory.stdout


def test_shared_checks_run_once_before_the_items_and_report_their_budget(tmp_path: Path) -> None:
    """The interleavings run once, before the items, saying their budget and time."""
    host = _host(tmp_path, "busy_request_dropped")
    done = _run_pytest(
        host, "-k", "S4", "--lifecycle-target=host_lifecycle", "--lifecycle-checks=interleave"
    )
    lines = done.stdout.splitlines()
    begins = next(i for i, line in enumerate(lines) if "lifecycle conformance of" in line)
    ends = next(i for i, line in enumerate(lines) if "shared checks done in" in line)
    first_item = next(
        i for i, line in enumerate(lines) if line.startswith("lifecycle-conformance ")
    )
    assert begins < ends < first_item
    assert (
        "interleave checks (quick budget, up to 120 schedules per scenario, "
        "400 with Ctrl-C injected)" in lines[begins]
    )
    assert "1 passed, 13 deselected" in done.stdout


def test_an_unloadable_target_is_a_collection_error_with_its_reason(tmp_path: Path) -> None:
    """A target that does not exist: a collection error naming it, no traceback, exit 2."""
    done = _run_pytest(tmp_path, "-q", "--lifecycle-target=missing_module.py")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot check --lifecycle-target=missing_module.py" in done.stdout
    assert "does not exist" in done.stdout
    assert "Traceback" not in done.stdout


def test_without_the_option_the_plugin_adds_nothing(tmp_path: Path) -> None:
    """No --lifecycle-target, no conformance items (the host's own run is untouched)."""
    (tmp_path / "test_host.py").write_text("def test_host() -> None:\n    assert 1 + 1 == 2\n")
    done = _run_pytest(tmp_path, "-q")
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout
    assert "lifecycle" not in done.stdout
