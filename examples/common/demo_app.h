/* demo_app.h - the routes and handlers of securenet's demo, shared by the
   POSIX example (examples/posix/sn_demo.c) and the lwIP one
   (examples/lwip/sn_demo_lwip.c): the same dashboard and JSON API on any port.
   Include it once, after securenet.h, in the file that sets up the server.

   Routes: GET / (dashboard), GET /api/status, GET /api/hello/:name,
   POST /api/echo, GET /files/ *, GET /stream?n=N, GET /api/blob?bytes=N,
   PUT or POST /api/upload[?delay_ms=N] (a streamed body, hashed),
   GET /api/delay?ms=N (a reply from a timer), GET /ws (an echo WebSocket),
   GET /ws/status (live values pushed), GET /api/events (the same as SSE).

   Also the part of main() both programs share: their common command-line
   options (demo_parse), the listeners (demo_listen), SIGINT/SIGTERM and a
   log hook. What differs, the port and the main loop, stays in each program. */
#ifndef DEMO_APP_H
#define DEMO_APP_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_static.h" /* made by tools/sn-embed from examples/posix/static */

static uint64_t started_ms;
static unsigned long demo_aborted; /* requests that ended unanswered (on_abort) */
static unsigned long demo_late;    /* deferred replies that found their request gone */

/* Bytes of heap in use, when the program can tell (sn_demo sets it from
   glibc's mallinfo2 or ASan's allocator); /api/status reports it as
   heap_bytes, so tests can see memory come back after abuse. NULL: omitted. */
static unsigned long (*demo_heap_bytes)(void);

/* GET / and the dashboard's files, from the table compiled into the binary */
static void serve_file(sn_conn *c, const sn_request *req, void *user) {
  sn_http_static(c, req, (const sn_static_file *) user);
}

/* GET /api/status: this device and this connection, as JSON */
static void api_status(sn_conn *c, const sn_request *req, void *user) {
  sn_mgr_stats st;
  char tls[256] = "null", client[SN_SUBJECT_MAX * 6 + 3] = "null", heap[40] = "", uptime[24];
  char counts[64], who[SN_USER_NAME_MAX * 6 + 16] = "";
  const char *subject = sn_conn_peer_subject(c);
  const sn_user *u = sn_http_user(c, NULL);
  (void) req;
  (void) user;
  sn_mgr_stats_get(sn_conn_mgr(c), &st);
  if (sn_conn_is_tls(c)) {
    char v[64], s[128];
    const char *ver = sn_conn_tls_version(c), *suite = sn_conn_tls_suite(c);
    sn_json_str(v, sizeof v, ver, strlen(ver));
    sn_json_str(s, sizeof s, suite, strlen(suite));
    snprintf(tls, sizeof tls, "{\"version\":%s,\"suite\":%s}", v, s);
  }
  if (subject != NULL) sn_json_str(client, sizeof client, subject, strlen(subject));
  if (demo_heap_bytes != NULL) snprintf(heap, sizeof heap, ",\"heap_bytes\":%lu", demo_heap_bytes());
  { /* the 64-bit uptime by hand: newlib-nano's printf (MCU builds) has no %llu */
    uint64_t up = sn_mgr_now_ms(sn_conn_mgr(c)) - started_ms;
    char *d = uptime + sizeof uptime - 1;
    *d = '\0';
    do *--d = (char) ('0' + (int) (up % 10)); while ((up /= 10) != 0);
    snprintf(counts, sizeof counts, ",\"aborted\":%lu,\"late\":%lu", demo_aborted, demo_late);
    if (u != NULL) {
      memcpy(who, ",\"user\":", 8);
      sn_json_str(who + 8, sizeof who - 8, u->name, strlen(u->name));
    }
    sn_http_json(c, 200, "{\"uptime_ms\":%s,\"connections\":%u,\"requests\":%lu,\"tls\":%s,\"client\":%s%s%s%s}\n", d,
                 st.connections, st.requests, tls, client, heap, counts, who);
  }
}

/* GET /api/hello/:name (the router hands the parameter over decoded) */
static void api_hello(sn_conn *c, const sn_request *req, void *user) {
  sn_str name = sn_http_param(req, "name");
  (void) user;
  sn_http_printf(c, 200, "Content-Type: text/plain; charset=utf-8\r\n", "hello, %.*s\n", (int) name.len, name.ptr);
}

/* POST /api/echo: the body back, byte for byte, with its Content-Type */
static void api_echo(sn_conn *c, const sn_request *req, void *user) {
  sn_str type = sn_http_header(req, "content-type");
  char head[300];
  (void) user;
  if (type.ptr == NULL || type.len > 200) snprintf(head, sizeof head, "Content-Type: application/octet-stream\r\n");
  else snprintf(head, sizeof head, "Content-Type: %.*s\r\n", (int) type.len, type.ptr);
  if (sn_http_reply(c, 200, head, req->body.ptr, req->body.len) != SN_OK) sn_http_error(c, 500);
}

/* GET /files/ *: the wildcard's match */
static void api_files(sn_conn *c, const sn_request *req, void *user) {
  (void) user;
  sn_http_printf(c, 200, "Content-Type: text/plain; charset=utf-8\r\n", "%.*s\n", (int) req->wildcard.len,
                 req->wildcard.ptr);
}

/* GET /stream?n=N: N lines, produced as the connection drains, so a large N
   never needs a large buffer. The position lives in the connection's
   scratch space. */
typedef struct stream_state {
  unsigned long next, count;
} stream_state;

static void stream_more(sn_conn *c, void *arg) {
  stream_state *s = (stream_state *) sn_conn_scratch(c);
  int i;
  (void) arg;
  for (i = 0; i < 256 && s->next < s->count; i++, s->next++)
    if (sn_http_chunkf(c, "line %lu\n", s->next) != SN_OK) break;
  if (s->next >= s->count) sn_http_chunked_end(c);
}

static void api_stream(sn_conn *c, const sn_request *req, void *user) {
  stream_state *s = (stream_state *) sn_conn_scratch(c);
  char n[16];
  (void) user;
  s->next = 0;
  s->count = sn_http_query(req, "n", n, sizeof n) > 0 ? strtoul(n, NULL, 10) : 10;
  if (s->count > 10000000ul) {
    sn_http_error(c, 400);
    return;
  }
  sn_http_chunked_begin(c, 200, "Content-Type: text/plain; charset=utf-8\r\n");
  sn_http_on_writable(c, stream_more, NULL);
  stream_more(c, NULL);
}

/* GET /api/blob?bytes=N: N zero bytes (at most 64 MiB), streamed like
   /stream; the download that bench/run.sh times. Each call adds one chunk
   whose size line, data and CRLF make 16 KiB: one full TLS record. */
#define DEMO_BLOB_MAX (64ul << 20)
#define DEMO_BLOB_CHUNK (16384u - 8u) /* "3ff8\r\n" + data + "\r\n" */

static void blob_more(sn_conn *c, void *arg) {
  static const unsigned char zeros[DEMO_BLOB_CHUNK] = {0};
  unsigned long *left = (unsigned long *) sn_conn_scratch(c);
  size_t n = *left < DEMO_BLOB_CHUNK ? (size_t) *left : DEMO_BLOB_CHUNK;
  int r = SN_OK;
  (void) arg;
  /* a chunk over the listener's max_reply is refused (SN_ERR_TOO_BIG): halve
     it until it fits; any other error ends the response (nothing written:
     the server cuts it short and says so) */
  while (n > 0 && (r = sn_http_chunk(c, zeros, n)) == SN_ERR_TOO_BIG && n > 256) n /= 2;
  if (n > 0 && r == SN_OK) *left -= n;
  if (*left == 0) sn_http_chunked_end(c);
}

static void api_blob(sn_conn *c, const sn_request *req, void *user) {
  unsigned long *left = (unsigned long *) sn_conn_scratch(c);
  char n[16];
  char *end;
  (void) user;
  if (sn_http_query(req, "bytes", n, sizeof n) <= 0) {
    sn_http_error(c, 400);
    return;
  }
  *left = strtoul(n, &end, 10);
  if (*end != '\0' || n[0] == '-' || *left > DEMO_BLOB_MAX) {
    sn_http_error(c, 400);
    return;
  }
  sn_http_chunked_begin(c, 200, "Content-Type: application/octet-stream\r\n");
  sn_http_on_writable(c, blob_more, NULL);
  blob_more(c, NULL);
}

/* ---- requests that outlive a handler call ---------------------------------- */

/* A 64-bit count in decimal by hand (newlib-nano's printf has no %llu). */
static const char *demo_u64(char buf[24], uint64_t v) {
  char *d = buf + 23;
  *d = '\0';
  do *--d = (char) ('0' + (int) (v % 10)); while ((v /= 10) != 0);
  return d;
}

/* A query parameter as a number in [0, max]; -2 when absent, -1 when malformed. */
static long demo_query_num(const sn_request *req, const char *name, long max) {
  char v[16], *end;
  long n;
  int r = sn_http_query(req, name, v, sizeof v);
  if (r == SN_ERR_NOT_FOUND) return -2;
  if (r <= 0) return -1;
  n = strtol(v, &end, 10);
  return *end != '\0' || n < 0 || n > max ? -1 : n;
}

/* PUT or POST /api/upload[?delay_ms=N]: a streamed body of any size up to
   4 GiB, hashed as it arrives; nothing of it is kept. With delay_ms the
   handler pauses reading for N ms after each piece (a slow flash write),
   which pushes back on the sender through TCP instead of filling RAM. */
#if MBEDTLS_VERSION_MAJOR >= 3
#define demo_sha256_starts(ctx) mbedtls_sha256_starts(ctx, 0)
#define demo_sha256_update mbedtls_sha256_update
#define demo_sha256_finish mbedtls_sha256_finish
#else
#define demo_sha256_starts(ctx) mbedtls_sha256_starts_ret(ctx, 0)
#define demo_sha256_update mbedtls_sha256_update_ret
#define demo_sha256_finish mbedtls_sha256_finish_ret
#endif
typedef struct demo_upload {
  mbedtls_sha256_context sha;
  uint64_t bytes;
  long delay_ms;
  sn_timer resume; /* ends a pause */
  sn_req_ref ref;
  sn_mgr *mgr;
} demo_upload;

static void upload_end(void *state, int why) { /* attached: the request is over, whatever happened */
  demo_upload *u = (demo_upload *) state;
  (void) why;
  sn_timer_cancel(u->mgr, &u->resume);
  mbedtls_sha256_free(&u->sha);
  SN_FREE(u);
}

static void upload_head(sn_conn *c, const sn_request *req, void *user) {
  demo_upload *u;
  long delay = demo_query_num(req, "delay_ms", 1000);
  (void) user;
  if (delay == -1) {
    sn_http_error(c, 400); /* refused before a byte of the body is read */
    return;
  }
  u = (demo_upload *) SN_MALLOC(sizeof *u);
  if (u == NULL) {
    sn_http_error(c, 503);
    return;
  }
  memset(u, 0, sizeof *u);
  mbedtls_sha256_init(&u->sha);
  demo_sha256_starts(&u->sha);
  u->delay_ms = delay > 0 ? delay : 0;
  u->mgr = sn_conn_mgr(c);
  u->ref = sn_http_ref(c);
  sn_http_attach(c, u, upload_end);
}

static void upload_resume(void *arg) {
  demo_upload *u = (demo_upload *) arg;
  sn_conn *c;
  if (sn_req_conn(u->ref, &c) == SN_OK) sn_http_resume_body(c);
}

static int upload_piece(sn_conn *c, const void *data, size_t len, void *user) {
  demo_upload *u = (demo_upload *) sn_http_state(c);
  (void) user;
  demo_sha256_update(&u->sha, (const unsigned char *) data, len);
  u->bytes += len;
  if (u->delay_ms == 0) return SN_OK;
  sn_timer_add(u->mgr, &u->resume, (uint32_t) u->delay_ms, 0, upload_resume, u);
  return SN_WANT_READ; /* paused until the timer */
}

static void upload_done(sn_conn *c, const sn_request *req, void *user) {
  demo_upload *u = (demo_upload *) sn_http_state(c);
  unsigned char h[32];
  char hex[65], num[24];
  int i;
  (void) req, (void) user;
  demo_sha256_finish(&u->sha, h);
  for (i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
  sn_http_json(c, 200, "{\"bytes\":%s,\"sha256\":\"%s\"}\n", demo_u64(num, u->bytes), hex);
}

static void demo_abort(sn_conn *c, int err, void *user) {
  (void) c, (void) err, (void) user;
  demo_aborted++;
}

static const sn_route_opts upload_route = {
    upload_done, upload_head, upload_piece, demo_abort, 4294967296ull /* 4 GiB */, 0, NULL};

/* POST /api/form: any multipart/form-data form, streamed through the
   multipart parser on its own (the firmware route uses it too): answers
   each part's name, filename, size and SHA-256 (at most DEMO_FORM_PARTS
   parts; names and filenames cut to what the table holds). 400 with the
   parser's words for a malformed form. */
#define DEMO_FORM_PARTS 8
typedef struct demo_form {
  sn_multipart mp;
  mbedtls_sha256_context sha;
  int n;
  struct {
    char name[40], filename[64], hex[65];
    uint64_t bytes;
  } part[DEMO_FORM_PARTS];
} demo_form;

static void form_end(void *state, int why) {
  demo_form *f = (demo_form *) state;
  (void) why;
  mbedtls_sha256_free(&f->sha);
  SN_FREE(f);
}

static void form_copy(char *dst, size_t room, sn_str s) {
  size_t n = s.ptr == NULL ? 0 : s.len < room - 1 ? s.len : room - 1;
  if (n) memcpy(dst, s.ptr, n);
  dst[n] = '\0';
}

static int form_part(void *user, const sn_part *p) {
  demo_form *f = (demo_form *) user;
  if (f->n == DEMO_FORM_PARTS) return SN_ERR_TOO_BIG;
  form_copy(f->part[f->n].name, sizeof f->part[f->n].name, p->name);
  form_copy(f->part[f->n].filename, sizeof f->part[f->n].filename, p->filename);
  demo_sha256_starts(&f->sha);
  f->n++;
  return SN_OK;
}

static int form_data(void *user, const void *data, size_t len) {
  demo_form *f = (demo_form *) user;
  demo_sha256_update(&f->sha, (const unsigned char *) data, len);
  f->part[f->n - 1].bytes += len;
  return SN_OK;
}

static int form_part_end(void *user) {
  demo_form *f = (demo_form *) user;
  unsigned char h[32];
  int i;
  demo_sha256_finish(&f->sha, h);
  for (i = 0; i < 32; i++) snprintf(f->part[f->n - 1].hex + 2 * i, 3, "%02x", h[i]);
  return SN_OK;
}

static void form_head(sn_conn *c, const sn_request *req, void *user) {
  static const sn_multipart_cb cb = {form_part, form_data, form_part_end};
  demo_form *f = (demo_form *) SN_MALLOC(sizeof *f);
  (void) user;
  if (f == NULL) {
    sn_http_error(c, 503);
    return;
  }
  memset(f, 0, sizeof *f);
  mbedtls_sha256_init(&f->sha);
  sn_http_attach(c, f, form_end);
  if (sn_multipart_init(&f->mp, sn_http_header(req, "content-type"), &cb, f) != SN_OK)
    sn_http_json(c, 400, "{\"error\":\"%s\"}\n", f->mp.why); /* refused before the body */
}

static int form_piece(sn_conn *c, const void *data, size_t len, void *user) {
  demo_form *f = (demo_form *) sn_http_state(c);
  (void) user;
  if (sn_multipart_feed(&f->mp, data, len) != SN_OK) sn_http_json(c, 400, "{\"error\":\"%s\"}\n", f->mp.why);
  return SN_OK;
}

static void form_done(sn_conn *c, const sn_request *req, void *user) {
  demo_form *f = (demo_form *) sn_http_state(c);
  char out[DEMO_FORM_PARTS * 320 + 32], name[84], fname[132], num[24];
  size_t o;
  int i;
  (void) req, (void) user;
  if (sn_multipart_finish(&f->mp) != SN_OK) {
    sn_http_json(c, 400, "{\"error\":\"%s\"}\n", f->mp.why);
    return;
  }
  o = (size_t) snprintf(out, sizeof out, "{\"parts\":[");
  for (i = 0; i < f->n; i++) {
    sn_json_str(name, sizeof name, f->part[i].name, strlen(f->part[i].name));
    sn_json_str(fname, sizeof fname, f->part[i].filename, strlen(f->part[i].filename));
    o += (size_t) snprintf(out + o, sizeof out - o, "%s{\"name\":%s,\"filename\":%s,\"bytes\":%s,\"sha256\":\"%s\"}",
                           i ? "," : "", name, fname, demo_u64(num, f->part[i].bytes), f->part[i].hex);
  }
  snprintf(out + o, sizeof out - o, "]}\n");
  sn_http_json(c, 200, "%s", out);
}

static const sn_route_opts form_route = {form_done, form_head, form_piece, demo_abort, 64ull << 20, 0, NULL};

/* GET /api/delay?ms=N (0-60000): answered after N ms from a timer; other
   requests are served meanwhile. A fixed pool of waits (no allocation); a
   wait whose client left finds its request gone (demo_late). */
#ifndef DEMO_DELAYS
#define DEMO_DELAYS 8 /* sn_demo, on a Linux gateway: 64 */
#endif
typedef struct demo_delay {
  sn_timer t; /* armed: the slot is taken (a manager destroyed meanwhile disarms it) */
  sn_req_ref ref;
  long ms;
} demo_delay;
static demo_delay demo_delays[DEMO_DELAYS];

static void delay_fire(void *arg) {
  demo_delay *d = (demo_delay *) arg;
  sn_conn *c;
  if (sn_req_conn(d->ref, &c) == SN_OK) sn_http_json(c, 200, "{\"waited_ms\":%ld}\n", d->ms);
  else demo_late++; /* the client went away (or the request timed out) */
}

static void api_delay(sn_conn *c, const sn_request *req, void *user) {
  long ms = demo_query_num(req, "ms", 60000);
  int i;
  (void) user;
  if (ms < 0) {
    sn_http_error(c, 400);
    return;
  }
  for (i = 0; i < DEMO_DELAYS && demo_delays[i].t.armed; i++) continue;
  if (i == DEMO_DELAYS) {
    sn_http_error(c, 503);
    return;
  }
  demo_delays[i].ms = ms;
  demo_delays[i].ref = sn_http_defer(c);
  sn_timer_add(sn_conn_mgr(c), &demo_delays[i].t, (uint32_t) ms, 0, delay_fire, &demo_delays[i]);
}

static const sn_route_opts delay_route = {api_delay, NULL, NULL, demo_abort, 0, 65000, NULL};

/* Firmware updates: the program that has a slot (sn_demo: a file; the QEMU
   board: simulated flash) creates the verifier and sets this before
   demo_routes(); then POST/PUT /api/firmware take signed images and
   GET /api/firmware says what the slot holds. */
static sn_ota *demo_ota;

static void api_firmware(sn_conn *c, const sn_request *req, void *user) {
  sn_image_info img;
  int st = sn_ota_state(demo_ota, &img), i;
  char why[160], version[2 * SN_IMAGE_VERSION_MAX + 3], hex[65], bytes[24];
  const char *state = st == SN_OTA_RECEIVING ? "receiving" : st == SN_OTA_ACCEPTED ? "accepted" : "idle";
  (void) req, (void) user;
  if (sn_json_str(why, sizeof why, sn_ota_why(demo_ota), strlen(sn_ota_why(demo_ota))) < 0) strcpy(why, "\"\"");
  if (img.bytes == 0) {
    sn_http_json(c, 200, "{\"state\":\"%s\",\"error\":%s}\n", state, why);
    return;
  }
  for (i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", img.sha256[i]);
  sn_json_str(version, sizeof version, img.version, strlen(img.version));
  sn_http_json(c, 200, "{\"state\":\"%s\",\"version\":%s,\"bytes\":%s,\"sha256\":\"%s\",\"error\":%s}\n", state,
               version, demo_u64(bytes, img.bytes), hex, why);
}

/* GET /api/health: open even with login on (a load balancer's probe) */
static void api_health(sn_conn *c, const sn_request *req, void *user) {
  (void) req, (void) user;
  sn_http_json(c, 200, "{\"ok\":true}\n");
}

/* ---- live values: WebSocket and server-sent events --------------------------
   GET /ws          an echo socket: each message back as it came (?max=N: the
                    message limit, default DEMO_WS_MAX)
   GET /ws/status   the status JSON pushed once a second
   GET /api/events  the same as an SSE stream, with increasing ids
   One 1 s timer feeds both lists; it runs while someone listens. */
#ifndef DEMO_WS_MAX
#define DEMO_WS_MAX 1048576ul
#endif
#define DEMO_LIVE 8 /* listeners of each kind at once */

/* The live values, as JSON (seq: the how-many-th update). */
static int demo_live_json(sn_mgr *mgr, unsigned long seq, char *out, size_t cap) {
  sn_mgr_stats st;
  char heap[40] = "";
  unsigned long up = (unsigned long) (sn_mgr_now_ms(mgr) - started_ms);
  sn_mgr_stats_get(mgr, &st);
  if (demo_heap_bytes != NULL) snprintf(heap, sizeof heap, ",\"heap_bytes\":%lu", demo_heap_bytes());
  return snprintf(out, cap, "{\"seq\":%lu,\"uptime_ms\":%lu,\"connections\":%u,\"requests\":%lu%s}", seq, up,
                  st.connections, st.requests, heap);
}

#if SN_ENABLE_WEBSOCKET
/* The echo: a message goes back whole; when the queue could not take the
   next one at its largest, the socket stops reading until it drains, so a
   client that sends without reading is pushed back by TCP. */
static void ws_echo_message(sn_ws *ws, int type, const void *data, size_t len, int final, void *user) {
  size_t max = (size_t) (uintptr_t) user;
  int r = sn_ws_send(ws, type, data, len);
  (void) final;
  if (r != SN_OK) {
    sn_ws_close(ws, SN_WS_INTERNAL, sn_strerror(r));
    return;
  }
  if (sn_ws_queued(ws) + max + 14 > 2 * max + 64) sn_ws_pause(ws);
}
static void ws_echo_writable(sn_ws *ws, void *user) {
  (void) user;
  sn_ws_resume(ws);
}

static void api_ws_echo(sn_conn *c, const sn_request *req, void *user) {
  sn_ws_opts o;
  sn_ws_callbacks cb;
  char n[24];
  unsigned long max = DEMO_WS_MAX;
  (void) user;
  if (sn_http_query(req, "max", n, sizeof n) > 0) max = strtoul(n, NULL, 10);
  if (max == 0 || max > 16ul << 20) {
    sn_http_error(c, 400);
    return;
  }
  memset(&o, 0, sizeof o);
  memset(&cb, 0, sizeof cb);
  o.max_message = max;
  o.max_queued = 2 * max + 64;
  cb.on_message = ws_echo_message;
  cb.on_writable = ws_echo_writable;
  cb.user = (void *) (uintptr_t) max;
  sn_ws_upgrade(c, req, &o, &cb, NULL); /* a bad opening is answered by it */
}
#endif

static sn_timer demo_live_timer;
static unsigned long demo_live_seq;
#if SN_ENABLE_WEBSOCKET
static sn_ws *demo_ws_live[DEMO_LIVE];
#endif
#if SN_ENABLE_SSE
static struct demo_sse {
  sn_req_ref ref;
  unsigned long next_id;
  int used;
} demo_sse_live[DEMO_LIVE];
#endif

static int demo_live_count(void) {
  int i, n = 0;
  for (i = 0; i < DEMO_LIVE; i++) {
#if SN_ENABLE_WEBSOCKET
    n += demo_ws_live[i] != NULL;
#endif
#if SN_ENABLE_SSE
    n += demo_sse_live[i].used;
#endif
  }
  return n;
}

#if SN_ENABLE_WEBSOCKET
/* A client that does not read what is pushed: closed (1008), not queued for. */
static void demo_ws_push(sn_ws *ws, const char *json, size_t n) {
  if (sn_ws_send(ws, SN_WS_TEXT, json, n) == SN_ERR_FULL) sn_ws_close(ws, SN_WS_POLICY, "not reading");
}
#endif
#if SN_ENABLE_SSE
static void demo_sse_push(struct demo_sse *s, sn_mgr *mgr) {
  sn_conn *c;
  char json[256], id[24];
  int n;
  if (sn_req_conn(s->ref, &c) != SN_OK) return; /* gone: its end frees the slot */
  n = demo_live_json(mgr, s->next_id, json, sizeof json);
  snprintf(id, sizeof id, "%lu", s->next_id);
  if (sn_sse_send(c, NULL, id, json, (size_t) n) == SN_OK) s->next_id++; /* SN_ERR_FULL: a slow reader skips one */
}
#endif

static void demo_live_tick(void *arg) {
  sn_mgr *mgr = (sn_mgr *) arg;
  char json[256];
  int i, n;
  n = demo_live_json(mgr, ++demo_live_seq, json, sizeof json);
  for (i = 0; i < DEMO_LIVE; i++) {
#if SN_ENABLE_WEBSOCKET
    if (demo_ws_live[i] != NULL) demo_ws_push(demo_ws_live[i], json, (size_t) n);
#endif
#if SN_ENABLE_SSE
    if (demo_sse_live[i].used) demo_sse_push(&demo_sse_live[i], mgr);
#endif
  }
  (void) n;
  if (demo_live_count() == 0) sn_timer_cancel(mgr, &demo_live_timer);
}

static void demo_live_start(sn_mgr *mgr) {
  if (!demo_live_timer.armed) sn_timer_add(mgr, &demo_live_timer, 1000, 1000, demo_live_tick, mgr);
}

#if SN_ENABLE_WEBSOCKET
static void ws_status_open(sn_ws *ws, void *user) {
  char json[256];
  int n = demo_live_json(sn_ws_mgr(ws), ++demo_live_seq, json, sizeof json);
  (void) user;
  demo_ws_push(ws, json, (size_t) n);
}
static void ws_status_close(sn_ws *ws, int err, int code, const char *why, void *user) {
  int i;
  (void) err, (void) code, (void) why, (void) user;
  for (i = 0; i < DEMO_LIVE; i++)
    if (demo_ws_live[i] == ws) demo_ws_live[i] = NULL;
}

static void api_ws_status(sn_conn *c, const sn_request *req, void *user) {
  sn_ws_opts o;
  sn_ws_callbacks cb;
  sn_ws *ws;
  int i;
  (void) user;
  for (i = 0; i < DEMO_LIVE && demo_ws_live[i] != NULL; i++) continue;
  if (i == DEMO_LIVE) {
    sn_http_error(c, 503);
    return;
  }
  memset(&o, 0, sizeof o);
  memset(&cb, 0, sizeof cb);
  o.max_message = 1024; /* the client has nothing to say */
  o.max_queued = 8192;  /* some thirty updates, then a client that does not read is closed */
  cb.on_open = ws_status_open;
  cb.on_close = ws_status_close;
  if (sn_ws_upgrade(c, req, &o, &cb, &ws) != SN_OK) return;
  demo_ws_live[i] = ws;
  demo_live_start(sn_conn_mgr(c));
}
#endif

#if SN_ENABLE_SSE
static void demo_sse_end(void *state, int why) {
  (void) why;
  ((struct demo_sse *) state)->used = 0;
}

static void api_events(sn_conn *c, const sn_request *req, void *user) {
  sn_str last = sn_http_header(req, "last-event-id");
  struct demo_sse *s = NULL;
  int i;
  (void) user;
  for (i = 0; i < DEMO_LIVE && s == NULL; i++)
    if (!demo_sse_live[i].used) s = &demo_sse_live[i];
  if (s == NULL || sn_sse_begin(c, NULL, 15000) != SN_OK) {
    sn_http_error(c, 503);
    return;
  }
  s->used = 1;
  s->next_id = 1;
  if (last.len > 0 && last.len < 16) {
    char id[16];
    memcpy(id, last.ptr, last.len);
    id[last.len] = '\0';
    s->next_id = strtoul(id, NULL, 10) + 1;
  }
  s->ref = sn_http_ref(c);
  sn_http_attach(c, s, demo_sse_end);
  sn_sse_retry(c, 2000);
  demo_sse_push(s, sn_conn_mgr(c));
  demo_live_start(sn_conn_mgr(c));
}
#endif

static void demo_live_routes(sn_router *router) {
#if SN_ENABLE_WEBSOCKET
  sn_router_add(router, "GET", "/ws", api_ws_echo, NULL);
  sn_router_add(router, "GET", "/ws/status", api_ws_status, NULL);
#endif
#if SN_ENABLE_SSE
  sn_router_add(router, "GET", "/api/events", api_events, NULL);
#endif
  (void) router;
}

/* ---- login (sn_demo --users FILE) ------------------------------------------
   With demo_auth set, every route needs a session or Basic credentials but
   the login page, its files and /api/health: /api/ answers 401 with
   WWW-Authenticate, pages a 303 to /login. */
static sn_auth *demo_auth;
static sn_guard demo_page_guard = {NULL, NULL, SN_GUARD_PAGE}, demo_api_guard = {NULL, NULL, SN_GUARD_API};
static const sn_guard demo_open_guard = {NULL, NULL, SN_GUARD_OPEN};

static void demo_guard_routes(sn_router *router) {
  static const char *const open_files[] = {"/login.html", "/login.js", "/style.css"};
  const sn_static_file *login = sn_static_find(demo_files, DEMO_FILES_COUNT, (sn_str){"/login.html", 11});
  int i;
  size_t k;
  demo_page_guard.auth = demo_api_guard.auth = demo_auth;
  sn_router_guard(router, &demo_page_guard);
  for (i = 0; i < router->count; i++)
    if (strncmp(router->routes[i].pattern, "/api/", 5) == 0)
      sn_route_guard(router, router->routes[i].method, router->routes[i].pattern, &demo_api_guard);
  if (login != NULL) {
    sn_router_add(router, "GET", "/login", serve_file, (void *) login);
    sn_route_guard(router, "GET", "/login", &demo_open_guard);
  }
  for (k = 0; k < sizeof open_files / sizeof open_files[0]; k++) sn_route_guard(router, "GET", open_files[k], &demo_open_guard);
  sn_route_guard(router, "GET", "/api/health", &demo_open_guard);
  sn_router_add_login(router, demo_auth);
}

/* Routes a program adds beside the shared ones (sn_demo: /api/worker). */
static void (*demo_extra_routes)(sn_router *router);

/* The demo's routes: the dashboard files and the JSON API. */
static void demo_routes(sn_router *router, sn_mgr *mgr) {
  int i;
  started_ms = sn_mgr_now_ms(mgr);
  sn_router_init(router);
  sn_router_add(router, "GET", "/", serve_file, (void *) sn_static_find(demo_files, DEMO_FILES_COUNT, (sn_str){"/index.html", 11}));
  for (i = 0; i < (int) DEMO_FILES_COUNT; i++) sn_router_add(router, "GET", demo_files[i].path, serve_file, (void *) &demo_files[i]);
  sn_router_add(router, "GET", "/api/status", api_status, NULL);
  sn_router_add(router, "GET", "/api/hello/:name", api_hello, NULL);
  sn_router_add(router, "POST", "/api/echo", api_echo, NULL);
  sn_router_add(router, "GET", "/files/*", api_files, NULL);
  sn_router_add(router, "GET", "/stream", api_stream, NULL);
  sn_router_add(router, "GET", "/api/blob", api_blob, NULL);
  sn_router_add_opts(router, "PUT", "/api/upload", &upload_route);
  sn_router_add_opts(router, "POST", "/api/upload", &upload_route);
  sn_router_add_opts(router, "POST", "/api/form", &form_route);
  sn_router_add_opts(router, "GET", "/api/delay", &delay_route);
  if (demo_ota != NULL) {
    sn_router_add_ota(router, "POST", "/api/firmware", demo_ota);
    sn_router_add_ota(router, "PUT", "/api/firmware", demo_ota);
    sn_router_add(router, "GET", "/api/firmware", api_firmware, NULL);
  }
  sn_router_add(router, "GET", "/api/health", api_health, NULL);
  demo_live_routes(router);
  if (demo_extra_routes != NULL) demo_extra_routes(router);
  if (demo_auth != NULL) demo_guard_routes(router);
}

/* ---- what both demo programs' main() share ------------------------------- */
typedef struct demo_config {
  const char *prog;                          /* for messages: "sn_demo" */
  const char *cert, *key, *client_ca, *bind; /* bind NULL: every interface */
  unsigned https_port, http_port;            /* http_port 0: no plain HTTP */
  int redirect, verbose;
  long max_conns;
  unsigned long max_body, request_timeout_ms, idle_timeout_ms;
  unsigned long hsts; /* Strict-Transport-Security max-age on HTTPS; 0: not sent */
  unsigned long handshake_timeout_ms;
  unsigned https_port2; /* a second HTTPS listener on the same routes; 0: none */
} demo_config;

#define DEMO_OPTIONS_HELP                                                               \
  "[--https-port N] [--http-port N] [--redirect] [--cert FILE --key FILE]\n"            \
  "       [--client-ca FILE] [--bind ADDR] [--max-conns N] [--max-body N]\n"             \
  "       [--request-timeout-ms N] [--idle-timeout-ms N] [--handshake-timeout-ms N]\n" \
  "       [--hsts SECONDS] [--https-port2 N] [--verbose]"

/* Reads the options into c (which holds the defaults). Returns 0, or -1 for
   an unknown or incomplete option. */
static int demo_parse(int argc, char **argv, demo_config *c) {
  int i;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--redirect") == 0) c->redirect = 1;
    else if (strcmp(a, "--verbose") == 0) c->verbose = 1;
    else if (v == NULL) return -1;
    else if (strcmp(a, "--https-port") == 0) c->https_port = (unsigned) atoi(v), i++;
    else if (strcmp(a, "--https-port2") == 0) c->https_port2 = (unsigned) atoi(v), i++;
    else if (strcmp(a, "--http-port") == 0) c->http_port = (unsigned) atoi(v), i++;
    else if (strcmp(a, "--cert") == 0) c->cert = v, i++;
    else if (strcmp(a, "--key") == 0) c->key = v, i++;
    else if (strcmp(a, "--client-ca") == 0) c->client_ca = v, i++;
    else if (strcmp(a, "--bind") == 0) c->bind = v, i++;
    else if (strcmp(a, "--max-conns") == 0) c->max_conns = atol(v), i++;
    else if (strcmp(a, "--hsts") == 0) c->hsts = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--max-body") == 0) c->max_body = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--request-timeout-ms") == 0) c->request_timeout_ms = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--idle-timeout-ms") == 0) c->idle_timeout_ms = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--handshake-timeout-ms") == 0) c->handshake_timeout_ms = strtoul(v, NULL, 10), i++;
    else return -1;
  }
  if (c->max_conns > SN_MAX_CONNS) { /* the manager would quietly hold it to SN_MAX_CONNS */
    fprintf(stderr, "%s: --max-conns %ld: this build holds at most %d (SN_MAX_CONNS)\n", c->prog, c->max_conns,
            SN_MAX_CONNS);
    return -1;
  }
  return c->https_port == 0 || c->https_port > 65535 || c->http_port > 65535 || c->https_port2 > 65535 ? -1 : 0;
}

static volatile sig_atomic_t demo_stop; /* set by SIGINT and SIGTERM */
static void demo_on_signal(int sig) {
  (void) sig;
  demo_stop = 1;
}
static void demo_catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = demo_on_signal; /* no SA_RESTART: a waiting poll() returns at once */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* The log hook; user is the program's name. */
static void demo_log(void *user, int level, const char *msg) {
  static const char *const names[] = {"", "error", "warn", "info", "debug"};
  fprintf(stderr, "%s: %s: %s\n", (const char *) user, names[level], msg);
}

/* The routes, the HTTPS listener and, with http_port, plain HTTP beside it;
   prints "PROG: listening on https://HOST:PORT/..." (HOST: bind, or shown_host
   when bind is NULL). Returns SN_OK or the error, already reported. */
static int demo_listen(sn_mgr *mgr, const demo_config *c, const char *shown_host) {
  static sn_router router;
  static sn_tls_opts tls;
  static char headers[sizeof SN_HTTP_DEFAULT_HEADERS + 64];
  sn_http_opts ho;
  const char *host = c->bind ? c->bind : shown_host;
  const char *lb = strchr(host, ':') ? "[" : "", *rb = strchr(host, ':') ? "]" : "";
  int r;
  demo_routes(&router, mgr);
  memset(&tls, 0, sizeof tls);
  tls.cert_file = c->cert;
  tls.key_file = c->key;
  tls.client_ca_file = c->client_ca;
  memset(&ho, 0, sizeof ho);
  ho.addr = c->bind;
  ho.router = &router;
  ho.max_body = c->max_body;
  ho.max_reply = c->max_body + 4096;
  ho.request_timeout_ms = (uint32_t) c->request_timeout_ms;
  ho.idle_timeout_ms = (uint32_t) c->idle_timeout_ms;
  ho.handshake_timeout_ms = (uint32_t) c->handshake_timeout_ms;
  ho.port = (uint16_t) c->https_port;
  ho.tls = &tls;
  if (c->hsts) { /* opt-in: once a browser saw it, a certificate error on this host cannot be clicked through */
    snprintf(headers, sizeof headers, "%sStrict-Transport-Security: max-age=%lu\r\n", SN_HTTP_DEFAULT_HEADERS, c->hsts);
    ho.headers = headers;
  }
  if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
    fprintf(stderr, "%s: HTTPS on %s port %u: %s\n", c->prog, host, c->https_port, sn_strerror(r));
    return r;
  }
  if (c->https_port2) {
    ho.port = (uint16_t) c->https_port2;
    if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
      fprintf(stderr, "%s: HTTPS on %s port %u: %s\n", c->prog, host, c->https_port2, sn_strerror(r));
      return r;
    }
  }
  if (c->http_port) {
    ho.port = (uint16_t) c->http_port;
    ho.tls = NULL;
    ho.headers = NULL; /* HSTS means nothing over plain HTTP (RFC 6797 8.1) */
    ho.redirect_to_https = c->redirect ? (uint16_t) c->https_port : 0;
    if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
      fprintf(stderr, "%s: HTTP on %s port %u: %s\n", c->prog, host, c->http_port, sn_strerror(r));
      return r;
    }
  }
  printf("%s: listening on https://%s%s%s:%u/", c->prog, lb, host, rb, c->https_port);
  if (c->http_port) printf(" and http://%s%s%s:%u/%s", lb, host, rb, c->http_port, c->redirect ? " (redirecting)" : "");
  printf("\n");
  fflush(stdout);
  return SN_OK;
}

#endif /* DEMO_APP_H */
