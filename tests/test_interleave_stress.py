"""The real-thread stress benchmark passes on the shell and fails on a wedging variant."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

STRESS = Path(__file__).resolve().parents[1] / "benchmarks" / "stress.py"


def _stress() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stress_benchmark", STRESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module by name
    spec.loader.exec_module(module)
    return module


SHORT = ["--threads", "6", "--sessions", "8", "--seconds", "0.4", "--max-ops", "4000"]


@pytest.mark.parametrize("target", ["compat", "native"])
def test_stress_on_the_shell_loses_nothing_S5_L3(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """S3 S5 L2 L3: no overlapping calls, no wedge, nothing left dirty, no hung thread."""
    status = _stress().main([*SHORT, "--target", target])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "ok: no overlap, no wedge, no lock left held, no generation lost" in printed


def test_stress_fails_on_the_base_exception_wedge_S3(capsys: pytest.CaptureFixture[str]) -> None:
    """S3: a variant that skips cleanup on BaseException leaves work dirty; exit status 1."""
    arguments = [*SHORT, "--base-rate", "0.3", "--drain-deadline", "0.5"]
    status = _stress().main([*arguments, "--target", "racy.base_exception_wedge"])
    printed = capsys.readouterr().out
    assert status == 1
    assert "FAILED generations lost" in printed


SIGINT = [*SHORT, "--seconds", "1.5", "--sigint-ms", "1", "--drain-deadline", "0.5"]


def test_stress_with_sigint_finds_nothing_in_the_sound_variant_S3_L3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """S3 L3: SIGINT every millisecond in the main thread leaves no wedge and no held lock."""
    status = _stress().main([*SIGINT, "--target", "racy.sound"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "interrupted" in printed and "no wedge, no lock left held" in printed


def test_stress_with_sigint_finds_the_ctrl_c_wedge_S3(capsys: pytest.CaptureFixture[str]) -> None:
    """S3: a variant whose provider call starts outside its try is wedged by a real SIGINT."""
    status = _stress().main([*SIGINT, "--target", "racy.interrupt_wedges_session"])
    printed = capsys.readouterr().out
    assert status == 1
    assert "FAILED S3 wedged" in printed
