// WebSocket checks against sn_demo's /ws (WS_DEMO.md) with Node's ws package
// (Debian node-ws, 8.x), over wss:// with the dev CA and rejectUnauthorized.
//
//   NODE_PATH=/usr/share/nodejs node tests/ws/node_client.js PORT CAFILE [WRONG_CA]
//
// echo of text and binary (0 B, 1 KiB, 1 MiB), a message sent in fragments
// (send's fin: false), ping/pong, close code echo; with WRONG_CA (a CA that
// did not sign the server's certificate) also: that connection is refused.
// Prints "ok - ..." / "not ok - ...: why" lines like every securenet suite;
// every wait is bounded (10 s), the whole run stops after 60 s.
'use strict';
const WebSocket = require('ws');
const crypto = require('crypto');
const fs = require('fs');

const [port, cafile, wrongCa] = process.argv.slice(2);
const TAG = 'node ' + process.version + ' ws ' + require('ws/package.json').version;
const WAIT = 10000;
let failed = 0;

function report(cond, name, why) {
  if (cond) console.log('ok - ' + TAG + ': ' + name);
  else { failed++; console.log('not ok - ' + TAG + ': ' + name + ': ' + (why || '')); }
}

function within(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error('no ' + what + ' within ' + ms + ' ms')), ms); })])
    .finally(() => clearTimeout(t));
}

// An open socket with a queue of messages and the close it ended with.
function open(path, ca) {
  const ws = new WebSocket('wss://localhost:' + port + path, {
    ca: fs.readFileSync(ca || cafile), rejectUnauthorized: true, handshakeTimeout: WAIT,
  });
  const s = { ws, queue: [], waiters: [], closed: null };
  ws.on('message', (data, isBinary) => {
    const m = { data, isBinary };
    if (s.waiters.length) s.waiters.shift().resolve(m); else s.queue.push(m);
  });
  ws.on('close', (code, reason) => {
    s.closed = { code, reason: reason.toString() };
    for (const w of s.waiters.splice(0)) w.reject(new Error('closed with ' + code));
  });
  return within(new Promise((resolve, reject) => {
    ws.once('open', () => resolve(s));
    ws.once('error', reject);
  }), WAIT, 'open');
}

function next(s) {
  if (s.queue.length) return Promise.resolve(s.queue.shift());
  if (s.closed) return Promise.reject(new Error('closed with ' + s.closed.code));
  return within(new Promise((resolve, reject) => s.waiters.push({ resolve, reject })), WAIT, 'message');
}

function describe(data, isBinary) { return (isBinary ? 'binary' : 'text') + ' of ' + data.length + ' bytes'; }

async function echo(s, buf, binary, what) {
  try {
    s.ws.send(buf, { binary });
    const m = await next(s);
    report(m.isBinary === binary && Buffer.compare(m.data, buf) === 0, what,
      'sent ' + describe(buf, binary) + ', got ' + describe(m.data, m.isBinary) +
      (m.isBinary === binary && m.data.length === buf.length ? ' with other bytes' : ''));
  } catch (e) { report(false, what, e.message); }
}

function textOf(n) { // exactly n bytes of UTF-8 with 1-, 2-, 3- and 4-byte characters
  const b = Buffer.from('a\u00e9\u20ac\u{1F600}'.repeat(Math.floor(n / 10)) + 'b'.repeat(n % 10));
  if (b.length !== n) throw new Error('textOf');
  return b;
}

function closeWith(s, code, reason) {
  return within(new Promise((resolve) => {
    if (s.closed) return resolve(s.closed);
    s.ws.once('close', () => resolve(s.closed));
    s.ws.close(code, reason);
  }), WAIT, 'close');
}

async function main() {
  const s = await open('/ws');
  report(s.ws.extensions === '', 'permessage-deflate offered by ws is declined (no extension)', 'extensions ' + JSON.stringify(s.ws.extensions));
  for (const n of [0, 1024, 1 << 20]) {
    await echo(s, crypto.randomBytes(n), true, '/ws echoes a binary message of ' + n + ' bytes byte for byte');
    await echo(s, textOf(n), false, '/ws echoes a text message of ' + n + ' bytes (multi-byte UTF-8) as text');
  }

  // fragments: ws's send with fin: false sends a first frame, then continuations
  try {
    const parts = [textOf(10), textOf(300), textOf(70000)];
    parts.forEach((p, i) => s.ws.send(p, { binary: false, fin: i === parts.length - 1 }));
    const m = await next(s);
    const want = Buffer.concat(parts);
    report(!m.isBinary && Buffer.compare(m.data, want) === 0,
      '/ws: a text message sent in 3 fragments (fin: false) comes back as one reassembled message',
      'got ' + describe(m.data, m.isBinary) + ', wanted ' + describe(want, false));
  } catch (e) { report(false, '/ws: a text message sent in 3 fragments comes back reassembled', e.message); }
  try {
    const parts = [crypto.randomBytes(5000), Buffer.alloc(0), crypto.randomBytes(1)];
    parts.forEach((p, i) => s.ws.send(p, { binary: true, fin: i === parts.length - 1 }));
    const m = await next(s);
    const want = Buffer.concat(parts);
    report(m.isBinary && Buffer.compare(m.data, want) === 0,
      '/ws: a binary message in 3 fragments (5000, 0, 1 bytes) comes back whole',
      'got ' + describe(m.data, m.isBinary) + ', wanted ' + describe(want, true));
  } catch (e) { report(false, '/ws: a binary message in 3 fragments comes back whole', e.message); }

  for (const data of [Buffer.alloc(0), crypto.randomBytes(125)]) {
    try {
      const pong = within(new Promise((resolve) => s.ws.once('pong', resolve)), WAIT, 'pong');
      s.ws.ping(data);
      const got = await pong;
      report(Buffer.compare(got, data) === 0, '/ws: a ping of ' + data.length + ' bytes is answered by a pong with the same bytes',
        'pong of ' + got.length + ' bytes, other bytes');
    } catch (e) { report(false, '/ws: a ping of ' + data.length + ' bytes is answered by a pong', e.message); }
  }

  try {
    const c = await closeWith(s, 4001, 'node says bye');
    console.log('# close 4001 answered with ' + c.code + ' ' + JSON.stringify(c.reason));
    report(c.code === 4001, "/ws: ws's close 4001 with a reason is answered with a close frame of code 4001", 'got ' + c.code);
  } catch (e) { report(false, "/ws: ws's close 4001 is answered with 4001", e.message); }
  try {
    const s2 = await open('/ws');
    await echo(s2, Buffer.from('x'), false, '/ws: a second socket echoes');
    const c = await closeWith(s2, 1000);
    report(c.code === 1000, "/ws: ws's close 1000 is answered with a close frame of code 1000", 'got ' + c.code);
  } catch (e) { report(false, "/ws: ws's close 1000 is answered with 1000", e.message); }

  // close() without a code: a close frame with no body (RFC 6455 5.5.1 allows it); the server
  // answers with a close frame (ws reports an empty one as 1005) and the connection ends cleanly
  try {
    const s3 = await open('/ws');
    const c = await closeWith(s3);
    report(c.code === 1005 || c.code === 1000, "/ws: ws's close without a code (an empty close frame) is answered with a close frame",
      'got ' + c.code + (c.code === 1006 ? ' (the connection ended without a close frame)' : ''));
  } catch (e) { report(false, "/ws: ws's close without a code is answered with a close frame", e.message); }

  if (wrongCa) {
    try {
      const bad = await open('/ws', wrongCa);
      bad.ws.terminate();
      report(false, "wss:// with a CA that did not sign the server's certificate is refused", 'connected');
    } catch (e) {
      console.log('# refused: ' + (e.code || '') + ' ' + e.message);
      report(/UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|certificate/i.test((e.code || '') + ' ' + e.message),
        "wss:// with a CA that did not sign the server's certificate is refused (certificate verification)", e.code + ' ' + e.message);
    }
  }
}

const stop = setTimeout(() => { report(false, 'the checks ended within 60 s', 'timeout'); process.exit(1); }, 60000);
main().catch((e) => report(false, 'the checks ran to their end', e.stack || e.message))
  .finally(() => { clearTimeout(stop); process.exit(failed ? 1 : 0); });
