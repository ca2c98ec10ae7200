"""The Hypothesis stateful comparison (specs/stateful.py) on the project's own shells.

Each test names the properties it checks: the machine's invariants cover
S1-S10 and L1-L4 (L2 through drain, L3 through bounded calls).
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from memory_lifecycle.specs.conformance.target import target_factory
from memory_lifecycle.specs.stateful import lifecycle_machine


@pytest.fixture(autouse=True)
def _quiet_provider_failures() -> object:
    logging.disable(logging.CRITICAL)
    yield None
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize(
    "target",
    ["memory_lifecycle.compat", "memory_lifecycle.specs.conformance.native_adapter"],
)
def test_shells_match_the_model_s1_to_s10_l1_to_l4(target: str) -> None:
    """S1-S10, L1-L4: the compat module and the native shell show what the model predicts."""
    machine = lifecycle_machine(target_factory(target))
    run_state_machine_as_test(machine, settings=settings())
