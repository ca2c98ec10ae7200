/* Report page: step through each counterexample, one event at a time. */
"use strict";

(function () {
  const traces = readData("traces");
  const sections = Array.from(document.querySelectorAll("section.trace"));
  const cursors = traces.map(() => 0);
  let active = 0;

  function show(number, step) {
    const trace = traces[number];
    const section = sections[number];
    const last = trace.count - 1;
    step = Math.max(0, Math.min(last, step));
    cursors[number] = step;
    section.querySelectorAll("tr.step").forEach((row) => {
      const index = Number(row.dataset.step);
      row.classList.toggle("current", index === step);
      row.classList.toggle("future", index > step);
    });
    section.querySelectorAll("svg.timeline .column, svg.timeline .mark").forEach((node) => {
      node.classList.toggle("current", Number(node.dataset.step) === step);
    });
    section.querySelector(".position").textContent = `step ${step + 1} of ${trace.count}`;
    const item = trace.steps[step];
    section.querySelector(".state-title").textContent =
      `After step ${step + 1}: [${item.actor}] ${item.action}`;
    const chips = section.querySelector(".state-abstract");
    chips.replaceChildren();
    const abstract = trace.abstract ? trace.abstract[step] : null;
    if (abstract) {
      for (const [sessionId, state] of abstract.sessions) {
        chips.append(el("span", {}, [`${sessionId} `, chip(state)]));
      }
      chips.append(el("span", {}, ["process ", chip(abstract.process)]));
    }
    const text = section.querySelector(".state-text");
    const note = section.querySelector(".state-note");
    const since = trace.changed[step];
    if (since < 0) {
      text.textContent = "";
      note.textContent = "This check records calls and their results only; it shows no state.";
    } else {
      text.textContent = trace.states[step].split("; ").join("\n");
      note.textContent = since < step ? `unchanged since step ${since + 1}` : "";
    }
    const result = el("div", { class: "mono" }, [`→ ${item.result || "(no result)"}`]);
    note.prepend(result);
    const kinds = trace.kinds[step].filter((kind) => kind !== "violation");
    if (kinds.length) note.prepend(el("div", {}, [`marked: ${kinds.join(", ")}`]));
    section.querySelector(".violation-note").hidden = step !== trace.violating;
    const scroll = section.querySelector(".timeline-scroll");
    const column = section.querySelector(`svg.timeline .column[data-step="${step}"] rect`);
    if (scroll && column) {
      const x = Number(column.getAttribute("x"));
      if (x < scroll.scrollLeft + 130 || x > scroll.scrollLeft + scroll.clientWidth - 40) {
        scroll.scrollLeft = Math.max(0, x - scroll.clientWidth / 2);
      }
    }
  }

  function activate(number) {
    active = number;
    sections.forEach((section, index) => section.classList.toggle("active", index === number));
  }

  sections.forEach((section, number) => {
    section.addEventListener("click", (event) => {
      activate(number);
      const button = event.target.closest("button[data-act]");
      const target = event.target.closest("[data-step]");
      if (button) act(number, button.dataset.act);
      else if (target) show(number, Number(target.dataset.step));
    });
    show(number, 0);
  });
  if (sections.length) activate(0);

  function act(number, what) {
    const trace = traces[number];
    const step = cursors[number];
    const moves = {
      first: 0,
      prev: step - 1,
      next: step + 1,
      last: trace.count - 1,
      violation: trace.violating < 0 ? 0 : trace.violating,
    };
    show(number, moves[what]);
  }

  document.addEventListener("keydown", (event) => {
    if (!sections.length || typingInto(event) || event.altKey || event.ctrlKey || event.metaKey) return;
    const keys = {
      ArrowRight: "next", ArrowLeft: "prev",
      Home: "first", End: "last", v: "violation", V: "violation",
    };
    const what = keys[event.key];
    if (!what) return;
    event.preventDefault();
    act(active, what);
  });
})();
