// cronhook pages: small progressive enhancements. Every page works without this file.
"use strict";

function cell(row, text, label) {
  const td = document.createElement("td");
  td.dataset.label = label;
  td.textContent = text == null ? "—" : String(text);
  row.appendChild(td);
  return td;
}

function cronPreview(input) {
  const form = input.form;
  const zone = form.querySelector("[data-cron-zone]");
  const box = document.getElementById("cron-preview");
  const words = box.querySelector(".words");
  const list = box.querySelector(".next");
  let timer = null;
  let asked = 0;
  async function update() {
    const n = ++asked;
    const q = new URLSearchParams({ cron: input.value, timezone: zone ? zone.value : "" });
    let answer;
    try {
      const r = await fetch("/portal/cron-preview?" + q, { credentials: "same-origin" });
      answer = await r.json();
    } catch (e) {
      return;
    }
    if (n !== asked) return;
    box.hidden = false;
    list.replaceChildren();
    box.classList.toggle("error", !answer.ok);
    if (!answer.ok) {
      words.textContent = answer.errors.map((e) => e.field + ": " + e.message).join("; ");
      return;
    }
    words.textContent = answer.words;
    for (const o of answer.next) {
      const li = document.createElement("li");
      const rule = { gap: "moved past a DST gap", fold: "repeated hour" }[o.dst];
      li.textContent = o.text + (rule ? " — " + rule : "");
      list.appendChild(li);
    }
  }
  function later() {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  }
  input.addEventListener("input", later);
  if (zone) zone.addEventListener("input", later);
  update();
}

// The last column: a job's progress (percent and message), else the code or error.
function detail(e) {
  if (e.type === "fire.progress" && e.progress) {
    const p = e.progress;
    const parts = [p.percent != null ? p.percent + " %" : null, p.message].filter(Boolean);
    return parts.length ? parts.join(" — ") : "progress";
  }
  if (e.type === "fire.running") return e.deadline_at ? "running until " + e.deadline_at : "running";
  return e.status_code != null ? e.status_code : e.error;
}

function eventFeed(table) {
  const body = table.querySelector("tbody");
  const state = document.getElementById("feed-state");
  const source = new EventSource(table.dataset.stream);
  const types = [
    "fire.dispatched",
    "fire.running",
    "fire.progress",
    "attempt.finished",
    "fire.succeeded",
    "fire.failed",
  ];
  source.onopen = () => {
    state.textContent = "Live: new events appear at the top.";
    state.dataset.state = "open";
  };
  source.onerror = () => {
    state.textContent = "Reconnecting…";
    state.dataset.state = "reconnecting";
  };
  for (const type of types) {
    source.addEventListener(type, (message) => {
      const e = JSON.parse(message.data);
      const row = document.createElement("tr");
      row.className = "event";
      row.dataset.fire = e.fire_id;
      row.dataset.type = e.type;
      cell(row, e.at, "At");
      cell(row, e.type, "Event");
      cell(row, e.fire_id, "Fire");
      cell(row, e.attempt, "Attempt");
      cell(row, e.status, "Status").className = "status " + e.status;
      cell(row, detail(e), "Code or error");
      body.prepend(row);
      while (body.rows.length > 200) body.deleteRow(-1);
    });
  }
}

function refresh(section) {
  setInterval(async () => {
    try {
      const r = await fetch(section.dataset.refresh, { credentials: "same-origin" });
      if (r.ok) section.innerHTML = await r.text();
    } catch (e) {
      /* the next tick tries again */
    }
  }, 3000);
}

document.addEventListener("DOMContentLoaded", () => {
  const cron = document.querySelector("[data-cron-preview]");
  if (cron) cronPreview(cron);
  const feed = document.querySelector("[data-stream]");
  if (feed && window.EventSource) eventFeed(feed);
  const live = document.querySelector("[data-refresh]");
  if (live) refresh(live);
});
