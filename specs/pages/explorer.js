/* State explorer: open abstract states, walk the reachable graph, step mutant traces. */
"use strict";

(function () {
  const graph = readData("graph");
  const machines = readData("machines");
  const properties = readData("properties");
  const mutants = readData("mutants");
  const meaning = {};
  for (const [name, text] of machines.session.concat(machines.process)) meaning[name] = text;

  const panel = document.getElementById("step-panel");
  const stateBox = panel.querySelector(".current-state");
  const choices = panel.querySelector("ul.events");
  const choicesTitle = panel.querySelector(".choices-title");
  const history = panel.querySelector("ol.history");
  const historyTitle = panel.querySelector(".history-title");
  const position = panel.querySelector(".position");
  const modeText = panel.querySelector(".mode");
  const leaveButton = panel.querySelector('button[data-act="leave"]');

  /* ---- the graph ------------------------------------------------------------------- */

  function edgesOf(state) {
    const flat = graph.out[state];
    const edges = [];
    for (let i = 0; i < flat.length; i += 4) {
      edges.push({ ev: flat[i], res: flat[i + 1], to: flat[i + 2], raw: flat[i + 3] });
    }
    return edges;
  }

  function stateInfo(state) {
    const [text, sessions, process] = graph.states[state];
    return { text, sessions, process };
  }

  /* The abstract move an event makes: machine, source, destination, trigger. */
  function move(from, edge) {
    const [, trigger, sessionId] = graph.events[edge.ev];
    const before = stateInfo(from);
    const after = stateInfo(edge.to);
    const index = graph.sessionIds.indexOf(sessionId);
    if (index >= 0) {
      return { machine: "session", source: before.sessions[index], dest: after.sessions[index], trigger, session: sessionId };
    }
    return { machine: "process", source: before.process, dest: after.process, trigger, session: null };
  }

  let parents = null;
  function pathTo(target) {
    if (!parents) {
      parents = new Array(graph.states.length).fill(null);
      parents[graph.initial] = { from: -1, edge: null };
      const queue = [graph.initial];
      for (let head = 0; head < queue.length; head++) {
        const state = queue[head];
        for (const edge of edgesOf(state)) {
          if (parents[edge.to] === null) {
            parents[edge.to] = { from: state, edge };
            queue.push(edge.to);
          }
        }
      }
    }
    const steps = [];
    let state = target;
    while (state !== graph.initial && parents[state]) {
      steps.push({ state, edge: parents[state].edge, from: parents[state].from });
      state = parents[state].from;
    }
    steps.reverse();
    return [{ state: graph.initial, edge: null, from: -1 }].concat(steps);
  }

  /* ---- diagram highlighting -------------------------------------------------------- */

  function clearDiagram() {
    document.querySelectorAll("svg.machine .state").forEach((node) => node.classList.remove("current"));
    document.querySelectorAll("svg.machine .edge, svg.machine .edge-label").forEach((node) => {
      node.classList.remove("taken", "possible");
    });
    document.querySelectorAll("svg.machine .badges").forEach((node) => node.replaceChildren());
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    return node;
  }

  function markState(machine, state, label) {
    const node = document.querySelector(`svg.machine .state[data-machine="${machine}"][data-state="${state}"]`);
    if (!node) return;
    node.classList.add("current");
    if (!label) return;
    const badges = node.querySelector(".badges");
    const x = Number(badges.dataset.x) - 8 - 22 * badges.childElementCount;
    const y = Number(badges.dataset.y) - 8;
    const badge = svgEl("g", { class: "badge" });
    badge.append(svgEl("rect", { x: x - 12, y: y - 1, width: 24, height: 15, rx: 7 }));
    const text = svgEl("text", { x, y: y + 10.5, "text-anchor": "middle" });
    text.textContent = label;
    badge.append(text);
    badges.append(badge);
  }

  function markEdge(change, cls) {
    if (!change || change.source === change.dest) return false;
    const selector = `svg.machine[data-machine="${change.machine}"] [data-source="${change.source}"][data-dest="${change.dest}"]`;
    let found = false;
    document.querySelectorAll(selector).forEach((node) => {
      const triggers = (node.dataset.triggers || change.trigger).split(" ");
      if (node.classList.contains("edge-label") || triggers.includes(change.trigger)) {
        node.classList.add(cls);
        found = true;
      }
    });
    return found;
  }

  function showAbstract(sessions, process, sessionIds) {
    sessions.forEach((state, index) => {
      markState("session", state, sessionIds[index]);
    });
    markState("process", process, null);
  }

  /* ---- step mode over the graph ---------------------------------------------------- */

  let path = [{ state: graph.initial, edge: null, from: -1 }];
  let at = 0;
  let selected = 0;
  let trace = null; /* { mutant, step } while a mutant's trace is loaded */

  function currentChoices() {
    return edgesOf(path[at].state);
  }

  function redoIndex(edges) {
    if (at + 1 >= path.length) return -1;
    const next = path[at + 1].edge;
    return edges.findIndex((edge) => edge.ev === next.ev && edge.to === path[at + 1].state);
  }

  function take(index) {
    const edges = currentChoices();
    const edge = edges[index];
    if (!edge) return;
    const redo = redoIndex(edges);
    if (redo === index) {
      at += 1;
    } else {
      path = path.slice(0, at + 1);
      path.push({ state: edge.to, edge, from: path[at].state });
      at += 1;
    }
    selected = -1;
    render();
  }

  function stateBlock(info, sessionIds, extra) {
    const chips = el("div", { class: "chips" });
    info.sessions.forEach((state, index) => chips.append(el("span", {}, [`${sessionIds[index]} `, chip(state)])));
    chips.append(el("span", {}, ["process ", chip(info.process)]));
    const lines = info.text.split("; ").join("\n");
    stateBox.replaceChildren(chips, el("pre", { class: "state-text", text: lines }), ...(extra || []));
  }

  function renderGraphMode() {
    modeText.textContent = "· the reachable graph";
    leaveButton.hidden = true;
    const here = path[at];
    const info = stateInfo(here.state);
    const extra = [];
    if (here.edge) {
      const [eventText] = graph.events[here.edge.ev];
      extra.push(el("div", { class: "mono" }, [`after ${eventText} → ${graph.results[here.edge.res]}`]));
      if (here.edge.raw >= 0) {
        extra.push(el("div", { class: "renamed" }, [
          "Stored up to renaming of agents. As stepped: ", el("code", { text: graph.raw[here.edge.raw] }),
        ]));
      }
    } else {
      extra.push(el("div", { class: "mono" }, ["the empty state: no session has an entry"]));
    }
    stateBlock(info, graph.sessionIds, extra);
    position.textContent = `step ${at} of ${path.length - 1}`;

    const edges = currentChoices();
    const redo = redoIndex(edges);
    if (selected < 0 || selected >= edges.length) selected = redo >= 0 ? redo : 0;
    choicesTitle.textContent = `Enabled events (${edges.length})`;
    choices.replaceChildren();
    edges.forEach((edge, index) => {
      const change = move(here.state, edge);
      const stays = change.source === change.dest;
      const item = el("li", {
        class: [index === selected ? "selected" : "", index === redo ? "redo" : "", stays ? "stay" : ""].join(" ").trim(),
        role: "option",
        "aria-selected": index === selected ? "true" : "false",
        "data-index": index,
      }, [
        el("span", { class: "ev", text: graph.events[edge.ev][0] }),
        el("span", { class: "dest" }, [chip(change.dest)]),
        el("span", { class: "res", text: `→ ${graph.results[edge.res]}` }),
      ]);
      item.addEventListener("click", () => { selected = index; take(index); });
      choices.append(item);
    });
    const chosen = choices.children[selected];
    if (chosen) chosen.scrollIntoView({ block: "nearest" });

    historyTitle.textContent = "Path from the empty state";
    history.replaceChildren();
    path.forEach((entry, index) => {
      const label = entry.edge
        ? [graph.events[entry.edge.ev][0], el("span", { class: "res", text: ` → ${graph.results[entry.edge.res]}` })]
        : ["the empty state"];
      const item = el("li", { class: index === at ? "current" : "", value: index }, label);
      item.addEventListener("click", () => { at = index; selected = -1; render(); });
      history.append(item);
    });

    clearDiagram();
    showAbstract(info.sessions, info.process, graph.sessionIds);
    if (here.edge) markEdge(move(here.from, here.edge), "taken");
    for (const edge of edges) markEdge(move(here.state, edge), "possible");
  }

  /* ---- step mode over a mutant's trace --------------------------------------------- */

  function triggerOf(action) {
    return action.split("(")[0];
  }

  function renderTraceMode() {
    const mutant = mutants[trace.mutant];
    const data = mutant.trace;
    const step = trace.step; /* 0: the initial state; k: after step k */
    modeText.textContent = `· mutant ${mutant.name} (breaks ${data.property})`;
    leaveButton.hidden = false;
    position.textContent = `step ${step} of ${data.steps.length}`;
    const violating = data.depth;
    const info = step === 0 ? data.initial : data.steps[step - 1];
    const extra = [];
    if (step > 0) {
      const item = data.steps[step - 1];
      extra.push(el("div", { class: "mono" }, [`after [${item.actor}] ${item.action} → ${item.result}`]));
    }
    if (step === violating) {
      extra.push(el("div", { class: "violation-note" }, [
        el("strong", { text: `${data.property} violated here: ` }), data.message,
      ]));
    } else if (step > violating) {
      extra.push(el("div", { class: "hint", text: "after the violating step: the liveness witness" }));
    }
    const sessions = info.abstract || [];
    const process = info.process || "";
    stateBlock({ text: info.state || "no entries", sessions, process }, data.sessionIds, extra);

    choicesTitle.textContent = `Trace of ${mutant.name}: ${data.steps.length} steps`;
    choices.replaceChildren();
    const start = el("li", { class: step === 0 ? "selected" : "", "data-index": 0 }, [
      el("span", { class: "ev", text: "0. the empty state" }),
    ]);
    start.addEventListener("click", () => { trace.step = 0; render(); });
    choices.append(start);
    data.steps.forEach((item, index) => {
      const number = index + 1;
      const li = el("li", {
        class: [number === step ? "selected" : "", number === violating ? "violation" : ""].join(" ").trim(),
        "data-index": number,
      }, [
        el("span", { class: "ev", text: `${number}. [${item.actor}] ${item.action}` }),
        el("span", { class: "dest" }, item.abstract ? item.abstract.map((state) => chip(state)) : []),
        el("span", { class: "res", text: `→ ${item.result}${number === violating ? "   ← violates " + data.property : ""}` }),
      ]);
      li.addEventListener("click", () => { trace.step = number; render(); });
      choices.append(li);
    });
    const chosen = choices.children[step];
    if (chosen) chosen.scrollIntoView({ block: "nearest" });
    historyTitle.textContent = "Replay in a terminal";
    history.replaceChildren(el("li", { class: "replay" }, [
      el("code", { text: mutant.command }),
      " ",
      el("button", { type: "button", class: "copy", "data-copy": mutant.command }, ["copy"]),
    ]));

    clearDiagram();
    if (info.abstract) showAbstract(info.abstract, info.process, data.sessionIds);
    if (step > 0) {
      const before = step === 1 ? data.initial : data.steps[step - 2];
      const item = data.steps[step - 1];
      if (before.abstract && item.abstract) {
        const trigger = triggerOf(item.action);
        before.abstract.forEach((source, index) => {
          markEdge({ machine: "session", source, dest: item.abstract[index], trigger }, "taken");
        });
        markEdge({ machine: "process", source: before.process, dest: item.process, trigger }, "taken");
      }
    }
  }

  function loadTrace(index) {
    trace = { mutant: index, step: 0 };
    render();
    panel.scrollIntoView({ block: "start", behavior: "instant" });
  }

  function leaveTrace() {
    trace = null;
    render();
  }

  function render() {
    if (trace) renderTraceMode();
    else renderGraphMode();
  }

  /* ---- controls -------------------------------------------------------------------- */

  function act(what) {
    if (trace) {
      const count = mutants[trace.mutant].trace.steps.length;
      if (what === "restart") trace.step = 0;
      else if (what === "back") trace.step = Math.max(0, trace.step - 1);
      else if (what === "take") trace.step = Math.min(count, trace.step + 1);
      else if (what === "leave") { leaveTrace(); return; }
      render();
      return;
    }
    if (what === "restart") { at = 0; selected = -1; render(); }
    else if (what === "back") { at = Math.max(0, at - 1); selected = -1; render(); }
    else if (what === "take") take(selected);
  }

  panel.querySelector(".controls").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act]");
    if (button) act(button.dataset.act);
  });

  document.addEventListener("keydown", (event) => {
    if (typingInto(event) || event.altKey || event.ctrlKey || event.metaKey) return;
    const onNode = event.target.closest && event.target.closest("svg.machine .state");
    if (onNode && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      openAbstract(onNode.dataset.machine, onNode.dataset.state);
      return;
    }
    if (event.target.closest && event.target.closest("button, a, summary")) {
      if (event.key === "Enter" || event.key === " ") return;
    }
    const count = trace ? mutants[trace.mutant].trace.steps.length + 1 : currentChoices().length;
    switch (event.key) {
      case "ArrowRight": act("take"); break;
      case "ArrowLeft": case "Backspace": act("back"); break;
      case "Home": act("restart"); break;
      case "Escape":
        if (trace) leaveTrace();
        else document.getElementById("abstract-panel").hidden = true;
        break;
      case "ArrowDown": case "ArrowUp": {
        const delta = event.key === "ArrowDown" ? 1 : -1;
        if (trace) trace.step = Math.max(0, Math.min(count - 1, trace.step + delta));
        else selected = Math.max(0, Math.min(count - 1, selected + delta));
        render();
        break;
      }
      case "Enter": if (!trace) act("take"); else return; break;
      default: return;
    }
    event.preventDefault();
  });

  /* ---- abstract state -> concrete states ------------------------------------------- */

  const PAGE = 60;

  function openAbstract(machine, name) {
    const box = document.getElementById("abstract-panel");
    const members = [];
    graph.states.forEach((row, index) => {
      const matches = machine === "process" ? row[2] === name : row[1].includes(name);
      if (matches) members.push(index);
    });
    document.querySelectorAll("svg.machine .state").forEach((node) => {
      node.classList.toggle("open", node.dataset.machine === machine && node.dataset.state === name);
    });
    box.hidden = false;
    box.querySelector(".abstract-title").replaceChildren(
      chip(name), ` stands for ${members.length.toLocaleString("en")} of ${graph.states.length.toLocaleString("en")} concrete states`,
    );
    box.querySelector(".abstract-meaning").textContent =
      `${meaning[name] || ""}. World: ${graph.bounds}. Open one to see the events enabled there.`;
    const list = box.querySelector(".concrete-list");
    list.replaceChildren();
    let shown = 0;
    function more() {
      const end = Math.min(members.length, shown + PAGE);
      for (; shown < end; shown++) list.append(concreteEntry(members[shown]));
      const button = list.querySelector("button.more");
      if (button) button.remove();
      if (shown < members.length) {
        list.append(el("button", { type: "button", class: "more", onclick: more }, [
          `show ${Math.min(PAGE, members.length - shown)} more of ${members.length - shown}`,
        ]));
      }
    }
    more();
    box.scrollIntoView({ block: "nearest" });
  }

  function concreteEntry(state) {
    const info = stateInfo(state);
    const details = el("details", { "data-state-index": state }, [
      el("summary", { text: info.text }),
    ]);
    details.addEventListener("toggle", () => {
      if (!details.open || details.dataset.filled) return;
      details.dataset.filled = "1";
      const items = edgesOf(state).map((edge) => {
        const change = move(state, edge);
        return el("li", {}, [
          el("code", { text: graph.events[edge.ev][0] }), ` → ${graph.results[edge.res]} `, chip(change.dest),
        ]);
      });
      const go = el("button", { type: "button" }, ["step from here"]);
      go.addEventListener("click", () => {
        trace = null;
        path = pathTo(state);
        at = path.length - 1;
        selected = -1;
        render();
        panel.scrollIntoView({ block: "nearest" });
      });
      details.append(
        el("div", { class: "hint", text: `${items.length} enabled events` }),
        el("ul", {}, items),
        go,
      );
    });
    return details;
  }

  document.querySelectorAll("svg.machine .state").forEach((node) => {
    node.addEventListener("click", () => openAbstract(node.dataset.machine, node.dataset.state));
  });

  /* ---- properties and mutants ------------------------------------------------------ */

  const list = document.getElementById("properties");
  for (const item of properties) {
    const caught = mutants.map((mutant, index) => ({ mutant, index })).filter((entry) => entry.mutant.trace.property === item.id);
    const buttons = caught.map((entry) => el("button", {
      type: "button", "data-mutant": entry.mutant.name, onclick: () => loadTrace(entry.index),
    }, [`load ${entry.mutant.name}`]));
    list.append(el("div", { class: "prop", id: `property-${item.id}` }, [
      el("div", {}, [el("span", { class: "pid", text: item.id }), ` ${item.title}`]),
      el("p", { text: item.statement }),
      item.why ? el("details", {}, [el("summary", { text: "why" }), el("p", { text: item.why })]) : null,
      buttons.length ? el("div", { class: "mutant-buttons" }, buttons) : el("p", { class: "hint", text: "no broken model breaks this one alone" }),
    ]));
  }
  const rows = document.querySelector("#mutants tbody");
  mutants.forEach((mutant, index) => {
    rows.append(el("tr", {}, [
      el("td", {}, [el("code", { text: mutant.name })]),
      el("td", { text: mutant.trace.property }),
      el("td", { text: mutant.description }),
      el("td", { text: mutant.bounds }),
      el("td", { text: String(mutant.trace.steps.length) }),
      el("td", {}, [el("button", { type: "button", "data-mutant": mutant.name, onclick: () => loadTrace(index) }, ["load and step"])]),
    ]));
  });

  render();
})();
