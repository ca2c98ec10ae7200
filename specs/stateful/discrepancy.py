"""What one rule of the stateful comparison predicted and saw, and where the two differ.

A rule feeds the model (``prediction``) and calls the target; an
``Observation`` holds both sides. Each difference becomes a ``Discrepancy``
carrying the circumstances a property needs to claim it: how the session's
last provider call ended, whether the model owed a follow-up, whether the
session had any turn. The machine's invariants decide which property each
kind of discrepancy breaks; ``Observation.leading`` picks the one that explains
the others (causes before symptoms: a hang explains whatever a later call
shows, overlapping calls explain extra calls, calls explain return values and
dirty flags).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .prediction import Expected, Forecast


@dataclass(frozen=True)
class Discrepancy:
    """One way the target differed from the model in one rule."""

    RANK: ClassVar[int] = 99
    """Lower ranks are causes of higher ones (see the module docstring)."""

    message: str
    session_id: str | None = None


@dataclass(frozen=True)
class Hang(Discrepancy):
    """A target call did not return within its bound."""

    RANK: ClassVar[int] = 0
    drain: bool = False
    wedged: bool = False
    """A session the call touched was left by a provider's ``BaseException``."""


@dataclass(frozen=True)
class ThreadsLeft(Discrepancy):
    """Threads the target started during the rule were still running after the bound."""

    RANK: ClassVar[int] = 1


@dataclass(frozen=True)
class Overlap(Discrepancy):
    """Two provider calls of one session ran at once."""

    RANK: ClassVar[int] = 2


@dataclass(frozen=True)
class StrayCall(Discrepancy):
    """The provider of a session the rule did not act on was called."""

    RANK: ClassVar[int] = 3


@dataclass(frozen=True)
class CallsDiffer(Discrepancy):
    """A session's provider calls (agents, in order) differ from the model's.

    ``difference`` is ``wrong_agent`` (same position, another agent),
    ``extra`` (more calls than predicted), ``missing`` (fewer) or
    ``extra_in_drain`` (a drain called agents the model never calls).
    """

    RANK: ClassVar[int] = 4
    difference: str = "extra"
    after_failure: bool = False
    """The session's last provider call before the difference failed."""
    no_turn_yet: bool = False
    """The session had no completed turn, or the rule only completed turns."""
    while_busy: bool = False
    """The model's commit found another call running."""
    repeats_owner: bool = False
    """The extra call went to the owner the previous predicted call went to."""
    follow_up_due: bool = False
    """The missing call is a follow-up the model started."""
    nothing_predicted: bool = False
    no_agent: bool = False
    """The model's commit found the work committable by no agent (NO_AGENT): an extra
    call went to an agent that neither owns the work nor was passed or registered."""


@dataclass(frozen=True)
class ResultDiffers(Discrepancy):
    """An API call returned something else than the model's outcome implies.

    ``call`` is ``turn``, ``commit``, ``held_commit`` (a held commit's return
    once its provider call ended ``ended``) or ``discard``.
    """

    RANK: ClassVar[int] = 5
    call: str = "commit"
    expected: Expected | None = None
    ephemeral: bool = False
    abort_swallowed: bool = False
    """The provider raised a ``BaseException`` and the call did not re-raise it."""
    ended: str | None = None
    after_failure: bool = False


@dataclass(frozen=True)
class DirtyDiffers(Discrepancy):
    """``has_uncommitted_work`` differs from the model's dirty flag."""

    RANK: ClassVar[int] = 6
    other_session: bool = False
    """The rule did not act on this session."""
    not_a_bool: bool = False
    lost: bool = False
    """The model holds dirty work the target reports clean (else: the reverse)."""
    rule: str = ""
    ended: str | None = None
    """How the rule's call of this session ended, if it made one."""
    after_failure: bool = False
    follow_up: bool = False
    """The model started a follow-up commit in this rule."""

    @property
    def work_lost(self) -> bool:
        """A session the rule acted on reports clean while the model holds dirty work."""
        return not self.other_session and not self.not_a_bool and self.lost

    @property
    def work_appeared(self) -> bool:
        """A session the rule acted on reports dirty while the model says it is clean."""
        return not self.other_session and not self.not_a_bool and not self.lost


@dataclass
class Observation:
    """What one rule did: the model's forecast, the target's answers, and their differences."""

    rule: str
    acted: tuple[str, ...]
    failed_before: Mapping[str, str | None]
    """Per session, how its last provider call before the rule failed (None: it did not)."""
    forecast: Forecast = field(default_factory=Forecast)
    expected: Expected | None = None
    """The model's outcome of the rule's own commit, if it made one."""
    drain: bool = False
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def leading(self) -> Discrepancy | None:
        """The discrepancy that explains the others: lowest rank, first seen."""
        if not self.discrepancies:
            return None
        return min(self.discrepancies, key=lambda found: found.RANK)

    @property
    def hung(self) -> bool:
        return any(isinstance(found, Hang) for found in self.discrepancies)

    def ended(self, session_id: str) -> str | None:
        return self.forecast.ended.get(session_id)

    def after_failure(self, session_id: str) -> bool:
        """The session's last provider call, before or in this rule, failed."""
        return self.failed_before.get(session_id) is not None or self.ended(session_id) in (
            "fail",
            "abort",
        )

    def add(self, found: Discrepancy) -> None:
        self.discrepancies.append(found)

    # --- comparisons ------------------------------------------------------------------

    def hang(self, what: str, sessions: Sequence[str], *, drain: bool = False) -> None:
        """A call did not return; say so, naming a session a ``BaseException`` wedged."""
        wedged = [sid for sid in sessions if self.failed_before.get(sid) == "abort"]
        if wedged:
            what += (
                f": session {wedged[0]!r} stays wedged after its provider raised a BaseException"
            )
        self.add(Hang(what, wedged[0] if wedged else None, drain=drain, wedged=bool(wedged)))

    def compare_calls(
        self, session_id: str, observed: list[str], has_turns: bool, describe: str
    ) -> None:
        """Compare one session's provider calls in this rule with the forecast."""
        predicted = self.forecast.calls.get(session_id, [])
        if session_id not in self.acted:
            if observed:
                self.add(
                    StrayCall(
                        f"{self.rule} on {', '.join(self.acted) or 'no session'} called the "
                        f"provider of {session_id!r} ({', '.join(observed)})",
                        session_id,
                    )
                )
            return
        if self.drain:
            extra = sorted(set(observed) - set(predicted))
            if extra:
                self.add(
                    CallsDiffer(
                        f"drain called {', '.join(extra)} for {session_id!r}; the model calls "
                        f"{', '.join(predicted) or 'nobody'} ({describe})",
                        session_id,
                        difference="extra_in_drain",
                        nothing_predicted=not predicted,
                    )
                )
            return
        if predicted == observed:
            return
        index = next(
            (
                n
                for n, pair in enumerate(zip(predicted, observed, strict=False))
                if pair[0] != pair[1]
            ),
            min(len(predicted), len(observed)),
        )
        where = f"in {self.rule} on {session_id!r}"
        shown = f"provider calls {observed or 'none'}, model predicts {predicted or 'none'}"
        after_failure = self.after_failure(session_id)
        if index < len(predicted) and index < len(observed):
            message = (
                f"{where}: provider called on {observed[index]}, but the segment belongs to "
                f"{predicted[index]} ({shown})"
            )
            self.add(CallsDiffer(message, session_id, "wrong_agent", after_failure=after_failure))
        elif len(observed) > len(predicted):
            self.add(
                CallsDiffer(
                    f"{where}: the provider was called more often than the model predicts "
                    f"({shown})",
                    session_id,
                    "extra",
                    after_failure=after_failure,
                    no_turn_yet=not has_turns or self.rule == "complete_turn",
                    while_busy=self.expected is not None and self.expected.busy,
                    no_agent=self.expected is Expected.NO_AGENT,
                    repeats_owner=bool(predicted) and observed[len(predicted)] == predicted[-1],
                )
            )
        else:
            self.add(
                CallsDiffer(
                    f"{where}: the provider was called less often than the model predicts "
                    f"({shown})",
                    session_id,
                    "missing",
                    after_failure=after_failure,
                    follow_up_due=index
                    >= self.forecast.follow_up_from.get(session_id, len(predicted)),
                )
            )

    def compare_dirty(self, session_id: str, expected: bool, seen: Any, describe: str) -> None:
        """Compare one session's ``has_uncommitted_work`` with the model's dirty flag."""
        if seen is expected or (isinstance(seen, bool) and seen == expected):
            return
        where = f"after {self.rule} on {', '.join(self.acted) or 'all sessions'}"
        self.add(
            DirtyDiffers(
                f"has_uncommitted_work({session_id!r}) is {shown(seen)} {where}; "
                f"the model says {expected} ({describe})",
                session_id,
                other_session=session_id not in self.acted,
                not_a_bool=not isinstance(seen, bool),
                lost=expected,
                rule=self.rule,
                ended=self.ended(session_id),
                after_failure=self.after_failure(session_id),
                follow_up=self.forecast.follow_up,
            )
        )

    def compare_commit(
        self,
        session_id: str,
        expected: Expected,
        seen: Any,
        *,
        aborted: bool,
        reraised: bool,
        called: bool,
    ) -> None:
        """Compare a synchronous commit's return with the model's outcome.

        ``aborted``: the model's call ended with the provider's ``BaseException``,
        which the commit must re-raise (``reraised``) when the target called the
        provider at all (``called``).
        """
        if aborted and expected is Expected.FAILED:
            if called and not reraised:
                self.add(
                    ResultDiffers(
                        f"the provider's BaseException was not re-raised by the commit of "
                        f"{session_id!r} (got {shown(seen)})",
                        session_id,
                        call="commit",
                        expected=expected,
                        abort_swallowed=True,
                    )
                )
            return
        if seen is (expected is Expected.COMMITTED):
            return
        self.add(
            ResultDiffers(
                f"commit of {session_id!r} returned {shown(seen)}; the model's outcome is "
                f"{expected.name}",
                session_id,
                call="commit",
                expected=expected,
                after_failure=self.after_failure(session_id),
            )
        )

    def compare_release(self, session_id: str, how: str, seen: Any, *, reraised: bool) -> None:
        """A held commit returned ``seen`` after its provider call ended ``how``."""
        if how == "abort":
            if not reraised:
                self.add(
                    ResultDiffers(
                        f"the provider's BaseException was not re-raised by the commit of "
                        f"{session_id!r} (got {shown(seen)})",
                        session_id,
                        call="held_commit",
                        abort_swallowed=True,
                        ended=how,
                    )
                )
        elif seen is not (how == "ok"):
            self.add(
                ResultDiffers(
                    f"the held commit of {session_id!r} returned {shown(seen)} after its "
                    f"provider call ended with {how!r}",
                    session_id,
                    call="held_commit",
                    ended=how,
                )
            )

    def compare_turn(self, session_id: str, expected: int, seen: Any, ephemeral: bool) -> None:
        if seen == expected:
            return
        flag = ", ephemeral=True" if ephemeral else ""
        self.add(
            ResultDiffers(
                f"mark_turn_completed({session_id!r}{flag}) returned {shown(seen)}; the "
                f"generation is {expected}",
                session_id,
                call="turn",
                ephemeral=ephemeral,
            )
        )

    def compare_discard(self, session_id: str, expected: Expected, seen: Any) -> None:
        want = expected in (Expected.DISCARDED, Expected.ALREADY_ABSENT)
        if seen is want:
            return
        self.add(
            ResultDiffers(
                f"discard_session({session_id!r}) returned {shown(seen)}; the model's outcome "
                f"is {expected.name}",
                session_id,
                call="discard",
                expected=expected,
            )
        )


def shown(value: Any) -> str:
    """A target's return value (or raised exception) in a few words."""
    if value is None:
        return "none"
    if isinstance(value, Expected):
        return value.name
    if isinstance(value, BaseException):
        return type(value).__name__
    return repr(value)
