"""The benchmark scripts run from a clone and print their tables.

These check that the scripts work, not how fast anything is: the figures come
from running the scripts themselves (see README, Performance).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
NO_REFERENCE = ["--reference", "/nonexistent/hermes_webui_session_lifecycle.py"]


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_bench_ops_prints_per_operation_table_without_the_original() -> None:
    """bench_ops skips the original when absent and still prints its table."""
    out = run("bench_ops.py", "--quick", "--rounds", "1", "--batch", "20", *NO_REFERENCE)
    assert "| register" in out and "commit" in out


def test_bench_memory_shows_nothing_retained_after_retirement_L4() -> None:
    """L4: bench_memory's table reports no entry and no agent left for the drop-in."""
    out = run("bench_memory.py", "--quick", *NO_REFERENCE)
    assert "| compat" in out


@pytest.mark.thorough
def test_bench_drain_runs_L2() -> None:
    """L2: bench_drain's quick run completes and prints the drain table."""
    out = run("bench_drain.py", "--quick", *NO_REFERENCE)
    assert "committed" in out


@pytest.mark.thorough
def test_stress_finds_no_lost_generation_S2_L3() -> None:
    """S2, L3: a short stress run on the drop-in ends with nothing lost and no hang."""
    run("stress.py", "--seconds", "2", "--threads", "8", "--sessions", "16")
