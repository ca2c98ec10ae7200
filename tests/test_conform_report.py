"""Honest verdicts: a property is passed only when a check checked it; every output agrees.

The statuses are passed (with the budget checked), violated, not_applicable
and not_checked (with why); the table, JSON and JUnit carry the same ones and
keep required and advisory properties apart.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree

from memory_lifecycle.specs.conformance.report import as_json, as_junit, table
from memory_lifecycle.specs.conformance.runner import (
    CheckVerdict,
    PropertyResult,
    Report,
    _stateful_verdicts,
)
from memory_lifecycle.specs.properties import ALL, BY_ID
from memory_lifecycle.specs.stateful import PropertyViolation, StatefulResult
from memory_lifecycle.specs.trace import Trace, TraceStep

TRACE = Trace("S3", "wedged", (TraceStep("host", "commit('s')", "False", "s: in flight"),))


def _result(property_id: str, *statuses: str) -> PropertyResult:
    item = BY_ID[property_id]
    result = PropertyResult(item.id, item.title, item.required)
    for index, status in enumerate(statuses):
        trace = TRACE if status == "violated" else None
        result.verdicts.append(
            CheckVerdict(property_id, "probes", f"probe {index}", status, "why", trace)  # type: ignore[arg-type]
        )
    return result


def test_combined_status_violated_beats_passed_beats_not_applicable_s3() -> None:
    """S3: one violation decides; else one pass; else not applicable; else not checked."""
    assert _result("S3", "passed", "violated", "not_checked").status == "violated"
    assert _result("S3", "not_checked", "passed").status == "passed"
    assert _result("S3", "not_checked", "not_applicable").status == "not_applicable"
    assert _result("S3", "not_checked", "not_checked").status == "not_checked"


def test_a_property_no_check_covered_is_not_checked_never_passed_s6() -> None:
    """S6: without any verdict the status is not_checked, with the reason."""
    result = _result("S6")
    assert result.status == "not_checked"
    assert result.reason == "no check that ran covers it"
    assert result.evidence == ["not checked (no check that ran covers it)"]


def test_stateful_stopping_at_its_first_violation_checks_nothing_else_s10_l1() -> None:
    """S3, S10, L1: a search that stopped at S3 says S10 and L1 were not checked."""
    found = StatefulResult([PropertyViolation("S3", "wedged", TRACE.steps)])
    verdicts = {
        verdict.property_id: verdict
        for verdict in _stateful_verdicts(found, ("S3", "S10", "L1", "L4"), "250 runs", {"L4": "x"})
    }
    assert verdicts["S3"].status == "violated" and verdicts["S3"].trace is not None
    assert verdicts["S10"].status == "not_checked"
    assert verdicts["S10"].detail == "the search stopped at its first violation, S3"
    assert verdicts["L1"].status == "not_checked"
    assert verdicts["L4"].status == "not_applicable"


def test_stateful_run_without_findings_passes_to_its_budget_s2() -> None:
    verdicts = _stateful_verdicts(StatefulResult([]), ("S2",), "250 runs x 25 steps", {})
    assert [(v.status, v.detail) for v in verdicts] == [("passed", "250 runs x 25 steps")]


def test_stateful_harness_error_is_not_checked_with_the_error_s2() -> None:
    found = StatefulResult([], RuntimeError("boom"))
    (verdict,) = _stateful_verdicts(found, ("S2",), "250 runs", {})
    assert verdict.status == "not_checked" and "RuntimeError: boom" in verdict.detail


def _report() -> Report:
    properties = [
        _result("S3", "violated"),
        _result("S10", "violated"),
        _result("S2", "passed"),
        _result("S8", "not_applicable"),
        _result("L2", "not_checked"),
    ]
    return Report("t.py", "quick", properties, checks=("probes",))


def test_every_output_carries_the_same_statuses_and_kinds() -> None:
    """The table, JSON and JUnit agree on status and on required vs advisory."""
    report = _report()
    document = json.loads(as_json(report))
    assert {(p["id"], p["kind"], p["status"]) for p in document["properties"]} == {
        ("S3", "required", "violated"),
        ("S10", "advisory", "violated"),
        ("S2", "required", "passed"),
        ("S8", "required", "not_applicable"),
        ("L2", "required", "not_checked"),
    }
    assert document["exit_status"] == 1
    assert document["summary"] == {
        "required_violated": 1,
        "advisory_violated": 1,
        "passed": 1,
        "not_applicable": 1,
        "not_checked": 1,
    }
    cases = {case.get("name"): case for case in ElementTree.fromstring(as_junit(report))}
    statuses = {
        name: next(p.get("value") for p in case.iter("property") if p.get("name") == "status")
        for name, case in cases.items()
    }
    assert statuses == {"S3 failure-preserving": "violated", "S10 coalescing": "violated",
                        "S2 late-commit-safe": "passed", "S8 discard-safe": "not_applicable",
                        "L2 drain-bounded": "not_checked"}  # fmt: skip
    assert cases["S3 failure-preserving"].get("classname") == "lifecycle.conformance.required"
    assert cases["S10 coalescing"].get("classname") == "lifecycle.conformance.advisory"
    skipped = cases["L2 drain-bounded"].find("skipped")
    assert skipped is not None and skipped.get("type") == "not_checked"
    assert "why" in (skipped.get("message") or "")
    lines = table(report).splitlines()
    assert any(line.startswith("S3 failure-preserving  required  VIOLATED") for line in lines)
    assert any(line.startswith("S10 coalescing         advisory  violated") for line in lines)
    assert any(line.startswith("L2 drain-bounded       required  NOT CHECKED") for line in lines)
    assert any(line.startswith("S8 discard-safe        required  n/a") for line in lines)


def test_table_shows_every_piece_of_evidence_s3() -> None:
    """S3: all five verdicts are listed, none folded into "(+4 more)"."""
    report = Report("t.py", "quick", [_result("S3", *["passed"] * 5)], checks=("probes",))
    text = table(report)
    assert "more)" not in text
    assert all(f"probe {index}: passed (why)" in text for index in range(5))


def test_advisory_violation_alone_exits_0_and_1_with_strict_s10() -> None:
    report = Report("t.py", "quick", [_result("S10", "violated")], checks=("probes",))
    assert report.exit_status() == 0 and report.exit_status(strict=True) == 1
    assert "advisory violations do not fail the run without --strict" in table(report)


def test_catalogue_has_required_and_advisory_properties_s9_s10() -> None:
    """S9 and S10 are advisory (efficiency, hygiene); every other property is required."""
    assert [item.id for item in ALL if not item.required] == ["S9", "S10"]
