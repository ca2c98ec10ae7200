"""First checks of the pure model."""

from memory_lifecycle.model import (
    EMPTY_PROCESS,
    CommitRequested,
    CommitSucceeded,
    Outcome,
    RegisterAgent,
    TurnCompleted,
    step,
)


def test_s2_late_turn_stays_dirty_after_success() -> None:
    """S2: success advances committed to the captured end only."""
    agent = object()
    state = step(EMPTY_PROCESS, RegisterAgent("s", agent)).state
    state = step(state, TurnCompleted("s")).state
    state, _, result = step(state, CommitRequested("s"))
    assert result is Outcome.STARTED
    state = step(state, TurnCompleted("s")).state
    state, _, result = step(state, CommitSucceeded("s", agent, 1))
    assert result is Outcome.COMMITTED
    session = state.session("s")
    assert session is not None
    assert (session.committed, session.generation) == (1, 2)
