"""The review pages in a real browser: Debian's Chromium driven by Playwright, from file://.

Each page must load with no console error, and stepping through a shipped
broken variant's counterexample must reach and show the violating step. The
tests skip, naming what to install, only where no browser is installed; under
CI (``CI`` set) a missing browser is a failure, since ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from memory_lifecycle.specs.checker import cli as check_cli
from memory_lifecycle.specs.conformance import cli as conform_cli
from memory_lifecycle.specs.diagrams import cli as diagrams_cli
from memory_lifecycle.specs.diagrams.render import ENVIRONMENT_VARIABLE
from memory_lifecycle.specs.pages.browser import chromium, file_url, why_no_browser

BROKEN = Path(__file__).resolve().parent / "broken"
LAPTOP_WIDTH = 1280


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium context (skip or fail, as the module docstring says)."""
    reason = why_no_browser()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    with chromium(width=LAPTOP_WIDTH, height=900) as context:
        yield context


class Opened:
    """A page opened from file://, with every console error and page error it raised."""

    def __init__(self, context: Any, path: Path) -> None:
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", self._request)
        self.requests: list[str] = []
        self.page.goto(file_url(path))
        self.page.wait_for_load_state("load")

    def _request(self, request: Any) -> None:
        self.requests.append(request.url)

    def text(self, selector: str) -> str:
        return str(self.page.locator(selector).first.inner_text())

    def fits_width(self) -> bool:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        return bool(width <= LAPTOP_WIDTH)

    def close(self) -> None:
        self.page.close()


@pytest.fixture(scope="module")
def explorer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("diagrams")
    previous = os.environ.get(ENVIRONMENT_VARIABLE)
    os.environ[ENVIRONMENT_VARIABLE] = "none"
    try:
        assert diagrams_cli.main(["--out", str(out)]) == 0
    finally:
        if previous is None:
            del os.environ[ENVIRONMENT_VARIABLE]
        else:
            os.environ[ENVIRONMENT_VARIABLE] = previous
    return out / "explorer.html"


def test_explorer_loads_from_file_and_steps_through_the_graph(
    browser: Any, explorer_file: Path
) -> None:
    """The explorer opens from file:// with no console error or outside request, starts at
    the empty state, takes the chosen event with →, and goes back with ←."""
    opened = Opened(browser, explorer_file)
    page = opened.page
    assert opened.text("#step-panel .position") == "step 0 of 0"
    assert "no entries" in opened.text(".current-state")
    assert page.locator('svg.machine .state.current[data-state="ABSENT"]').count() == 1
    events = page.locator("#step-panel ul.events li")
    assert events.count() > 3
    page.keyboard.press("ArrowDown")
    chosen = page.locator("#step-panel ul.events li.selected .ev").inner_text()
    page.keyboard.press("ArrowRight")
    assert opened.text("#step-panel .position") == "step 1 of 1"
    assert chosen in opened.text(".current-state")
    assert page.locator("#step-panel ol.history li").count() == 2
    page.keyboard.press("ArrowLeft")
    assert opened.text("#step-panel .position") == "step 0 of 1"
    page.keyboard.press("ArrowRight")
    assert opened.text("#step-panel .position") == "step 1 of 1"
    assert opened.fits_width()
    assert opened.errors == []
    assert all(url.startswith("file://") for url in opened.requests), opened.requests
    opened.close()


def test_explorer_lists_the_concrete_states_of_an_abstract_state(
    browser: Any, explorer_file: Path
) -> None:
    """Clicking an abstract state lists the concrete states it stands for, each with the
    events enabled there, and any of them can be stepped from."""
    opened = Opened(browser, explorer_file)
    page = opened.page
    page.click('svg.machine .state[data-state="COMMITTING_DIRTY"]')
    title = opened.text("#abstract-panel .abstract-title")
    assert "COMMITTING_DIRTY" in title and "concrete states" in title
    first = page.locator("#abstract-panel details").first
    first.locator("summary").click()
    assert "in_flight=" in first.locator("summary").inner_text()
    assert first.locator("li").count() > 3
    first.locator("button", has_text="step from here").click()
    assert page.locator('svg.machine .state.current[data-state="COMMITTING_DIRTY"]').count() == 1
    assert opened.text("#step-panel .position") != "step 0 of 0"
    assert opened.errors == []
    opened.close()


def test_S3_explorer_steps_a_mutant_trace_to_its_violation(
    browser: Any, explorer_file: Path
) -> None:
    """S3: the trace of ``check --mutant fatal-stays-in-flight`` loads, steps with →, and its
    last step says S3 is violated there, the session drawn still COMMITTING."""
    opened = Opened(browser, explorer_file)
    page = opened.page
    page.click('#mutants button[data-mutant="fatal-stays-in-flight"]')
    assert "fatal-stays-in-flight" in opened.text("#step-panel .mode")
    assert page.locator(".current-state .violation-note").count() == 0
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert opened.text("#step-panel .position") == "step 3 of 3"
    assert "S3 violated here" in opened.text(".current-state .violation-note")
    assert page.locator('svg.machine .state.current[data-state="COMMITTING"]').count() == 1
    page.keyboard.press("Escape")
    assert opened.text("#step-panel .mode") == "· the reachable graph"
    assert opened.errors == []
    opened.close()


def test_S3_conform_page_of_a_broken_variant_steps_to_the_violating_step(
    browser: Any, tmp_path: Path
) -> None:
    """S3: the report of ``conform tests/broken/base_exception_wedges.py --html`` loads with no
    console error; → steps one event at a time up to the violating step, which is marked
    and explained; the replay command is there to copy."""
    page_file = tmp_path / "conform.html"
    status = conform_cli.main(
        [
            str(BROKEN / "base_exception_wedges.py"),
            "--quick",
            "--only",
            "S3",
            "--checks",
            "probes",
            "--html",
            str(page_file),
        ]
    )
    assert status == 1
    opened = Opened(browser, page_file)
    page = opened.page
    section = page.locator("section.trace#trace-S3")
    count = section.locator("tr.step").count()
    assert opened.text("#trace-S3 .position") == f"step 1 of {count}"
    assert section.locator(".violation-note").is_hidden()
    for step in range(2, count + 1):
        page.keyboard.press("ArrowRight")
        assert opened.text("#trace-S3 .position") == f"step {step} of {count}"
    current = section.locator("tr.step.current")
    assert "violation" in (current.get_attribute("class") or "")
    assert section.locator(".violation-note").is_visible()
    assert "S3 violated here" in section.locator(".violation-note").inner_text()
    assert section.locator("svg.timeline .column.current.violation").count() == 1
    assert section.locator('svg.timeline .mark[data-kinds~="interrupt"]').count() >= 1
    replay = section.locator('button.copy[aria-label="copy the replay"]').get_attribute("data-copy")
    assert replay is not None and "--only S3 --checks probes" in replay
    section.locator('button.copy[aria-label="copy the replay"]').click()
    page.keyboard.press("Home")
    assert opened.text("#trace-S3 .position") == f"step 1 of {count}"
    assert opened.fits_width()
    page.emulate_media(media="print")
    assert section.locator("td.state-col").first.is_visible()
    assert section.locator(".controls").is_hidden()
    assert opened.errors == []
    opened.close()


def test_S2_check_page_steps_the_model_trace_with_the_models_state(
    browser: Any, tmp_path: Path
) -> None:
    """S2: the page of ``check --mutant success-to-generation --html`` steps to the violating
    step, showing the model's state and abstract states after each step."""
    page_file = tmp_path / "check.html"
    assert (
        check_cli.main(["--mutant", "success-to-generation", "--quiet", "--html", str(page_file)])
        == 1
    )
    opened = Opened(browser, page_file)
    page = opened.page
    section = page.locator("section.trace#trace-S2")
    assert "gen=1" in section.locator(".state-text").inner_text()
    assert section.locator(".state-abstract .chip").count() >= 2
    page.click("#trace-S2 button[data-act='violation']")
    assert section.locator(".violation-note").is_visible()
    assert "committed=2" in section.locator(".state-text").inner_text()
    assert section.locator("svg.timeline .bar.provider").count() >= 1
    page.keyboard.press("ArrowLeft")
    assert section.locator(".violation-note").is_hidden()
    assert opened.errors == []
    opened.close()
