// OVR-ALPR event page: live events over server-sent events, search, event detail, cameras, watchlists.
// Plain JavaScript, no build step and no external resources (it must work offline).
"use strict";

const $ = (sel) => document.querySelector(sel);
const LIVE_MAX = 100;
let nextOffset = null;
let lastQuery = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function token() { return $("#token").value.trim() || localStorage.getItem("ovr-alpr-token") || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (options.body) headers["Content-Type"] = "application/json";
  if (options.method && options.method !== "GET" && token()) headers["Authorization"] = "Bearer " + token();
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(response.status + ": " + detail);
  }
  return response.status === 204 ? null : response.json();
}

function badges(alerts) {
  const cell = el("td");
  for (const a of alerts || []) cell.append(el("span", { class: "badge " + a.label, title: a.pattern }, a.watchlist));
  return cell;
}

function eventRow(ev) {
  const crop = ev.images && ev.images.plate_url
    ? el("img", { class: "crop", src: ev.images.plate_url, alt: ev.plate.normalized_text, loading: "lazy" })
    : el("span", { class: "muted" }, "-");
  const plate = ev.plate.normalized_text + (ev.distance ? " (" + ev.distance + ")" : "");
  const row = el("tr", { class: "event" + ((ev.alerts || []).length ? " hit" : ""), dataset: { eventId: ev.event_id } },
    el("td", {}, crop), el("td", { class: "plate" }, plate), el("td", {}, ev.camera_id),
    el("td", {}, fmtTime(ev.captured_at)), el("td", {}, (ev.plate.confidence * 100).toFixed(0) + "%"),
    badges(ev.alerts));
  row.addEventListener("click", () => showDetail(ev.event_id));
  return row;
}

async function showDetail(eventId) {
  const ev = await api("/api/events/" + encodeURIComponent(eventId));
  const body = $("#detail-body");
  body.replaceChildren();
  body.append(el("h3", { class: "plate" }, ev.plate.normalized_text));
  for (const kind of ["plate", "vehicle", "frame"]) {
    const url = ev.images[kind + "_url"];
    if (url) body.append(el("div", {}, el("span", { class: "muted" }, kind), el("img", { src: url, alt: kind + " crop" })));
  }
  const dl = el("dl");
  const add = (k, v) => { dl.append(el("dt", {}, k), el("dd", {}, v === null || v === undefined ? "-" : String(v))); };
  add("event id", ev.event_id); add("time", fmtTime(ev.captured_at)); add("camera", ev.camera_id);
  add("track", ev.track_id); add("read as", ev.plate.text); add("confidence", ev.plate.confidence);
  add("region", ev.plate.region); add("vehicle", [ev.vehicle.type, ev.vehicle.color, ev.vehicle.make, ev.vehicle.model].filter(Boolean).join(" "));
  add("latency ms", ev.latency_ms); add("site / host", ev.node.site + " / " + ev.node.host);
  for (const a of ev.alerts) add("alert", a.watchlist + " (" + a.label + ", " + a.pattern + ", " + a.distance + " edits)");
  body.append(dl);
  $("#detail").showModal();
}

// ------------------------------------------------------------ search

function searchParams() {
  const p = new URLSearchParams();
  const plate = $("#q").value.trim();
  if (plate) { p.set("plate", plate); p.set("match", $("#match").value); }
  if ($("#match").value === "fuzzy") p.set("max_distance", $("#distance").value);
  const cam = $("#camera").value.trim();
  if (cam) p.set("camera", cam);
  if ($("#since").value) p.set("since", new Date($("#since").value).toISOString());
  if ($("#until").value) p.set("until", new Date($("#until").value).toISOString());
  return p;
}

async function search(append = false) {
  const p = append ? lastQuery : searchParams();
  lastQuery = p;
  const page = new URLSearchParams(p);
  page.set("limit", "50");
  if (append && nextOffset) page.set("offset", String(nextOffset));
  const csv = new URLSearchParams(p); csv.set("format", "csv");
  $("#csv").href = "/api/events?" + csv.toString();
  try {
    const result = await api("/api/events?" + page.toString());
    const tbody = $("#results tbody");
    if (!append) tbody.replaceChildren();
    for (const ev of result.events) tbody.append(eventRow(ev));
    nextOffset = result.next_offset;
    $("#more").hidden = nextOffset === null;
    const n = tbody.children.length;
    $("#search-info").textContent = n + " event(s)" + (result.max_distance !== null ? ", up to " + result.max_distance + " edit(s)" : "");
  } catch (e) {
    $("#search-info").textContent = "search failed: " + e.message;
  }
}

// ------------------------------------------------------------ cameras

const cameras = new Map();

function renderCameras() {
  const tbody = $("#cameras tbody");
  tbody.replaceChildren();
  for (const c of [...cameras.values()].sort((a, b) => a.camera_id.localeCompare(b.camera_id))) {
    const up = c.source_up === null || c.source_up === undefined ? el("span", { class: "muted" }, "?")
      : el("span", { class: c.source_up ? "up" : "down" }, c.source_up ? "up" : "down");
    tbody.append(el("tr", { dataset: { camera: c.camera_id } }, el("td", {}, c.camera_id), el("td", {}, up),
      el("td", {}, fmtTime(c.last_frame_at)), el("td", {}, c.fps === null || c.fps === undefined ? "" : c.fps.toFixed(1)),
      el("td", {}, c.dropped_frames ?? ""), el("td", {}, fmtTime(c.last_event_at)), el("td", { class: "plate" }, c.last_plate || "")));
  }
}

async function loadCameras() {
  try {
    for (const c of await api("/api/cameras")) cameras.set(c.camera_id, c);
    renderCameras();
  } catch (e) { /* shown as empty */ }
}

// ------------------------------------------------------------ live

function onPlate(ev) {
  const tbody = $("#live tbody");
  tbody.prepend(eventRow(ev));
  while (tbody.children.length > LIVE_MAX) tbody.lastChild.remove();
  const c = cameras.get(ev.camera_id) || { camera_id: ev.camera_id };
  if (!c.last_event_at || c.last_event_at <= ev.captured_at) {
    Object.assign(c, { last_event_at: ev.captured_at, last_event_id: ev.event_id, last_plate: ev.plate.normalized_text });
  }
  cameras.set(ev.camera_id, c);
  renderCameras();
}

function onAlert(a) {
  const box = $("#alerts");
  box.prepend(el("div", { class: "alert " + a.label },
    el("strong", {}, a.label.toUpperCase() + " "), a.plate + " on " + a.camera_id + " (watchlist " + a.watchlist + ", " + fmtTime(a.captured_at) + ")"));
  while (box.children.length > 20) box.lastChild.remove();
}

function connect() {
  const source = new EventSource("/api/stream");
  source.onopen = () => { $("#conn").textContent = "live"; $("#conn").className = "conn on"; };
  source.onerror = () => { $("#conn").textContent = "reconnecting"; $("#conn").className = "conn off"; };
  source.addEventListener("plate", (m) => onPlate(JSON.parse(m.data)));
  source.addEventListener("alert", (m) => onAlert(JSON.parse(m.data)));
  source.addEventListener("camera", (m) => { const c = JSON.parse(m.data); cameras.set(c.camera_id, c); renderCameras(); });
}

async function loadLive() {
  try {
    const result = await api("/api/events?limit=20");
    for (const ev of result.events.reverse()) onPlate(ev);
    for (const a of (await api("/api/alerts?limit=5")).reverse()) onAlert(a);
  } catch (e) { /* empty store */ }
}

// ------------------------------------------------------------ watchlists

async function loadWatchlists() {
  const box = $("#watchlists");
  box.replaceChildren();
  for (const w of await api("/api/watchlists")) {
    const del = el("button", { type: "button" }, "delete");
    del.addEventListener("click", async () => {
      try { await api("/api/watchlists/" + encodeURIComponent(w.name), { method: "DELETE" }); loadWatchlists(); }
      catch (e) { $("#watch-info").textContent = e.message; }
    });
    const edit = el("button", { type: "button" }, "edit");
    edit.addEventListener("click", () => {
      $("#wl-name").value = w.name; $("#wl-label").value = w.label; $("#wl-tolerance").value = String(w.tolerance);
      $("#wl-entries").value = w.entries.map((e) => e.pattern).join(", ");
    });
    box.append(el("div", { class: "watchlist" }, el("span", { class: "badge " + w.label }, w.label), el("strong", {}, w.name + " "),
      el("span", { class: "muted" }, "(" + w.tolerance + " edits) "), w.entries.map((e) => e.pattern).join(", ") + " ", edit, del));
  }
}

async function saveWatchlist(e) {
  e.preventDefault();
  const name = $("#wl-name").value.trim();
  const entries = $("#wl-entries").value.split(",").map((s) => s.trim()).filter(Boolean).map((pattern) => ({ pattern }));
  try {
    await api("/api/watchlists/" + encodeURIComponent(name), {
      method: "PUT",
      body: JSON.stringify({ label: $("#wl-label").value, tolerance: Number($("#wl-tolerance").value), entries }),
    });
    $("#watch-info").textContent = "saved " + name;
    loadWatchlists();
  } catch (err) { $("#watch-info").textContent = "not saved: " + err.message; }
}

// ------------------------------------------------------------ start

document.addEventListener("DOMContentLoaded", () => {
  $("#token").value = localStorage.getItem("ovr-alpr-token") || "";
  $("#token").addEventListener("change", () => localStorage.setItem("ovr-alpr-token", $("#token").value.trim()));
  $("#search").addEventListener("submit", (e) => { e.preventDefault(); search(false); });
  $("#more").addEventListener("click", () => search(true));
  $("#watch-form").addEventListener("submit", saveWatchlist);
  loadCameras();
  loadLive().then(connect);
  loadWatchlists().catch(() => {});
  search(false);
  setInterval(loadCameras, 15000);
});
