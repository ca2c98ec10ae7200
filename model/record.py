"""``Record``: the base of every value in the model.

A record is immutable: its attributes are set once, in ``__init__``, and are
``Final`` (mypy refuses an assignment; a compiled record refuses it at run
time). Records compare and hash by value, print like a ``NamedTuple``, unpack
like one (``session, shutdown, effects, result = step``), and offer
``_replace``. Each subclass lists its fields twice: in ``_fields`` (names, for
printing and ``_replace``) and in ``_values`` (the values in that order, read
by attribute so that compiled code stays fast). They are plain classes, not
``NamedTuple``s or dataclasses, because mypyc compiles plain classes to
native ones: building a record then costs tens of nanoseconds instead of
hundreds, on every event the shell feeds.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any, ClassVar, Self


class Record:
    """An immutable value: equality, hashing, printing and unpacking by its fields."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    """The field names, in ``__init__``'s order."""

    def _values(self) -> tuple[Any, ...]:
        """The field values, in ``_fields``' order."""
        return ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={value!r}" for name, value in zip(self._fields, self._values(), strict=True)
        )
        return f"{type(self).__name__}({shown})"

    def _asdict(self) -> dict[str, Any]:
        """The fields by name."""
        return dict(zip(self._fields, self._values(), strict=True))

    def _replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (the records the rules change often
        override this with a faster one)."""
        unknown = set(changes) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(unknown)}")
        return type(self)(**{**self._asdict(), **changes})


def field_defaults(kind: Any) -> dict[str, Any]:
    """The default of each field of ``kind`` that has one."""
    parameters = inspect.signature(kind).parameters
    return {
        name: parameter.default
        for name, parameter in parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
