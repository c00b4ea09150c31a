"use strict";
const $ = (id) => document.getElementById(id);
let presses = 0;

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
    if (!r.ok) throw new Error("HTTP " + r.status);
    const st = await r.json();
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
    const text = (await r.text()).trim();
    $("echo").textContent = r.ok ? text : `HTTP ${r.status}: ${text}`;
  } catch (e) {
    $("echo").textContent = "error: " + e.message;
  }
});

refresh();
