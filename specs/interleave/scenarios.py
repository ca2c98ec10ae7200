"""The scenario library: small races written against the hermes-webui API.

A ``Scenario`` has a ``setup`` (run alone, before any actor starts) and a few
``actors``, each run in its own logical thread. The explorer then tries their
interleavings; after the actors finish, every run ends the same way (release
hung providers, let everything settle, final drain with succeeding providers,
check nothing completed was lost; see ``runner``). A scenario whose ``needs``
the target lacks is skipped as not applicable.

``SCENARIOS`` maps names to scenarios; ``CANONICAL`` lists the small ones
explored exhaustively, ``LARGE`` the bigger ones meant for random and PCT
sampling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .context import Context

BASIC_API = frozenset(
    {"register_agent", "mark_turn_completed", "has_uncommitted_work", "commit_session_memory"}
)

Actor = Callable[[Context], None]


@dataclass(frozen=True)
class Scenario:
    """A race to explore: a setup, then concurrent actors."""

    name: str
    description: str
    properties: tuple[str, ...]
    """The property IDs the race is about (all properties are checked on every run)."""
    setup: Actor
    actors: tuple[tuple[str, Actor], ...]
    needs: frozenset[str] = BASIC_API


def _one_session(*script: str) -> Actor:
    """Setup: agent ``a`` of session ``s`` with ``script``, registered, one completed turn."""

    def setup(ctx: Context) -> None:
        agent = ctx.agent("a", "s", *script)
        ctx.api.register_agent("s", agent)
        ctx.api.mark_turn_completed("s")

    return setup


def _commit(ctx: Context) -> None:
    ctx.api.commit_session_memory("s")


def _turn(ctx: Context) -> None:
    ctx.api.mark_turn_completed("s")


def _commit_waiting(timeout: float | None) -> Actor:
    def actor(ctx: Context) -> None:
        ctx.api.commit_session_memory("s", wait=True, timeout=timeout)

    return actor


def _evict_and_reopen(ctx: Context) -> None:
    ctx.api.unregister_agent("s")
    ctx.api.register_agent("s", ctx.agents["b"])
    ctx.api.mark_turn_completed("s")


def _setup_with_replacement(*script: str) -> Actor:
    def setup(ctx: Context) -> None:
        _one_session(*script)(ctx)
        ctx.agent("b", "s")

    return setup


def _commit_then_retry(ctx: Context) -> None:
    ctx.api.commit_session_memory("s")
    ctx.api.commit_session_memory("s")


def _discard(ctx: Context) -> None:
    ctx.api.discard_session("s")


def _turn_then_commit(ctx: Context) -> None:
    ctx.api.mark_turn_completed("s")
    ctx.api.commit_session_memory("s")


def _turn_then_discard(ctx: Context) -> None:
    ctx.api.mark_turn_completed("s")
    ctx.api.discard_session("s")


def _two_sessions(first_script: tuple[str, ...]) -> Actor:
    def setup(ctx: Context) -> None:
        first = ctx.agent("a", "s", *first_script)
        second = ctx.agent("b", "t")
        ctx.api.register_agent("s", first)
        ctx.api.register_agent("t", second)
        ctx.api.mark_turn_completed("s")
        ctx.api.mark_turn_completed("t")

    return setup


def _drain(deadline: float) -> Actor:
    def actor(ctx: Context) -> None:
        ctx.api.drain_all_on_shutdown(deadline=deadline)

    return actor


SCENARIO_LIST = (
    Scenario(
        "late_commit_vs_new_turn",
        "a boundary commit runs while a new turn completes: the new turn stays dirty",
        ("S2", "S10"),
        _one_session(),
        (("committer", _commit), ("turn", _turn)),
    ),
    Scenario(
        "two_boundary_commits",
        "two boundary commits of one session race, with a turn in between",
        ("S5", "L1", "S9"),
        _one_session(),
        (("commit-1", _commit), ("commit-2", _commit), ("turn", _turn)),
    ),
    Scenario(
        "eviction_vs_background_commit",
        "a background commit races an eviction that re-registers a new agent and completes a turn",
        ("S4", "S2"),
        _setup_with_replacement(),
        (("background", _commit), ("evict", _evict_and_reopen)),
    ),
    Scenario(
        "drain_vs_in_flight_commit",
        "shutdown drain starts while a boundary commit of one of two sessions is in flight",
        ("L2", "L1", "S5"),
        _two_sessions(()),
        (("committer", _commit), ("drain", _drain(5.0))),
        needs=BASIC_API | {"drain_all_on_shutdown"},
    ),
    Scenario(
        "drain_vs_hung_provider",
        "shutdown drain while one session's provider hangs: the drain keeps its deadline "
        "and still commits the other session",
        ("L2", "L3"),
        _two_sessions(("hang",)),
        (("committer", _commit), ("drain", _drain(5.0))),
        needs=BASIC_API | {"drain_all_on_shutdown"},
    ),
    Scenario(
        "discard_vs_commit",
        "a discard races a boundary commit: only a clean, idle entry may go",
        ("S8", "L4"),
        _one_session(),
        (("committer", _commit), ("discard", _discard)),
        needs=BASIC_API | {"discard_session"},
    ),
    Scenario(
        "discard_vs_turns",
        "turns, a commit and a discard race; a turn after the discard has no agent (orphaned)",
        ("S8", "S7", "L4"),
        _one_session(),
        (("committer", _commit), ("turn-discard", _turn_then_discard), ("turn", _turn)),
        needs=BASIC_API | {"discard_session"},
    ),
    Scenario(
        "drain_vs_follow_up",
        "a commit refused as busy leaves a follow-up while shutdown drain starts",
        ("L1", "L2", "S5"),
        _one_session(),
        (("commit-1", _commit), ("turn-commit-2", _turn_then_commit), ("drain", _drain(5.0))),
        needs=BASIC_API | {"drain_all_on_shutdown"},
    ),
    Scenario(
        "reregistration_vs_failed_retry",
        "a failing commit is retried while a new agent is registered and completes a turn",
        ("S3", "S4"),
        _setup_with_replacement("fail"),
        (("commit-retry", _commit_then_retry), ("reregister", _evict_and_reopen)),
        needs=BASIC_API | {"unregister_agent"},
    ),
    Scenario(
        "base_exception_vs_waiter",
        "the provider raises a BaseException while another commit waits with a timeout",
        ("S3", "L3"),
        _one_session("base"),
        (("committer", _commit), ("waiter", _commit_waiting(5.0))),
    ),
    Scenario(
        "reentrant_provider",
        "the provider commits its own session from inside the call while a turn completes",
        ("S5", "L3"),
        _one_session("reenter"),
        (("committer", _commit), ("turn", _turn)),
    ),
    Scenario(
        "reentrant_waiting_provider",
        "the provider commits its own session with wait=True from inside the call",
        ("L3", "S5"),
        _one_session("reenter_wait"),
        (("committer", _commit), ("turn", _turn)),
    ),
    Scenario(
        "slow_provider_vs_timed_waiter",
        "a waiting commit times out while a slow provider call runs and a turn completes: "
        "the work it asked for is committed by a follow-up",
        ("L1", "S2", "S5"),
        _one_session("slow"),
        (("committer", _commit), ("waiter", _commit_waiting(5.0)), ("turn", _turn)),
    ),
    Scenario(
        "failure_vs_timed_waiter",
        "the provider fails while another commit waits with a timeout",
        ("S3", "L3"),
        _one_session("fail"),
        (("committer", _commit), ("waiter", _commit_waiting(5.0))),
    ),
    Scenario(
        "failure_vs_waiter",
        "the provider fails while another commit waits without a timeout",
        ("S3", "L3"),
        _one_session("fail"),
        (("committer", _commit), ("waiter", _commit_waiting(None))),
    ),
)


def _mixed_setup(ctx: Context) -> None:
    for session_id, script in (("s", ("fail", "slow")), ("t", ("base",))):
        agent = ctx.agent(f"{session_id}1", session_id, *script)
        ctx.agent(f"{session_id}2", session_id)
        ctx.api.register_agent(session_id, agent)
        ctx.api.mark_turn_completed(session_id)


def _mixed_host(session_id: str) -> Actor:
    """A host thread: turns, a boundary commit, a waiting commit, an eviction."""

    def actor(ctx: Context) -> None:
        ctx.api.mark_turn_completed(session_id)
        ctx.api.commit_session_memory(session_id)
        ctx.api.mark_turn_completed(session_id)
        ctx.api.commit_session_memory(session_id, wait=True, timeout=2.0)
        ctx.api.unregister_agent(session_id)
        ctx.api.register_agent(session_id, ctx.agents[f"{session_id}2"])
        ctx.api.mark_turn_completed(session_id)

    return actor


def _mixed_background(ctx: Context) -> None:
    for session_id in ("s", "t", "s"):
        ctx.api.commit_session_memory(session_id)


LARGE_LIST = (
    Scenario(
        "mixed_two_sessions",
        "two sessions, each with a host thread (turns, commits, a timed wait, an eviction), "
        "a background committer and a shutdown drain; providers fail, raise, run slow",
        ("S2", "S3", "S4", "S5", "S6", "L1", "L2", "L3"),
        _mixed_setup,
        (
            ("host-s", _mixed_host("s")),
            ("host-t", _mixed_host("t")),
            ("background", _mixed_background),
            ("drain", _drain(20.0)),
        ),
        needs=BASIC_API | {"unregister_agent", "drain_all_on_shutdown"},
    ),
)

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario for scenario in (*SCENARIO_LIST, *LARGE_LIST)
}
"""Every scenario by name."""

CANONICAL: tuple[str, ...] = tuple(scenario.name for scenario in SCENARIO_LIST)
"""The small scenarios every target is explored with exhaustively (dfs)."""

LARGE: tuple[str, ...] = tuple(scenario.name for scenario in LARGE_LIST)
"""Larger scenarios, for random and PCT sampling."""
