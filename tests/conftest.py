"""Test configuration: Hypothesis profiles and the opt-in long exploration.

Profiles: ``ci`` (default, fast), ``dev`` (more examples), ``thorough`` (long).
Choose one with ``--hypothesis-profile=NAME`` or MEMORY_LIFECYCLE_PROFILE.
Tests marked ``thorough`` run only with ``--thorough`` or
MEMORY_LIFECYCLE_THOROUGH=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    print_blob=True,
)
CI = settings.get_profile("ci")
settings.register_profile(
    "dev",
    CI,
    max_examples=300,
    stateful_step_count=50,
    suppress_health_check=[],
    derandomize=False,
)
settings.register_profile(
    "thorough", CI, max_examples=5000, stateful_step_count=100, derandomize=False
)
settings.load_profile(os.environ.get("MEMORY_LIFECYCLE_PROFILE", "ci"))


@pytest.fixture
def compat() -> Iterator[ModuleType]:
    """The drop-in module (``memory_lifecycle.compat``), reset before and after the test."""
    import memory_lifecycle.compat as module

    module._reset_for_tests()
    yield module
    module._reset_for_tests()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--thorough", action="store_true", help="also run the long, opt-in explorations"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--thorough") or os.environ.get("MEMORY_LIFECYCLE_THOROUGH") == "1":
        return
    skip = pytest.mark.skip(reason="long exploration: run with --thorough")
    for item in items:
        if "thorough" in item.keywords:
            item.add_marker(skip)
