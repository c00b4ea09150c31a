"use strict";
const $ = (id) => document.getElementById(id);
let presses = 0;

// With login on (sn_demo --users), a 401 from the API means the session is
// gone (logged out, idle, expired): back to the login page. Without login the
// API never answers 401.
function toLogin(r) {
  if (r.status === 401) location.assign("/login");
  return r.status === 401;
}

// 93784000 ms -> "1d 2h 3m 4s"; leading zero units are left out
function uptime(ms) {
  const s = Math.floor(ms / 1000);
  const parts = [[Math.floor(s / 86400), "d"], [Math.floor(s / 3600) % 24, "h"], [Math.floor(s / 60) % 60, "m"]];
  const i = parts.findIndex(([n]) => n > 0);
  return (i < 0 ? [] : parts.slice(i)).map(([n, u]) => n + u).concat(s % 60 + "s").join(" ");
}

function online(ok) {
  $("state").textContent = ok ? "online" : "offline";
  $("state").className = "state " + (ok ? "ok" : "bad");
}

// The uptime, requests and connections shown; live() also counts an update
function values(st) {
  $("uptime").textContent = uptime(st.uptime_ms);
  $("requests").textContent = st.requests;
  $("connections").textContent = st.connections;
}

// GET /api/status: the session, TLS and client certificate every 2 s (its 401
// is how the page learns the session is gone), and the live values too once a
// second when polling is the transport. One timer: schedule() replaces it.
let pollTimer = 0;
function schedule(ms) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(refresh, ms);
}

async function refresh() {
  try {
    const r = await fetch("/api/status", { cache: "no-store" });
    if (toLogin(r)) return;
    if (!r.ok) throw new Error("HTTP " + r.status);
    const st = await r.json();
    if (typeof st.user === "string") $("user").textContent = st.user;
    $("session").hidden = typeof st.user !== "string";   // no user: the demo runs without login
    if (transport === "polling") live(st);
    else if (!pushing) values(st);   // a push transport not (yet, or no longer) open
    $("tls").textContent = st.tls ? `${st.tls.version}, ${st.tls.suite}` : "none (plain HTTP)";
    $("client").textContent = st.client || "none";
    online(true);
  } catch (e) {
    online(false);
  }
  schedule(transport === "polling" ? 1000 : 2000);   // the next poll after this one is done
}

// ---- live values, pushed: a WebSocket (/ws/status), else server-sent events
// (/api/events), else /api/status polled once a second. A transport that is
// missing, throws, or never opens hands over to the next one down, for good;
// one that worked and then closed (the device restarted, the network went) is
// tried again after a back-off: 0.5 s doubling up to 15 s, +-20 %, back to
// 0.5 s once a message arrives, so a device coming back is found again
// without every open page hammering it at once.
let transport = "";    // "websocket", "sse" or "polling"
let pushing = false;   // a WebSocket or event stream is open
let updates = 0;       // messages (or polls) with live values so far
let retries = 0;       // attempts since the last message

function showTransport(name, how) {
  transport = name;
  pushing = !how && name !== "polling";
  $("transport").textContent = how ? `${name} (${how})` : name;
  $("transport").dataset.state = how ? "waiting" : "open";
}

function live(st) {
  if (!st || typeof st.uptime_ms !== "number") return;
  retries = 0;
  updates += 1;
  $("updates").textContent = updates;
  if (st.seq !== undefined) $("updates").dataset.seq = st.seq;   // the server's count (tests read it)
  values(st);
}

function parse(text) {
  try { return JSON.parse(text); } catch (e) { return null; }
}

function retry(name, start) {
  const ms = Math.min(15000, 500 * 2 ** Math.min(retries, 5)) * (0.8 + 0.4 * Math.random());
  retries += 1;
  showTransport(name, `retrying in ${Math.ceil(ms / 1000)} s`);
  setTimeout(start, ms);
}

function viaWebSocket(worked) {
  let ws, opened = false;
  try {
    ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/status`);
  } catch (e) {
    return viaSSE(false);   // no WebSocket in this browser, or it is blocked
  }
  showTransport("websocket", "connecting");
  const slow = setTimeout(() => ws.close(), 5000);   // not open in 5 s: as if it failed
  ws.onopen = () => { opened = true; clearTimeout(slow); showTransport("websocket"); };
  ws.onmessage = (e) => live(parse(e.data));
  ws.onclose = () => {
    clearTimeout(slow);
    if (opened || worked) retry("websocket", () => viaWebSocket(true));
    else viaSSE(false);     // never opened: no WebSocket on the way to the device
  };
}

function viaSSE(worked) {
  let es, opened = false;
  try {
    es = new EventSource("/api/events");
  } catch (e) {
    return viaPolling();
  }
  showTransport("sse", "connecting");
  es.onopen = () => { opened = true; showTransport("sse"); };
  es.onmessage = (e) => live(parse(e.data));
  es.onerror = () => {
    // dropped after it worked: the browser reconnects by itself (with Last-Event-ID)
    if (opened && es.readyState === EventSource.CONNECTING) return showTransport("sse", "reconnecting");
    es.close();             // refused (not 200 text/event-stream), or never opened
    if (opened || worked) retry("sse", () => viaSSE(true));
    else viaPolling();
  };
}

function viaPolling() {
  showTransport("polling");
  schedule(0);
}

$("press").addEventListener("click", async () => {
  presses += 1;
  $("presses").textContent = presses;
  try {
    const r = await fetch("/api/echo", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ pressed: presses }),
    });
    if (toLogin(r)) return;
    const text = (await r.text()).trim();
    $("echo").textContent = r.ok ? text : `HTTP ${r.status}: ${text}`;
  } catch (e) {
    $("echo").textContent = "error: " + e.message;
  }
});

refresh();
viaWebSocket(false);
