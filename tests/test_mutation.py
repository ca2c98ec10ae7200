"""benchmarks/mutation.py: the mutants it generates and the hook that loads one.

The measurement itself is a benchmark (it takes hours), not part of the suite.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import mutation  # noqa: E402

SAMPLE = '''
"""A module."""
from enum import Enum


class Outcome(Enum):
    BUSY = 1
    NOTHING_TO_COMMIT = 2


BUSY = Outcome.BUSY
NOTHING_TO_COMMIT = Outcome.NOTHING_TO_COMMIT


class Pair:
    left: int
    right: int

    def total(self, extra):
        """Docstring."""
        assert extra is not None
        if self.left < self.right and not extra:
            return self.left + 1
        elif extra:
            value = BUSY
        else:
            value = Outcome.NOTHING_TO_COMMIT
        return value if extra else True
'''


def test_generator_applies_every_operator_once_per_site() -> None:
    """Each operator yields compilable mutants with unique keys; docstrings,
    asserts and class bodies other than methods are left alone."""
    mutants = mutation.generate(SAMPLE)
    operators = {item.operator for item in mutants}
    assert operators == {
        "compare",
        "and/or",
        "negate",
        "arithmetic",
        "constant",
        "result",
        "drop statement",
        "swap branches",
        "return None",
    }
    assert len({item.key for item in mutants}) == len(mutants)
    for item in mutants:
        compile(item.source, item.key, "exec")
        assert item.source != ast.unparse(ast.parse(SAMPLE))
        assert "Docstring" in item.source and "assert extra is not None" in item.source
        assert "left: int" in item.source and "BUSY = 1" in item.source
    keys = "\n".join(item.key for item in mutants)
    assert "result: BUSY -> NOTHING_TO_COMMIT" in keys
    assert "result: Outcome.NOTHING_TO_COMMIT -> Outcome.BUSY" in keys
    assert "compare: self.left < self.right -> self.left <= self.right" in keys


def test_every_mutant_of_the_model_compiles() -> None:
    """The model file's mutants are all valid Python, each a different program."""
    source = mutation.DEFAULT_FILE.read_text()
    mutants = mutation.generate(source)
    assert len(mutants) > 50
    assert len({item.source for item in mutants}) == len(mutants)
    for item in mutants:
        compile(item.source, item.key, "exec")


def test_hook_loads_the_mutant_in_every_subprocess(tmp_path: Path) -> None:
    """The sitecustomize hook makes the package import the mutant file in place of its
    module, and the shell run from source, so that it calls the mutant."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(mutation.HOOK)
    mutant = tmp_path / "mutant.py"
    mutant.write_text(mutation.DEFAULT_FILE.read_text() + "\nMUTATED = True\n")
    module = mutation.module_name(mutation.DEFAULT_FILE)
    env = dict(
        os.environ,
        PYTHONPATH=str(hook),
        MEMORY_LIFECYCLE_SOURCE_FILES=json.dumps(mutation.source_files(module, mutant)),
    )
    probe = (
        "import sys, memory_lifecycle.compat, memory_lifecycle.lifecycle as shell; "
        "print(sys.modules[sys.argv[1]].MUTATED, shell.__file__.endswith('.py'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, module],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.split() == ["True", "True"], done.stderr


def test_hook_runs_every_compiled_module_from_source() -> None:
    """The hook's files are the source of every module setup.py compiles."""
    files = mutation.source_files("memory_lifecycle.model.rules", Path("/mutant.py"))
    assert "memory_lifecycle.lifecycle" in files and "memory_lifecycle.model.state" in files
    assert files["memory_lifecycle.model.rules"] == "/mutant.py"
    others = [Path(file) for name, file in files.items() if name != "memory_lifecycle.model.rules"]
    assert all(path.is_file() and path.suffix == ".py" for path in others)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("model/rules.py", "memory_lifecycle.model.rules"),
        ("impl/compat.py", "memory_lifecycle.compat"),
        ("specs/conformance/differential.py", "memory_lifecycle.specs.conformance.differential"),
    ],
)
def test_a_package_file_maps_to_the_module_name_it_is_installed_as(path: str, name: str) -> None:
    """A source path maps to the name the package installs it under."""
    assert mutation.module_name(ROOT / path) == name
