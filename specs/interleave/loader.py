"""Load a target module with the stand-in ``threading`` and ``time``, unedited.

``load_target(path_or_module_name, scheduler)`` executes the module's source
in a fresh module object whose builtins carry an ``__import__`` that answers
``threading`` and ``time`` with the scheduler's stand-ins. Locks a module
makes at import time are therefore stand-ins, and so are the ones it makes
later, since its globals name the stand-in modules.

A module of a package (``memory_lifecycle.compat``) imports siblings
(``.lifecycle``); those siblings are loaded fresh the same way, so the
instance ``compat`` builds at import uses stand-in locks too. Siblings whose
source never mentions ``threading`` or ``time`` (the pure model) are shared
with the normal import system, as is every module outside the target's
top-level package. Nothing is added to ``sys.modules`` permanently; while a
module body runs, its fresh copy is visible there under its own name so that
``dataclasses`` and ``typing`` can resolve it. ``pinned_sources()`` keeps every file's code fixed
for the duration of an exploration.
"""

from __future__ import annotations

import builtins
import importlib.machinery
import importlib.util
import re
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .primitives import stand_in_modules
from .scheduler import Scheduler

SUBSTITUTED = ("threading", "time")
"""The module names the loader answers with stand-ins."""

_IMPORTS_CLOCK_OR_THREADS = re.compile(r"^\s*(?:import|from)\s+(?:threading|time)\b", re.MULTILINE)
_CODE_CACHE: dict[tuple[str, float], types.CodeType] = {}
_SIBLING_CACHE: dict[str, Path | None] = {}
"""Module name -> its source when it imports threading or time, else None."""


def _thread_using_source(absolute: str, package_dirs: Mapping[str, Path]) -> Path | None:
    """The source of module ``absolute`` if it is a plain module importing threading/time."""
    package, _, leaf = absolute.rpartition(".")
    if package in package_dirs:
        candidate = package_dirs[package] / f"{leaf}.py"
        if candidate.is_file() and _IMPORTS_CLOCK_OR_THREADS.search(
            candidate.read_text(encoding="utf-8")
        ):
            return candidate
        return None
    if absolute in _SIBLING_CACHE:
        return _SIBLING_CACHE[absolute]
    found: Path | None = None
    try:
        spec = importlib.util.find_spec(absolute)
    except (ImportError, ValueError):
        spec = None
    source = None if spec is None or spec.origin is None else python_source(spec.origin)
    if (
        source is not None
        and spec is not None
        and spec.submodule_search_locations is None
        and _IMPORTS_CLOCK_OR_THREADS.search(source.read_text(encoding="utf-8"))
    ):
        found = source
    _SIBLING_CACHE[absolute] = found
    return found


def python_source(origin: str) -> Path | None:
    """The ``.py`` file of a module found at ``origin``: itself, or the source beside
    a compiled (mypyc) extension module; None when there is no source."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if origin.endswith(suffix):
            source = Path(origin[: -len(suffix)] + ".py")
            return source if source.is_file() else None
    return Path(origin) if origin.endswith(".py") else None


class TargetLoadError(ImportError):
    """The target could not be found or loaded."""


_PINNED: list[dict[str, types.CodeType]] = []
"""While ``pinned_sources`` is active: the code first compiled for each path."""


@contextmanager
def pinned_sources() -> Iterator[None]:
    """Load every target file as it was when first loaded inside this block.

    An exploration replays prefixes many times; a source file edited meanwhile
    would make the runs disagree (a diverged replay). Inside this block each
    path is compiled once and that code is reused.
    """
    _PINNED.append({})
    try:
        yield
    finally:
        _PINNED.pop()


def _compile(path: Path) -> types.CodeType:
    pinned = _PINNED[-1] if _PINNED else None
    if pinned is not None and str(path) in pinned:
        return pinned[str(path)]
    key = (str(path), path.stat().st_mtime)
    code = _CODE_CACHE.get(key)
    if code is None:
        code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
        _CODE_CACHE[key] = code
    if pinned is not None:
        pinned[str(path)] = code
    return code


def _locate(target: str) -> tuple[str, Path, bool, dict[str, Path]]:
    """(module name, source path, is_package, package dirs) for a dotted name or a file path.

    A file in a directory with an ``__init__.py`` is loaded as a module of that
    package (so its relative imports work) without importing the package.
    """
    looks_like_path = target.endswith(".py") or "/" in target or "\\" in target
    if looks_like_path:
        path = Path(target).resolve()
        if not path.is_file():
            raise TargetLoadError(f"no such target file: {target}")
        if path.name == "__init__.py":
            return path.parent.name, path, True, {path.parent.name: path.parent}
        if (path.parent / "__init__.py").is_file():
            package = path.parent.name
            return f"{package}.{path.stem}", path, False, {package: path.parent}
        return path.stem, path, False, {}
    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError) as error:
        raise TargetLoadError(f"cannot find target module {target!r}: {error}") from error
    source = None if spec is None or spec.origin is None else python_source(spec.origin)
    if spec is None or source is None:
        raise TargetLoadError(
            f"cannot find the Python source of target module {target!r}: give a dotted name "
            f"importable from sys.path or a path to a .py file"
        )
    return target, source, spec.submodule_search_locations is not None, {}


class _IsolatedLoader:
    """Loads a target and its thread-using siblings with the stand-ins."""

    def __init__(
        self,
        stand_ins: Mapping[str, types.ModuleType],
        top_package: str | None,
        package_dirs: Mapping[str, Path],
    ) -> None:
        self.stand_ins = stand_ins
        self.top_package = top_package
        self.package_dirs = package_dirs
        self.loaded: dict[str, types.ModuleType] = {}
        self.builtins = dict(vars(builtins))
        self.builtins["__import__"] = self._import

    def load(self, name: str, path: Path, is_package: bool) -> types.ModuleType:
        if name in self.loaded:
            return self.loaded[name]
        module = types.ModuleType(name)
        module.__file__ = str(path)
        if is_package:
            module.__path__ = [str(path.parent)]
            module.__package__ = name
        else:
            module.__package__ = name.rpartition(".")[0]
        module.__dict__["__builtins__"] = self.builtins
        self.loaded[name] = module
        previous = sys.modules.get(name)
        sys.modules[name] = module
        try:
            exec(_compile(path), module.__dict__)
        finally:
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
        return module

    def _isolate(self, absolute: str) -> types.ModuleType | None:
        """A fresh copy of ``absolute`` when it is a thread-using sibling, else None."""
        if self.top_package is None:
            return None
        if absolute != self.top_package and not absolute.startswith(self.top_package + "."):
            return None
        if absolute in self.loaded:
            return self.loaded[absolute]
        path = _thread_using_source(absolute, self.package_dirs)
        if path is None:
            return None  # pure modules and packages stay shared with the import system
        return self.load(absolute, path, False)

    def _import(
        self,
        name: str,
        globals: Mapping[str, Any] | None = None,
        locals: Mapping[str, Any] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> types.ModuleType:
        if level == 0 and name in self.stand_ins:
            return self.stand_ins[name]
        if level == 0 and name.partition(".")[0] in SUBSTITUTED:
            return builtins.__import__(name, globals, locals, fromlist, level)
        package = (globals or {}).get("__package__") or ""
        absolute = importlib.util.resolve_name("." * level + name, package) if level else name
        isolated = self._isolate(absolute)
        if isolated is not None and (fromlist or level):
            return isolated
        real = builtins.__import__(name, globals, locals, fromlist, level)
        if fromlist:
            overrides = {
                item: module
                for item in fromlist
                if (module := self._isolate(f"{absolute}.{item}")) is not None
            }
            if overrides:
                return _view(real, overrides)
            return real
        if isolated is not None and "." in absolute:
            # ``import pkg.mod``: hand back a view of ``pkg`` whose ``mod`` is the copy.
            tail = absolute.partition(".")[2]
            if "." not in tail:
                return _view(real, {tail: isolated})
        return real


def _view(module: types.ModuleType, overrides: Mapping[str, types.ModuleType]) -> types.ModuleType:
    """A shallow copy of ``module`` with some attributes replaced."""
    view = types.ModuleType(module.__name__)
    view.__dict__.update(vars(module))
    view.__dict__.update(overrides)
    return view


def load_target(
    path_or_module_name: str | Path,
    scheduler: Scheduler,
    *,
    extra_stand_ins: Mapping[str, types.ModuleType] | None = None,
) -> types.ModuleType:
    """Load a fresh copy of a module whose ``threading``/``time`` are ``scheduler``'s stand-ins.

    ``path_or_module_name`` is a dotted module name importable from
    ``sys.path`` or a path to a ``.py`` file; the module's source is not
    edited. Each call returns a new module with new state.
    """
    name, path, is_package, package_dirs = _locate(str(path_or_module_name))
    stand_ins = dict(stand_in_modules(scheduler))
    stand_ins.update(extra_stand_ins or {})
    top_package = name.partition(".")[0] if "." in name or is_package else None
    loader = _IsolatedLoader(stand_ins, top_package, package_dirs)
    return loader.load(name, path, is_package)
