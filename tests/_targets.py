"""Target modules that tests write for the conformance checks."""

from __future__ import annotations

from pathlib import Path

BROKEN = Path(__file__).parent / "broken"


def broken_without(name: str, path: Path, *calls: str) -> Path:
    """Write ``broken/NAME.py`` to ``path`` with the API functions ``calls`` taken away.

    Each of them is renamed to a private name, so the target lacks it and the
    properties that need it are not applicable (discard_session: S8, L4;
    drain_all_on_shutdown: L2).
    """
    source = (BROKEN / f"{name}.py").read_text()
    for call in calls:
        assert f"def {call}(" in source, f"broken/{name}.py has no {call}"
        source = source.replace(f"def {call}(", f"def _no_{call}(")
    path.write_text(source)
    return path


def lacking_the_optional_calls(folder: Path) -> Path:
    """``broken/busy_request_dropped.py`` without discard_session and drain_all_on_shutdown,
    as ``folder/small_api.py``: S8, L4 and L2 are not applicable to it."""
    return broken_without(
        "busy_request_dropped",
        folder / "small_api.py",
        "discard_session",
        "drain_all_on_shutdown",
    )
