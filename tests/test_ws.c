/* test_ws.c - WebSocket (server and client) and server-sent events, in memory.

   The real server (sn_mgr, sn_http_listen on a plain listener, sn_poll) on
   the in-memory port (securenet_port_mem.h): the test is the peer of every
   connection. It writes the opening handshake and frames byte for byte
   (masked, as a browser does), reads what securenet sent and parses it as
   RFC 6455 5.2 frames, moves the fake clock, splits every read at each
   byte and fails the N-th allocation. The client (sn_ws_connect) is driven
   the other way round: the test plays the server behind sn_mem_peer_expect.
   Every phase ends with sn_mgr_destroy and checks that every allocation was
   freed, no socket stayed open and none was misused.

   Checks, by group:
   - the upgrade: 101 and RFC 6455 1.3's sample accept; POST, no Upgrade, no
     Connection: upgrade (400), version 12 (426 + Sec-WebSocket-Version:
     13), a key that is not 16 bytes (400); a subprotocol not offered
     (SN_ERR_INVALID, the handler answers) and one chosen (echoed); frames
     written right after the request are not lost.
   - messages: masked text and binary reach on_message whole; fragments
     reassembled; streaming pieces; the server's frames unmasked with the
     length encodings (0, 125, 126, 65535, 65536); ping -> pong with the
     same bytes; close 1000 -> 1000 back, on_close(SN_OK, 1000);
     sn_ws_close, a message still in flight delivered, then the peer's
     answer; the close timeout; ping then 1001
     at the idle timeout; a peer that vanishes (SN_ERR_CLOSED, 1006).
   - backpressure: SN_ERR_FULL past max_queued, nothing partial; on_writable
     after the queue drains; pause/resume.
   - every byte apart: the same results with a 1-byte recv.
   - allocation failures during upgrade and messaging: no crash, no leak, a
     clear end.
   - sn_mgr_destroy with an open socket: 1001 sent, on_close(SN_ERR_DESTROYED)
     once.
   - SSE: the head, the framing of events, SN_ERR_INVALID, SN_ERR_FULL with
     nothing partial, the keep-alive comment, sn_sse_end.
   - the client: its request, a wrong accept, a 200, a good 101, masked
     frames, a masked server frame -> 1002.

   Entropy is the mem port's FIXED DETERMINISTIC stream: acceptable ONLY in
   a test. Run with -v for securenet's log lines. */
#define SN_MALLOC(n) sn_mem_malloc(n)
#define SN_FREE(p) sn_mem_free(p)
#define SECURENET_IMPLEMENTATION
#define SECURENET_PORT_MEM_IMPLEMENTATION
#include "securenet_port_mem.h" /* before securenet.h, which it includes: it declares sn_mem_malloc */
#include "test.h"

#include <ctype.h>
#include <stdlib.h>

static sn_mem net;
static sn_mem_heap *heap;
static sn_mgr *mgr;
static sn_router router;
static int verbose;

static void log_cb(void *user, int level, const char *msg) {
  (void) user;
  if (verbose) printf("# log %d: %s\n", level, msg);
}

static sn_http_opts http_o;
static int start(void) {
  sn_mgr_opts mo;
  int r;
  memset(&mo, 0, sizeof mo);
  mo.port = sn_mem_port(&net);
  mo.log = log_cb;
  mo.log_level = SN_LOG_DEBUG;
  mgr = NULL;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) return r;
  http_o.port = 80;
  http_o.router = &router;
  if ((r = sn_http_listen(mgr, &http_o)) != SN_OK) {
    sn_mgr_destroy(mgr);
    mgr = NULL;
  }
  return r;
}

static void stop(const char *phase) {
  char name[220];
  sn_mgr_destroy(mgr);
  mgr = NULL;
  snprintf(name, sizeof name, "ws: %s: sn_mgr_destroy frees every allocation, closes every socket, none misused", phase);
  test_report(heap->live == 0 && sn_mem_open_count(&net) == 0 && net.misuse == 0, name,
              "%ld allocations live, %d sockets open, %d misuses (first: %s)", heap->live, sn_mem_open_count(&net),
              net.misuse, net.misuse_what);
  sn_mem_clear(&net);
  memset(&http_o, 0, sizeof http_o);
}

static long pump(void) {
  long rounds = 0;
  int idle = 0;
  while (idle < 4 && rounds < 2000000) {
    unsigned long before = net.activity;
    sn_poll(mgr, 0);
    rounds++;
    idle = net.activity == before ? idle + 1 : 0;
  }
  return rounds;
}

static void advance(uint64_t ms, uint64_t step) {
  while (ms > 0) {
    uint64_t d = ms < step ? ms : step;
    net.now += d;
    ms -= d;
    pump();
  }
}

/* ---- the application's side ------------------------------------------------------- */
#define REC_MAX (200000)
static struct {
  sn_ws_opts o;            /* what the handler passes */
  int pass_opts;           /* 0: NULL opts */
  int upgrade_r;           /* sn_ws_upgrade's return */
  int upgrades;
  int answer_invalid;      /* the handler answers 409 after SN_ERR_INVALID */
  int echo;                /* on_message echoes whole messages */
  int pause_in_open;
  sn_ws *ws;
  int opens, messages, finals, closes, writables;
  int close_err, close_code;
  char close_why[128];
  int last_type;
  unsigned char data[REC_MAX]; /* every message's bytes, concatenated */
  size_t len;
  size_t piece_len[64];
  int pieces;
  size_t piece_max, piece_total;
} app;

static void on_open(sn_ws *ws, void *user) {
  (void) user;
  app.opens++;
  if (app.pause_in_open) sn_ws_pause(ws);
}
static void on_message(sn_ws *ws, int type, const void *data, size_t len, int final, void *user) {
  (void) user;
  app.messages++;
  app.finals += final != 0;
  app.last_type = type;
  if (app.pieces < 64) app.piece_len[app.pieces] = len;
  app.pieces++;
  app.piece_total += len;
  if (len > app.piece_max) app.piece_max = len;
  if (app.len + len <= REC_MAX) memcpy(app.data + app.len, data, len), app.len += len;
  if (app.echo && final) (void) sn_ws_send(ws, type, data, len);
}
static void on_writable(sn_ws *ws, void *user) {
  (void) ws, (void) user;
  app.writables++;
}
static void on_close(sn_ws *ws, int err, int code, const char *why, void *user) {
  (void) user;
  app.closes++;
  app.close_err = err;
  app.close_code = code;
  snprintf(app.close_why, sizeof app.close_why, "%s", why ? why : "(null)");
  if (ws == app.ws) app.ws = NULL;
}
static const sn_ws_callbacks cbs = {on_open, on_message, on_writable, on_close, NULL};

static void ws_handler(sn_conn *c, const sn_request *req, void *user) {
  (void) user;
  app.upgrades++;
  app.upgrade_r = sn_ws_upgrade(c, req, app.pass_opts ? &app.o : NULL, &cbs, &app.ws);
  if (app.upgrade_r == SN_ERR_INVALID && app.answer_invalid) sn_http_reply(c, 409, NULL, "no such protocol\n", 17);
}

/* SSE */
static struct {
  sn_conn *c;
  int begin_r;
  uint32_t keepalive;
} sse;
static void sse_handler(sn_conn *c, const sn_request *req, void *user) {
  (void) req, (void) user;
  sse.c = c;
  sse.begin_r = sn_sse_begin(c, "X-Test: 1\r\n", sse.keepalive);
}

static void reset_app(void) {
  memset(&app, 0, sizeof app);
  app.pass_opts = 1;
  app.upgrade_r = 99;
}

/* ---- the peer ------------------------------------------------------------------------ */
static int cl_new(size_t max_recv) {
  int s = sn_mem_peer_connect(&net, 80);
  if (s < 0) abort();
  net.s[s].max_recv = max_recv;
  return s;
}
static void cl_write(int s, const void *p, size_t n) {
  if (sn_mem_peer_write(&net, s, p, n) != SN_OK) abort();
}
static void cl_puts(int s, const char *t) { cl_write(s, t, strlen(t)); }
static int srv_closed(int s) { return net.s[s].shut || net.s[s].closed; }

#define SAMPLE_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define SAMPLE_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static char reqbuf[4096];
/* An opening handshake with extra lines. */
static const char *ws_request(const char *method, const char *extra) {
  snprintf(reqbuf, sizeof reqbuf,
           "%s /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: " SAMPLE_KEY "\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
           method, extra ? extra : "");
  return reqbuf;
}

/* The head the server sent (from out_rd): its length, 0 while incomplete. */
static size_t head_len(int s) {
  sn_mem_sock *f = &net.s[s];
  const char *p, *e;
  if (f->out == NULL || f->out_rd >= f->out_len) return 0;
  p = (const char *) f->out + f->out_rd;
  e = strstr(p, "\r\n\r\n");
  return e ? (size_t) (e - p) + 4 : 0;
}
/* Copies the head into buf (NUL-ended) and moves past it; returns the status. */
static int take_head(int s, char *buf, size_t cap) {
  size_t n = head_len(s);
  if (n == 0 || n >= cap) return 0;
  memcpy(buf, net.s[s].out + net.s[s].out_rd, n);
  buf[n] = '\0';
  net.s[s].out_rd += n;
  if (strncmp(buf, "HTTP/1.1 ", 9) != 0) return -1;
  return atoi(buf + 9);
}
/* A header's value in a head ("" if none). */
static const char *hdr(const char *head, const char *name) {
  static char v[256];
  const char *p = strstr(head, "\r\n");
  size_t nl = strlen(name);
  v[0] = '\0';
  while (p != NULL && p[2] != '\r' && p[2] != '\0') {
    const char *line = p + 2, *end = strstr(line, "\r\n");
    size_t k;
    int same = end != NULL;
    for (k = 0; same && k < nl; k++)
      if (tolower((unsigned char) line[k]) != tolower((unsigned char) name[k])) same = 0;
    if (same && line[nl] == ':') {
      const char *val = line + nl + 1;
      size_t len;
      while (*val == ' ') val++;
      len = (size_t) (end - val);
      if (len >= sizeof v) len = sizeof v - 1;
      memcpy(v, val, len);
      v[len] = '\0';
      return v;
    }
    p = end;
  }
  return v;
}

/* A frame into out (RFC 6455 5.2): fin, opcode, masked with key 37 fa 21 3d
   if mask. Returns its length. */
static size_t frame(unsigned char *out, int fin, int op, int mask, const void *data, size_t len) {
  static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  size_t n = 0, i;
  out[n++] = (unsigned char) ((fin ? 0x80 : 0) | op);
  if (len < 126) out[n++] = (unsigned char) ((mask ? 0x80 : 0) | len);
  else if (len < 65536) {
    out[n++] = (unsigned char) ((mask ? 0x80 : 0) | 126);
    out[n++] = (unsigned char) (len >> 8), out[n++] = (unsigned char) len;
  } else {
    out[n++] = (unsigned char) ((mask ? 0x80 : 0) | 127);
    for (i = 0; i < 8; i++) out[n++] = (unsigned char) ((unsigned long long) len >> (56 - 8 * i));
  }
  if (mask) memcpy(out + n, key, 4), n += 4;
  for (i = 0; i < len; i++) out[n + i] = (unsigned char) (((const unsigned char *) data)[i] ^ (mask ? key[i & 3] : 0));
  return n + len;
}
static unsigned char fbuf[300000];
static void send_frame(int s, int fin, int op, const void *data, size_t len) {
  cl_write(s, fbuf, frame(fbuf, fin, op, 1, data, len));
}

/* A frame the server sent, parsed from out_rd. */
typedef struct wsframe {
  int fin, op, masked, rsv;
  size_t len;                /* payload length */
  int len_form;              /* 7, 16 or 64: the length's encoding */
  const unsigned char *data; /* unmasked payload (in a static buffer) */
} wsframe;
static unsigned char pbuf[300000];
/* 1: a frame (out_rd moves past it); 0: none whole yet. */
static int next_frame(int s, wsframe *f) {
  sn_mem_sock *k = &net.s[s];
  const unsigned char *p;
  size_t n, h = 2, len, i;
  unsigned char key[4] = {0, 0, 0, 0};
  if (k->out == NULL || k->out_rd + 2 > k->out_len) return 0;
  p = k->out + k->out_rd;
  n = k->out_len - k->out_rd;
  f->fin = p[0] >> 7, f->rsv = (p[0] >> 4) & 7, f->op = p[0] & 15, f->masked = p[1] >> 7;
  len = p[1] & 127;
  f->len_form = 7;
  if (len == 126) {
    if (n < 4) return 0;
    len = (size_t) p[2] << 8 | p[3], h = 4, f->len_form = 16;
  } else if (len == 127) {
    if (n < 10) return 0;
    len = 0;
    for (i = 0; i < 8; i++) len = len << 8 | p[2 + i];
    h = 10, f->len_form = 64;
  }
  if (f->masked) {
    if (n < h + 4) return 0;
    memcpy(key, p + h, 4), h += 4;
  }
  if (n < h + len || len > sizeof pbuf) return 0;
  for (i = 0; i < len; i++) pbuf[i] = (unsigned char) (p[h + i] ^ key[i & 3]);
  f->len = len;
  f->data = pbuf;
  k->out_rd += h + len;
  return 1;
}
static int close_code_of(const wsframe *f) { return f->op == 8 && f->len >= 2 ? f->data[0] << 8 | f->data[1] : -1; }

/* Connects a peer, sends the sample opening handshake and takes the 101.
   Returns the socket, or -1 (with a failed check) when no 101 came. */
static int ws_open(size_t max_recv, const char *extra) {
  char head[2048];
  int s = cl_new(max_recv), st;
  cl_puts(s, ws_request("GET", extra));
  pump();
  st = take_head(s, head, sizeof head);
  if (st != 101) {
    test_report(0, "ws: the opening handshake is answered 101", "got %d: %s", st, test_show(net.s[s].out, net.s[s].out_len));
    return -1;
  }
  return s;
}

/* ---- the upgrade --------------------------------------------------------------------- */
static void refusal(const char *name, const char *method, const char *request, int want, const char *want_hdr,
                    const char *want_val) {
  char head[2048], nm[200];
  int s, st;
  reset_app();
  if (start() != SN_OK) abort();
  s = cl_new(0);
  cl_puts(s, request ? request : ws_request(method, NULL));
  pump();
  st = take_head(s, head, sizeof head);
  snprintf(nm, sizeof nm, "upgrade: %s -> %d", name, want);
  test_report(st == want && app.upgrade_r == (want == 409 ? SN_ERR_INVALID : SN_ERR_PROTO) && app.opens == 0 &&
                  app.ws == NULL && (want_hdr == NULL || strcmp(hdr(head, want_hdr), want_val) == 0),
              nm, "status %d, sn_ws_upgrade %d, opens %d, head %s", st, app.upgrade_r, app.opens,
              test_show(head, strlen(head)));
  stop(name);
}

static void test_upgrade(void) {
  char head[2048];
  int s, st;
  wsframe f;
  unsigned char b[64];
  size_t n;

  /* the sample of RFC 6455 1.3 */
  reset_app();
  if (start() != SN_OK) abort();
  s = cl_new(0);
  cl_puts(s, ws_request("GET", NULL));
  pump();
  st = take_head(s, head, sizeof head);
  CHECK_INT(st, 101, "upgrade: a valid opening handshake is answered 101 Switching Protocols");
  CHECK_STR(hdr(head, "sec-websocket-accept"), SAMPLE_ACCEPT,
            "upgrade: Sec-WebSocket-Accept for RFC 6455's sample key is s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(strcmp(hdr(head, "upgrade"), "websocket") == 0 && strcmp(hdr(head, "connection"), "Upgrade") == 0,
        "upgrade: the 101 says Upgrade: websocket, Connection: Upgrade");
  CHECK(hdr(head, "sec-websocket-protocol")[0] == '\0' && hdr(head, "content-length")[0] == '\0',
        "upgrade: no subprotocol chosen, none named; the 101 has no Content-Length");
  CHECK(app.upgrade_r == SN_OK && app.opens == 1 && app.ws != NULL, "upgrade: sn_ws_upgrade SN_OK, on_open once");
  CHECK(net.s[s].out_rd == net.s[s].out_len, "upgrade: nothing after the 101 until a message");
  stop("the sample handshake");

  refusal("POST", "POST", NULL, 400, NULL, NULL);
  refusal("no Upgrade header", NULL,
          "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " SAMPLE_KEY
          "\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, NULL, NULL);
  refusal("Connection: keep-alive, not upgrade", NULL,
          "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Key: " SAMPLE_KEY
          "\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, NULL, NULL);
  refusal("Sec-WebSocket-Version: 12", NULL,
          "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " SAMPLE_KEY
          "\r\nSec-WebSocket-Version: 12\r\n\r\n",
          426, "sec-websocket-version", "13");
  refusal("a key of 15 bytes", NULL,
          "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, NULL, NULL);
  refusal("a key of 17 bytes", NULL,
          "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQEB\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, NULL, NULL);
  refusal("no key", NULL,
          "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400, NULL, NULL);

  /* a subprotocol the request does not offer: SN_ERR_INVALID, no reply by securenet */
  reset_app();
  app.o.protocol = "chat.v2";
  app.answer_invalid = 1;
  if (start() != SN_OK) abort();
  s = cl_new(0);
  cl_puts(s, ws_request("GET", "Sec-WebSocket-Protocol: chat.v1, mqtt\r\n"));
  pump();
  st = take_head(s, head, sizeof head);
  CHECK(app.upgrade_r == SN_ERR_INVALID && st == 409 && app.opens == 0,
        "upgrade: a subprotocol the request does not offer -> SN_ERR_INVALID, the handler's own answer (409) goes out");
  stop("a subprotocol not offered");

  /* a subprotocol chosen among those offered: echoed */
  reset_app();
  app.o.protocol = "mqtt";
  if (start() != SN_OK) abort();
  s = cl_new(0);
  cl_puts(s, ws_request("GET", "Sec-WebSocket-Protocol: chat.v1, mqtt\r\n"));
  pump();
  st = take_head(s, head, sizeof head);
  CHECK(st == 101 && strcmp(hdr(head, "sec-websocket-protocol"), "mqtt") == 0,
        "upgrade: the subprotocol chosen is named in the 101 (Sec-WebSocket-Protocol: mqtt)");
  CHECK(app.ws != NULL && strcmp(sn_ws_protocol(app.ws), "mqtt") == 0, "upgrade: sn_ws_protocol says mqtt");
  stop("a subprotocol chosen");

  /* frames pipelined right behind the request */
  reset_app();
  app.echo = 1;
  if (start() != SN_OK) abort();
  s = cl_new(0);
  cl_puts(s, ws_request("GET", NULL));
  n = frame(b, 1, 1, 1, "early", 5);
  cl_write(s, b, n);
  n = frame(b, 1, 2, 1, "\x01\x02", 2);
  cl_write(s, b, n);
  pump();
  st = take_head(s, head, sizeof head);
  CHECK(st == 101 && app.messages == 2 && app.len == 7 && memcmp(app.data, "early\x01\x02", 7) == 0,
        "upgrade: two frames written with the request reach on_message after the 101");
  CHECK(next_frame(s, &f) && f.op == 1 && f.len == 5 && memcmp(f.data, "early", 5) == 0 && next_frame(s, &f) &&
            f.op == 2 && f.len == 2,
        "upgrade: and their echoes follow the 101 on the wire, in order");
  stop("pipelined frames");
}

/* ---- messages ------------------------------------------------------------------------ */
static unsigned char msg[70000];

/* Everything about messages on one connection, recv split at max_recv. */
static void test_messages(size_t max_recv, const char *tag) {
  char nm[200];
  int s, ok, i;
  wsframe f;
  static const size_t sizes[] = {0, 125, 126, 65535, 65536};
  for (i = 0; i < (int) sizeof msg; i++) msg[i] = (unsigned char) ('a' + i % 26);

  reset_app();
  app.o.max_message = 70000;
  app.o.max_queued = 200000;
  if (start() != SN_OK) abort();
  if ((s = ws_open(max_recv, NULL)) < 0) { stop(tag); return; }

  /* text and binary, masked, whole */
  send_frame(s, 1, 1, "hello, world", 12);
  pump();
  snprintf(nm, sizeof nm, "messages%s: a masked text frame reaches on_message whole, unmasked, final", tag);
  CHECK(app.messages == 1 && app.finals == 1 && app.last_type == SN_WS_TEXT && app.len == 12 &&
            memcmp(app.data, "hello, world", 12) == 0,
        nm);
  app.messages = app.finals = 0, app.len = 0, app.pieces = 0;
  send_frame(s, 1, 2, msg, 1000);
  pump();
  snprintf(nm, sizeof nm, "messages%s: a masked binary frame of 1000 bytes reaches on_message whole", tag);
  CHECK(app.messages == 1 && app.last_type == SN_WS_BINARY && app.len == 1000 && memcmp(app.data, msg, 1000) == 0, nm);

  /* fragments: text in three frames with a ping between */
  app.messages = app.finals = 0, app.len = 0, app.pieces = 0;
  send_frame(s, 0, 1, "frag", 4);
  send_frame(s, 0, 0, "ment", 4);
  send_frame(s, 1, 9, "pp", 2);
  send_frame(s, 1, 0, "ed", 2);
  pump();
  snprintf(nm, sizeof nm, "messages%s: text in three fragments (a ping between) reaches on_message once, reassembled",
           tag);
  CHECK(app.messages == 1 && app.finals == 1 && app.len == 10 && memcmp(app.data, "fragmented", 10) == 0, nm);
  ok = next_frame(s, &f);
  snprintf(nm, sizeof nm, "messages%s: the ping in the middle is answered with a pong of the same bytes", tag);
  CHECK(ok && f.op == 10 && f.fin && !f.masked && f.len == 2 && memcmp(f.data, "pp", 2) == 0, nm);

  /* ping with a 125-byte payload */
  send_frame(s, 1, 9, msg, 125);
  pump();
  ok = next_frame(s, &f);
  snprintf(nm, sizeof nm, "messages%s: a ping of 125 bytes gets a pong of the same 125 bytes", tag);
  CHECK(ok && f.op == 10 && f.len == 125 && memcmp(f.data, msg, 125) == 0, nm);

  /* the server's frames: unmasked, each length encoding */
  for (i = 0; i < 5; i++) {
    int r = sn_ws_send(app.ws, SN_WS_BINARY, msg, sizes[i]);
    pump();
    ok = next_frame(s, &f);
    snprintf(nm, sizeof nm, "messages%s: sn_ws_send of %lu bytes: one unmasked final binary frame, length in %d bits",
             tag, (unsigned long) sizes[i], sizes[i] < 126 ? 7 : sizes[i] < 65536 ? 16 : 64);
    test_report(r == SN_OK && ok && f.fin && f.op == 2 && !f.masked && f.rsv == 0 && f.len == sizes[i] &&
                    f.len_form == (sizes[i] < 126 ? 7 : sizes[i] < 65536 ? 16 : 64) && memcmp(f.data, msg, sizes[i]) == 0,
                nm, "r %d, frame %d, op %d, masked %d, len %lu (form %d)", r, ok, f.op, f.masked, (unsigned long) f.len,
                f.len_form);
  }
  ok = sn_ws_printf(app.ws, "n=%d", 42) == SN_OK;
  pump();
  snprintf(nm, sizeof nm, "messages%s: sn_ws_printf sends one text frame", tag);
  CHECK(ok && next_frame(s, &f) && f.op == 1 && f.len == 4 && memcmp(f.data, "n=42", 4) == 0, nm);
  snprintf(nm, sizeof nm, "messages%s: a text send that is not UTF-8 is SN_ERR_INVALID", tag);
  CHECK_INT(sn_ws_send(app.ws, SN_WS_TEXT, "\xc3", 1), SN_ERR_INVALID, nm);

  /* a peer's 64 KiB message reassembled (65536 bytes, in 7 fragments) */
  app.messages = app.finals = 0, app.len = 0, app.pieces = 0;
  for (i = 0; i < 7; i++) {
    size_t off = (size_t) i * 10000, len = i < 6 ? 10000 : 5536;
    send_frame(s, i == 6, i == 0 ? 2 : 0, msg + off, len);
  }
  pump();
  snprintf(nm, sizeof nm, "messages%s: 65536 bytes in 7 fragments arrive as one message, byte for byte", tag);
  CHECK(app.messages == 1 && app.len == 65536 && memcmp(app.data, msg, 65536) == 0, nm);

  /* the peer's close 1000 */
  {
    unsigned char cb[2] = {0x03, 0xe8};
    send_frame(s, 1, 8, cb, 2);
  }
  pump();
  ok = next_frame(s, &f);
  snprintf(nm, sizeof nm, "messages%s: a close 1000 from the peer is answered with a close 1000", tag);
  CHECK(ok && f.op == 8 && close_code_of(&f) == 1000 && !f.masked, nm);
  snprintf(nm, sizeof nm, "messages%s: on_close(SN_OK, 1000) once, then the server ends the TCP connection", tag);
  CHECK(app.closes == 1 && app.close_err == SN_OK && app.close_code == 1000 && srv_closed(s), nm);
  snprintf(nm, sizeof nm, "messages%s: nothing after the close frame", tag);
  CHECK(net.s[s].out_rd == net.s[s].out_len, nm);
  snprintf(nm, sizeof nm, "messages%s", tag);
  stop(nm);
}

static void test_streaming(size_t max_recv, const char *tag) {
  char nm[200];
  int s, i, ok = 1;
  size_t total = 0;
  for (i = 0; i < (int) sizeof msg; i++) msg[i] = (unsigned char) (i * 7 + 3);
  reset_app();
  app.o.streaming = 1;
  app.o.max_message = 65536;
  if (start() != SN_OK) abort();
  if ((s = ws_open(max_recv, NULL)) < 0) { stop(tag); return; }
  send_frame(s, 0, 2, msg, 6000);
  send_frame(s, 1, 0, msg + 6000, 4000);
  pump();
  total = app.piece_total;
  ok = app.piece_max <= SN_WS_PIECE;
  snprintf(nm, sizeof nm,
           "streaming%s: 10000 bytes in 2 frames come in pieces of at most SN_WS_PIECE, final only on the last", tag);
  test_report(ok && app.pieces >= 5 && app.finals == 1 && total == 10000 && app.len == 10000 &&
                  memcmp(app.data, msg, 10000) == 0 && app.last_type == SN_WS_BINARY,
              nm, "pieces %d, finals %d, total %lu", app.pieces, app.finals, (unsigned long) total);
  snprintf(nm, sizeof nm, "streaming%s", tag);
  stop(nm);
}

static void test_closing(void) {
  int s, ok;
  wsframe f;
  unsigned char cb[2] = {0x03, 0xe8};

  /* sn_ws_close from the server, then the peer's answer */
  reset_app();
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("server close"); return; }
  CHECK_INT(sn_ws_close(app.ws, 4000, "bye"), SN_OK, "close: sn_ws_close(4000, \"bye\") -> SN_OK");
  CHECK_INT(sn_ws_send(app.ws, SN_WS_TEXT, "x", 1), SN_ERR_STATE, "close: sn_ws_send once closing -> SN_ERR_STATE");
  CHECK_INT(sn_ws_close(app.ws, 1000, NULL), SN_ERR_STATE, "close: a second sn_ws_close -> SN_ERR_STATE");
  pump();
  ok = next_frame(s, &f);
  CHECK(ok && f.op == 8 && close_code_of(&f) == 4000 && f.len == 5 && memcmp(f.data + 2, "bye", 3) == 0,
        "close: the server's close frame carries 4000 and \"bye\"");
  CHECK(app.closes == 0 && !srv_closed(s), "close: the server waits for the peer's close frame");
  send_frame(s, 1, 1, "late", 4);
  cb[0] = 0x0f, cb[1] = 0xa0; /* 4000 */
  send_frame(s, 1, 8, cb, 2);
  pump();
  CHECK(app.messages == 1 && app.len == 4 && memcmp(app.data, "late", 4) == 0,
        "close: a message the peer sent before it saw the server's close frame is still delivered");
  CHECK(app.closes == 1 && app.close_err == SN_OK && app.close_code == 4000 && srv_closed(s),
        "close: the peer's answer ends it: on_close(SN_OK, 4000), the TCP connection ends");
  stop("server close");

  /* the close timeout */
  reset_app();
  app.o.close_timeout_ms = 2000;
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("close timeout"); return; }
  sn_ws_close(app.ws, 1000, NULL);
  advance(1900, 100);
  CHECK(app.closes == 0, "close timeout: no end before close_timeout_ms");
  advance(200, 100);
  CHECK(app.closes == 1 && app.close_err == SN_ERR_TIMEOUT && srv_closed(s),
        "close timeout: the peer never answers: on_close(SN_ERR_TIMEOUT) after close_timeout_ms, the connection ends");
  stop("close timeout");

  /* the idle timeout, a ping first */
  reset_app();
  app.o.idle_timeout_ms = 10000;
  app.o.ping_ms = 4000;
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("idle timeout"); return; }
  advance(3900, 100);
  CHECK(!next_frame(s, &f), "idle: nothing sent before ping_ms");
  advance(200, 100);
  ok = next_frame(s, &f);
  CHECK(ok && f.op == 9 && !f.masked && f.len <= 125, "idle: a ping after ping_ms without a frame from the peer");
  advance(5800, 100);
  CHECK(app.closes == 0 && !next_frame(s, &f), "idle: nothing more before idle_timeout_ms");
  advance(200, 100);
  ok = next_frame(s, &f);
  CHECK(ok && close_code_of(&f) == 1001, "idle: a close 1001 after idle_timeout_ms without a frame");
  CHECK(app.closes == 1 && app.close_err == SN_ERR_TIMEOUT && app.close_code == 1001,
        "idle: on_close(SN_ERR_TIMEOUT, 1001)");
  stop("idle timeout");

  /* a pong keeps it alive */
  reset_app();
  app.o.idle_timeout_ms = 10000;
  app.o.ping_ms = 4000;
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("idle pong"); return; }
  advance(4100, 100);
  ok = next_frame(s, &f) && f.op == 9;
  send_frame(s, 1, 10, f.data, f.len);
  pump();
  advance(7000, 100);
  CHECK(ok && app.closes == 0, "idle: a pong answering the ping counts as activity (open 11 s after the handshake)");
  stop("idle pong");

  /* a peer that vanishes */
  reset_app();
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("vanish"); return; }
  sn_mem_peer_close(&net, s);
  pump();
  CHECK(app.closes == 1 && app.close_err == SN_ERR_CLOSED && app.close_code == 1006,
        "vanish: the peer's FIN without a close frame: on_close(SN_ERR_CLOSED, 1006)");
  stop("vanish (FIN)");
  reset_app();
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("vanish"); return; }
  sn_mem_peer_reset(&net, s);
  pump();
  CHECK(app.closes == 1 && app.close_err < 0 && app.close_code == 1006,
        "vanish: a reset: on_close(error, 1006) once");
  stop("vanish (reset)");

  /* sn_mgr_destroy with an open socket */
  reset_app();
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("destroy"); return; }
  sn_mgr_destroy(mgr);
  mgr = NULL;
  ok = next_frame(s, &f);
  CHECK(ok && f.op == 8 && close_code_of(&f) == 1001, "destroy: sn_mgr_destroy sends a close 1001");
  CHECK(app.closes == 1 && app.close_err == SN_ERR_DESTROYED, "destroy: on_close(SN_ERR_DESTROYED) once");
  CHECK(heap->live == 0 && sn_mem_open_count(&net) == 0 && net.misuse == 0,
        "destroy: every allocation freed, every socket closed");
  sn_mem_clear(&net);
  memset(&http_o, 0, sizeof http_o);
}

/* ---- backpressure -------------------------------------------------------------------- */
static void test_backpressure(void) {
  int s, r, i, n = 0;
  size_t before;
  wsframe f;
  reset_app();
  app.o.max_queued = 1000;
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("backpressure"); return; }
  net.s[s].out_limit = net.s[s].out_len; /* the peer stops reading */
  for (i = 0; i < 10; i++) {
    r = sn_ws_send(app.ws, SN_WS_BINARY, msg, 300); /* 302 bytes each */
    if (r != SN_OK) break;
    n++;
  }
  before = sn_ws_queued(app.ws);
  CHECK(n == 3 && r == SN_ERR_FULL, "backpressure: three sends of 300 bytes (304 with the header) fit max_queued 1000, the fourth is SN_ERR_FULL");
  CHECK_INT(before, 912, "backpressure: nothing of the refused message is queued (3 frames of 304 bytes)");
  CHECK_INT(sn_ws_send(app.ws, SN_WS_BINARY, msg, 1000), SN_ERR_FULL, "backpressure: a message bigger than max_queued is SN_ERR_FULL");
  CHECK_INT(sn_ws_send(app.ws, SN_WS_BINARY, msg, 87), SN_ERR_FULL, "backpressure: one byte over (87 + 2 > 88 left) is SN_ERR_FULL");
  CHECK_INT(sn_ws_send(app.ws, SN_WS_BINARY, msg, 86), SN_OK, "backpressure: one that exactly fits (86 + 2 = 88 left) is taken");
  pump();
  CHECK(app.writables == 0, "backpressure: no on_writable while the peer does not read");
  net.s[s].out_limit = 0;
  pump();
  CHECK(app.writables >= 1, "backpressure: on_writable once the queue has drained");
  for (i = 0; i < 3; i++) {
    if (!next_frame(s, &f) || f.len != 300) break;
  }
  CHECK(i == 3 && next_frame(s, &f) && f.len == 86 && !next_frame(s, &f),
        "backpressure: the peer gets the four messages whole, none of the refused ones");
  stop("backpressure");

  /* pause and resume */
  reset_app();
  app.pause_in_open = 1;
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("pause"); return; }
  send_frame(s, 1, 1, "one", 3);
  send_frame(s, 1, 1, "two", 3);
  pump();
  CHECK(app.messages == 0, "pause: no on_message while paused");
  sn_ws_resume(app.ws);
  pump();
  CHECK(app.messages == 2 && app.len == 6 && memcmp(app.data, "onetwo", 6) == 0,
        "pause: sn_ws_resume delivers what came meanwhile, in order");
  stop("pause");
}

/* ---- protocol errors (a few: tests/ws_abuse.sh has the rest) -------------------------- */
static void test_proto_errors(void) {
  int s, ok;
  wsframe f;
  reset_app();
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("unmasked"); return; }
  cl_write(s, fbuf, frame(fbuf, 1, 1, 0, "hi", 2));
  pump();
  ok = next_frame(s, &f);
  CHECK(ok && close_code_of(&f) == 1002 && app.messages == 0 && app.closes == 1 && app.close_err == SN_ERR_PROTO &&
            app.close_code == 1002,
        "protocol: an unmasked client frame -> close 1002, on_close(SN_ERR_PROTO, 1002)");
  stop("unmasked");
  reset_app();
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("utf8"); return; }
  send_frame(s, 1, 1, "ok\xff", 3);
  pump();
  ok = next_frame(s, &f);
  CHECK(ok && close_code_of(&f) == 1007 && app.messages == 0, "protocol: text that is not UTF-8 -> close 1007");
  stop("utf8");
  reset_app();
  app.o.max_message = 1000;
  if (start() != SN_OK) abort();
  if ((s = ws_open(0, NULL)) < 0) { stop("too big"); return; }
  send_frame(s, 1, 2, msg, 1001);
  pump();
  ok = next_frame(s, &f);
  CHECK(ok && close_code_of(&f) == 1009 && app.messages == 0, "protocol: a message over max_message -> close 1009");
  stop("too big");
}

/* ---- allocation failures ------------------------------------------------------------- */
static void test_alloc_failures(int rest) {
  unsigned long k;
  int passed = 0, bad = 0, unclear = 0, nomem_500 = 0;
  char nm[200];
  for (k = 1; k < 400 && !passed; k++) {
    int s, st;
    char head[2048];
    wsframe f;
    reset_app();
    app.echo = 1;
    if (start() != SN_OK) abort();
    sn_mem_heap_reset(k, rest);
    s = cl_new(0);
    cl_puts(s, ws_request("GET", NULL));
    pump();
    st = take_head(s, head, sizeof head);
    if (st == 101) {
      send_frame(s, 1, 1, "echo me", 7);
      pump();
      memset(msg, 'x', 5000);
      send_frame(s, 1, 2, msg, 5000); /* grows the receive buffer */
      pump();
      if (app.ws != NULL) sn_ws_send(app.ws, SN_WS_BINARY, msg, 20000);
      pump();
      if (next_frame(s, &f) && f.len == 7 && next_frame(s, &f) && f.len == 5000 && next_frame(s, &f) && f.len == 20000 &&
          heap->failed == 0)
        passed = 1;
      else if (app.closes != 1 || (app.close_err != SN_ERR_NOMEM && heap->failed == 0)) {
        if (app.closes == 0 && app.ws != NULL && heap->failed > 0) { /* a send that failed: the socket stays */
        } else {
          unclear++;
          printf("# alloc k=%lu: 101, closes %d err %d code %d (%s), failed %lu\n", k, app.closes, app.close_err,
                 app.close_code, app.close_why, heap->failed);
        }
      }
    } else if (st == 500 && app.upgrade_r == SN_ERR_NOMEM) {
      nomem_500++; /* the contract says 503: see the check below */
      if (verbose) printf("# alloc k=%lu: sn_ws_upgrade SN_ERR_NOMEM answered 500 (%lu bytes failed)\n", k, (unsigned long) heap->size[k - 1]);
    } else if (!(st == 503 || (st == 0 && srv_closed(s)))) {
      unclear++;
      printf("# alloc k=%lu: status %d, closes %d, upgrade %d, failed size %lu\n", k, st, app.closes, app.upgrade_r, (unsigned long) heap->size[k - 1]);
    }
    sn_mem_heap_reset(0, 0);
    sn_mgr_destroy(mgr);
    mgr = NULL;
    if (heap->live != 0 || sn_mem_open_count(&net) != 0 || net.misuse != 0) bad++;
    if (app.closes > 1) bad++;
    sn_mem_clear(&net);
    memset(&http_o, 0, sizeof http_o);
  }
  snprintf(nm, sizeof nm, "alloc%s: upgrade and messages pass once no allocation fails (N = %lu)", rest ? " (rest)" : "", k - 1);
  CHECK(passed, nm);
  snprintf(nm, sizeof nm, "alloc%s: the N-th allocation failing (N = 1..%lu): no leak, no open socket, on_close at most once",
           rest ? " (rest)" : "", k - 1);
  CHECK_INT(bad, 0, nm);
  snprintf(nm, sizeof nm, "alloc%s: sn_ws_upgrade's SN_ERR_NOMEM is answered 503 as its contract says (not the 500 of a "
           "handler that sent nothing)", rest ? " (rest)" : "");
  CHECK_INT(nomem_500, 0, nm);
  snprintf(nm, sizeof nm, "alloc%s: each failed run ends clearly (503, a closed connection, or on_close(SN_ERR_NOMEM))",
           rest ? " (rest)" : "");
  CHECK_INT(unclear, 0, nm);
}

/* ---- SSE ------------------------------------------------------------------------------ */
/* The chunked body on s from out_rd, de-chunked into out: bytes so far. */
static size_t dechunk(int s, char *out, size_t cap, int *ended) {
  sn_mem_sock *k = &net.s[s];
  const char *p = (const char *) k->out + k->out_rd;
  size_t n = k->out_len - k->out_rd, at = 0, o = 0;
  *ended = 0;
  while (at < n) {
    size_t size = strtoul(p + at, NULL, 16);
    const char *nl = strstr(p + at, "\r\n");
    if (nl == NULL) break;
    at = (size_t) (nl - p) + 2;
    if (size == 0) {
      *ended = strncmp(p + at, "\r\n", 2) == 0;
      break;
    }
    if (at + size + 2 > n || o + size >= cap) break;
    memcpy(out + o, p + at, size);
    o += size;
    at += size + 2;
  }
  out[o] = '\0';
  return o;
}

static void test_sse(void) {
  char head[2048], body[8192];
  int s, st, ended;
  size_t n, before;
  reset_app();
  memset(&sse, 0, sizeof sse);
  sse.keepalive = 5000;
  http_o.max_reply = 2000;
  if (start() != SN_OK) abort();
  s = cl_new(0);
  cl_puts(s, "GET /events HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n");
  pump();
  st = take_head(s, head, sizeof head);
  CHECK(st == 200 && sse.begin_r == SN_OK, "sse: sn_sse_begin -> 200");
  CHECK_STR(hdr(head, "content-type"), "text/event-stream", "sse: Content-Type: text/event-stream");
  CHECK_STR(hdr(head, "cache-control"), "no-store", "sse: Cache-Control: no-store");
  CHECK_STR(hdr(head, "transfer-encoding"), "chunked", "sse: Transfer-Encoding: chunked");
  CHECK_STR(hdr(head, "x-test"), "1", "sse: the handler's header lines are in the head");
  CHECK(hdr(head, "content-length")[0] == '\0', "sse: no Content-Length");
  if (st != 200 || sse.c == NULL) { stop("sse"); return; }

  CHECK_INT(sn_sse_send(sse.c, "tick", "7", "a\rb\nc\r\nd", 8), SN_OK, "sse: sn_sse_send with event, id, data -> SN_OK");
  pump();
  n = dechunk(s, body, sizeof body, &ended);
  CHECK_MEM(body, n, "event: tick\nid: 7\ndata: a\ndata: b\ndata: c\ndata: d\n\n",
            "sse: event and id lines, data split at CR, LF and CRLF into data lines, a blank line after");
  net.s[s].out_rd = net.s[s].out_len;
  sn_sse_send(sse.c, NULL, NULL, "end\n", 4);
  sn_sse_send(sse.c, NULL, NULL, "", 0);
  pump();
  n = dechunk(s, body, sizeof body, &ended);
  CHECK_MEM(body, n, "data: end\ndata: \n\ndata: \n\n",
            "sse: data ending in a newline keeps its empty last line; empty data is one empty data line");
  net.s[s].out_rd = net.s[s].out_len;
  CHECK_INT(sn_sse_send(sse.c, "a\nb", NULL, "x", 1), SN_ERR_INVALID, "sse: LF in event -> SN_ERR_INVALID");
  CHECK_INT(sn_sse_send(sse.c, "ab", "1\r", "x", 1), SN_ERR_INVALID, "sse: CR in id -> SN_ERR_INVALID");
  pump();
  CHECK(net.s[s].out_rd == net.s[s].out_len, "sse: nothing sent for the refused events");

  /* SN_ERR_FULL past max_reply, nothing partial */
  net.s[s].out_limit = net.s[s].out_len;
  memset(msg, 'z', 1500);
  CHECK_INT(sn_sse_send(sse.c, NULL, NULL, msg, 1500), SN_OK, "sse: an event of 1500 bytes fits max_reply 2000");
  before = net.s[s].out_len;
  CHECK_INT(sn_sse_send(sse.c, NULL, NULL, msg, 600), SN_ERR_FULL, "sse: the next one, past max_reply, -> SN_ERR_FULL");
  net.s[s].out_limit = 0;
  pump();
  n = dechunk(s, body, sizeof body, &ended);
  CHECK(n == 6 + 1500 + 2 && before >= net.s[s].out_rd && net.s[s].out_len - net.s[s].out_rd < 1600,
        "sse: only the first event reaches the peer, nothing of the refused one");
  net.s[s].out_rd = net.s[s].out_len;

  /* the keep-alive comment */
  advance(4900, 100);
  CHECK(net.s[s].out_rd == net.s[s].out_len, "sse: nothing before keepalive_ms");
  advance(200, 100);
  n = dechunk(s, body, sizeof body, &ended);
  CHECK(n > 0 && body[0] == ':' && n >= 2 && strcmp(body + n - 2, "\n\n") == 0,
        "sse: a comment line after keepalive_ms of silence");
  CHECK(!srv_closed(s), "sse: the stream stays open");
  net.s[s].out_rd = net.s[s].out_len;

  CHECK_INT(sn_sse_end(sse.c), SN_OK, "sse: sn_sse_end -> SN_OK");
  pump();
  n = dechunk(s, body, sizeof body, &ended);
  CHECK(n == 0 && ended, "sse: sn_sse_end sends the last chunk");
  stop("sse");
}

/* ---- the client ----------------------------------------------------------------------- */
static void test_client(void) {
  int p, r, ok;
  char head[4096], accept[29];
  const char *key;
  unsigned char raw[20];
  size_t n = 0;
  wsframe f;
  sn_ws_client_opts co;

  /* the request, then a good 101 */
  reset_app();
  if (start() != SN_OK) abort();
  p = sn_mem_peer_expect(&net, NULL, 0);
  memset(&co, 0, sizeof co);
  r = sn_ws_connect(mgr, "ws://t/chat?x=1", &co, &cbs, &app.ws);
  pump();
  CHECK(r == SN_OK && net.s[p].outgoing, "client: sn_ws_connect(ws://t/chat?x=1) connects");
  n = head_len(p);
  if (n == 0 || n >= sizeof head) {
    test_report(0, "client: the request arrives", "%s", test_show(net.s[p].out, net.s[p].out_len));
    { stop("client"); return; }
  }
  memcpy(head, net.s[p].out, n), head[n] = '\0';
  net.s[p].out_rd = n;
  CHECK(strncmp(head, "GET /chat?x=1 HTTP/1.1\r\n", 24) == 0, "client: request line GET /chat?x=1 HTTP/1.1");
  CHECK(strcmp(hdr(head, "upgrade"), "websocket") == 0 && strcmp(hdr(head, "connection"), "Upgrade") == 0 &&
            strcmp(hdr(head, "host"), "t") == 0,
        "client: Host, Upgrade: websocket, Connection: Upgrade");
  CHECK_STR(hdr(head, "sec-websocket-version"), "13", "client: Sec-WebSocket-Version: 13");
  key = hdr(head, "sec-websocket-key");
  n = 0;
  CHECK(strlen(key) == 24 && mbedtls_base64_decode(raw, sizeof raw, &n, (const unsigned char *) key, 24) == 0 && n == 16,
        "client: Sec-WebSocket-Key is 16 bytes in base64");
  sn__ws_accept(key, strlen(key), accept);
  snprintf(head, sizeof head,
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
           accept);
  sn_mem_peer_puts(&net, p, head);
  cl_write(p, fbuf, frame(fbuf, 1, 1, 0, "server says", 11)); /* with the 101 */
  pump();
  CHECK(app.opens == 1 && app.closes == 0, "client: a good 101 -> on_open");
  CHECK(app.messages == 1 && app.len == 11 && memcmp(app.data, "server says", 11) == 0,
        "client: an unmasked server frame behind the 101 reaches on_message");
  r = app.ws ? sn_ws_send(app.ws, SN_WS_TEXT, "client says", 11) : -1;
  pump();
  ok = next_frame(p, &f);
  CHECK(r == SN_OK && ok && f.masked && f.op == 1 && f.len == 11 && memcmp(f.data, "client says", 11) == 0,
        "client: its frames are masked (and unmask to the message)");
  cl_write(p, fbuf, frame(fbuf, 1, 1, 1, "masked", 6));
  pump();
  ok = next_frame(p, &f);
  CHECK(ok && close_code_of(&f) == 1002 && app.messages == 1 && app.closes == 1 && app.close_err == SN_ERR_PROTO,
        "client: a masked server frame -> close 1002, on_close(SN_ERR_PROTO)");
  stop("client, good 101");

  /* a wrong accept */
  reset_app();
  if (start() != SN_OK) abort();
  p = sn_mem_peer_expect(&net, NULL, 0);
  r = sn_ws_connect(mgr, "ws://t/chat", &co, &cbs, NULL);
  pump();
  sn_mem_peer_puts(&net, p,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n\r\n");
  pump();
  CHECK(r == SN_OK && app.opens == 0 && app.closes == 1 && app.close_err == SN_ERR_PROTO,
        "client: a 101 with a wrong Sec-WebSocket-Accept -> on_close(SN_ERR_PROTO), no on_open");
  stop("client, wrong accept");

  /* a 200 */
  reset_app();
  if (start() != SN_OK) abort();
  p = sn_mem_peer_expect(&net, NULL, 0);
  r = sn_ws_connect(mgr, "ws://t/chat", &co, &cbs, NULL);
  pump();
  sn_mem_peer_puts(&net, p, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
  pump();
  CHECK(r == SN_OK && app.opens == 0 && app.closes == 1 && app.close_err == SN_ERR_PROTO,
        "client: a 200 -> on_close(SN_ERR_PROTO), no on_open");
  stop("client, 200");

  CHECK_INT(sn_ws_connect(mgr, "ws://u@t/chat", &co, &cbs, NULL), SN_ERR_INVALID, "client: a URL with user info -> SN_ERR_INVALID");
}


/* ---- memory: an idle WebSocket against an idle keep-alive connection ------------------ */
static void ka_handler(sn_conn *c, const sn_request *req, void *user) {
  (void) req, (void) user;
  sn_http_reply(c, 200, NULL, "ok\n", 3);
}
static struct {
  sn_req_ref ref;
  const sn_request *req;
} later;
static void defer_handler(sn_conn *c, const sn_request *req, void *user) {
  (void) user;
  later.ref = sn_http_defer(c);
  later.req = req;
}

static void test_idle_memory(void) {
  char head[2048];
  long base, ka, ws;
  int s, st;
  wsframe f;
  reset_app();
  app.echo = 1;
  if (start() != SN_OK) abort();
  base = heap->live_bytes;
  s = cl_new(0);
  cl_puts(s, "GET /ka HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  st = take_head(s, head, sizeof head);
  advance(SN_IDLE_RELEASE_MS + 500, 100);
  ka = heap->live_bytes - base;
  CHECK(st == 200 && !srv_closed(s), "memory: a keep-alive connection answered and idle");
  sn_mem_peer_close(&net, s);
  advance(2000, 100);
  CHECK(heap->live_bytes == base, "memory: the keep-alive connection's bytes are all back once it closed");
  s = ws_open(0, NULL);
  if (s < 0) {
    stop("memory");
    return;
  }
  advance(SN_IDLE_RELEASE_MS + 500, 100);
  ws = heap->live_bytes - base;
  test_report(ws <= ka, "memory: an idle WebSocket holds no more heap than an idle keep-alive connection",
              "WebSocket %ld B, keep-alive %ld B (sn_ws_size %lu)", ws, ka, (unsigned long) sn_ws_size());
  if (verbose) printf("# idle: keep-alive %ld B, WebSocket %ld B\n", ka, ws);
  send_frame(s, 1, 1, "still here", 10);
  pump();
  CHECK(next_frame(s, &f) && f.op == 1 && f.len == 10 && memcmp(f.data, "still here", 10) == 0 && app.messages == 1,
        "memory: the idle WebSocket (its state in the request's memory) still echoes");
  CHECK(sn_ws_close(app.ws, 1000, "bye") == SN_OK, "memory: sn_ws_close on the idle socket");
  pump();
  CHECK(next_frame(s, &f) && close_code_of(&f) == 1000, "memory: our close frame goes out");
  send_frame(s, 1, 8, "\x03\xe8", 2);
  pump();
  CHECK(app.closes == 1 && app.close_err == SN_OK && app.close_code == 1000, "memory: the close handshake completes");
  advance(2000, 100);
  CHECK(heap->live_bytes == base, "memory: after the close, every byte is back");
  stop("memory");

  /* an upgrade from a deferred request, and the manager destroyed before the
     loop hands the stream over: on_close once, nothing leaks */
  reset_app();
  memset(&later, 0, sizeof later);
  if (start() != SN_OK) abort();
  s = cl_new(0);
  cl_puts(s, "GET /later HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: " SAMPLE_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
  pump();
  {
    sn_conn *c = NULL;
    CHECK(sn_req_conn(later.ref, &c) == SN_OK && c != NULL, "deferred upgrade: the request waits");
    if (c != NULL) app.upgrade_r = sn_ws_upgrade(c, later.req, NULL, &cbs, &app.ws);
  }
  CHECK(app.upgrade_r == SN_OK && app.ws != NULL, "deferred upgrade: sn_ws_upgrade from outside the handler");
  stop("deferred upgrade, destroyed before it was taken");
  CHECK(app.opens == 0 && app.closes == 1, "deferred upgrade, destroyed at once: on_close once, never on_open");
}

int main(int argc, char **argv) {
  verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
  heap = sn_mem_heap_get();
  sn_mem_init(&net);
  sn_router_init(&router);
  sn_router_add(&router, "*", "/ws", ws_handler, NULL);
  sn_router_add(&router, "GET", "/events", sse_handler, NULL);
  sn_router_add(&router, "GET", "/ka", ka_handler, NULL);
  sn_router_add(&router, "GET", "/later", defer_handler, NULL);
  memset(msg, 'm', sizeof msg);

  test_upgrade();
  test_messages(0, "");
  test_messages(1, " (1-byte reads)");
  test_streaming(0, "");
  test_streaming(1, " (1-byte reads)");
  test_closing();
  test_backpressure();
  test_proto_errors();
  test_sse();
  test_client();
  test_idle_memory();
  test_alloc_failures(0);
  test_alloc_failures(1);
  sn_mem_clear(&net);
  return test_summary();
}
