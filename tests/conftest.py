"""Test configuration: Hypothesis profiles and the opt-in long exploration.

Profiles: ``ci`` (default, fast), ``dev`` (more examples), ``thorough`` (long).
Choose one with ``--hypothesis-profile=NAME`` or MEMORY_LIFECYCLE_PROFILE.
Tests marked ``thorough`` run only with ``--thorough`` or
MEMORY_LIFECYCLE_THOROUGH=1.
"""

from __future__ import annotations

import os

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
settings.register_profile(
    "dev", max_examples=300, stateful_step_count=50, deadline=None, print_blob=True
)
settings.register_profile(
    "thorough",
    max_examples=5000,
    stateful_step_count=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("MEMORY_LIFECYCLE_PROFILE", "ci"))


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
