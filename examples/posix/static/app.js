"use strict";
const $ = (id) => document.getElementById(id);
let presses = 0;

function uptime(ms) {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h ${Math.floor(s / 60) % 60}m ${s % 60}s`;
}

async function refresh() {
  try {
    const st = await (await fetch("/api/status")).json();
    $("uptime").textContent = uptime(st.uptime_ms);
    $("requests").textContent = st.requests;
    $("connections").textContent = st.connections;
    $("tls").textContent = st.tls ? `${st.tls.version}, ${st.tls.suite}` : "none (plain HTTP)";
    $("client").textContent = st.client || "none";
  } catch (e) {
    $("uptime").textContent = "offline";
  }
}

$("press").addEventListener("click", async () => {
  presses += 1;
  $("presses").textContent = presses;
  const r = await fetch("/api/echo", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ pressed: presses }),
  });
  $("echo").textContent = `${r.status} ${await r.text()}`;
});

refresh();
setInterval(refresh, 2000);
