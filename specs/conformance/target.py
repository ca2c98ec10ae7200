"""The one target loader: load an implementation under test afresh, and call it safely.

The adapter contract
====================

A *target* is a module (an importable dotted path, a ``.py`` file, or one of
the names ``compat`` and ``native``) offering the hermes-webui lifecycle API
(``memory_lifecycle.hermes_api``: the ``REQUIRED`` functions, and any of the
``OPTIONAL`` ones) as module-level functions. Also used when present: an
``ephemeral`` keyword on ``mark_turn_completed`` (the ephemeral part of S1),
``_sessions`` (a mapping of live entries: L4 checks entries are gone, and the
explorer reads generation, committed and the in-flight mark from it) and
``_background_commit_threads``. Agents are opaque objects; the lifecycle must
call ``agent.commit_memory_session()`` to commit. A property whose calls a
target lacks is reported ``not_applicable``.

An implementation with another API is checked through a small adapter: a
module defining ``conformance_adapter()``, which returns a *new* object with
the functions above each time it is called (once per check, so no state leaks
between checks). ``native`` is ``memory_lifecycle.specs.conformance.native_adapter``,
the adapter over ``SessionLifecycle``.

Loading
=======

``load_module(target, stand_ins=...)`` executes the target's *source* in a new
module object each time (an installed module compiled to a native extension
is loaded from the ``.py`` beside it). Siblings of the target's own package
that it imports are loaded fresh with it when they must be: when the target
is a file of a package directory (so ``from .core import x`` works without the
package being importable), and, with ``stand_ins``, every sibling that uses
``threading`` or ``time``. With ``stand_ins`` (the interleaving explorer's
``threading`` and ``time``), every import of those names in the loaded code
gets the stand-in, without editing the source; the pure model and everything
outside the target's package stay shared with the import system.

``target_factory(target)`` checks the target once, with a bound, and returns a
``TargetFactory``: called with no argument it loads a fresh ``Target`` for one
check; the explorer calls it with its stand-ins for every run. Anything that
keeps a target from being checked raises ``TargetError`` with one line saying
what and where: no such file or module, a syntax error (``file:line:
message``), an import that raised or did not finish within ``IMPORT_BOUND``
seconds, or the required functions missing.

Every target call the suite makes on real threads runs on a daemon thread
joined with a bound (``BoundedCall``), so a target that hangs is reported
(L2/L3) instead of hanging the suite.
"""

from __future__ import annotations

import builtins
import importlib.util
import inspect
import re
import sys
import threading
import traceback
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from memory_lifecycle.hermes_api import OPTIONAL, REQUIRED

NAMED_TARGETS: dict[str, str] = {
    "compat": "memory_lifecycle.compat",
    "native": "memory_lifecycle.specs.conformance.native_adapter",
}
"""Short target names and the module each stands for."""

IMPORT_BOUND = 10.0
"""Seconds the first import of a target may take before it counts as hung."""

SUBSTITUTED = ("threading", "time")
"""The module names ``stand_ins`` may replace."""

_IMPORTS_CLOCK_OR_THREADS = re.compile(r"^\s*(?:import|from)\s+(?:threading|time)\b", re.MULTILINE)


class TargetError(Exception):
    """The target cannot be loaded or lacks a required function."""


# --- finding the source ------------------------------------------------------------------


def _source_file(origin: str) -> Path | None:
    """The ``.py`` source of a module found at ``origin`` (a ``.py``, or a compiled extension)."""
    path = Path(origin)
    if path.suffix == ".py":
        return path
    source = path.with_name(path.name.partition(".")[0] + ".py")
    return source if source.is_file() else None


class _Located(NamedTuple):
    name: str
    path: Path
    is_package: bool
    package_dirs: dict[str, Path]
    """Packages given as directories (not importable by name): name -> directory."""


def _locate(target: str) -> _Located:
    """Where the source of ``target`` (a named target, dotted module or ``.py`` path) is."""
    target = NAMED_TARGETS.get(target, target)
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target).resolve()
        if not path.is_file():
            raise TargetError(f"target file {target} does not exist")
        if path.name == "__init__.py":
            return _Located(path.parent.name, path, True, {path.parent.name: path.parent})
        if (path.parent / "__init__.py").is_file():
            package = path.parent.name
            return _Located(f"{package}.{path.stem}", path, False, {package: path.parent})
        return _Located(path.stem, path, False, {})
    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError) as error:
        raise TargetError(f"cannot find target module {target!r}: {error}") from None
    if spec is None or spec.origin is None:
        raise TargetError(
            f"no module named {target!r}: give a dotted module path importable from sys.path, "
            f"a .py file, compat or native"
        )
    source = _source_file(spec.origin)
    if source is None:
        raise TargetError(
            f"target {target!r} has no Python source beside {spec.origin}: the checks run "
            f"the source, so install it with its .py files"
        )
    return _Located(target, source, spec.submodule_search_locations is not None, {})


# --- compiling, once per file ------------------------------------------------------------

_CODE_CACHE: dict[tuple[str, float], types.CodeType] = {}
_PINNED: list[dict[str, types.CodeType]] = []
"""While ``pinned_sources`` is active: the code first compiled for each path."""
_SIBLINGS: dict[str, Path | None] = {}
"""Importable module name -> its source when it uses threading or time, else None."""


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


def _uses_clock_or_threads(path: Path) -> bool:
    return bool(_IMPORTS_CLOCK_OR_THREADS.search(path.read_text(encoding="utf-8")))


def _importable_sibling(absolute: str) -> Path | None:
    """The source of plain module ``absolute`` when it imports threading or time."""
    if absolute in _SIBLINGS:
        return _SIBLINGS[absolute]
    found: Path | None = None
    try:
        spec = importlib.util.find_spec(absolute)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin is not None and spec.submodule_search_locations is None:
        source = _source_file(spec.origin)
        if source is not None and _uses_clock_or_threads(source):
            found = source
    _SIBLINGS[absolute] = found
    return found


# --- executing --------------------------------------------------------------------------


class _Loader:
    """Executes a target and the siblings it must share a fresh load with."""

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
        # visible under its name while its body runs, for dataclasses and typing
        sys.modules[name] = module
        try:
            exec(_compile(path), module.__dict__)
        finally:
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
        return module

    def _fresh(self, absolute: str) -> types.ModuleType | None:
        """A fresh copy of sibling ``absolute`` when it must be loaded with the target."""
        if self.top_package is None:
            return None
        if absolute != self.top_package and not absolute.startswith(self.top_package + "."):
            return None
        if absolute in self.loaded:
            return self.loaded[absolute]
        package, _, leaf = absolute.rpartition(".")
        if absolute in self.package_dirs:
            return self.load(absolute, self.package_dirs[absolute] / "__init__.py", True)
        if package in self.package_dirs:
            candidate = self.package_dirs[package] / f"{leaf}.py"
            return self.load(absolute, candidate, False) if candidate.is_file() else None
        if not self.stand_ins:
            return None
        source = _importable_sibling(absolute)
        return None if source is None else self.load(absolute, source, False)

    def _with_fresh_children(
        self, module: types.ModuleType, absolute: str, fromlist: Sequence[str] | None
    ) -> types.ModuleType:
        """``module``, or a view of it whose imported submodules are the fresh copies."""
        overrides = {
            item: child
            for item in fromlist or ()
            if (child := self._fresh(f"{absolute}.{item}")) is not None
        }
        return _view(module, overrides) if overrides else module

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
        fresh = self._fresh(absolute)
        if fresh is not None and (fromlist or level):
            return self._with_fresh_children(fresh, absolute, fromlist)
        real = builtins.__import__(name, globals, locals, fromlist, level)
        if fromlist:
            return self._with_fresh_children(real, absolute, fromlist)
        if fresh is not None and "." in absolute:
            # ``import pkg.mod``: hand back a view of ``pkg`` whose ``mod`` is the copy.
            tail = absolute.partition(".")[2]
            if "." not in tail:
                return _view(real, {tail: fresh})
        return real


def _view(module: types.ModuleType, overrides: Mapping[str, types.ModuleType]) -> types.ModuleType:
    """A shallow copy of ``module`` with some attributes replaced."""
    view = types.ModuleType(module.__name__)
    view.__dict__.update(vars(module))
    view.__dict__.update(overrides)
    return view


def _failure(target: str, error: BaseException, files: Sequence[str]) -> TargetError:
    """One line saying why importing ``target`` failed, and where (in the target's files)."""
    if isinstance(error, SyntaxError):
        where = f"{error.filename}:{error.lineno}" if error.filename else target
        return TargetError(f"cannot load target {target}: {where}: syntax error: {error.msg}")
    place = ""
    frames = [
        frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename in files
    ]
    if frames:
        last = frames[-1]
        place = f" at {last.filename}:{last.lineno}"
    return TargetError(
        f"importing target {target} failed{place}: {type(error).__name__}: {error}".rstrip(": ")
    )


def load_module(
    target: str | Path,
    *,
    stand_ins: Mapping[str, types.ModuleType] | None = None,
    bound: float | None = None,
    sources: set[str] | None = None,
) -> types.ModuleType:
    """A new module object for ``target``, its source executed afresh.

    ``stand_ins`` replace ``threading``/``time`` for the loaded code. With a
    ``bound`` the import runs on a helper thread and must finish within it.
    ``sources`` receives the paths of every file executed for it.
    """
    text = str(target)
    located = _locate(text)
    top_package = located.name.partition(".")[0] if "." in located.name else None
    if located.is_package:
        top_package = located.name
    loader = _Loader(dict(stand_ins or {}), top_package, located.package_dirs)

    def load() -> types.ModuleType:
        try:
            return loader.load(located.name, located.path, located.is_package)
        finally:
            if sources is not None:
                sources.update(str(module.__file__) for module in loader.loaded.values())

    if bound is None:
        try:
            return load()
        except Exception as error:
            raise _failure(text, error, _files(loader)) from error
    box: list[types.ModuleType | BaseException] = []

    def run() -> None:
        try:
            box.append(load())
        except BaseException as error:
            box.append(error)

    worker = threading.Thread(target=run, name=f"import {text}", daemon=True)
    worker.start()
    worker.join(bound)
    if not box:
        raise TargetError(
            f"importing target {text} did not finish within {bound:g} s: its module code "
            f"blocks or loops at import time"
        )
    outcome = box[0]
    if isinstance(outcome, BaseException):
        raise _failure(text, outcome, _files(loader)) from outcome
    return outcome


def _files(loader: _Loader) -> list[str]:
    return [str(module.__file__) for module in loader.loaded.values()]


# --- what a target offers -----------------------------------------------------------------


class SessionView(NamedTuple):
    """What the explorer's per-step checks read from a target's state for one session."""

    generation: int
    committed: int
    in_flight: bool
    committable: bool
    """True when the dirty work has an agent that can commit it (an owner, or a registered one)."""


Inspector = Callable[[Any], SessionView | None]


def view_of(entry: Any) -> SessionView | None:
    """A ``SessionView`` of a model ``Session`` or of a hermes-webui entry dict."""
    if entry is None:
        return None
    if isinstance(entry, Mapping):
        segments = [
            segment
            for segment in entry.get("segments", ())
            if segment["end"] > entry["committed_generation"]
        ]
        owner = segments[0].get("agent") if segments else None
        return SessionView(
            int(entry["generation"]),
            int(entry["committed_generation"]),
            bool(entry["in_flight"]),
            owner is not None or entry.get("agent") is not None,
        )
    owner = entry.segments[0].owner if entry.segments else None
    return SessionView(
        int(entry.generation),
        int(entry.committed),
        entry.in_flight is not None,
        owner is not None or entry.registered is not None,
    )


_ENTRY_KEYS = frozenset({"generation", "committed_generation", "in_flight"})
"""The keys of a hermes-webui ``_sessions`` entry the inspector reads."""


def find_inspector(api: Any) -> Inspector | None:
    """An inspector for a target, when its state can be read.

    Looks for a ``session_state(session_id)`` method on the target or one of
    its module-level objects, or a ``_sessions`` dict of entries shaped like
    ``_new_entry()``'s.
    """
    state_of = getattr(api, "session_state", None)
    if callable(state_of) and not isinstance(api, type):
        return lambda session_id: view_of(state_of(session_id))
    sessions = getattr(api, "_sessions", None)
    new_entry = getattr(api, "_new_entry", None)
    if isinstance(sessions, dict) and callable(new_entry):
        try:
            shape = new_entry()
        except Exception:
            shape = None
        if isinstance(shape, dict) and shape.keys() >= _ENTRY_KEYS:
            return lambda session_id: view_of(sessions.get(session_id))
    if isinstance(api, types.ModuleType):
        for value in vars(api).values():
            state = getattr(value, "session_state", None)
            if callable(state) and not isinstance(value, type | types.ModuleType):
                return lambda session_id: view_of(state(session_id))
    return None


def _parameters(function: Any) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}


def _drain_style(drain: Any) -> str | None:
    """How the drain takes its deadline: ``keyword`` (``deadline=``), ``positional``, or None."""
    if not callable(drain):
        return None
    parameters = _parameters(drain)
    if "deadline" in parameters:
        return "keyword"
    positional = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    return "positional" if any(p.kind in positional for p in parameters.values()) else None


def _takes_keyword(function: Any, name: str) -> bool:
    parameters = _parameters(function)
    return name in parameters or any(
        item.kind is inspect.Parameter.VAR_KEYWORD for item in parameters.values()
    )


class Target:
    """One fresh instance of the implementation under test, and what it offers."""

    def __init__(self, api: Any, name: str) -> None:
        missing = [item for item in REQUIRED if not callable(getattr(api, item, None))]
        if missing:
            raise TargetError(
                f"target {name} lacks {', '.join(missing)}; expose the hermes-webui "
                f"lifecycle functions or a conformance_adapter() returning an object with them"
            )
        self.api = api
        self.name = name
        self.supports = frozenset(
            item for item in REQUIRED + OPTIONAL if callable(getattr(api, item, None))
        )
        """The hermes-webui functions the target offers."""
        self.drain_style = _drain_style(getattr(api, "drain_all_on_shutdown", None))
        self.has_ephemeral = _takes_keyword(api.mark_turn_completed, "ephemeral")
        self.inspect = find_inspector(api)
        """Reads one session's state, when the target's state can be read (the explorer)."""
        self.source_files: frozenset[str] = frozenset()
        """The files executed to load this instance (the target and its fresh siblings)."""

    @property
    def has_discard(self) -> bool:
        return "discard_session" in self.supports

    @property
    def has_drain(self) -> bool:
        return "drain_all_on_shutdown" in self.supports

    @property
    def has_background_registry(self) -> bool:
        return "_register_background_commit_thread" in self.supports

    @property
    def drain_takes_deadline(self) -> bool:
        return self.drain_style is not None

    def register_agent(self, session_id: Any, agent: object) -> None:
        self.api.register_agent(session_id, agent)

    def unregister_agent(self, session_id: Any) -> None:
        self.api.unregister_agent(session_id)

    def mark_turn_completed(
        self, session_id: Any, agent: object | None = None, ephemeral: bool = False
    ) -> Any:
        if ephemeral:
            return self.api.mark_turn_completed(session_id, agent=agent, ephemeral=True)
        return self.api.mark_turn_completed(session_id, agent=agent)

    def has_uncommitted_work(self, session_id: Any) -> Any:
        return self.api.has_uncommitted_work(session_id)

    def commit(self, session_id: Any, agent: object | None, wait: bool, timeout: Any) -> Any:
        return self.api.commit_session_memory(session_id, agent, wait=wait, timeout=timeout)

    def discard(self, session_id: Any) -> Any:
        return self.api.discard_session(session_id)

    def drain(self, deadline: Any) -> Any:
        """Drain with ``deadline`` when the drain takes one, else without."""
        drain = self.api.drain_all_on_shutdown
        if self.drain_style == "keyword":
            return drain(deadline=deadline)
        if self.drain_style == "positional":
            return drain(deadline)
        return drain()

    def register_background(self, thread: Any) -> Any:
        """``_register_background_commit_thread(thread)``: False means do not start it."""
        return self.api._register_background_commit_thread(thread)

    def unregister_background(self, thread: Any) -> None:
        self.api._unregister_background_commit_thread(thread)

    def entries(self) -> Mapping[Any, Any] | None:
        """The target's live entries when it exposes ``_sessions``, else None."""
        sessions = getattr(self.api, "_sessions", None)
        return sessions if isinstance(sessions, Mapping) else None


class TargetFactory(Protocol):
    """Makes a fresh ``Target`` (new module object, new state) for one check or run."""

    def __call__(self, stand_ins: Mapping[str, types.ModuleType] | None = None) -> Target:
        """Load the target afresh, with ``stand_ins`` for ``threading``/``time`` if given."""
        ...


def _target_of(module: types.ModuleType, name: str) -> Target:
    adapter = getattr(module, "conformance_adapter", None)
    api = adapter() if callable(adapter) else module
    return Target(api, name)


def target_factory(target: str | Path, name: str | None = None) -> TargetFactory:
    """A factory loading ``target`` afresh on every call; TargetError now if it cannot load."""
    label = name or str(target)
    _target_of(load_module(target, bound=IMPORT_BOUND), label)

    def make(stand_ins: Mapping[str, types.ModuleType] | None = None) -> Target:
        sources: set[str] = set()
        made = _target_of(load_module(target, stand_ins=stand_ins, sources=sources), label)
        made.source_files = frozenset(sources)
        return made

    return make


@dataclass
class CallResult:
    """How one bounded call ended."""

    value: Any = None
    error: BaseException | None = None
    hung: bool = False
    elapsed: float = 0.0


ORIGIN = "conformance_origin"
"""Thread attribute naming the check whose calls (transitively) started the thread."""

_original_start = threading.Thread.start
_tracking_depth = 0
_tracking_lock = threading.Lock()


def _start_with_origin(self: threading.Thread) -> None:
    if not hasattr(self, ORIGIN):
        setattr(self, ORIGIN, getattr(threading.current_thread(), ORIGIN, None))
    _original_start(self)


@contextmanager
def origin_tracking() -> Iterator[None]:
    """While active, every started thread inherits its starter's ``ORIGIN``.

    So the threads a target starts from a check's calls belong to that check,
    and a stray thread left by an earlier check (a runaway follow-up loop, say)
    is never mistaken for this check's background work.
    """
    global _tracking_depth
    with _tracking_lock:
        if _tracking_depth == 0:
            threading.Thread.start = _start_with_origin  # type: ignore[method-assign]
        _tracking_depth += 1
    try:
        yield
    finally:
        with _tracking_lock:
            _tracking_depth -= 1
            if _tracking_depth == 0:
                threading.Thread.start = _original_start  # type: ignore[method-assign]


class BoundedCall:
    """A target call running on a daemon thread; ``result`` joins it with a bound.

    ``origin`` marks the thread (and, under ``origin_tracking``, every thread
    the call starts) as belonging to one check.
    """

    def __init__(
        self, function: Callable[[], Any], name: str = "conformance call", origin: object = None
    ) -> None:
        self.outcome = CallResult()
        self.done = threading.Event()
        self._function = function
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        setattr(self.thread, ORIGIN, origin)
        self._started = 0.0

    def _run(self) -> None:
        try:
            self.outcome.value = self._function()
        except BaseException as error:
            self.outcome.error = error
        finally:
            self.done.set()

    def start(self) -> BoundedCall:
        import time

        self._started = time.monotonic()
        self.thread.start()
        return self

    def result(self, bound: float) -> CallResult:
        """Wait at most ``bound`` seconds; ``hung`` tells whether it is still running."""
        import time

        finished = self.done.wait(bound)
        self.outcome.hung = not finished
        self.outcome.elapsed = time.monotonic() - self._started
        return self.outcome


def join_new_threads(
    before: set[threading.Thread], bound: float, origin: object = None
) -> list[threading.Thread]:
    """Join threads started since ``before`` was taken; return those still alive after ``bound``.

    With an ``origin``, only threads of that check count.
    """
    import time

    ends_at = time.monotonic() + bound
    seen: set[threading.Thread] = set(before)
    while True:
        current = threading.current_thread()
        fresh = [
            t
            for t in threading.enumerate()
            if t not in seen
            and t is not current
            and (origin is None or getattr(t, ORIGIN, None) is origin)
        ]
        if not fresh:
            return []
        for thread in fresh:
            thread.join(max(0.0, ends_at - time.monotonic()))
        alive = [t for t in fresh if t.is_alive()]
        if alive:
            return alive
        seen.update(fresh)


def blocked_in_wait(thread: threading.Thread) -> bool:
    """True when ``thread`` is inside a ``threading`` wait (a Condition, Event or join)."""
    frames = sys._current_frames()
    frame = frames.get(thread.ident) if thread.ident is not None else None
    while frame is not None:
        if frame.f_code.co_name == "wait" and frame.f_code.co_filename.endswith("threading.py"):
            return True
        frame = frame.f_back
    return False
