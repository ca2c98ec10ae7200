"""What every subcommand shares: exit statuses, options, output-path checks, live progress.

Exit statuses are the same everywhere (``EXIT_STATUSES``). Output paths are
checked before any long work starts, so a typo costs no run and never ends in
a traceback. ``Progress`` shows ``done/total``, the elapsed time and what is
running now on one line of stderr, redrawn every second so the clock moves
during a long step; when stderr is not a terminal (a pipe, a CI log) it writes
nothing, and the results the command prints are the record.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TextIO

OK = 0
VIOLATED = 1
USAGE = 2
INTERRUPTED = 130

EXIT_STATUSES: dict[int, str] = {
    OK: "no required property violated (the target conforms; the model holds)",
    VIOLATED: "a required property is violated (any property with --strict)",
    USAGE: "bad usage, a target that cannot be loaded, or an output that cannot be written",
    INTERRUPTED: "interrupted (Ctrl-C); what was found so far is printed",
}
"""Exit status -> meaning, for every subcommand."""


def exit_status_help(meanings: dict[int, str] | None = None) -> str:
    """The exit statuses as an argparse epilog paragraph."""
    chosen = EXIT_STATUSES if meanings is None else meanings
    every = {**chosen, OUTPUT_CLOSED: "the reader of the output went away (| head); quietly"}
    return "exit status:\n" + "\n".join(
        f"  {status:<4} {meaning}" for status, meaning in every.items()
    )


OUTPUT_CLOSED = 141
"""The status when stdout's reader goes away (128 + SIGPIPE, as the shell's tools)."""


VERIFY_INSTALL = "pip install 'memory-lifecycle[verify]'"
"""How to install the verification tools (hypothesis, transitions, graphviz, pytest)."""


def missing_tool(module: str, needed_for: str) -> str | None:
    """What to install when ``module`` is not importable; None when it is."""
    if importlib.util.find_spec(module) is not None:
        return None
    return (
        f"{needed_for} needs {module!r}, which is not installed; install it with: {VERIFY_INSTALL}"
    )


def target_error_text(error: BaseException) -> str:
    """A target loading error in one line; a syntax error as ``file:line: message``."""
    cause = error.__cause__
    if isinstance(cause, SyntaxError) and cause.filename:
        return f"{cause.filename}:{cause.lineno}: syntax error: {cause.msg}"
    return " ".join(str(error).split())


def subcommand_parser(name: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """The parser of ``memory-lifecycle NAME``; its help keeps the epilog's line breaks."""
    return argparse.ArgumentParser(
        prog=f"memory-lifecycle {name}",
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_strict_option(parser: argparse.ArgumentParser) -> None:
    """``--strict``: an advisory violation fails the run too (exit status 1)."""
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit status 1) on advisory violations (S9, S10) too",
    )


def add_sequence_diagram_option(parser: argparse.ArgumentParser) -> None:
    """``--sequence-diagram FILE``: where the counterexamples go as Mermaid diagrams."""
    parser.add_argument(
        "--sequence-diagram",
        metavar="FILE",
        type=Path,
        help="write each counterexample as a Mermaid sequence diagram: FILE for one, "
        "FILE with the property id before the suffix (seq.S2.mmd) for several",
    )


class OutputError(Exception):
    """An output file or folder cannot be written (the message says why and what to do)."""


def check_output_file(path: Path, option: str) -> None:
    """Raise ``OutputError`` unless ``path`` can be created or overwritten."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise OutputError(
            f"{option} {path}: folder {folder} does not exist; create it or choose another path"
        )
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(f"{option} {path}: not writable; choose another path")


def check_output_folder(path: Path, option: str) -> None:
    """Raise ``OutputError`` unless ``path`` is a writable folder or can be made one."""
    if path.exists():
        if not path.is_dir():
            raise OutputError(f"{option} {path}: is a file, not a folder")
        if not os.access(path, os.W_OK):
            raise OutputError(f"{option} {path}: folder is not writable; choose another")
        return
    try:
        path.mkdir(parents=True)
    except OSError as error:
        raise OutputError(
            f"{option} {path}: cannot create the folder ({error.strerror or error}); choose another"
        ) from None


def elapsed_text(seconds: float) -> str:
    """``7 s``, ``1:05`` or ``1:02:03``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


_interrupts_seen = [0]
"""Ctrl-Cs seen while a ``Progress`` runs (one may be swallowed before it propagates)."""


def interrupts_seen() -> int:
    """How many Ctrl-Cs a ``Progress`` saw in this process, swallowed ones included.

    Python ignores an exception raised in a garbage-collector or weakref
    callback, so a Ctrl-C can land where nothing sees it; a command that counts
    them still ends with 130.
    """
    return _interrupts_seen[0]


def _note_interrupt(signum: int, frame: object) -> None:
    """SIGINT while a long command runs: count it, then raise as Python does."""
    _interrupts_seen[0] += 1
    raise KeyboardInterrupt


class Progress:
    """One live status line for ``command`` on ``stream`` (stderr by default).

    ``live`` defaults to whether the stream is a terminal; when it is False
    every method is a no-op. Use as a context manager, or call ``close``.
    """

    def __init__(
        self,
        command: str,
        *,
        stream: TextIO | None = None,
        live: bool | None = None,
        tick: float = 1.0,
    ) -> None:
        self.command = command
        self.stream = stream if stream is not None else sys.stderr
        self.live = self._is_terminal(self.stream) if live is None else live
        self.started = time.monotonic()
        self.done = 0
        self.total = 0
        self.current = ""
        self._tick = tick
        self._lock = threading.Lock()
        self._shown = False
        self._closed = threading.Event()
        self._ticker: threading.Thread | None = None

    @staticmethod
    def _is_terminal(stream: TextIO) -> bool:
        try:
            return stream.isatty()
        except (AttributeError, ValueError):
            return False

    def __enter__(self) -> Progress:
        self._interrupts_before = _interrupts_seen[0]
        self.interrupted = False
        """Set on exit: a Ctrl-C arrived while it ran (even one that was swallowed)."""
        self._previous_handler: object = None
        in_main = threading.current_thread() is threading.main_thread()
        if in_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous_handler = signal.signal(signal.SIGINT, _note_interrupt)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        self.interrupted = _interrupts_seen[0] != self._interrupts_before

    def line(self) -> str:
        """The status line as it would be drawn now."""
        counts = f"{self.done}/{self.total} " if self.total else ""
        text = f"{self.command}: {counts}{elapsed_text(time.monotonic() - self.started)}"
        return f"{text}  {self.current}" if self.current else text

    def update(
        self, done: int | None = None, total: int | None = None, current: str | None = None
    ) -> None:
        """Change what the line shows (only the parts given) and redraw it."""
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if current is not None:
            self.current = current
        if not self.live:
            return
        if self._ticker is None:
            self._ticker = threading.Thread(
                target=self._redraw_every_tick, name="progress", daemon=True
            )
            self._ticker.start()
        self._draw()

    def clear(self) -> None:
        """Erase the line (before printing something else on the terminal)."""
        if not self.live:
            return
        with self._lock:
            if self._shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._shown = False

    def close(self) -> None:
        """Stop redrawing and erase the line."""
        self._closed.set()
        if self._ticker is not None:
            self._ticker.join(self._tick + 1.0)
            self._ticker = None
        self.clear()

    def _draw(self) -> None:
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        text = self.line()
        if len(text) > width:
            text = text[: width - 3] + "..."
        with self._lock:
            if self._closed.is_set():
                return
            self.stream.write("\r\x1b[K" + text)
            self.stream.flush()
            self._shown = True

    def _redraw_every_tick(self) -> None:
        while not self._closed.wait(self._tick):
            self._draw()
