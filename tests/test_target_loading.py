"""The one target loader: what it loads, and the one-line TargetError for what it cannot."""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path

import pytest
from memory_lifecycle.specs.conformance import target as loading
from memory_lifecycle.specs.conformance.target import TargetError, load_module, target_factory
from memory_lifecycle.specs.interleave.cli import main as interleave_main

RACY = Path(__file__).parent / "racy"
GOOD = (RACY / "sound.py").read_text()


def _refusal(target: Path) -> str:
    """The TargetError that loading ``target`` raises: one line."""
    with pytest.raises(TargetError) as error:
        target_factory(str(target))
    text = str(error.value)
    assert "\n" not in text
    return text


def test_missing_file_is_a_target_error_naming_it(tmp_path: Path) -> None:
    """A target path that does not exist is refused with its name."""
    assert "missing.py does not exist" in _refusal(tmp_path / "missing.py")


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    """A syntax error reads file:line: message."""
    broken = tmp_path / "broken_syntax.py"
    broken.write_text("x = 1\ndef f(:\n    pass\n")
    assert f"{broken}:2: " in _refusal(broken)


def test_import_error_names_the_exception_and_where(tmp_path: Path) -> None:
    """An import that raises is refused with the exception and the line that raised it."""
    broken = tmp_path / "bad_import.py"
    broken.write_text("import no_such_module_anywhere\n")
    text = _refusal(broken)
    assert "ModuleNotFoundError" in text and f"{broken}:1" in text


def test_import_that_hangs_is_refused_within_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module whose import never finishes is a TargetError, not a hung suite."""
    hangs = tmp_path / "hangs_at_import.py"
    hangs.write_text("import threading\nthreading.Event().wait()\n")
    monkeypatch.setattr(loading, "IMPORT_BOUND", 0.3)
    assert "did not finish within 0.3 s" in _refusal(hangs)


def test_module_missing_the_api_is_refused_with_what_is_missing(tmp_path: Path) -> None:
    """A module without the required functions is refused, naming them."""
    empty = tmp_path / "no_api.py"
    empty.write_text("x = 1\n")
    assert "lacks register_agent, unregister_agent" in _refusal(empty)


@pytest.mark.parametrize("name", ["compat", "native"])
def test_named_targets_load_for_conform_and_interleave(name: str) -> None:
    """compat and native are target names; the factory gives a fresh instance each call."""
    factory = target_factory(name)
    first, second = factory(), factory()
    assert first.api is not second.api
    assert first.supports >= {"commit_session_memory", "drain_all_on_shutdown"}
    assert first.inspect is not None and first.drain_takes_deadline


def test_interleave_command_exits_2_for_an_unloadable_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """interleave --target with a file missing the API exits 2 with the loader's message."""
    empty = tmp_path / "no_api.py"
    empty.write_text("x = 1\n")
    status = interleave_main(["--target", str(empty), "--scenario", "two_boundary_commits"])
    assert status == 2
    assert "lacks register_agent" in capsys.readouterr().err


def test_compiled_module_is_loaded_from_the_source_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module compiled to an extension (mypyc) is checked through its .py source."""
    package = tmp_path / "compiled_package"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "lifecycle_module.py").write_text(GOOD.replace("from .core", "from racy.core"))
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (package / f"lifecycle_module{suffix}").write_bytes(b"not really a shared object")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = load_module("compiled_package.lifecycle_module")
    assert module.__file__ == str(package / "lifecycle_module.py")
    assert callable(module.commit_session_memory)
    assert "compiled_package.lifecycle_module" not in sys.modules


def test_package_file_loads_its_siblings_without_the_package_importable() -> None:
    """A .py file of a package directory imports its siblings relatively, each load fresh."""
    first = load_module(RACY / "sound.py")
    second = load_module(RACY / "sound.py")
    assert first._lifecycle is not second._lifecycle
    assert type(first._lifecycle) is not type(second._lifecycle)
