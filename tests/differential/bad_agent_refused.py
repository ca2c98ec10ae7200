"""Differs from ``baseline`` in a way no divergence declares (S4).

A commit passing an agent without ``commit_memory_session`` is refused outright,
even when the dirty work has an owner that could commit it.
"""

# ruff: noqa: F821 (the names come from baseline's source, executed here)
from pathlib import Path

exec(compile(Path(__file__).with_name("baseline.py").read_text(), "baseline.py", "exec"))

_commit_as_published = commit_session_memory


def commit_session_memory(session_id, agent=None, *, wait=False, timeout=None):
    if agent is not None and not callable(getattr(agent, "commit_memory_session", None)):
        return False
    return _commit_as_published(session_id, agent, wait=wait, timeout=timeout)
