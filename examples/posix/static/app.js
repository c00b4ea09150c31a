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

async function refresh() {
  try {
    const r = await fetch("/api/status", { cache: "no-store" });
    if (toLogin(r)) return;
    if (!r.ok) throw new Error("HTTP " + r.status);
    const st = await r.json();
    if (typeof st.user === "string") $("user").textContent = st.user;
    $("session").hidden = typeof st.user !== "string";   // no user: the demo runs without login
    $("uptime").textContent = uptime(st.uptime_ms);
    $("requests").textContent = st.requests;
    $("connections").textContent = st.connections;
    $("tls").textContent = st.tls ? `${st.tls.version}, ${st.tls.suite}` : "none (plain HTTP)";
    $("client").textContent = st.client || "none";
    online(true);
  } catch (e) {
    online(false);
  }
  setTimeout(refresh, 2000);   // the next poll after this one is done
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
