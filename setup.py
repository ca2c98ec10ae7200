"""Build memory-lifecycle: the model and the shell compiled with mypyc, or pure Python.

The metadata lives in pyproject.toml; this file only decides the extension modules.
A build (``pip install .``, ``pip install -e .``, ``python -m build``) compiles the
modules in ``COMPILED`` from their unchanged, typed source with mypyc, as black and
mypy ship themselves. The compiled and the pure form behave the same; the compiled
one is faster. The build falls back to pure Python, and says so once on stderr
(``pip install -v`` shows it), when mypy cannot be imported, mypyc cannot compile the
source, or the C compiler fails.
``MEMORY_LIFECYCLE_PURE=1`` skips compilation altogether.

mypy names a module after the folders it sits in, and the repository's folders
(model/, impl/) are mapped onto ``memory_lifecycle`` only by setuptools, so the
sources to compile are first copied into ``build/mypyc/src`` in their installed
layout. Every product of the build stays in build/ (git-ignored): the generated C,
the objects, and for an editable install its link tree with the extension modules.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
PURE_VARIABLE = "MEMORY_LIFECYCLE_PURE"
PACKAGE_DIRS = {
    "memory_lifecycle": "impl",
    "memory_lifecycle.model": "model",
    "memory_lifecycle.specs": "specs",
}
"""Import package -> repository folder; the same mapping as pyproject.toml's package-dir."""

COMPILED = [
    "memory_lifecycle.model.record",
    "memory_lifecycle.model.state",
    "memory_lifecycle.model.events",
    "memory_lifecycle.model.effects",
    "memory_lifecycle.model.rules",
    "memory_lifecycle.checks",
    "memory_lifecycle.lifecycle",
]
"""The modules compiled with mypyc: the pure model, the API checks and the threaded shell."""

TYPE_CONTEXT = ["memory_lifecycle", "memory_lifecycle.model"]
"""Packages whose ``__init__`` mypy reads to type the compiled modules (not compiled)."""

GROUP = "memory_lifecycle"
"""The mypyc group: its shared library, the top-level module ``memory_lifecycle__mypyc``,
holds the code of every compiled module (each of which is a small stub importing it).
It must be top-level: mypyc derives each module's ``__file__`` from its location."""

BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install"}
"""Commands that build extension modules; metadata-only runs skip the mypyc step."""

STAGE = ROOT / "build" / "mypyc"


def say(message: str) -> None:
    """One line on stderr, where build front ends show the backend's output."""
    print(f"memory-lifecycle: {message}", file=sys.stderr, flush=True)


def source_of(module: str) -> Path:
    """The repository file of ``module`` (a module, or a package's ``__init__``)."""
    for package, folder in sorted(PACKAGE_DIRS.items(), key=lambda item: -len(item[0])):
        if module == package:
            return ROOT / folder / "__init__.py"
        if module.startswith(package + "."):
            rest = module[len(package) + 1 :].split(".")
            return ROOT.joinpath(folder, *rest[:-1], rest[-1] + ".py")
    raise ValueError(f"{module} is not in any of {sorted(PACKAGE_DIRS)}")


def staged_path(module: str) -> Path:
    """Where ``module`` goes in the installed layout under ``build/mypyc/src``."""
    parts = module.split(".")
    if source_of(module).name == "__init__.py":
        return STAGE.joinpath("src", *parts, "__init__.py")
    return STAGE.joinpath("src", *parts[:-1], parts[-1] + ".py")


def remove_stale_build_output() -> None:
    """Empty setuptools' staging folders: a pure build must not ship an earlier compiled module.

    The link trees of editable installs (``build/__editable__.*``) stay.
    """
    for pattern in ("lib*", "temp*", "bdist*"):
        for folder in (ROOT / "build").glob(pattern):
            shutil.rmtree(folder, ignore_errors=True)


def mypyc_extensions() -> list[Extension]:
    """The compiled modules as setuptools extensions; empty when they cannot be made."""
    if os.environ.get(PURE_VARIABLE, "") not in ("", "0"):
        say(f"{PURE_VARIABLE} is set: installing pure Python")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as error:
        say(f"mypyc is not importable ({error}): installing pure Python")
        return []
    shutil.rmtree(STAGE / "src", ignore_errors=True)
    for module in [*COMPILED, *TYPE_CONTEXT]:
        target = staged_path(module)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source_of(module), target)
    paths = [str(staged_path(module).relative_to(ROOT)) for module in COMPILED]
    context = [str(staged_path(module).relative_to(ROOT)) for module in TYPE_CONTEXT]
    try:
        return mypycify(
            ["--config-file", "pyproject.toml", *context, *paths],
            only_compile_paths=paths,
            target_dir=str((STAGE / "c").relative_to(ROOT)),
            group_name=GROUP,
        )
    except (Exception, SystemExit) as error:  # mypyc exits after printing type errors
        say(f"mypyc could not compile the source ({error!r}): installing pure Python")
        return []


class BuildExtOrFallBack(build_ext):
    """Build the compiled modules; if the C compiler fails, install pure Python instead."""

    def run(self) -> None:
        # Never beside the sources: an editable install copies the extension modules
        # from build/ into its link tree, so a pure install of the same checkout (in
        # another environment) is never shadowed by them.
        self.inplace = False
        try:
            super().run()
        except Exception as error:  # no compiler, no Python headers, a compiler error
            say(f"compiling with mypyc failed ({error}): installing pure Python")
            for extension in self.extensions:  # none of a half-built set may ship
                Path(self.get_ext_fullpath(extension.name)).unlink(missing_ok=True)
            self.extensions = []
            self.distribution.ext_modules = []


def extensions() -> list[Extension]:
    """The extension modules of this build run."""
    if BUILD_COMMANDS.isdisjoint(sys.argv[1:]):
        return []
    remove_stale_build_output()
    return mypyc_extensions()


os.chdir(ROOT)
setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExtOrFallBack},
    # A link tree (build/__editable__.*) instead of an import hook, so that mypy
    # finds the package of an editable install in its installed layout.
    options={"editable_wheel": {"mode": "strict"}},
)
