"""Differs from ``baseline`` only as a declared divergence allows (S3).

A provider's BaseException ends the call as a failure, so the session is no
longer in flight, before it is re-raised.
"""

# ruff: noqa: F821 (the names come from baseline's source, executed here)
from pathlib import Path

exec(compile(Path(__file__).with_name("baseline.py").read_text(), "baseline.py", "exec"))

_call_as_published = _call_provider


def _call_provider(session_id, owner, captured):
    try:
        return _call_as_published(session_id, owner, captured)
    except BaseException:
        with _condition:
            _release(session_id, None)
        raise
