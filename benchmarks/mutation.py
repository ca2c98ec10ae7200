"""Mutation testing of the model: how many one-line bugs each checker catches.

    python benchmarks/mutation.py [--file model/rules.py] [--tools check,conform,reference,suite]
                                  [--jobs N] [--only KEY,...] [--limit N] [--every K] [--list]
                                  [--reference PATH] [--results FILE] [--fresh]
                                  [--reuse TOOLS] [--redo VERDICTS] [--timeout S] [--report]

Mutants are generated from the AST of ``--file`` (whatever it contains): swapped
arithmetic, comparison and boolean operators, negated conditions, off-by-one
integers and flipped booleans, dropped statements, swapped if/else branches,
return values replaced by None, and result outcomes swapped with a confusable
one. Each mutant is run, in subprocesses with a timeout, by every tool:

check       ``memory-lifecycle check --strict`` (the model checker, default bound;
            an advisory property violated counts too)
conform     ``memory-lifecycle conform memory_lifecycle.compat --quick`` (the drop-in,
            built on the mutated model)
reference   ``memory-lifecycle conform memory_lifecycle.compat --reference ORIGINAL
            --checks differential --quick`` (the oracle that does not read the model)
suite       the project's tests (``pytest -x -n 2``, model-facing files first; not
            test_build.py, which checks the compiled install the hook replaces)

The mutated file replaces the module only in those subprocesses (an import hook
set up through ``sitecustomize``); the working tree is never written. The hook
also loads every module setup.py compiles with mypyc from its source, since a
compiled module calls the others of its group directly, past any import: the
shell then runs the mutant too (pure Python, so every tool is slower than on
the compiled install). A tool
*kills* a mutant when it reports what it does not report on the unmutated code:
a non-zero exit for check and the suite, a property violated (or an error) for
conform, a difference of a new kind for the reference comparison. A tool that
crashes counts as killing, and is shown apart; one that times out does not.

Survivors are triaged in ``benchmarks/mutation_triage.json`` (key ->
``equivalent`` or ``blind spot``, with why): equivalent mutants leave the
denominators, untriaged ones stay in. Results are kept in ``--results`` (by
default build/mutation-results.json) with the mutant's source and a digest of
every other source, so a re-run measures only what changed since; ``--reuse
TOOLS`` keeps those tools' results across a change they cannot see, ``--fresh``
starts over.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "model" / "rules.py"
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "hermes_webui_session_lifecycle.py"
TRIAGE = Path(__file__).with_name("mutation_triage.json")
PACKAGE_DIRS = {
    "impl": "memory_lifecycle",
    "model": "memory_lifecycle.model",
    "specs": "memory_lifecycle.specs",
}
"""Top-level folders and the import names they install as."""

CONFUSABLE = {
    "BUSY": "NOTHING_TO_COMMIT",
    "NOTHING_TO_COMMIT": "BUSY",
    "TIMED_OUT": "BUSY",
    "NO_AGENT": "NOTHING_TO_COMMIT",
    "NOT_FOUND": "NOTHING_TO_COMMIT",
    "COMMITTED": "FAILED",
    "FAILED": "COMMITTED",
    "STALE": "DONE",
    "DISCARDED": "KEPT_DIRTY",
    "ALREADY_ABSENT": "DISCARDED",
    "KEPT_DIRTY": "KEPT_IN_FLIGHT",
    "KEPT_IN_FLIGHT": "KEPT_DIRTY",
    "ADMITTED": "REFUSED_DRAINING",
    "REFUSED_DRAINING": "ADMITTED",
    "STARTED": "BUSY",
    "SKIPPED": "WAIT",
    "WAIT": "FINISHED",
    "FINISHED": "WAIT",
}
"""For each result outcome, the one a plausible slip would return instead."""

COMPARE_SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
ARITHMETIC_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv,
}


# --- generating mutants ------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    """One small change to the file."""

    key: str
    """Stable name: function, operator, code before -> after (and #n when repeated)."""
    operator: str
    function: str
    line: int
    before: str
    after: str
    source: str
    """The whole mutated file."""

    @property
    def digest(self) -> str:
        return _digest(self.source)


Path_ = tuple[tuple[str, int | None], ...]
"""Where a node sits: (field, index in a list field or None) from the module down."""


@dataclass(frozen=True)
class _Site:
    operator: str
    function: str
    path: Path_
    apply: Callable[[ast.AST, ast.AST, str, int | None], ast.AST]
    """Changes the tree at (node, parent, field, index)."""


def _short(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= 70 else text[:67] + "..."


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _is_not(node: ast.expr) -> bool:
    """A ``not x`` test: negating it only repeats what dropping the ``not`` does."""
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)


def _outcome_aliases(tree: ast.Module) -> dict[str, str]:
    """Module-level names bound to an outcome (``BUSY = Outcome.BUSY``): name -> member."""
    aliases = {}
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Attribute)
            and isinstance(statement.value.value, ast.Name)
            and statement.value.value.id == "Outcome"
        ):
            aliases[statement.targets[0].id] = statement.value.attr
    return aliases


def _sites(tree: ast.Module) -> Iterator[_Site]:
    """Every place a mutation operator applies, in source order."""
    aliases = _outcome_aliases(tree)
    by_member = {member: name for name, member in aliases.items()}

    def expression_sites(node: ast.AST, path: Path_, function: str) -> Iterator[_Site]:
        if isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                if type(op) in COMPARE_SWAPS:
                    yield _Site("compare", function, path, _swap_compare(position))
        elif isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC_SWAPS:
            yield _Site("arithmetic", function, path, _swap_operator)
        elif isinstance(node, ast.BoolOp):
            yield _Site("and/or", function, path, _swap_boolean)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield _Site("negate", function, path, _drop_not)
        elif isinstance(node, ast.IfExp):
            if not _is_not(node.test):
                yield _Site("negate", function, path, _negate_test)
            yield _Site("swap branches", function, path, _swap_branches)
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            yield _Site("constant", function, path, _flip_constant)
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            yield _Site("constant", function, path, _shift_constant(+1))
            yield _Site("constant", function, path, _shift_constant(-1))
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Outcome"
            and node.attr in CONFUSABLE
        ):
            yield _Site("result", function, path, _rename_attribute(CONFUSABLE[node.attr]))
        elif isinstance(node, ast.Name) and node.id in aliases and isinstance(node.ctx, ast.Load):
            other = by_member.get(CONFUSABLE.get(aliases[node.id], ""))
            if other is not None:
                yield _Site("result", function, path, _rename_name(other))
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.AST) and not isinstance(value, ast.expr_context):
                yield from expression_sites(value, (*path, (field, None)), function)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, ast.expr):
                        yield from expression_sites(item, (*path, (field, index)), function)

    def statement_sites(
        body: list[ast.stmt], path: Path_, field: str, function: str
    ) -> Iterator[_Site]:
        for index, statement in enumerate(body):
            here = (*path, (field, index))
            declaration = isinstance(statement, ast.AnnAssign) and statement.value is None
            if _is_docstring(statement) or isinstance(statement, ast.Assert) or declaration:
                continue
            if isinstance(statement, ast.FunctionDef):
                yield from statement_sites(statement.body, here, "body", statement.name)
                continue
            if isinstance(statement, ast.ClassDef):
                yield from _methods(statement, here)
                continue
            if not isinstance(statement, ast.Pass):
                yield _Site("drop statement", function, here, _drop_statement)
            if isinstance(statement, (ast.If, ast.While)) and not _is_not(statement.test):
                yield _Site("negate", function, here, _negate_test)
                if isinstance(statement, ast.If) and statement.orelse:
                    yield _Site("swap branches", function, here, _swap_branches)
            if isinstance(statement, ast.Return) and statement.value is not None:
                yield _Site("return None", function, here, _return_none)
            for name, value in ast.iter_fields(statement):
                if name in ("body", "orelse", "finalbody", "handlers"):
                    continue
                if isinstance(value, ast.expr):
                    yield from expression_sites(value, (*here, (name, None)), function)
                elif isinstance(value, list):
                    for position, item in enumerate(value):
                        if isinstance(item, ast.expr):
                            yield from expression_sites(item, (*here, (name, position)), function)
            for name in ("body", "orelse", "finalbody"):
                block = getattr(statement, name, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    yield from statement_sites(block, here, name, function)
            for number, handler in enumerate(getattr(statement, "handlers", [])):
                yield from statement_sites(
                    handler.body, (*here, ("handlers", number)), "body", function
                )

    def _methods(cls: ast.ClassDef, path: Path_) -> Iterator[_Site]:
        """Sites in a class's methods; its other statements declare, they do not run rules."""
        for number, member in enumerate(cls.body):
            if isinstance(member, ast.FunctionDef):
                where = (*path, ("body", number))
                yield from statement_sites(member.body, where, "body", member.name)

    for index, statement in enumerate(tree.body):
        here: Path_ = (("body", index),)
        if isinstance(statement, ast.FunctionDef):
            yield from statement_sites(statement.body, here, "body", statement.name)
        elif isinstance(statement, ast.ClassDef):
            yield from _methods(statement, here)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            yield from expression_sites(statement.value, (*here, ("value", None)), "<module>")


def _swap_compare(position: int) -> Callable[[ast.AST, ast.AST, str, int | None], ast.AST]:
    def apply(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
        assert isinstance(node, ast.Compare)
        node.ops[position] = COMPARE_SWAPS[type(node.ops[position])]()
        return node

    return apply


def _swap_operator(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
    assert isinstance(node, ast.BinOp)
    node.op = ARITHMETIC_SWAPS[type(node.op)]()
    return node


def _swap_boolean(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
    assert isinstance(node, ast.BoolOp)
    node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    return node


def _replace(parent: ast.AST, field: str, index: int | None, new: ast.AST) -> ast.AST:
    if index is None:
        setattr(parent, field, new)
    else:
        getattr(parent, field)[index] = new
    return new


def _drop_not(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
    assert isinstance(node, ast.UnaryOp)
    return _replace(parent, field, index, node.operand)


def _negate_test(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
    assert isinstance(node, (ast.If, ast.While, ast.IfExp))
    node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
    return node.test


def _swap_branches(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
    assert isinstance(node, (ast.If, ast.IfExp))
    node.body, node.orelse = node.orelse, node.body  # type: ignore[assignment]
    return node


def _flip_constant(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
    assert isinstance(node, ast.Constant)
    node.value = not node.value
    return node


def _shift_constant(by: int) -> Callable[[ast.AST, ast.AST, str, int | None], ast.AST]:
    def apply(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
        assert isinstance(node, ast.Constant)
        node.value = node.value + by
        return node

    return apply


def _rename_attribute(attr: str) -> Callable[[ast.AST, ast.AST, str, int | None], ast.AST]:
    def apply(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
        assert isinstance(node, ast.Attribute)
        node.attr = attr
        return node

    return apply


def _rename_name(name: str) -> Callable[[ast.AST, ast.AST, str, int | None], ast.AST]:
    def apply(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
        assert isinstance(node, ast.Name)
        node.id = name
        return node

    return apply


def _drop_statement(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
    return _replace(parent, field, index, ast.Pass())


def _return_none(node: ast.AST, parent: ast.AST, field: str, index: int | None) -> ast.AST:
    assert isinstance(node, ast.Return)
    node.value = ast.Constant(value=None)
    return node


def _locate(tree: ast.AST, path: Path_) -> tuple[ast.AST, ast.AST, str, int | None]:
    parent: ast.AST = tree
    node: ast.AST = tree
    field, index = "", None
    for field, index in path:
        parent = node
        value = getattr(node, field)
        node = value if index is None else value[index]
    return node, parent, field, index


def _saved(node: ast.AST) -> dict[str, Any]:
    """The node's fields, lists copied, to put back after a mutation changed them."""
    return {
        name: list(value) if isinstance(value, list) else value
        for name, value in vars(node).items()
    }


def generate(source: str) -> list[Mutant]:
    """Every mutant of ``source``, in source order, each with a stable key.

    Each mutation is made on the one parsed tree and undone after the mutant's
    source is written out (copying the tree for every mutant costs seconds).
    """
    tree = ast.parse(source)
    unchanged = ast.unparse(tree)
    found: list[Mutant] = []
    seen: dict[str, int] = {}
    sources = {unchanged}
    for site in list(_sites(tree)):
        node, parent, field, index = _locate(tree, site.path)
        before_node, before_parent = _saved(node), _saved(parent)
        negated_statement = site.operator == "negate" and isinstance(node, (ast.If, ast.While))
        before = _short(node.test if negated_statement else node)  # type: ignore[attr-defined]
        line = getattr(node, "lineno", 0)
        site.apply(node, parent, field, index)
        mutated = ast.unparse(tree)
        now = _locate(tree, site.path)[0]
        after = _short(now.test if negated_statement else now)  # type: ignore[attr-defined]
        vars(parent).update(before_parent)
        vars(node).update(before_node)
        if mutated in sources:
            continue
        sources.add(mutated)
        key = f"{site.function}: {site.operator}: {before} -> {after}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key} #{seen[key]}"
        found.append(Mutant(key, site.operator, site.function, line, before, after, mutated))
    if ast.unparse(tree) != unchanged:
        raise AssertionError("a mutation was not undone")
    return found


# --- running the tools on a mutant --------------------------------------------------

HOOK = '''\
"""Installed by benchmarks/mutation.py: load modules of the package from given files."""
import importlib.abc
import importlib.util
import json
import os
import sys

_FILES = json.loads(os.environ.get("MEMORY_LIFECYCLE_SOURCE_FILES") or "{}")


class _SourceFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        file = _FILES.get(fullname)
        return None if file is None else importlib.util.spec_from_file_location(fullname, file)


if _FILES:
    sys.meta_path.insert(0, _SourceFinder())
'''


def compiled_modules() -> list[str]:
    """The modules setup.py compiles with mypyc (its ``COMPILED`` list)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id == "COMPILED"
        ):
            value = ast.literal_eval(statement.value)
            assert isinstance(value, list)
            return [str(item) for item in value]
    return []


def source_files(module: str, mutant: Path) -> dict[str, str]:
    """Module name -> file the hook loads: ``mutant`` for ``module``, the source for
    every other compiled module."""
    files = {}
    for name in compiled_modules():
        package, _, stem = name.rpartition(".")
        folder = next(key for key, value in PACKAGE_DIRS.items() if value == package)
        files[name] = str(ROOT / folder / f"{stem}.py")
    files[module] = str(mutant)
    return files


FIRST_TESTS = (
    "test_model_step.py",
    "test_properties.py",
    "test_machine.py",
    "test_refinement.py",
    "test_checker_breaks.py",
    "test_checker.py",
    "test_checker_liveness.py",
    "test_compat.py",
    "test_shell.py",
    "test_differential.py",
    "test_stateful.py",
)
"""Test files the suite runs first: fast, and the closest to the model."""
LAST_TESTS = ("test_static.py", "test_benchmarks.py")
"""Test files that read no model behaviour (lint, types, benchmark smoke runs)."""
LEFT_OUT = ("test_build.py",)
"""Test files about the installed form, which the hook changes (compiled modules run pure)."""


def module_name(file: Path) -> str:
    """The import name of a source file of the package (``model/rules.py`` -> ...model.rules)."""
    relative = file.resolve().relative_to(ROOT)
    package = PACKAGE_DIRS.get(relative.parts[0])
    if package is None or relative.suffix != ".py":
        raise SystemExit(f"{file} is not a module of the package (impl/, model/ or specs/)")
    parts = [*relative.parts[1:-1], relative.stem]
    return ".".join([package, *[part for part in parts if part != "__init__"]])


@dataclass(frozen=True)
class Tool:
    """A checker the harness runs on every mutant."""

    name: str
    label: str
    timeout: float

    def command(self, options: argparse.Namespace) -> list[str]:
        cli = [sys.executable, "-m", "memory_lifecycle"]
        if self.name == "check":
            return [*cli, "check", "--quiet", "--strict"]
        if self.name == "conform":
            return [*cli, "conform", "memory_lifecycle.compat", "--quick", "--json"]
        if self.name == "reference":
            return [
                *cli,
                "conform",
                "memory_lifecycle.compat",
                "--reference",
                str(options.reference),
                "--checks",
                "differential",
                "--quick",
                "--json",
            ]
        tests = sorted(
            path.name for path in (ROOT / "tests").glob("test_*.py") if path.name not in LEFT_OUT
        )
        ordered = [
            *[name for name in FIRST_TESTS if name in tests],
            *[name for name in tests if name not in FIRST_TESTS + LAST_TESTS],
            *[name for name in LAST_TESTS if name in tests],
        ]
        return [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            *[f"tests/{name}" for name in ordered],
        ]


TOOLS = {
    "check": Tool("check", "memory-lifecycle check", 300.0),
    "conform": Tool("conform", "conform memory_lifecycle.compat", 150.0),
    "reference": Tool("reference", "conform compat --reference ORIGINAL", 120.0),
    "suite": Tool("suite", "the test suite (pytest -x -n 2)", 900.0),
}


@dataclass(frozen=True)
class Run:
    """How one tool ended on one version of the file."""

    status: int | None
    """Exit status; None when it timed out."""
    seconds: float
    findings: tuple[str, ...] = ()
    """What it reported (violated properties, kinds of difference), to compare with the baseline."""
    crashed: bool = False
    """It ended with an uncaught exception (a traceback on its standard error)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "findings": list(self.findings),
        }


def _findings(tool: Tool, output: str) -> tuple[str, ...]:
    """The violations a conform run reported in its JSON; () for other tools."""
    if tool.name not in ("conform", "reference"):
        return ()
    try:
        document = json.loads(output)
    except json.JSONDecodeError:
        return ("no JSON output",)
    if tool.name == "reference":
        found = document.get("reference", {}).get("differences", [])
        return tuple(sorted({" ".join(item["signature"]) for item in found}))
    violated = [
        item["id"] for item in document.get("properties", []) if item["status"] == "violated"
    ]
    return tuple(sorted(violated)) + tuple(f"error: {text}" for text in document.get("errors", []))


def run_tool(tool: Tool, file: Path, options: argparse.Namespace, hook: Path) -> Run:
    """Run ``tool`` with the package's ``options.file`` module loaded from ``file``."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
        PYTHONDONTWRITEBYTECODE="1",
        MEMORY_LIFECYCLE_SOURCE_FILES=json.dumps(source_files(options.module, file)),
    )
    started = time.monotonic()
    process = subprocess.Popen(
        tool.command(options),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=tool.timeout)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)  # the tool and every process it started
        process.wait()
        if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
            raise
        return Run(None, time.monotonic() - started)
    crashed = "Traceback (most recent call last)" in stderr
    return Run(process.returncode, time.monotonic() - started, _findings(tool, stdout), crashed)


def verdict(tool: Tool, run: Run, baseline: Run) -> str:
    """killed, crashed, timeout or survived, against what the tool says of the unmutated file."""
    if run.status is None:
        return "timeout"
    if tool.name in ("conform", "reference"):
        if run.status not in (0, 1) or "no JSON output" in run.findings:
            return "crashed"
        return "killed" if set(run.findings) - set(baseline.findings) else "survived"
    if run.status == 0:
        return "survived"
    if tool.name == "suite":  # pytest reports a test's exception as a failure (status 1)
        return "killed" if run.status == 1 else "crashed"
    return "killed" if run.status == 1 and not run.crashed else "crashed"


# --- the whole measurement ------------------------------------------------------------


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _context_digest(file: Path) -> str:
    """A digest of every other source file: results stay valid only while these are unchanged."""
    digest = hashlib.sha256()
    for folder in (*PACKAGE_DIRS, "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.resolve() != file.resolve():
                digest.update(path.relative_to(ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class Results:
    """The measurements so far, kept in a JSON file between runs.

    Each result records the digest of the other sources it was measured with and
    counts only while they are unchanged, unless its tool is in ``reuse`` (for a
    change that tool cannot see, such as one to the comparison when re-measuring
    the reference column alone).
    """

    def __init__(self, path: Path, context: str, fresh: bool, reuse: set[str]) -> None:
        self.path = path
        self.context = context
        self.reuse = reuse
        self.redo: set[str] = set()
        """Verdicts measured again rather than taken from the file (``timeout``, say)."""
        self.lock = threading.Lock()
        self.data: dict[str, Any] = {"baseline": {}, "mutants": {}}
        if path.is_file() and not fresh:
            self.data = json.loads(path.read_text())
            older = self.data.pop("context", None)
            results = [*self.data["baseline"].values()]
            for entry in self.data["mutants"].values():
                results.extend(entry["tools"].values())
            for result in results:
                result.setdefault("context", older)

    def valid(self, tool: str, result: dict[str, Any] | None) -> bool:
        return (
            result is not None
            and (result["context"] == self.context or tool in self.reuse)
            and result.get("verdict") not in self.redo
        )

    def get(self, key: str, digest: str, tool: str) -> dict[str, Any] | None:
        entry = self.data["mutants"].get(key)
        if entry is None or entry["digest"] != digest:
            return None
        found: dict[str, Any] | None = entry["tools"].get(tool)
        return found if self.valid(tool, found) else None

    def put(self, mutant: Mutant, tool: str, run: Run, outcome: str) -> None:
        with self.lock:
            entry = self.data["mutants"].get(mutant.key)
            if entry is None or entry["digest"] != mutant.digest:
                entry = self.data["mutants"][mutant.key] = {
                    "digest": mutant.digest,
                    "line": mutant.line,
                    "operator": mutant.operator,
                    "tools": {},
                }
            entry["tools"][tool] = {**run.as_dict(), "verdict": outcome, "context": self.context}
            self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=1))


def load_triage(file: Path) -> dict[str, dict[str, str]]:
    """Key -> {"verdict": "equivalent" | "blind spot", "why": ...} for ``file``."""
    if not TRIAGE.is_file():
        return {}
    document = json.loads(TRIAGE.read_text())
    relative = file.resolve().relative_to(ROOT).as_posix()
    entries = document.get(relative, [])
    return {entry["key"]: entry for entry in entries}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="the module to mutate")
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)}"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants at once")
    parser.add_argument("--only", help="comma-separated substrings of the mutant keys to run")
    parser.add_argument("--limit", type=int, help="run at most this many mutants")
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        metavar="K",
        help="a sample: every K-th mutant in source order (default: all)",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument(
        "--reference", type=Path, default=DEFAULT_REFERENCE, help="the original hermes-webui module"
    )
    parser.add_argument(
        "--results", type=Path, default=ROOT / "build" / "mutation-results.json", help="cache"
    )
    parser.add_argument("--fresh", action="store_true", help="ignore cached results")
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="each tool's time limit (default: its own)"
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="print the tables from the cached results only (run nothing)",
    )
    parser.add_argument(
        "--redo",
        default="",
        metavar="VERDICTS",
        help="measure again the cached results with these verdicts (e.g. timeout)",
    )
    parser.add_argument(
        "--reuse",
        default="",
        metavar="TOOLS",
        help="keep these tools' cached results although other sources changed",
    )
    return parser


def main() -> int:
    options = _parser().parse_args()
    options.file = options.file.resolve()
    options.module = module_name(options.file)
    tools = [TOOLS[name.strip()] for name in options.tools.split(",") if name.strip()]
    if options.timeout is not None:
        tools = [Tool(tool.name, tool.label, options.timeout) for tool in tools]
    if any(tool.name == "reference" for tool in tools) and not options.reference.is_file():
        print(
            f"mutation: the original module is not at {options.reference}: the reference "
            f"column is skipped (pass --reference PATH)",
            file=sys.stderr,
        )
        tools = [tool for tool in tools if tool.name != "reference"]
    source = options.file.read_text()
    mutants = generate(source)
    if options.every > 1:
        mutants = mutants[:: options.every]
    if options.only:
        wanted = [part.strip() for part in options.only.split(",")]
        mutants = [m for m in mutants if any(part in m.key for part in wanted)]
    if options.limit:
        mutants = mutants[: options.limit]
    if options.list:
        for mutant in mutants:
            print(f"{mutant.line:4}  {mutant.key}")
        print(f"{len(mutants)} mutants", file=sys.stderr)
        return 0
    reuse = {name.strip() for name in options.reuse.split(",") if name.strip()}
    results = Results(options.results, _context_digest(options.file), options.fresh, reuse)
    results.redo = {name.strip() for name in options.redo.split(",") if name.strip()}
    if options.report:
        print(report(mutants, tools, results, load_triage(options.file), options))
        return 0
    with tempfile.TemporaryDirectory(prefix="mutation-") as scratch:
        hook = Path(scratch) / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(HOOK)
        baseline = _baseline(tools, source, options, hook, Path(scratch), results)
        if baseline is None:
            return 2
        _run_all(mutants, tools, baseline, options, hook, Path(scratch), results)
    print(report(mutants, tools, results, load_triage(options.file), options))
    return 0


def _baseline(
    tools: list[Tool],
    source: str,
    options: argparse.Namespace,
    hook: Path,
    scratch: Path,
    results: Results,
) -> dict[str, Run] | None:
    """Each tool on the unmutated file, through the same hook; None when one already fails."""
    copy_of = scratch / "unmutated.py"
    copy_of.write_text(source)
    found: dict[str, Run] = {}
    for tool in tools:
        stored = results.data["baseline"].get(tool.name)
        if results.valid(tool.name, stored) and stored["digest"] == _digest(source):
            found[tool.name] = Run(stored["status"], stored["seconds"], tuple(stored["findings"]))
            continue
        print(
            f"mutation: baseline: {tool.label} ...",
            file=sys.stderr,
            flush=True,
        )
        run = run_tool(tool, copy_of, options, hook)
        if run.status is None or (tool.name in ("check", "suite") and run.status != 0):
            print(
                f"mutation: {tool.label} already fails on the unmutated file "
                f"(status {run.status}); fix that before measuring mutants",
                file=sys.stderr,
            )
            return None
        if run.findings:
            print(
                f"mutation: {tool.label} reports on the unmutated file: {', '.join(run.findings)}; "
                f"only other findings count as kills",
                file=sys.stderr,
            )
        found[tool.name] = run
        results.data["baseline"][tool.name] = {
            **run.as_dict(),
            "digest": _digest(source),
            "context": results.context,
        }
        results.save()
    return found


def _run_all(
    mutants: list[Mutant],
    tools: list[Tool],
    baseline: dict[str, Run],
    options: argparse.Namespace,
    hook: Path,
    scratch: Path,
    results: Results,
) -> None:
    todo = [
        (mutant, tool)
        for mutant in mutants
        for tool in tools
        if results.get(mutant.key, mutant.digest, tool.name) is None
    ]
    total = len(todo)
    print(
        f"mutation: {len(mutants)} mutants of {options.file.relative_to(ROOT)}, "
        f"{total} tool runs to do on {options.jobs} job(s)",
        file=sys.stderr,
        flush=True,
    )
    done = [0]
    lock = threading.Lock()

    def one(item: tuple[Mutant, Tool]) -> None:
        mutant, tool = item
        file = scratch / f"mutant-{mutant.digest}.py"
        file.write_text(mutant.source)
        run = run_tool(tool, file, options, hook)
        outcome = verdict(tool, run, baseline[tool.name])
        results.put(mutant, tool.name, run, outcome)
        with lock:
            done[0] += 1
            print(
                f"mutation: [{done[0]}/{total}] {tool.name:<9} {outcome:<8} "
                f"{run.seconds:6.1f} s  {mutant.key}",
                file=sys.stderr,
                flush=True,
            )

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        list(pool.map(one, todo))


def report(
    mutants: list[Mutant],
    tools: list[Tool],
    results: Results,
    triage: dict[str, dict[str, str]],
    options: argparse.Namespace,
) -> str:
    """The tables: kills per tool and for combinations, then the survivors and their triage."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import header, table

    outcome: dict[tuple[str, str], str] = {}
    for mutant in mutants:
        for tool in tools:
            stored = results.get(mutant.key, mutant.digest, tool.name)
            if stored is not None:
                outcome[(mutant.key, tool.name)] = stored["verdict"]
    equivalent = {key for key, entry in triage.items() if entry.get("verdict") == "equivalent"}
    counted = [m for m in mutants if m.key not in equivalent]

    def kills(names: tuple[str, ...], mutant: Mutant) -> bool:
        return any(outcome.get((mutant.key, name)) in ("killed", "crashed") for name in names)

    rows = []
    combos: list[tuple[str, tuple[str, ...]]] = [(tool.label, (tool.name,)) for tool in tools]
    names = [tool.name for tool in tools]
    if {"check", "reference"} <= set(names):
        combos.append(("check + reference", ("check", "reference")))
    if len(names) > 1:
        combos.append(("all tools", tuple(names)))
    for label, group in combos:
        measured = [m for m in counted if all((m.key, name) in outcome for name in group)]
        killed = sum(kills(group, m) for m in measured)
        crashed = sum(
            len(group) == 1 and outcome.get((m.key, group[0])) == "crashed" for m in measured
        )
        timed_out = sum(
            len(group) == 1 and outcome.get((m.key, group[0])) == "timeout" for m in measured
        )
        rate = f"{100 * killed / len(measured):.1f}%" if measured else "-"
        rows.append(
            (
                label,
                len(measured),
                killed,
                crashed if len(group) == 1 else "",
                timed_out if len(group) == 1 else "",
                len(measured) - killed,
                rate,
            )
        )
    operators: dict[str, int] = {}
    for mutant in mutants:
        operators[mutant.operator] = operators.get(mutant.operator, 0) + 1
    lines = [
        header(f"Mutation testing of {options.file.relative_to(ROOT)}"),
        "",
        f"{len(mutants)} mutants ("
        + ", ".join(f"{name} {count}" for name, count in sorted(operators.items()))
        + f"); {len(equivalent & {m.key for m in mutants})} triaged equivalent and not counted.",
        "",
        table(
            ["tool", "mutants", "killed", "crashed", "timed out", "survived", "kill rate"],
            rows,
        ),
    ]
    survivors = (
        [
            m
            for m in mutants
            if all((m.key, name) in outcome for name in names) and not kills(("check",), m)
        ]
        if "check" in names
        else []
    )
    if survivors:
        lines += [
            "",
            f"Survivors of check ({len(survivors)}): line, triage, the tools that kill it, mutant",
            "",
        ]
        for mutant in survivors:
            entry = triage.get(mutant.key, {})
            others = [name for name in names if name != "check" and kills((name,), mutant)]
            lines.append(
                f"  {mutant.line:4}  {entry.get('verdict', 'untriaged'):<10}  "
                f"{', '.join(others) or 'none':<26}  {mutant.key}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
