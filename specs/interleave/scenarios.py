"""The scenario library: small races written against the hermes-webui API.

A ``Scenario`` has a ``setup`` (run alone, before any actor starts) and a few
``actors``, each run in its own logical thread. The explorer then tries their
interleavings; after the actors finish, every run ends the same way (release
hung providers, let everything settle, final drain with succeeding providers,
check nothing completed was lost; see ``runner``). A scenario whose ``needs``
the target lacks is skipped as not applicable.

``SCENARIOS`` maps names to scenarios; ``CANONICAL`` lists the small ones
explored exhaustively, ``LARGE`` the bigger ones meant for random and PCT
sampling, and ``INTERRUPTED`` the ones explored with a KeyboardInterrupt
injected at every interrupt site of their ``interrupted`` actors (a host's
main thread taking Ctrl-C).
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
    interrupted: tuple[str, ...] = ()
    """Actors that take an injected KeyboardInterrupt in interrupt mode (the host's main thread)."""

    def actor_thread(self, actor_name: str) -> int:
        """The logical thread index of an actor (T0 runs the setup; actors follow in order)."""
        names = [name for name, _ in self.actors]
        return 1 + names.index(actor_name)


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


def _sessions_with(**scripts: tuple[str, ...]) -> Actor:
    """Setup: per session ``sid`` an agent ``sid.a`` with its script, registered, one turn."""

    def setup(ctx: Context) -> None:
        for session_id, script in scripts.items():
            agent = ctx.agent(f"{session_id}.a", session_id, *script)
            ctx.api.register_agent(session_id, agent)
            ctx.api.mark_turn_completed(session_id)

    return setup


def _call(method: str, session_id: str) -> Actor:
    """An actor making one recorded call of ``session_id`` (``method`` of the recording API)."""

    def actor(ctx: Context) -> None:
        getattr(ctx.api, method)(session_id)

    return actor


def _drain_after_hang(session_id: str, deadline: float) -> Actor:
    """Drain once ``session_id``'s provider is hung (the hung call was started elsewhere)."""

    def actor(ctx: Context) -> None:
        ctx.wait_until_provider_runs(session_id, "hang")
        ctx.api.drain_all_on_shutdown(deadline=deadline)

    return actor


def _drain_then_slow_commit(ctx: Context) -> None:
    ctx.api.drain_all_on_shutdown(deadline=5.0)
    ctx.api.mark_turn_completed("s")
    ctx.api.commit_session_memory("s")


def _busy_while_slow(ctx: Context) -> None:
    ctx.wait_until_provider_runs("s", "slow")
    ctx.api.mark_turn_completed("s")
    ctx.api.commit_session_memory("s")


def _owner_segments(ctx: Context) -> None:
    first = ctx.agent("a", "s")
    second = ctx.agent("b", "s")
    ctx.api.register_agent("s", first)
    ctx.api.mark_turn_completed("s")
    ctx.api.register_agent("s", second)
    ctx.api.mark_turn_completed("s")
    ctx.api.mark_turn_completed("s", agent=first)


def _host_main(ctx: Context) -> None:
    """A host's main thread: a turn, a boundary commit, a query, a waiting commit."""
    ctx.api.mark_turn_completed("s")
    ctx.api.commit_session_memory("s")
    ctx.api.has_uncommitted_work("s")
    ctx.api.mark_turn_completed("s")
    ctx.api.commit_session_memory("s", wait=True, timeout=5.0)


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
        _one_session("abort"),
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
    Scenario(
        "hung_provider_vs_timed_waiter",
        "a commit waits with a timeout while the running call hangs: it returns by its timeout",
        ("L3", "L1"),
        _one_session("hang"),
        (("committer", _commit), ("waiter", _commit_waiting(5.0))),
    ),
    Scenario(
        "hung_background_commit_vs_drain",
        "a registered background commit hangs in its provider, then the drain starts: the "
        "healthy session still gets its call before the deadline",
        ("L2",),
        _sessions_with(s=("hang",), t=()),
        (("host", _call("background_commit", "s")), ("drain", _drain_after_hang("s", 5.0))),
        needs=BASIC_API | {"drain_all_on_shutdown", "_register_background_commit_thread"},
    ),
    Scenario(
        "drain_retries_beside_hung_provider",
        "the drain runs while one provider hangs, another fails once and a turn completes in a "
        "third session: the failed one is retried and the new turn committed before the deadline",
        ("L2",),
        _sessions_with(s=("hang",), t=("fail",), u=()),
        (("drain", _drain(5.0)), ("turn", _call("mark_turn_completed", "u"))),
        needs=BASIC_API | {"drain_all_on_shutdown"},
    ),
    Scenario(
        "busy_commit_after_drain",
        "after the drain returned, a commit refused as busy is still followed up",
        ("L1",),
        _sessions_with(s=("ok", "slow")),
        (("host", _drain_then_slow_commit), ("late", _busy_while_slow)),
        needs=BASIC_API | {"drain_all_on_shutdown"},
    ),
    Scenario(
        "cross_session_wait_cycle",
        "each provider commits the other session with wait=True while both calls run: "
        "neither may wait for the other",
        ("L3", "L1"),
        _sessions_with(s=("wait_on:t",), t=("wait_on:s",)),
        (
            ("commit-s", _call("commit_session_memory", "s")),
            ("commit-t", _call("commit_session_memory", "t")),
        ),
    ),
    Scenario(
        "provider_calls_drain",
        "a provider calls the drain from inside its call: the drain commits the other "
        "session and returns without waiting for the call that made it",
        ("L2", "L3"),
        _sessions_with(s=("drain",), t=()),
        (("committer", _call("commit_session_memory", "s")),),
        needs=BASIC_API | {"drain_all_on_shutdown"},
    ),
    Scenario(
        "drain_over_owner_segments",
        "the drain commits a session with several owner segments while a turn completes",
        ("L2", "S4"),
        _owner_segments,
        (("drain", _drain(5.0)), ("turn", _turn)),
        needs=BASIC_API | {"drain_all_on_shutdown"},
    ),
)

INTERRUPTED_LIST = (
    Scenario(
        "interrupted_host",
        "Ctrl-C lands anywhere in the host's calls (turns, commits, a query, a waiting commit) "
        "while another thread commits the same session",
        ("S3", "L3", "L2"),
        _one_session(),
        (("main", _host_main), ("other", _commit_waiting(5.0))),
        interrupted=("main",),
    ),
    Scenario(
        "interrupted_drain",
        "Ctrl-C lands anywhere in the shutdown drain while a commit runs",
        ("S3", "L3", "L2", "L1"),
        _sessions_with(s=(), t=()),
        (("main", _drain(5.0)), ("committer", _call("commit_session_memory", "t"))),
        needs=BASIC_API | {"drain_all_on_shutdown"},
        interrupted=("main",),
    ),
)


def _mixed_setup(ctx: Context) -> None:
    for session_id, script in (("s", ("fail", "slow")), ("t", ("abort",))):
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
    scenario.name: scenario for scenario in (*SCENARIO_LIST, *LARGE_LIST, *INTERRUPTED_LIST)
}
"""Every scenario by name."""

INTERRUPTED: tuple[str, ...] = tuple(scenario.name for scenario in INTERRUPTED_LIST)
"""Scenarios explored with injected KeyboardInterrupts (``explore(..., interrupts=True)``)."""

CANONICAL: tuple[str, ...] = tuple(scenario.name for scenario in SCENARIO_LIST)
"""The small scenarios every target is explored with exhaustively (dfs)."""

LARGE: tuple[str, ...] = tuple(scenario.name for scenario in LARGE_LIST)
"""Larger scenarios, for random and PCT sampling."""
