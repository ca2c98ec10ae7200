"""The drop-in under a host's white-box tests: the original module's internals.

Host suites hold ``_condition``, write ``_sessions`` entries, patch ``time`` and
``logger`` through the module and reload it. These tests do the same, written
from scratch, and check that the drop-in behaves as the original would.
"""

from __future__ import annotations

import importlib
import logging
import math
import threading
from types import ModuleType

import pytest
from _agents import WAIT, GatedAgent, held_session, join, start, start_held

PUBLISHED_NAMES = (
    "logger",
    "logging",
    "threading",
    "time",
    "annotations",
    "_lock",
    "_condition",
    "_sessions",
    "_background_commit_threads",
    "_background_commit_threads_lock",
    "_draining",
    "_register_background_commit_thread",
    "_unregister_background_commit_thread",
    "_drain_background_commit_threads",
    "_new_entry",
    "_reset_for_tests",
    "register_agent",
    "unregister_agent",
    "discard_session",
    "mark_turn_completed",
    "has_uncommitted_work",
    "_first_uncommitted_segment",
    "commit_session_memory",
    "drain_all_on_shutdown",
)
"""Every module-level name the latest published hermes-webui module defines."""


@pytest.fixture
def lifecycle(compat: ModuleType) -> ModuleType:
    """The drop-in module, reset before and after the test (the ``compat`` fixture)."""
    return compat


class Agent:
    def __init__(self) -> None:
        self.calls = 0

    def commit_memory_session(self) -> None:
        self.calls += 1


def test_every_published_module_level_name_exists(lifecycle: ModuleType) -> None:
    """The drop-in defines every module-level name of the published module."""
    missing = [name for name in PUBLISHED_NAMES if not hasattr(lifecycle, name)]
    assert missing == []


def test_holding_the_condition_blocks_other_threads_operations(lifecycle: ModuleType) -> None:
    """``with _condition:`` (and ``_lock``) blocks every lifecycle operation of others."""
    for held in (lifecycle._condition, lifecycle._lock):
        with held:
            thread, box = start(lambda: lifecycle.mark_turn_completed("s"))
            thread.join(0.2)
            assert thread.is_alive() and box == []
        join(thread)
    assert lifecycle._condition._lock is lifecycle._lock or lifecycle._condition.acquire(False)


def test_field_writes_under_the_condition_apply_to_the_state_S7(lifecycle: ModuleType) -> None:
    """S7: a test marks the work committed while holding ``_condition``; the
    lifecycle then has nothing to commit."""
    agent = Agent()
    lifecycle.register_agent("s", agent)
    generation = lifecycle.mark_turn_completed("s")
    with lifecycle._condition:
        lifecycle._sessions["s"]["committed_generation"] = generation
    assert lifecycle.has_uncommitted_work("s") is False
    assert lifecycle.commit_session_memory("s") is False and agent.calls == 0
    assert lifecycle._sessions["s"]["segments"] == []


def test_in_flight_mark_blocks_discard_and_commit_until_cleared_S5_S8(
    lifecycle: ModuleType,
) -> None:
    """S5, S8, L1: ``in_flight = True`` with no call running keeps the entry and makes
    commits busy; writing False ends it, and the follow-up owed by the wait that timed
    out commits the work."""
    agent = Agent()
    lifecycle.register_agent("s", agent)
    lifecycle.mark_turn_completed("s")
    lifecycle._sessions["s"]["committed_generation"] = 1
    lifecycle._sessions["s"]["in_flight"] = True
    assert lifecycle._sessions["s"]["in_flight"] is True
    assert lifecycle.discard_session("s") is False
    lifecycle.mark_turn_completed("s")
    assert lifecycle.commit_session_memory("s", wait=True, timeout=0.05) is False
    lifecycle._sessions["s"]["in_flight"] = False  # ends the stand-in call: the follow-up
    lifecycle._drain_background_commit_threads(WAIT)  # the timed-out wait left runs
    assert agent.calls == 1 and not lifecycle.has_uncommitted_work("s")
    assert lifecycle.discard_session("s") is True


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("committed_generation", 5, "0 <= committed <= generation"),
        ("committed_generation", -1, "never decreases"),
        ("generation", 0, "0 <= committed <= generation"),
        ("segments", [{"start": 1, "end": 2, "agent": None}], "does not continue"),
    ],
)
def test_malformed_writes_raise_and_change_nothing_S7(
    lifecycle: ModuleType, field: str, value: object, rule: str
) -> None:
    """S7: a write that would break well-formedness names the field and the rule."""
    lifecycle.mark_turn_completed("s")
    lifecycle.mark_turn_completed("s")
    lifecycle._sessions["s"]["committed_generation"] = 1
    before = repr(lifecycle._sessions["s"])
    with pytest.raises(ValueError, match=rule) as raised:
        lifecycle._sessions["s"][field] = value
    assert field in str(raised.value)
    assert repr(lifecycle._sessions["s"]) == before


def test_entries_delete_and_count_like_a_dict_L4(lifecycle: ModuleType) -> None:
    """L4: ``del _sessions[sid]`` removes the entry and ``len`` counts entries."""
    lifecycle.mark_turn_completed("a")
    lifecycle.mark_turn_completed("b")
    assert len(lifecycle._sessions) == 2 and sorted(lifecycle._sessions) == ["a", "b"]
    del lifecycle._sessions["a"]
    assert "a" not in lifecycle._sessions and len(lifecycle._sessions) == 1
    with pytest.raises(KeyError):
        del lifecycle._sessions["a"]
    lifecycle._sessions.clear()
    assert len(lifecycle._sessions) == 0


def test_whole_entries_and_segments_can_be_written(lifecycle: ModuleType) -> None:
    """A test may install an entry and edit a segment's owner in place."""
    owner, other = Agent(), Agent()
    entry = lifecycle._new_entry()
    entry.update(generation=2, segments=[{"start": 1, "end": 2, "agent": None}])
    lifecycle._sessions["s"] = entry
    assert lifecycle.has_uncommitted_work("s") is True
    lifecycle._sessions["s"]["segments"][0]["agent"] = owner
    assert lifecycle.commit_session_memory("s", other) is True
    assert (owner.calls, other.calls) == (1, 0)


def test_helpers_keep_the_published_signatures_and_results(lifecycle: ModuleType) -> None:
    """``_new_entry`` and ``_first_uncommitted_segment`` behave as the original's."""
    assert lifecycle._new_entry() == {
        "generation": 0,
        "committed_generation": 0,
        "agent": None,
        "in_flight": False,
        "segments": [],
    }
    agent = Agent()
    lifecycle.mark_turn_completed("s", agent=agent)
    lifecycle.mark_turn_completed("s", agent=Agent())
    segment = lifecycle._first_uncommitted_segment(lifecycle._sessions["s"])
    assert segment == {"start": 1, "end": 1, "agent": agent}
    assert lifecycle._first_uncommitted_segment(lifecycle._new_entry()) is None


def test_drain_background_commit_threads_joins_and_forgets_them(lifecycle: ModuleType) -> None:
    """``_drain_background_commit_threads`` joins the registered threads within its
    budget and empties the registry."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait, args=(WAIT,), daemon=True)
    assert lifecycle._register_background_commit_thread(thread) is True
    thread.start()
    lifecycle._drain_background_commit_threads(timeout=0.01)
    assert lifecycle._background_commit_threads == set()
    release.set()
    join(thread)
    lifecycle._drain_background_commit_threads(deadline_fn=lambda: 0.0)


def test_patched_monotonic_drives_waiting_timeouts_L3(
    lifecycle: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L3: patching ``time.monotonic`` through the module moves the clock the
    lifecycle reads: a waiting commit gives up when the patched clock passes."""
    agent = held_session(lifecycle.register_agent, lifecycle.mark_turn_completed)
    thread, _ = start_held(lambda: lifecycle.commit_session_memory("s"), agent)
    readings = iter([1000.0, 1000.0, 2000.0])
    monkeypatch.setattr(lifecycle.time, "monotonic", lambda: next(readings, 3000.0))
    assert lifecycle.commit_session_memory("s", wait=True, timeout=5.0) is False
    monkeypatch.undo()
    agent.release.set()
    join(thread)


def test_logger_patched_through_the_module_receives_failures(
    lifecycle: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``logger`` is where the lifecycle logs, even when a test replaces it."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    replacement = logging.getLogger("host.session_lifecycle.test")
    replacement.addHandler(Collect())
    replacement.propagate = False
    monkeypatch.setattr(lifecycle, "logger", replacement)
    agent = GatedAgent("a")
    agent.raises = RuntimeError("provider down")
    lifecycle.register_agent("s", agent)
    lifecycle.mark_turn_completed("s")
    assert lifecycle.commit_session_memory("s") is False
    assert any("failed for session" in record.getMessage() for record in records)


def test_reload_gives_a_fresh_state_and_fresh_locks(lifecycle: ModuleType) -> None:
    """``importlib.reload`` forgets every session and makes new locks."""
    lifecycle.mark_turn_completed("s")
    old_lock = lifecycle._lock
    fresh = importlib.reload(lifecycle)
    assert len(fresh._sessions) == 0 and fresh._lock is not old_lock
    assert fresh._draining is False


def test_raising_generation_by_a_million_adds_one_coalesced_segment_S10(
    lifecycle: ModuleType,
) -> None:
    """S10: a test hook write of ``generation`` far ahead completes the turns at once,
    owned by the registered agent, as one segment (not one step per turn)."""
    agent = GatedAgent("a")
    lifecycle.register_agent("s", agent)
    lifecycle.mark_turn_completed("s")
    lifecycle._sessions["s"]["generation"] = 10**12
    segments = [dict(item) for item in lifecycle._sessions["s"]["segments"]]
    assert lifecycle._sessions["s"]["generation"] == 10**12
    assert len(segments) == 1
    assert lifecycle.commit_session_memory("s") is True
    assert not lifecycle.has_uncommitted_work("s")


@pytest.mark.parametrize(("timeout", "error"), [("x", TypeError), (float("nan"), ValueError)])
def test_drain_background_commit_threads_refuses_a_bad_timeout_and_keeps_tracking(
    lifecycle: ModuleType, timeout: object, error: type[Exception]
) -> None:
    """Bad input: a timeout that is not a number of seconds is refused before any
    thread is dropped from tracking."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait, args=(WAIT,), daemon=True)
    assert lifecycle._register_background_commit_thread(thread)
    thread.start()
    with pytest.raises(error, match="timeout must be a number of seconds"):
        lifecycle._drain_background_commit_threads(timeout)
    assert thread in lifecycle._background_commit_threads
    release.set()
    lifecycle._drain_background_commit_threads(math.inf)
    assert not thread.is_alive()


def test_clearing_in_flight_starts_the_follow_up_a_busy_commit_left_L1(
    lifecycle: ModuleType,
) -> None:
    """L1: a commit that finds the test hook's ``in_flight = True`` answers busy; writing
    False ends that stand-in call, and the follow-up commits the work."""
    agent = GatedAgent("a")
    lifecycle.register_agent("s", agent)
    lifecycle.mark_turn_completed("s")
    lifecycle._sessions["s"]["in_flight"] = True
    assert lifecycle.commit_session_memory("s") is False
    assert agent.calls == 0
    lifecycle._sessions["s"]["in_flight"] = False
    lifecycle._drain_background_commit_threads(WAIT)
    assert agent.calls == 1
    assert not lifecycle.has_uncommitted_work("s")
