"use strict";
// The firmware page: uploads a signed image (tools/sn-sign) as a form would,
// multipart/form-data with the file in the field "image", to POST /api/firmware,
// with XMLHttpRequest because fetch() reports no upload progress.
//
// Test flag: firmware.html?test_image=/same/origin/path fetches that path as the
// file and uploads it without a click (a headless browser cannot pick a file).
// What happened is kept in window.fwTest and on #result (data-state, data-result):
//   { started, progress: [{loaded, total}], status, result: {the JSON answer}, slot, done }
const $ = (id) => document.getElementById(id);
const fwTest = window.fwTest = { started: false, progress: [], status: 0, result: null, slot: null, done: false };

async function refreshSlot() {
  try {
    const r = await fetch("/api/firmware", { cache: "no-store" });
    if (r.status === 401) {   // login on and the session gone
      location.assign("/login");
      return;
    }
    if (!r.ok) throw new Error("HTTP " + r.status);
    const st = await r.json();
    fwTest.slot = st;
    $("slot").textContent = st.state;
    $("slot").className = "state" + (st.state === "accepted" ? " ok" : "");
    $("slot-state").textContent = st.state;
    $("slot-version").textContent = st.version || "-";
    $("slot-bytes").textContent = st.bytes === undefined ? "-" : st.bytes;
    $("slot-sha256").textContent = st.sha256 || "-";
    $("slot-error").textContent = st.error || "-";
  } catch (e) {
    $("slot").textContent = "unknown";
    $("slot").className = "state bad";
    $("slot-state").textContent = "cannot read it: " + e.message;
  }
}

function showResult(status, body) {
  const ok = status === 200 && body.state === "accepted";
  $("result").className = ok ? "ok" : "bad";
  $("result").textContent = ok
    ? `Accepted: version ${body.version}, ${body.bytes} bytes, SHA-256 ${body.sha256}`
    : `Refused (${status ? "HTTP " + status : "no answer"}): ${body.error || "no reason given"}`;
  $("result").dataset.state = ok ? "accepted" : "refused";
  $("result").dataset.result = JSON.stringify({ status, ...body });
}

// Resolves with [HTTP status (0: no answer), the JSON answer]
function send(form) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.onprogress = (e) => {
      fwTest.progress.push({ loaded: e.loaded, total: e.total });
      if (!e.lengthComputable) return;
      $("progress").max = e.total;
      $("progress").value = e.loaded;
      $("percent").textContent = Math.floor(100 * e.loaded / e.total) + " %";
    };
    xhr.onload = () => {
      let body;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = { error: xhr.responseText.trim() || "not JSON" }; }
      resolve([xhr.status, body]);
    };
    xhr.onerror = () => resolve([0, { error: "the connection failed" }]);
    xhr.send(new FormData(form));
  });
}

$("fw").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  fwTest.started = true;
  fwTest.done = false;
  fwTest.progress = [];
  $("upload").disabled = true;
  $("progress").value = 0;
  $("result").className = "";
  $("result").textContent = "Uploading...";
  delete $("result").dataset.state;
  const [status, body] = await send(form);
  fwTest.status = status;
  fwTest.result = body;
  showResult(status, body);
  $("upload").disabled = false;
  await refreshSlot();
  fwTest.done = true;
});

// ?test_image=PATH: a path on this origin only ("/x", not "//host/x" nor "https://...")
async function testImage() {
  const path = new URLSearchParams(location.search).get("test_image");
  if (!path || !path.startsWith("/") || path.startsWith("//") || path.startsWith("/\\")) return;
  const url = new URL(path, location.origin);
  if (url.origin !== location.origin) return;
  try {
    const r = await fetch(url, { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    const name = url.pathname.split("/").pop() || "image.img";
    const files = new DataTransfer();
    files.items.add(new File([await r.blob()], name, { type: "application/octet-stream" }));
    $("image").files = files.files;   // then the form's own submit path, as after a click
    $("fw").requestSubmit();
  } catch (e) {
    fwTest.result = { error: "test_image: " + e.message };
    fwTest.done = true;
  }
}

refreshSlot().then(testImage);
