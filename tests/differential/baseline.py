"""A plain implementation of the hermes-webui lifecycle API, as the published module behaves.

The differential comparison's reference in the self-contained tests: turns are
owned by the explicit or registered agent, a commit takes the earliest dirty
run, a BaseException from the provider leaves the session in flight, a commit
refused as busy is simply refused, and the drain commits one session after
another. Its entries have the published module's dict shape, which some
divergences read. The variants beside it load this source and replace one
function.
"""

from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_condition = threading.Condition(_lock)
_sessions: dict = {}


def _reset_for_tests():
    with _condition:
        _sessions.clear()
        _condition.notify_all()


def _get(sid, create=False):
    entry = _sessions.get(sid)
    if entry is None and create:
        entry = _sessions[sid] = {
            "generation": 0,
            "committed_generation": 0,
            "agent": None,
            "in_flight": False,
            "segments": [],
        }
    return entry


def register_agent(session_id, agent):
    if session_id:
        with _condition:
            _get(session_id, create=True)["agent"] = agent


def unregister_agent(session_id):
    if session_id:
        with _condition:
            entry = _get(session_id)
            if entry is not None:
                entry["agent"] = None


def mark_turn_completed(session_id, *, agent=None):
    if not session_id:
        return 0
    with _condition:
        entry = _get(session_id, create=True)
        if agent is not None:
            entry["agent"] = agent
        owner = entry["agent"]
        entry["generation"] = number = entry["generation"] + 1
        runs = entry["segments"]
        extend = runs and not entry["in_flight"] and runs[-1]["agent"] is owner
        if extend:
            runs[-1]["end"] = number
        else:
            runs.append({"start": number, "end": number, "agent": owner})
        return number


def has_uncommitted_work(session_id):
    if not session_id:
        return False
    with _condition:
        entry = _get(session_id)
        return entry is not None and entry["generation"] > entry["committed_generation"]


def _claim(session_id, agent, wait, deadline):
    """Under the lock: mark the session in flight; the owner and captured end, or None."""
    entry = _get(session_id)
    while entry is not None and entry["in_flight"]:
        left = None if deadline is None else deadline - time.monotonic()
        if not wait or (left is not None and left <= 0):
            return None
        _condition.wait(left)
        entry = _get(session_id)
    if entry is None or entry["generation"] <= entry["committed_generation"]:
        return None
    run = next(r for r in entry["segments"] if r["end"] > entry["committed_generation"])
    if run["agent"] is None:
        run["agent"] = agent if agent is not None else entry["agent"]
    if run["agent"] is None:
        return None
    entry["in_flight"] = True
    return run["agent"], run["end"]


def _release(session_id, captured):
    """Under the lock: end the call; with ``captured``, commit up to it."""
    entry = _get(session_id)
    if entry is not None:
        entry["in_flight"] = False
        if captured is not None:
            done = entry["committed_generation"] = max(entry["committed_generation"], captured)
            runs = [r for r in entry["segments"] if r["end"] > done]
            if runs and runs[0]["start"] <= done:
                runs[0]["start"] = done + 1
            entry["segments"][:] = runs
    _condition.notify_all()


def _call_provider(session_id, owner, captured):
    """Run the provider call; True on success. A BaseException leaves the call marked."""
    try:
        owner.commit_memory_session()
    except Exception:
        with _condition:
            _release(session_id, None)
        return False
    with _condition:
        _release(session_id, captured)
    return True


def commit_session_memory(session_id, agent=None, *, wait=False, timeout=None):
    if not session_id:
        return False
    deadline = None if timeout is None else time.monotonic() + timeout
    with _condition:
        claimed = _claim(session_id, agent, wait, deadline)
    if claimed is None:
        return False
    return _call_provider(session_id, *claimed)


def discard_session(session_id):
    if not session_id:
        return False
    with _condition:
        entry = _get(session_id)
        if entry is None:
            return True
        if entry["in_flight"] or entry["generation"] > entry["committed_generation"]:
            return False
        del _sessions[session_id]
        return True


def drain_all_on_shutdown(deadline=30.0):
    ends = time.monotonic() + deadline
    while True:
        with _condition:
            dirty = [s for s, e in _sessions.items() if e["generation"] > e["committed_generation"]]
        progressed = False
        for session_id in dirty:
            left = ends - time.monotonic()
            if left <= 0:
                return
            progressed |= commit_session_memory(session_id, wait=True, timeout=left)
        if not progressed:
            return
