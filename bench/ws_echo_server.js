'use strict';
// bench/ws_echo_server.js - the peer of sn_demo's /ws echo for bench/ws.sh
//
//   NODE_PATH=/usr/share/nodejs node bench/ws_echo_server.js PORT CERT KEY [TLS]
//
// Node's https server with the `ws` module (Debian's node-ws) on it: GET /ws
// upgrades to a socket that sends every message back as it came, text as
// text and binary as binary, whole, as sn_demo's /ws does (WS_DEMO.md). The
// same limits as sn_demo: messages up to 1 MiB (longer: close 1009), no
// permessage-deflate (sn_demo negotiates no extension), TCP_NODELAY (ws sets
// it on every socket it takes). Any other path: 404.
//
// TLS, pinned on the server's side as well as the client's (bench/ws_load.c):
//   12 (default): TLS 1.2 only, ECDHE-ECDSA-AES128-GCM-SHA256, P-256
//   13:           TLS 1.3 only, TLS_AES_128_GCM_SHA256, P-256
// Listens on 127.0.0.1:PORT, prints "ws_echo_server: listening on PORT
// (...)" when it does, and exits on SIGTERM or SIGINT.
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');

const [port, certPath, keyPath, tls = '12'] = process.argv.slice(2);
if (!port || !certPath || !keyPath || !/^[0-9]+$/.test(port) || (tls !== '12' && tls !== '13')) {
  console.error('usage: ws_echo_server.js PORT CERT KEY [12|13]');
  process.exit(2);
}

const opts = {
  cert: fs.readFileSync(certPath),
  key: fs.readFileSync(keyPath),
  ecdhCurve: 'P-256',
};
if (tls === '12') {
  Object.assign(opts, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
} else {
  // Node's `ciphers` string carries the TLS 1.3 suites by their names too.
  Object.assign(opts, { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' });
}

const server = https.createServer(opts, (req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found\n');
});
const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 1048576, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});

server.listen(Number(port), '127.0.0.1', () => {
  console.log('ws_echo_server: listening on %s (node %s, ws %s, OpenSSL %s, TLS 1.%s)', port,
              process.versions.node, require('ws/package.json').version, process.versions.openssl,
              tls.slice(1));
});

function stop() {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
