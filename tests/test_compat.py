"""The hermes-webui drop-in: same API, same return values, the documented divergences."""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Iterator
from types import ModuleType

import memory_lifecycle.compat as compat_module
import pytest
from _agents import (
    WAIT,
    GatedAgent,
    commit_running_behind_a_new_turn,
    join,
    start,
    start_held,
    wait_until,
)

SIGNATURES = {
    "register_agent": "(session_id: 'str', agent: 'Any') -> 'None'",
    "unregister_agent": "(session_id: 'str') -> 'None'",
    "mark_turn_completed": "(session_id: 'str', *, agent: 'Any' = None) -> 'int'",
    "has_uncommitted_work": "(session_id: 'str') -> 'bool'",
    "commit_session_memory": "(session_id: 'str', agent: 'Any' = None, *, wait: 'bool' = False, "
    "timeout: 'float | None' = None) -> 'bool'",
    "discard_session": "(session_id: 'str') -> 'bool'",
    "drain_all_on_shutdown": "(deadline: 'float' = 30.0) -> 'None'",
    "_reset_for_tests": "() -> 'None'",
    "_register_background_commit_thread": "(thread: 'threading.Thread') -> 'bool'",
    "_unregister_background_commit_thread": "(thread: 'threading.Thread') -> 'None'",
}


@pytest.fixture
def compat() -> Iterator[ModuleType]:
    """A freshly reloaded module, as a host's tests would get it."""
    module = importlib.reload(compat_module)
    yield module
    module._reset_for_tests()


def test_module_offers_the_published_api_with_the_same_signatures(compat: ModuleType) -> None:
    """Every function of the published module exists with the same parameters."""
    for name, signature in SIGNATURES.items():
        assert str(inspect.signature(getattr(compat, name))) == signature, name
    assert isinstance(compat._background_commit_threads, set)
    assert hasattr(compat._background_commit_threads_lock, "acquire")
    assert compat._draining is False


def test_falsy_session_ids_are_safe_no_ops(compat: ModuleType) -> None:
    """Falsy ids return the original's defaults and create nothing."""
    agent = GatedAgent("a")
    for falsy in ("", None, 0):
        assert compat.register_agent(falsy, agent) is None
        assert compat.unregister_agent(falsy) is None
        assert compat.mark_turn_completed(falsy, agent=agent) == 0
        assert compat.has_uncommitted_work(falsy) is False
        assert compat.commit_session_memory(falsy, agent, wait=True) is False
        assert compat.discard_session(falsy) is False
    assert len(compat._sessions) == 0 and agent.calls == 0


def test_return_values_match_the_original_S1_S2_S9(compat: ModuleType) -> None:
    """S1, S2, S9: generations count up; commit is True only for a provider success."""
    agent = GatedAgent("a")
    assert compat.commit_session_memory("s") is False
    compat.register_agent("s", agent)
    assert compat.has_uncommitted_work("s") is False
    assert compat.commit_session_memory("s") is False
    assert compat.mark_turn_completed("s") == 1
    assert compat.mark_turn_completed("s") == 2
    assert compat.has_uncommitted_work("s") is True
    assert compat.commit_session_memory("s") is True
    assert compat.commit_session_memory("s") is False
    assert agent.calls == 1
    agent.raises = RuntimeError("down")
    compat.mark_turn_completed("s")
    assert compat.commit_session_memory("s") is False
    assert compat.has_uncommitted_work("s") is True


def test_sessions_view_shows_entries_in_the_original_shape_S7(compat: ModuleType) -> None:
    """S7: the read-only ``_sessions`` view shows generation, committed, owner segments."""
    agent = GatedAgent("a")
    compat.mark_turn_completed("s", agent=agent)
    compat.mark_turn_completed("s")
    entry = compat._sessions["s"]
    assert entry == {
        "generation": 2,
        "committed_generation": 0,
        "agent": agent,
        "in_flight": False,
        "segments": [{"start": 1, "end": 2, "agent": agent}],
    }
    assert list(compat._sessions) == ["s"]


def test_discard_session_returns_the_published_booleans_S8(compat: ModuleType) -> None:
    """S8: True when removed or absent; False while dirty or in flight."""
    agent = GatedAgent("a", hold=True)
    assert compat.discard_session("never-seen") is True
    compat.mark_turn_completed("s", agent=agent)
    assert compat.discard_session("s") is False
    thread, _ = start_held(lambda: compat.commit_session_memory("s"), agent)
    assert compat.discard_session("s") is False
    agent.release.set()
    join(thread)
    assert compat.discard_session("s") is True
    assert "s" not in compat._sessions


def test_base_exception_does_not_wedge_the_session_S3(compat: ModuleType) -> None:
    """S3 (divergence): the original leaves the session in flight forever here."""
    agent = GatedAgent("a")
    agent.raises = KeyboardInterrupt()
    compat.mark_turn_completed("s", agent=agent)
    with pytest.raises(KeyboardInterrupt):
        compat.commit_session_memory("s")
    agent.raises = None
    assert compat.commit_session_memory("s", wait=True, timeout=1.0) is True


def test_busy_boundary_commit_is_not_lost_until_shutdown_L1(compat: ModuleType) -> None:
    """L1 (divergence): a busy boundary's work is committed when the running call ends."""
    agent, first = commit_running_behind_a_new_turn(
        compat.mark_turn_completed, compat.commit_session_memory
    )
    assert compat.commit_session_memory("s") is False
    agent.release.set()
    join(first)
    wait_until(lambda: not compat.has_uncommitted_work("s"), "the follow-up committed")


def test_negative_timeout_returns_at_once_L3(compat: ModuleType) -> None:
    """L3: a waiting commit with a negative timeout does not block."""
    agent = GatedAgent("a", hold=True)
    compat.mark_turn_completed("s", agent=agent)
    first, _ = start_held(lambda: compat.commit_session_memory("s"), agent)
    assert compat.commit_session_memory("s", wait=True, timeout=-1) is False
    agent.release.set()
    join(first)


def test_background_registry_refuses_threads_once_draining_L2(compat: ModuleType) -> None:
    """L2: the host's boundary threads are tracked, joined by drain, refused after it starts."""
    agent = GatedAgent("a", hold=True)
    compat.mark_turn_completed("s", agent=agent)

    def boundary() -> None:
        try:
            compat.commit_session_memory("s", wait=True)
        finally:
            compat._unregister_background_commit_thread(threading.current_thread())

    thread = threading.Thread(target=boundary, daemon=True)
    assert compat._register_background_commit_thread(thread) is True
    with compat._background_commit_threads_lock:
        assert thread in compat._background_commit_threads
    thread.start()
    assert agent.entered.wait(WAIT)
    drainer, _ = start(lambda: compat.drain_all_on_shutdown(deadline=WAIT))
    wait_until(lambda: compat._draining, "the drain began")
    late = threading.Thread(target=lambda: None)
    assert compat._register_background_commit_thread(late) is False
    agent.release.set()
    join(drainer)
    join(thread)
    assert not compat.has_uncommitted_work("s")
    assert compat._background_commit_threads == set()


def test_reset_for_tests_forgets_everything(compat: ModuleType) -> None:
    """``_reset_for_tests`` clears sessions and the drain flag."""
    compat.mark_turn_completed("s", agent=GatedAgent("a"))
    compat.drain_all_on_shutdown(deadline=0)
    compat._reset_for_tests()
    assert compat._draining is False and len(compat._sessions) == 0
    assert compat._register_background_commit_thread(threading.Thread(target=print)) is True


def test_reload_gives_a_fresh_lifecycle(compat: ModuleType) -> None:
    """A host reloading the module in its tests starts from nothing."""
    compat.mark_turn_completed("s", agent=GatedAgent("a"))
    fresh = importlib.reload(compat)
    assert len(fresh._sessions) == 0


def test_bad_explicit_agent_adopts_nothing_S4(compat: ModuleType) -> None:
    """S4: a commit passing an agent that cannot commit leaves ownerless work adoptable."""
    compat.mark_turn_completed("s")
    assert compat.commit_session_memory("s", object()) is False
    good = GatedAgent("good")
    assert compat.commit_session_memory("s", good) is True and good.calls == 1


def test_draining_flag_refuses_registration_L2(compat: ModuleType) -> None:
    """L2: a host that sets ``_draining`` itself gets threads refused too."""
    compat._draining = True
    assert compat._register_background_commit_thread(threading.Thread(target=print)) is False
    with pytest.raises(ValueError, match="NaN"):
        compat.drain_all_on_shutdown(float("nan"))
