"""The install: no runtime dependency, and the compiled and the pure form behave alike.

The suite runs on both forms (.ci/run): once on the default install, compiled by
mypyc, and once on an install made with MEMORY_LIFECYCLE_PURE=1.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import memory_lifecycle
import memory_lifecycle.compat
import pytest
from memory_lifecycle import lifecycle

VERIFICATION_TOOLS = ("hypothesis", "transitions", "graphviz", "pytest", "_pytest")
"""Top-level modules of the ``verify`` extra; the runtime must import none of them."""


def _compiled_by_setup() -> tuple[str, ...]:
    """setup.py's ``COMPILED``: the modules it compiles (read, since running it builds)."""
    tree = ast.parse((Path(__file__).resolve().parent.parent / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "COMPILED":
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("setup.py defines no COMPILED list")


COMPILED_MODULES = _compiled_by_setup()


def _module_file(name: str) -> Path:
    module = sys.modules[name]
    assert module.__file__ is not None
    return Path(module.__file__)


def _is_extension(path: Path) -> bool:
    return path.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_runtime_imports_need_no_verification_tool() -> None:
    """Importing memory_lifecycle and memory_lifecycle.compat loads only the standard library."""
    names = ", ".join(repr(name) for name in VERIFICATION_TOOLS)
    code = (
        "import sys\n"
        "import memory_lifecycle, memory_lifecycle.compat\n"
        f"print(sorted({{name.split('.')[0] for name in sys.modules}} & {{{names}}}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_distribution_requires_nothing_without_an_extra() -> None:
    """Every requirement of the installed distribution belongs to an extra (verify, dev)."""
    requirements = importlib.metadata.requires("memory-lifecycle") or []
    unconditional = [text for text in requirements if "extra ==" not in text]
    assert unconditional == []
    assert any('extra == "verify"' in text for text in requirements)


def test_compiled_flag_tells_which_form_is_installed() -> None:
    """``memory_lifecycle.COMPILED`` is True exactly when every compiled module is an extension."""
    forms = {name: _is_extension(_module_file(name)) for name in COMPILED_MODULES}
    assert set(forms.values()) == {memory_lifecycle.COMPILED}, forms


def test_compiled_modules_are_not_older_than_their_source() -> None:
    """A compiled module was built from its current source (else reinstall: pip install -e .)."""
    if not memory_lifecycle.COMPILED:
        pytest.skip("pure Python install: the source is what runs")
    stale = []
    for name in COMPILED_MODULES:
        compiled = _module_file(name)
        source = compiled.with_name(compiled.name.split(".")[0] + ".py")
        if source.stat().st_mtime > compiled.stat().st_mtime:
            stale.append(str(source.resolve()))
    assert not stale, (
        f"{', '.join(stale)} changed after the compiled modules were built, so the tests "
        f"would run the old code: run `.venv/bin/pip install -e .` again (or install with "
        f"MEMORY_LIFECYCLE_PURE=1 to run the source directly)"
    )


def test_clock_patched_on_the_time_module_reaches_the_shell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shell reads ``time.monotonic`` at call time, compiled or pure, so hosts can patch it."""
    readings: list[float] = []

    def counting_clock() -> float:
        readings.append(0.0)
        return 0.0

    monkeypatch.setattr(lifecycle.time, "monotonic", counting_clock)
    memory_lifecycle.SessionLifecycle().drain(deadline=0.0)
    assert readings
