"""Declared divergences: the differences from a reference implementation that are allowed.

``memory-lifecycle conform TARGET --reference MODULE`` runs the same call
sequences on both and reports every difference, unless a declared divergence
explains it. ``DECLARED`` is the machine-readable form of README's table of
deliberate divergences between ``memory_lifecycle.compat`` and the original
hermes-webui module; ``--divergences FILE`` adds more (JSON or TOML).

A divergence is data, built from a fixed vocabulary:

``when``
    names from ``CONDITIONS``, all of which must hold: facts about what the
    sequence has done so far to one session (a provider raised a BaseException,
    a commit came from inside that session's own provider call, ...) or about
    the current step (it is a drain).
``allows``
    one name from ``ALLOWANCES``: the shape of difference it permits.
``scope``
    ``session``: it explains the differences of a session whose history meets
    ``when``; ``process``: when some session meets ``when``, it explains every
    difference of the step (for drains and calls that never return).
``then``
    after explaining a difference: ``continue`` comparing, ``stop-session``
    (the two states no longer correspond for that session) or ``stop-sequence``.

A file holds a list of records, each with the fields of ``Divergence``::

    [[divergence]]
    id = "turn-returns-nothing"
    property = "S7"
    allows = "results_of:mark_turn_completed"
    then = "continue"
    why = "our turns return None; the host never reads the generation"
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONDITIONS: dict[str, str] = {
    "base_exception": "a provider call of the session raised a BaseException",
    "busy_commit": "a commit of the session was requested, from inside a provider, while a "
    "provider call of the session was running",
    "busy_wait": "the same with wait=True",
    "busy_turn": "a turn of the session completed, from inside a provider, while a provider "
    "call of the session was running",
    "ownerless_turn": "a turn of the session completed with no agent passed or registered",
    "bad_agent_commit": "a commit of the session passed an agent without commit_memory_session",
    "adoption_merge": "a commit was about to adopt the session's ownerless first segment "
    "with the agent that owns the next one, or a drain began with an ownerless segment and "
    "a registered agent (read from the reference's _sessions)",
    "turn_coalesced": "a turn completed while the session's call was running, with the "
    "same owner as the last dirty segment (read from the reference's _sessions)",
    "bad_agent_adopts": "a commit passed an agent without commit_memory_session while the "
    "session's first dirty segment had no owner (read from the reference's _sessions)",
    "inner_drain": "a provider call of the session ran the shutdown drain from inside",
    "step_drain": "the step is a shutdown drain",
    "step_turn": "the step completes a turn",
    "step_commit": "the step is a commit",
    "step_base_exception": "a provider raised a BaseException during the step",
    "step_odd_argument": "the step passes an argument of a kind the API does not take "
    "(an unhashable id, a wait that is not a bool, a timeout that is a bool, NaN, a string "
    "or too large for a float)",
}
"""Conditions a divergence's ``when`` may name; all of them must hold."""

ALLOWANCES: dict[str, str] = {
    "anything": "any difference",
    "reference_hangs": "the reference's call does not return (the target's does)",
    "target_commits_more": "the target makes extra provider calls and may be clean where the "
    "reference is dirty; return values agree",
    "target_commits_sooner": "the target makes fewer provider calls and may be clean where the "
    "reference is dirty; return values agree",
    "drain_schedule": "how often a failing provider is called, and what calls made from "
    "inside providers return, differ; successful calls, return values and uncommitted work "
    "agree",
    "result_only": "only the return value of the step differs",
    "target_refuses": "the target raises TypeError, ValueError or OverflowError and calls no "
    "provider; the reference does something else",
    "reference_refuses": "the reference raises TypeError, ValueError or OverflowError and "
    "calls no provider; the target does something else",
}
API_CALLS = (
    "register_agent",
    "unregister_agent",
    "mark_turn_completed",
    "commit_session_memory",
    "discard_session",
    "drain_all_on_shutdown",
)
for _call in API_CALLS:
    ALLOWANCES[f"results_of:{_call}"] = (
        f"only what {_call} returns differs, in the step or from inside a provider call"
    )
"""Shapes of difference a divergence's ``allows`` may name."""

SCOPES = ("session", "process")
THEN = ("continue", "stop-session", "stop-sequence")


@dataclass(frozen=True)
class Divergence:
    """One declared, allowed difference between a target and its reference."""

    id: str
    property: str
    """The property (S1-S10, L1-L4) the difference concerns, as in README's table."""
    when: tuple[str, ...]
    allows: str
    why: str
    scope: str = "session"
    then: str = "stop-session"


DECLARED: tuple[Divergence, ...] = (
    Divergence(
        id="base-exception-no-wedge-for-waiters",
        property="S3",
        when=("base_exception",),
        allows="reference_hangs",
        scope="process",
        then="stop-sequence",
        why="a commit that waits without a timeout, or the first version's drain, waits "
        "forever on the wedged session in the reference",
    ),
    Divergence(
        id="base-exception-drain-goes-on",
        property="S3",
        when=("step_drain", "step_base_exception"),
        allows="anything",
        scope="process",
        then="stop-sequence",
        why="the reference's drain stops at a provider's BaseException and re-raises it; "
        "the target's drain logs it, keeps that session's work and commits the others",
    ),
    Divergence(
        id="base-exception-cleans-up",
        property="S3",
        when=("base_exception",),
        allows="anything",
        then="stop-session",
        why="the reference leaves the session in flight for good after a provider's "
        "BaseException; the target ends the call as failed, so later commits and waits "
        "of that session proceed",
    ),
    Divergence(
        id="busy-commit-followed-up",
        property="L1",
        when=("busy_commit",),
        allows="target_commits_more",
        then="stop-session",
        why="a commit refused because the session's call is running returns False in both; "
        "the target then commits that work by a follow-up when the call ends",
    ),
    Divergence(
        id="turns-in-flight-coalesced",
        property="S10",
        when=("turn_coalesced",),
        allows="anything",
        then="stop-session",
        why="turns of one owner completed while a call runs make one segment in the target "
        "and one each in the reference, so the target commits them in fewer calls",
    ),
    Divergence(
        id="adoption-merges-next-segment",
        property="S10",
        when=("adoption_merge",),
        allows="anything",
        then="stop-session",
        why="an agent adopting ownerless work also takes its own turns that follow in the "
        "same call in the target; the reference needs a call for each",
    ),
    Divergence(
        id="parallel-drain-schedule",
        property="L2",
        when=("step_drain",),
        allows="drain_schedule",
        then="continue",
        why="the reference's drain commits one session after another and retries a failing "
        "one once per round while others progress; the target's drain commits sessions in "
        "parallel, retrying each on its own, so retries and what a provider sees from inside "
        "its call follow another order",
    ),
    Divergence(
        id="reentrant-wait-returns-busy",
        property="L3",
        when=("busy_wait",),
        allows="reference_hangs",
        scope="process",
        then="stop-sequence",
        why="a provider committing its own session with wait=True waits for itself in the "
        "reference (until its timeout, or forever); the target returns False at once",
    ),
    Divergence(
        id="drain-inside-call-skips-caller",
        property="L2",
        when=("inner_drain",),
        allows="reference_hangs",
        scope="process",
        then="stop-sequence",
        why="a drain run from inside a provider call waits for that call to end in the "
        "reference, which never happens: it does not return; the target's drain does not "
        "wait for its caller's call and returns",
    ),
    Divergence(
        id="odd-arguments-refused",
        property="S7",
        when=("step_odd_argument",),
        allows="target_refuses",
        why="a wait that is not a bool, or a timeout that is a bool or NaN, is refused by the "
        "target (TypeError, ValueError) before anything changes; the reference takes any "
        "value and may commit or wait",
    ),
    Divergence(
        id="huge-timeout-unbounded",
        property="L3",
        when=("step_odd_argument",),
        allows="reference_refuses",
        why="a timeout too large for a float (10**400) means no bound in the target; the "
        "reference raises OverflowError",
    ),
    Divergence(
        id="bad-agent-adopts-nothing",
        property="S4",
        when=("bad_agent_adopts",),
        allows="anything",
        then="stop-session",
        why="a commit passing an agent without commit_memory_session makes it the owner of "
        "ownerless work for good in the reference; the target returns False and adopts "
        "nothing, so a later commit by a real agent succeeds",
    ),
)
"""The divergences of ``memory_lifecycle.compat`` from the original hermes-webui module."""


@dataclass(frozen=True)
class Unseen:
    """A deliberate divergence that no call sequence shows (module state, not calls)."""

    id: str
    property: str
    why: str


UNOBSERVABLE: tuple[Unseen, ...] = (
    Unseen(
        id="entries-retired",
        property="L4",
        why="a committed, unregistered, discarded session leaves no entry and no agent "
        "reference; the first version keeps every entry. Invisible to the calls; "
        "discard_session is compared whenever both implementations have it",
    ),
    Unseen(
        id="lock-reentrant",
        property="L3",
        why="_lock is re-entrant: a thread holding it (a host's white-box test) may call the "
        "lifecycle; with the original's plain Lock that thread blocks for good. Call "
        "sequences never hold the lock",
    ),
    Unseen(
        id="session-writes-checked",
        property="S7",
        why="a write to a _sessions entry that would leave it malformed raises ValueError "
        "and changes nothing; the original stores any value. Call sequences never write "
        "_sessions",
    ),
    Unseen(
        id="draining-cleared",
        property="L1",
        why="_draining is set while the drain runs and cleared when it returns, so "
        "background commits are admitted and follow-ups run again; the versions with the "
        "flag set it when the drain starts and leave it set. The calls compared do not "
        "read it",
    ),
)
"""Rows of README's table that no call sequence can show, and why."""


class DivergenceError(ValueError):
    """A divergence record or file is malformed."""


def _strings(value: Any, field: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DivergenceError(f"{where}: '{field}' must be a list of names")
    return tuple(value)


def divergence_from(record: Any, where: str) -> Divergence:
    """A ``Divergence`` from one mapping, every name checked against the vocabulary."""
    if not isinstance(record, dict):
        raise DivergenceError(f"{where}: a divergence is a table/object with id, property, ...")
    known = {"id", "property", "when", "allows", "why", "scope", "then"}
    extra = sorted(set(record) - known)
    if extra:
        raise DivergenceError(f"{where}: unknown field(s) {extra}; use {sorted(known)}")
    missing = [name for name in ("id", "property", "allows", "why") if name not in record]
    if missing:
        raise DivergenceError(f"{where}: missing field(s) {missing}")
    when = _strings(record.get("when", []), "when", where)
    unknown = [name for name in when if name not in CONDITIONS]
    if unknown:
        raise DivergenceError(
            f"{where}: unknown condition(s) {unknown} in 'when'; choose from {sorted(CONDITIONS)}"
        )
    if record["allows"] not in ALLOWANCES:
        raise DivergenceError(
            f"{where}: unknown allowance {record['allows']!r}; choose from {sorted(ALLOWANCES)}"
        )
    scope = record.get("scope", "session")
    if scope not in SCOPES:
        raise DivergenceError(f"{where}: scope must be one of {SCOPES}, got {scope!r}")
    then = record.get("then", "stop-session")
    if then not in THEN:
        raise DivergenceError(f"{where}: then must be one of {THEN}, got {then!r}")
    return Divergence(
        id=str(record["id"]),
        property=str(record["property"]).upper(),
        when=when,
        allows=str(record["allows"]),
        why=str(record["why"]),
        scope=scope,
        then=then,
    )


def load_divergences(path: str | Path) -> tuple[Divergence, ...]:
    """The divergences in a JSON (a list, or {"divergence": [...]}) or TOML file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise DivergenceError(f"cannot read divergences file {str(file)!r}: {error}") from None
    try:
        document: Any = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        kind = "TOML" if file.suffix == ".toml" else "JSON"
        raise DivergenceError(f"{file}: not valid {kind}: {error}") from None
    records = document.get("divergence", []) if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise DivergenceError(f"{file}: expected a list of divergences")
    return tuple(
        divergence_from(record, f"{file}, divergence {number}")
        for number, record in enumerate(records, start=1)
    )


def combined(extra: Iterable[Divergence] = ()) -> tuple[Divergence, ...]:
    """The declared divergences plus ``extra``; ids must stay unique."""
    result = (*DECLARED, *extra)
    seen: set[str] = set()
    for item in result:
        if item.id in seen:
            raise DivergenceError(f"divergence id {item.id!r} is declared twice")
        seen.add(item.id)
    return result
