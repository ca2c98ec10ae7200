/* Shared helpers: reading the embedded data, building elements, copy buttons. */
"use strict";

function readData(id) {
  return JSON.parse(document.getElementById(`data-${id}`).textContent);
}

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of [].concat(children || [])) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function chip(state) {
  return el("span", { class: "chip", "data-state": state, text: state });
}

function copyText(text, button) {
  const done = () => {
    button.classList.add("done");
    button.textContent = "copied";
    setTimeout(() => { button.classList.remove("done"); button.textContent = "copy"; }, 1400);
  };
  const fallback = () => {
    const area = el("textarea", { style: "position:fixed;left:-9999px", readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
    area.remove();
    if (ok) done();
    else button.textContent = "select the text";
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else {
    fallback();
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (button) copyText(button.dataset.copy, button);
});

/* True when a key press belongs to a form field and must not step anything. */
function typingInto(event) {
  const target = event.target;
  return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}
