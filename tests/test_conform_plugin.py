"""The pytest plugin: one test item per property, counterexample in the failure."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

BROKEN = Path(__file__).parent / "broken"
PLUGIN = "memory_lifecycle.specs.conformance.pytest_plugin"


def _installed() -> bool:
    """True when the pytest11 entry point already loads the plugin (then no ``-p``)."""
    return any(item.value == PLUGIN for item in entry_points(group="pytest11"))


def _run_pytest(host: Path, *options: str) -> subprocess.CompletedProcess[str]:
    plugin = [] if _installed() else ["-p", PLUGIN]
    command = [
        sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider",
        "-q", "-rfs", "--rootdir", str(host), *options,
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=host, capture_output=True, text=True, timeout=180, check=False
    )


def test_each_property_is_an_item_and_s10_fails_with_its_trace(tmp_path: Path) -> None:
    """S10: a host's module breaking coalescing fails exactly the S10 item, with the trace."""
    shutil.copy(BROKEN / "no_coalescing_in_flight.py", tmp_path / "host_lifecycle.py")
    done = _run_pytest(tmp_path, "--lifecycle-target=host_lifecycle", "--lifecycle-checks=probes")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 13 passed" in done.stdout
    assert "FAILED ::lifecycle-conformance::S10 coalescing" in done.stdout
    assert "[provider] call of 'p1' on p1.a held in flight" in done.stdout
    assert "replay: memory-lifecycle conform host_lifecycle --only S10" in done.stdout


def test_missing_discard_skips_s8_and_l4(tmp_path: Path) -> None:
    """S8, L4: properties needing discard_session are skipped for a target without it."""
    source = (BROKEN / "busy_request_dropped.py").read_text()
    (tmp_path / "old_api.py").write_text(source.replace("def discard_session(", "def _gone("))
    done = _run_pytest(tmp_path, "--lifecycle-target=old_api.py", "--lifecycle-checks=probes")
    assert "target has no discard_session" in done.stdout
    assert "1 failed, 11 passed, 2 skipped" in done.stdout, done.stdout


def test_without_the_option_the_plugin_adds_nothing(tmp_path: Path) -> None:
    """S1: no --lifecycle-target, no conformance items (the host's own run is untouched)."""
    (tmp_path / "test_host.py").write_text("def test_host() -> None:\n    assert 1 + 1 == 2\n")
    done = _run_pytest(tmp_path)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout
