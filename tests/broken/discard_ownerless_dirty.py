"""Broken on purpose (S8).

Discard judges dirtiness by owned segments, so an entry whose only dirty work
has no owner yet is dropped together with that work.
"""

from __future__ import annotations

import contextlib
import threading
import time

_lock = threading.Condition()
_sessions: dict = {}
_calling: dict = {}
_draining = False
_TEMPLATE = {
    "generation": 0,
    "committed_generation": 0,
    "agent": None,
    "in_flight": False,
    "owe": 0,
}


def _entry(sid):
    entry = _sessions.get(sid)
    if entry is None:
        entry = dict(_TEMPLATE)
        entry["segs"] = []
        _sessions[sid] = entry
    return entry


def register_agent(sid, agent):
    if not sid:
        return
    with _lock:
        _entry(sid)["agent"] = agent


def unregister_agent(sid):
    if not sid:
        return
    with _lock:
        entry = _sessions.get(sid)
        if entry is not None:
            entry["agent"] = None


def mark_turn_completed(sid, *, agent=None):
    if not sid:
        return 0
    with _lock:
        entry = _entry(sid)
        if agent is not None:
            entry["agent"] = agent
        owner = entry["agent"]
        entry["generation"] += 1
        segs = entry["segs"]
        if segs and segs[-1][2] is owner:
            segs[-1][1] = entry["generation"]
        else:
            segs.append([entry["generation"], entry["generation"], owner])
        return entry["generation"]


def has_uncommitted_work(sid):
    if not sid:
        return False
    with _lock:
        entry = _sessions.get(sid)
        return entry is not None and entry["generation"] > entry["committed_generation"]


def commit_session_memory(sid, agent=None, *, wait=False, timeout=None):
    if not sid:
        return False
    return _commit(sid, agent, wait, timeout, False)


def _owe(entry):
    entry["owe"] = max(entry["owe"], entry["generation"])


def _commit(sid, agent, wait, timeout, follow):
    me = threading.get_ident()
    ends = None if timeout is None else time.monotonic() + timeout
    with _lock:
        while True:
            entry = _sessions.get(sid)
            if entry is None:
                return False
            if not entry["in_flight"]:
                break
            if follow:
                return False
            if not wait or me in _calling.values():
                _owe(entry)
                return False
            left = None if ends is None else ends - time.monotonic()
            if left is not None and left <= 0:
                _owe(entry)
                return False
            _lock.wait(left)
        if entry["generation"] <= entry["committed_generation"]:
            if entry["owe"] and entry["owe"] <= entry["committed_generation"]:
                entry["owe"] = 0
            return False
        segs = entry["segs"]
        seg = segs[0]
        if seg[2] is None:
            seg[2] = agent if agent is not None else entry["agent"]
            if seg[2] is not None and len(segs) > 1 and segs[1][2] is seg[2]:
                seg[1] = segs[1][1]
                del segs[1]
        owner = seg[2]
        if owner is None:
            if follow:
                entry["owe"] = 0
            return False
        captured = seg[1]
        entry["in_flight"] = True
        _calling[sid] = me
    try:
        owner.commit_memory_session()
    except Exception:
        _finish(sid, captured, ok=False, retry=not follow)
        return False
    except BaseException:
        _finish(sid, captured, ok=False, retry=False)
        raise
    _finish(sid, captured, ok=True, retry=True)
    return True


def _finish(sid, captured, *, ok, retry):
    with _lock:
        _calling.pop(sid, None)
        entry = _sessions.get(sid)
        if entry is None:
            return
        entry["in_flight"] = False
        if ok:
            entry["committed_generation"] = max(entry["committed_generation"], captured)
            done = entry["committed_generation"]
            segs = [seg for seg in entry["segs"] if seg[1] > done]
            if segs and segs[0][0] <= done:
                segs[0][0] = done + 1
            entry["segs"] = segs
        again = entry["owe"] > entry["committed_generation"] and retry and not _draining
        if not again:
            entry["owe"] = 0
        _lock.notify_all()
    if again:
        threading.Thread(target=_follow_up, args=(sid,), daemon=True).start()


def _follow_up(sid):
    with contextlib.suppress(BaseException):
        _commit(sid, None, False, None, True)


def discard_session(sid):
    if not sid:
        return False
    with _lock:
        entry = _sessions.get(sid)
        if entry is None:
            return True
        if entry["in_flight"] or any(seg[2] is not None for seg in entry["segs"]):
            return False
        del _sessions[sid]
        _lock.notify_all()
        return True


def drain_all_on_shutdown(deadline=30.0):
    global _draining
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or deadline != deadline:
        raise TypeError(f"deadline must be a number of seconds, got {deadline!r}")
    ends = time.monotonic() + max(0.0, deadline)
    me = threading.get_ident()
    caller = next((sid for sid, ident in list(_calling.items()) if ident == me), None)
    failures = {}
    running = set()
    _draining = True
    try:
        with _lock:
            while time.monotonic() < ends:
                ready = [
                    sid
                    for sid, item in _sessions.items()
                    if sid not in running and failures.get(sid, 0) < 3 and _committable(item)
                ]
                for sid in ready:
                    running.add(sid)
                    threading.Thread(
                        target=_drain_one, args=(sid, running, failures), daemon=True
                    ).start()
                busy = [
                    sid for sid, item in _sessions.items() if item["in_flight"] and sid != caller
                ]
                if not ready and not busy and not running:
                    return
                _lock.wait(min(0.05, max(0.0, ends - time.monotonic())))
    finally:
        _draining = False


def _committable(item):
    if item["in_flight"] or item["generation"] <= item["committed_generation"]:
        return False
    return item["segs"][0][2] is not None or item["agent"] is not None


def _drain_one(sid, running, failures):
    done = False
    try:
        done = _commit(sid, None, False, None, False)
    except BaseException:
        pass
    finally:
        with _lock:
            running.discard(sid)
            if not done:
                failures[sid] = failures.get(sid, 0) + 1
            _lock.notify_all()
