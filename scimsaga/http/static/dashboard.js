// scimsaga dashboard: polls /dashboard/api/view once a second and redraws. No libraries, no network
// beyond this origin. Every element is built with the DOM API (the page's CSP allows no inline code).
"use strict";

const POLL_MS = 1000;
const SPARK_POINTS = 60;
const SVG = "http://www.w3.org/2000/svg";

const lagHistory = new Map();   // subscription name -> recent lag values
const lastCounts = new Map();   // edge id -> last count seen (for the pulses)
let lastOk = 0;
let busy = new Set();           // chaos buttons waiting for an answer

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.setAttribute("class", value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

function fmtMs(ms) {
  if (ms >= 10000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.round(ms)} ms`;
}

function stateClass(state) {
  const s = String(state || "");
  if (s === "down") return "down";
  if (s.startsWith("slow") || s.startsWith("failing")) return "slow";
  return "up";
}

// --- header -------------------------------------------------------------------------------------

function drawSummary(view) {
  const box = document.getElementById("summary");
  box.replaceChildren();
  const counts = view.sagas.counts || {};
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  box.appendChild(el("span", { class: "chip", id: "http-total" }, el("span", { text: "HTTP " }),
    el("b", { text: String(view.http.requests) })));
  box.appendChild(el("span", { class: "chip" }, el("span", { text: "sagas " }), el("b", { text: String(total) })));
  for (const state of Object.keys(counts).sort()) {
    box.appendChild(el("span", { class: `chip ${state}`, "data-saga-state": state },
      el("span", { text: `${state} ` }), el("b", { text: String(counts[state]) })));
  }
}

function drawBanner(view) {
  const banner = document.getElementById("banner");
  if (view.error) {
    banner.hidden = false;
    banner.textContent = `The deployment did not answer (an actor may be restarting): ${view.error}`;
  } else {
    banner.hidden = true;
  }
}

// --- topology -----------------------------------------------------------------------------------

const WIDTH = 1200, NODE_H = 80, RIGHT_X = 990;
const COLUMN = { idp: [10, 125], frontdoor: [225, 150], identity: [465, 205], broker: [760, 120] };
const RIGHT_W = 200;

function layout(nodes) {
  const right = nodes.filter((n) => !(n.id in COLUMN));
  const height = Math.max(330, right.length * (NODE_H + 18) + 30);
  const mid = height / 2 - NODE_H / 2;
  const pos = {};
  for (const n of nodes) {
    if (n.id in COLUMN) pos[n.id] = { x: COLUMN[n.id][0], y: mid, w: COLUMN[n.id][1], h: NODE_H };
  }
  if (pos.broker) { pos.broker.y = 15; pos.broker.h = height - 30; }
  right.forEach((n, i) => {
    const step = (height - 30) / right.length;
    pos[n.id] = { x: RIGHT_X, y: 15 + i * step + (step - NODE_H) / 2, w: RIGHT_W, h: NODE_H };
  });
  return { pos, height };
}

function anchor(a, b) {
  // The points where the straight line between two boxes leaves each of them (left/right sides).
  const ay = a.id === "broker" ? Math.min(Math.max(b.y + b.h / 2, a.y + 20), a.y + a.h - 20) : a.y + a.h / 2;
  const by = b.id === "broker" ? Math.min(Math.max(a.y + a.h / 2, b.y + 20), b.y + b.h - 20) : b.y + b.h / 2;
  if (a.x < b.x) return [a.x + a.w, ay, b.x, by];
  return [a.x, ay, b.x + b.w, by];
}

function drawTopology(view) {
  const svg = document.getElementById("topology");
  const { nodes, edges } = view.topology;
  const { pos, height } = layout(nodes);
  for (const n of nodes) pos[n.id].id = n.id;
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);
  svg.replaceChildren();
  const defs = el("svg:defs", {}, el("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, el("svg:path", { d: "M0,0 L10,5 L0,10 z" })));
  svg.appendChild(defs);

  for (const edge of edges) {
    const a = pos[edge.from], b = pos[edge.to];
    if (!a || !b) continue;
    const [x1, y1, x2, y2] = anchor(a, b);
    const target = nodes.find((n) => n.id === edge.to) || {};
    const lag = edge.lag || 0;
    const cls = ["edge", lag > 0 ? (stateClass(target.state) === "down" ? "blocked" : "lagging") : ""].join(" ");
    const g = el("svg:g", { class: cls, id: `edge-${edge.id}`, "data-count": edge.count, "data-lag": lag });
    const twoWay = edge.back !== undefined;
    g.appendChild(el("svg:line", { x1, y1, x2, y2, "marker-end": "url(#arrow)",
      "marker-start": twoWay ? "url(#arrow)" : null }));
    // Labels sit nearer the service than the bus, where the fan-out lines are apart.
    const t = twoWay ? 0.58 : 0.5;
    const mx = edge.from === "broker" ? x1 + (x2 - x1) * t : (x1 + x2) / 2;
    const my = edge.from === "broker" ? y1 + (y2 - y1) * t : (y1 + y2) / 2;
    if (twoWay) {
      // bus <-> service: the arrows on the labels point the way the messages go on screen
      const rightward = x2 > x1;
      const into = `${edge.count}`, out = `${edge.back}`;
      const [top, bottom] = rightward ? [`→ ${into}`, `← ${out}`] : [`→ ${out}`, `← ${into}`];
      g.appendChild(el("svg:text", { class: "count", x: mx, y: my - 8, "text-anchor": "middle", text: top }));
      g.appendChild(el("svg:text", { class: "count back", x: mx, y: my + 14, "text-anchor": "middle", text: bottom }));
      g.appendChild(el("svg:title", { text: `${edge.to}: ${edge.count} delivered from ${edge.label}; `
        + `${edge.back} published${edge.back_label ? ` on ${edge.back_label}` : ""}` }));
    } else {
      g.appendChild(el("svg:text", { class: "count", x: mx, y: my - 8, "text-anchor": "middle", text: `${edge.count}` }));
      g.appendChild(el("svg:text", { class: "what", x: mx, y: my + 12, "text-anchor": "middle", text: edge.label }));
    }
    let bx = mx - 34;
    const by = twoWay ? my + 20 : my + 14;
    for (const [value, kind, word] of [[lag, "lag", "lag"], [edge.dead_letters || 0, "dead", "dead"]]) {
      if (value > 0) {
        const text = `${word} ${value}`;
        const w = 14 + text.length * 8;
        g.appendChild(el("svg:g", { class: `badge ${kind}`, "data-kind": kind },
          el("svg:rect", { x: bx, y: by, width: w, height: 20, rx: 10 }),
          el("svg:text", { x: bx + w / 2, y: by + 15, "text-anchor": "middle", text })));
        bx += w + 6;
      }
    }
    svg.appendChild(g);
    const before = lastCounts.get(edge.id);
    if (before !== undefined && edge.count > before) pulse(svg, x1, y1, x2, y2);
    lastCounts.set(edge.id, edge.count);
  }

  for (const n of nodes) {
    const p = pos[n.id];
    const state = n.state ? stateClass(n.state) : "";
    const g = el("svg:g", { class: `node ${n.kind} ${state === "up" ? "" : state}`, id: `node-${n.id}`,
      "data-state": n.state || "" });
    g.appendChild(el("svg:rect", { x: p.x, y: p.y, width: p.w, height: p.h, rx: 10 }));
    const cx = p.x + 10;
    const ty = n.id === "broker" ? p.y + p.h / 2 - 10 : p.y + 24;
    g.appendChild(el("svg:text", { class: "title", x: cx, y: ty, text: n.label }));
    if (n.state) {
      g.appendChild(el("svg:text", { class: `state ${state}`, x: p.x + p.w - 10, y: p.y + 22,
        "text-anchor": "end", text: n.state }));
    }
    const lines = [];
    if (n.processed !== undefined) lines.push(`processed ${n.processed}${n.outbox ? ` · outbox ${n.outbox}` : ""}`);
    if (n.detail) lines.push(...(n.id === "broker" ? n.detail.split(" ") : [n.detail]));
    lines.slice(0, 2).forEach((line, i) => {
      g.appendChild(el("svg:text", { class: "detail", x: cx, y: ty + 20 + i * 17,
        text: clip(line, Math.floor((p.w - 16) / 7.4)) }));
    });
    g.appendChild(el("svg:title", { text: `${n.label}: ${lines.join("\n")}` }));
    svg.appendChild(g);
  }
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

function pulse(svg, x1, y1, x2, y2) {
  const dot = el("svg:circle", { class: "pulse", r: 6, cx: 0, cy: 0 });
  dot.appendChild(el("svg:animateMotion", { dur: "0.7s", repeatCount: "1", fill: "freeze",
    path: `M${x1},${y1} L${x2},${y2}` }));
  svg.appendChild(dot);
  setTimeout(() => dot.remove(), 800);
}

// --- chaos --------------------------------------------------------------------------------------

const ACTIONS = [
  ["down", "Down", { down: true }],
  ["up", "Up", { down: false, latency_ms: 0, fail_rate: 0 }],
  ["slow", "Slow", { latency_ms: 500 }],
  ["fail", "Fail 30%", { fail_rate: 0.3 }],
  ["kill", "Kill", { kill: true }],
];

const TIPS = {
  down: "stop taking deliveries: events wait in the bus",
  up: "take deliveries again and clear every fault",
  slow: "add 500 ms to every delivery",
  fail: "fail 30% of deliveries (the bus retries them)",
  kill: "kill the actor as a crash would; Ray restarts it",
};

function drawChaos(view) {
  const box = document.getElementById("chaos");
  const states = Object.fromEntries(view.services.map((s) => [s.name, s.state]));
  const rows = [];
  for (const name of [...view.chaos.services, ...view.chaos.kill_only]) {
    const killOnly = view.chaos.kill_only.includes(name);
    const state = killOnly ? "" : states[name];
    const buttons = el("div", { class: "buttons" });
    for (const [action, label, body] of ACTIONS) {
      if (killOnly && action !== "kill") continue;
      const key = `${name}:${action}`;
      const button = el("button", { type: "button", class: action, "data-service": name, "data-action": action,
        text: label, title: TIPS[action], onclick: () => chaos(name, action, body) });
      if (busy.has(key)) button.disabled = true;
      buttons.appendChild(button);
    }
    rows.push(el("div", { class: "chaos-row", "data-service": name },
      el("span", { class: "name", text: name }),
      state ? el("span", { class: `pill ${stateClass(state)}`, "data-role": "state", text: state }) : el("span"),
      buttons));
  }
  box.replaceChildren(...rows);
}

async function chaos(service, action, body) {
  const key = `${service}:${action}`;
  busy.add(key);
  const note = document.getElementById("chaos-result");
  note.textContent = `${service}: ${action}…`;
  try {
    const resp = await fetch("/dashboard/api/chaos", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ service, ...body }),
    });
    const answer = await resp.json();
    if (!resp.ok) note.textContent = `${service}: ${answer.detail || resp.status}`;
    else if (answer.killed) note.textContent = `${service}: killed; Ray restarts it`;
    else note.textContent = `${service}: ${describeFaults(answer.faults)}`;
  } catch (err) {
    note.textContent = `${service}: ${err}`;
  } finally {
    busy.delete(key);
    poll(true);
  }
}

function describeFaults(f) {
  if (!f) return "done";
  if (f.down) return "down";
  const parts = [];
  if (f.latency_ms) parts.push(`slow ${f.latency_ms} ms`);
  if (f.fail_rate) parts.push(`failing ${Math.round(f.fail_rate * 100)}%`);
  return parts.join(", ") || "up";
}

// --- sagas --------------------------------------------------------------------------------------

function drawSagas(view) {
  const box = document.getElementById("sagas");
  const recent = view.sagas.recent || [];
  if (!recent.length) {
    box.replaceChildren(el("p", { class: "empty",
      text: view.sagas.error ? `No saga history: ${view.sagas.error}` : "No saga yet: create a user." }));
    return;
  }
  box.replaceChildren(...recent.map(sagaRow));
}

function sagaRow(saga) {
  const total = Math.max(saga.duration_ms, 1);
  const answered = saga.marks.find((m) => m.label !== "saga");
  const timing = saga.from_request && answered
    ? `${answered.label} after ${fmtMs(answered.at_ms)} · last step ${fmtMs(saga.duration_ms)} after the POST`
    : `${fmtMs(saga.duration_ms)} from the saga's start`;
  const head = el("div", { class: "saga-head" },
    el("span", { class: "who", text: saga.user || saga.user_id || saga.id }),
    el("span", { class: "muted", text: saga.definition || "" }),
    el("span", { class: `pill ${saga.status}`, "data-role": "status", text: saga.status || "?" }),
    saga.reason ? el("span", { class: "reason", text: saga.reason, title: saga.reason }) : null,
    el("span", { class: "total", text: timing }));
  const track = el("div", { class: "track" });
  for (const seg of saga.segments) {
    const div = el("div", { class: `seg ${seg.kind}`, "data-kind": seg.kind,
      title: `${seg.detail}\n${fmtMs(seg.start_ms)} → ${fmtMs(seg.end_ms)}` });
    div.style.left = `${(100 * seg.start_ms) / total}%`;
    div.style.width = `${(100 * (seg.end_ms - seg.start_ms)) / total}%`;
    div.textContent = seg.label;
    track.appendChild(div);
  }
  for (const mark of saga.marks) {
    if (mark.label === "saga") continue;
    const m = el("div", { class: "mark", title: `${mark.label} at ${fmtMs(mark.at_ms)}` },
      el("span", { text: mark.label }));
    m.style.left = `${(100 * mark.at_ms) / total}%`;
    track.appendChild(m);
  }
  return el("div", { class: "saga-row", "data-saga": saga.id, "data-status": saga.status }, head, track);
}

// --- bus ----------------------------------------------------------------------------------------

function drawSubscriptions(view) {
  const body = document.querySelector("#subscriptions tbody");
  const rows = view.subscriptions.map((s) => {
    const history = lagHistory.get(s.name) || [];
    history.push(s.lag || 0);
    while (history.length > SPARK_POINTS) history.shift();
    lagHistory.set(s.name, history);
    const cls = s.dead_letters > 0 ? "dead" : s.lag > 0 ? "lagging" : "";
    return el("tr", { class: cls, "data-sub": s.name },
      el("td", { text: s.name }),
      el("td", { class: "num lag", text: String(s.lag) }),
      el("td", {}, spark(history)),
      el("td", { class: "num", text: String(s.retrying ?? "") }),
      el("td", { class: "num dead-letters", text: String(s.dead_letters ?? "") }),
      el("td", { class: "num", text: s.oldest_unacked_age_s ? `${s.oldest_unacked_age_s.toFixed(1)} s` : "" }),
      el("td", { text: s.state || "" }));
  });
  body.replaceChildren(...rows);
}

function spark(values) {
  const max = Math.max(1, ...values);
  const points = values.map((v, i) => `${(i * 90) / (SPARK_POINTS - 1)},${19 - (v / max) * 17}`).join(" ");
  return el("svg:svg", { class: "spark", viewBox: "0 0 90 20", preserveAspectRatio: "none" },
    el("svg:polyline", { points }));
}

// --- polling ------------------------------------------------------------------------------------

let timer = null;

async function poll(now = false) {
  if (timer) clearTimeout(timer);
  if (now) { timer = setTimeout(poll, 0); return; }
  try {
    const resp = await fetch("/dashboard/api/view", { credentials: "same-origin", cache: "no-store" });
    if (resp.status === 401) { window.location.assign("/dashboard/login"); return; }
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    const view = await resp.json();
    drawSummary(view);
    drawBanner(view);
    drawTopology(view);
    drawChaos(view);
    drawSagas(view);
    drawSubscriptions(view);
    lastOk = Date.now();
    document.body.dataset.generated = String(view.generated_at);
  } catch (err) {
    document.getElementById("freshness").textContent = `no answer: ${err.message}`;
  } finally {
    timer = setTimeout(poll, POLL_MS);
  }
}

setInterval(() => {
  const dot = document.getElementById("live-dot");
  if (!lastOk) return;
  const age = (Date.now() - lastOk) / 1000;
  dot.className = `dot ${age < 3 ? "live" : age < 10 ? "stale" : "dead"}`;
  document.getElementById("freshness").textContent = age < 1.5 ? "live" : `updated ${age.toFixed(0)} s ago`;
}, 500);

document.addEventListener("DOMContentLoaded", () => poll());
