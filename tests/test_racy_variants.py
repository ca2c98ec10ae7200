"""``memory-lifecycle conform --quick`` flags each racy variant under the property it breaks.

The variants (``tests/racy``) reintroduce one defect each; ``EXPECTED`` names
the property, the kind of check that must find it, and the probe or scenario.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from memory_lifecycle.specs.conformance.runner import run_conformance
from racy import EXPECTED

RACY = Path(__file__).parent / "racy"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_conform_flags_the_variant_with_its_property_S2_S3_S4_S7_L1_L2_L3_L4(name: str) -> None:
    """S2 S3 S4 S7 L1 L2 L3 L4: the variant's property is violated, found by the named check."""
    property_id, check, where = EXPECTED[name]
    report = run_conformance(
        str(RACY / f"{name}.py"), budget="quick", only={property_id}, checks=(check,)
    )
    flagged = report.by_id(property_id)
    assert flagged.status == "violated", flagged.evidence
    assert any(where in item for item in flagged.evidence), flagged.evidence
    assert flagged.counterexample is not None and flagged.replay is not None


def test_conform_finds_nothing_in_the_sound_variant() -> None:
    """S1-S10 L1-L4: the sound core passes every probe and the stateful comparison.

    Its interleavings, Ctrl-C at every site included, are checked in test_interleave_scenarios.
    """
    report = run_conformance(str(RACY / "sound.py"), budget="quick", checks=("probes", "stateful"))
    shown = [item.counterexample.format() for item in report.violated if item.counterexample]
    assert report.violated == [], shown
    assert report.errors == []
