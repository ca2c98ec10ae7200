"""The worlds ``memory-lifecycle check`` explores by default, and events they offer."""

from __future__ import annotations

from memory_lifecycle.model import (
    Discard,
    EntryEdited,
    Outcome,
    Process,
    Shutdown,
    Step,
    TurnCompleted,
    step,
    step_session,
)
from memory_lifecycle.specs.checker import cli
from memory_lifecycle.specs.checker.explore import explore
from memory_lifecycle.specs.checker.mutants import MUTANTS
from memory_lifecycle.specs.checker.world import (
    CHECK_BOUNDS,
    PROCESS_BOUNDS,
    SEGMENT_BOUNDS,
    Bounds,
    edit_probes,
    session_events,
)
from memory_lifecycle.specs.properties import ALL, BY_ID


def test_default_check_explores_three_turns_of_one_session_S4_S10() -> None:
    """S4, S10: the default run adds one session with three turns, where merges across
    segment boundaries happen; options that choose a world explore that world alone."""
    assert cli.worlds_from(cli._parser().parse_args([])) == [
        (CHECK_BOUNDS, "auto"),
        (SEGMENT_BOUNDS, "auto"),
        (PROCESS_BOUNDS, "product"),
    ]
    chosen = cli._parser().parse_args(["--sessions", "1", "--max-generation", "2"])
    assert cli.worlds_from(chosen) == [(Bounds(sessions=1, agents=2, max_generation=2), "auto")]
    # S6: several sessions explored one at a time are followed by whole-process steps
    chosen = cli._parser().parse_args(["--max-generation", "1"])
    assert cli.worlds_from(chosen) == [
        (Bounds(sessions=2, agents=2, max_generation=1), "auto"),
        (PROCESS_BOUNDS, "product"),
    ]
    chosen = cli._parser().parse_args(["--max-generation", "1", "--engine", "product"])
    assert cli.worlds_from(chosen) == [(Bounds(sessions=2, agents=2, max_generation=1), "product")]
    mutant = MUTANTS["adoption-reads-too-far"]  # a bug that needs three turns
    assert not explore(SEGMENT_BOUNDS, mutant.step, ALL, stop_at_first=True).ok


def test_discard_offered_for_a_session_without_entry_S8() -> None:
    """S8: the world offers Discard for a session with no entry, whose result
    (ALREADY_ABSENT) the result table checks on every transition."""
    events = session_events("s1", None, CHECK_BOUNDS.agent_handles, CHECK_BOUNDS, Shutdown())
    assert Discard("s1") in events
    assert step_session(None, Discard("s1")).result is Outcome.ALREADY_ABSENT


def test_edit_probes_write_what_is_well_formed_and_refuse_wrong_types_S7() -> None:
    """S7: the test hook is probed with well-formed writes of segments and of a lower
    generation, and with values of the wrong type; an edit of one field that removes
    the entry is a violation."""
    session = step_session(None, TurnCompleted("s1")).session
    assert session is not None
    probes = edit_probes("s1", session, CHECK_BOUNDS.agent_handles, CHECK_BOUNDS)
    wanted = {
        ("segments", repr(session.segments), False),
        ("generation", "0", False),
        ("segments", "'not segments'", True),
        ("generation", "True", True),
    }
    assert wanted <= {(p.event.field, repr(p.event.value), p.malformed) for p in probes}
    before = Process((("s1", session),))
    edit = EntryEdited("s1", "in_flight", False)
    removed = Step(Process(), (), Outcome.DONE)
    on_probe = BY_ID["S7"].on_probe
    assert on_probe is not None
    assert "removed the entry" in (on_probe(before, edit, False, removed) or "")
    assert on_probe(before, edit, False, step(before, edit)) is None
