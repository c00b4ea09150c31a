/* test_faults.c - the whole securenet server, end to end, in memory.

   "Bad input never crashes, leaks or corrupts": this test runs the real
   server (sn_mgr, sn_http_listen, sn_poll) through the in-memory port
   (securenet_port_mem.h), no sockets. The port keeps an array of fake
   sockets whose client side the test scripts:
     - accept hands out pending fake connections in the order they were made;
     - recv delivers the scripted bytes in pieces of a configurable size
       (1 byte is the key case), optionally saying SN_WANT_READ every other call;
     - send takes at most K bytes per call (1 byte too) and says
       SN_WANT_WRITE every other call;
     - wait reports every wanted event ready (or, in "strict" mode, readable
       only when bytes or the end are there);
     - now_ms is a fake clock the test moves (408 and idle timeouts);
     - entropy is a FIXED DETERMINISTIC xorshift stream. That is acceptable
       ONLY in this test (reproducible runs, no TLS secret worth anything);
       a real port must use a real entropy source (see the port contract).
   Every securenet allocation goes through sn_mem_malloc/sn_mem_free (SN_MALLOC /
   SN_FREE are defined before securenet.h), which count them and can fail
   the N-th one (or every one from the N-th on).

   Checks: (a) an exact 200 response with 1-byte reads and writes, HEAD,
   404/405/500, 100-continue, streaming, keep-alive and close; (b) pipelined
   requests answered in order; (c) a chunked POST delivered byte by byte;
   (d) failing each allocation of a full request cycle never crashes or
   leaks and the next request is served; (e) 408 request timeout and the
   idle keep-alive close; (f) LRU eviction of idle connections only;
   (g) hundreds of garbage inputs (fixed-seed PRNG) always end in a 4xx/5xx
   or a close; (h) one TLS client (mbedTLS, in memory, certificate made at
   run time) through the same port. Also: buffers shrink back after a large
   request, peers that reset or half-close, 60 pipelined requests beyond one
   sn_poll call's budget with strict readiness, and the HTTPS redirect with
   a maximal Host and path (run in a forked child, so a memory error there
   is reported as one failed check; build with ASan to see it). Every phase
   ends with sn_mgr_destroy and a check that no allocation outlived it. */
#define _POSIX_C_SOURCE 200809L /* fork() and waitpid() for the one check that may crash */
/* Every securenet allocation is counted by the in-memory port's allocator,
   which can fail the N-th one (or every one from the N-th on). */
#define SN_MALLOC(n) sn_mem_malloc(n)
#define SN_FREE(p) sn_mem_free(p)
#define SN_RX_INIT 2048 /* the 60 pipelined requests below arrive in one read */
#define SECURENET_IMPLEMENTATION
#define SECURENET_PORT_MEM_IMPLEMENTATION
#include "securenet_port_mem.h" /* before securenet.h, which it includes: it declares sn_mem_malloc */
#include "test.h"

#include <stdlib.h>
#include <ctype.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mbedtls/base64.h"
#include "mbedtls/ctr_drbg.h"
#include "mbedtls/pk.h"
#include "mbedtls/x509_crt.h"
#include "mbedtls/ssl.h"
#if defined(MBEDTLS_ECP_C)
#include "mbedtls/ecp.h"
#endif

/* ---- the port (securenet_port_mem.h) and the allocation counter ------------- */
static sn_mem fp;
static sn_mem_heap *heap; /* sn_mem_heap_get(), set first in main */

/* Forgets every socket and misuse between phases; new sockets refuse every
   other send (SN_WANT_WRITE) and wait reports everything ready. */
static void fp_reset(void) {
  sn_mem_clear(&fp);
  fp.strict_wait = 0;
  fp.block_send = 1;
  fp.block_recv = 0;
}

/* ---- the client side ------------------------------------------------------------ */
static int cl_new(size_t rchunk, size_t schunk) {
  int i = sn_mem_peer_connect(&fp, 0);
  if (i < 0) {
    fprintf(stderr, "test_faults: out of fake sockets\n");
    abort();
  }
  fp.s[i].max_recv = rchunk ? rchunk : 1;
  fp.s[i].max_send = schunk ? schunk : 1;
  return i;
}

static void cl_write(int s, const void *p, size_t n) {
  if (sn_mem_peer_write(&fp, s, p, n) != SN_OK) abort();
}

static void cl_puts(int s, const char *str) { cl_write(s, str, strlen(str)); }
static void cl_eof(int s) { sn_mem_peer_close(&fp, s); }

/* ---- the server under test --------------------------------------------------- */
static sn_mgr *mgr;
static sn_router router;
static int verbose;
static char last_log[SN_LOG_MAX], warn_log[SN_LOG_MAX];

static void log_cb(void *user, int level, const char *msg) {
  (void) user;
  snprintf(last_log, sizeof last_log, "%s", msg);
  if (level <= SN_LOG_WARN) snprintf(warn_log, sizeof warn_log, "%s", msg);
  if (verbose) printf("# log %d: %s\n", level, msg);
}

/* Creates the manager and a plain HTTP listener (opts may be NULL). */
static int start(int max_conns, const sn_http_opts *opts) {
  sn_mgr_opts mo;
  sn_http_opts ho;
  int r;
  memset(&mo, 0, sizeof mo);
  mo.port = sn_mem_port(&fp);
  mo.log = log_cb;
  mo.log_level = SN_LOG_DEBUG;
  mo.max_conns = max_conns;
  mgr = NULL;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) return r;
  if (opts) ho = *opts;
  else memset(&ho, 0, sizeof ho);
  ho.port = 80;
  ho.router = ho.redirect_to_https ? NULL : &router; /* a redirecting listener needs none */
  if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
    sn_mgr_destroy(mgr);
    mgr = NULL;
  }
  return r;
}

/* Destroys the manager; checks that nothing outlived it and that the
   server never misused a socket. */
static void stop(const char *phase) {
  char name[200];
  sn_mgr_destroy(mgr);
  mgr = NULL;
  snprintf(name, sizeof name, "faults: %s: every allocation is freed by sn_mgr_destroy", phase);
  test_report(heap->live == 0, name, "%ld allocations still live", heap->live);
  snprintf(name, sizeof name, "faults: %s: the server never used a socket it did not own or had closed", phase);
  test_report(fp.misuse == 0, name, "%d misuses, first: %s", fp.misuse, fp.misuse_what);
  fp_reset();
}

/* Polls until nothing has moved for a few rounds. Returns the rounds run. */
static long pump(void) {
  long rounds = 0;
  int idle = 0;
  while (idle < 4 && rounds < 4000000) {
    unsigned long before = fp.activity;
    sn_poll(mgr, 0);
    rounds++;
    idle = fp.activity == before ? idle + 1 : 0;
  }
  return rounds;
}

/* ---- responses ------------------------------------------------------------------- */
typedef struct resp {
  int status;
  char head[4096];
  size_t head_len;
  char body[32768];
  size_t body_len;
} resp;

/* A header's value from a parsed response head ("" when absent: returns 0). */
static int resp_hdr(const resp *r, const char *name, char *val, size_t vlen) {
  const char *p = strstr(r->head, "\r\n");
  size_t nl = strlen(name);
  while (p != NULL && p[2] != '\r') {
    const char *line = p + 2, *end = strstr(line, "\r\n");
    size_t k;
    int same = 1;
    for (k = 0; k < nl; k++)
      if (tolower((unsigned char) line[k]) != tolower((unsigned char) name[k])) same = 0;
    if (same && line[nl] == ':') {
      const char *v = line + nl + 1;
      size_t len;
      while (*v == ' ') v++;
      len = (size_t) (end - v);
      if (len >= vlen) len = vlen - 1;
      memcpy(val, v, len);
      val[len] = '\0';
      return 1;
    }
    p = end;
  }
  if (vlen) val[0] = '\0';
  return 0;
}

/* Parses one response from buf[*off..len). head_req: the answer to HEAD
   (no body). eof: the stream has ended (a body without a length runs to it).
   Returns 1 (and advances *off), 0 when incomplete, -1 when malformed. */
static int parse_resp(const unsigned char *buf, size_t len, size_t *off, int head_req, int eof, resp *r) {
  const unsigned char *p;
  size_t n = len - *off, i, hl = 0;
  char v[64];
  r->status = 0;
  r->head_len = r->body_len = 0;
  r->head[0] = '\0';
  if (buf == NULL) return 0; /* nothing received yet */
  p = buf + *off;
  if (n > 0 && memcmp(p, "HTTP/1.1 ", n < 9 ? n : 9) != 0) return -1;
  for (i = 0; i + 3 < n; i++)
    if (memcmp(p + i, "\r\n\r\n", 4) == 0) {
      hl = i + 4;
      break;
    }
  if (hl == 0) return (n > sizeof r->head) ? -1 : 0;
  if (hl >= sizeof r->head || hl < 16) return -1;
  memcpy(r->head, p, hl);
  r->head[hl] = '\0';
  r->head_len = hl;
  if (!isdigit(p[9]) || !isdigit(p[10]) || !isdigit(p[11]) || p[12] != ' ') return -1;
  r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  if (r->status < 100 || r->status > 599) return -1;
  if (r->status < 200 || r->status == 204 || r->status == 304 || head_req) {
    *off += hl;
    return 1;
  }
  if (resp_hdr(r, "content-length", v, sizeof v)) {
    size_t cl = (size_t) strtoul(v, NULL, 10);
    if (cl > sizeof r->body) return -1;
    if (n - hl < cl) return 0;
    memcpy(r->body, p + hl, cl);
    r->body_len = cl;
    *off += hl + cl;
    return 1;
  }
  if (resp_hdr(r, "transfer-encoding", v, sizeof v)) {
    /* our own small decoder, independent of sn_chunked_decode */
    size_t at = hl;
    if (strcmp(v, "chunked") != 0) return -1;
    for (;;) {
      size_t size = 0, k = at;
      while (k < n && isxdigit(p[k])) {
        size = size * 16 + (size_t) (isdigit(p[k]) ? p[k] - '0' : tolower(p[k]) - 'a' + 10);
        k++;
      }
      if (k + 2 > n) return 0;
      if (k == at || p[k] != '\r' || p[k + 1] != '\n') return -1;
      k += 2;
      if (size == 0) {
        if (k + 2 > n) return 0;
        if (p[k] != '\r' || p[k + 1] != '\n') return -1;
        *off += k + 2;
        return 1;
      }
      if (k + size + 2 > n) return 0;
      if (p[k + size] != '\r' || p[k + size + 1] != '\n') return -1;
      if (r->body_len + size > sizeof r->body) return -1;
      memcpy(r->body + r->body_len, p + k, size);
      r->body_len += size;
      at = k + size + 2;
    }
  }
  if (!eof) return 0;
  if (n - hl > sizeof r->body) return -1;
  memcpy(r->body, p + hl, n - hl);
  r->body_len = n - hl;
  *off = len;
  return 1;
}

/* The next response the server sent on s. */
static int next_resp(int s, resp *r, int head_req) {
  sn_mem_sock *f = &fp.s[s];
  return parse_resp(f->out, f->out_len, &f->out_rd, head_req, f->closed, r);
}

static int body_is(const resp *r, const char *want) {
  return r->body_len == strlen(want) && memcmp(r->body, want, r->body_len) == 0;
}

static int has_close(const resp *r) {
  char v[64];
  return resp_hdr(r, "connection", v, sizeof v) && strcmp(v, "close") == 0;
}

/* ---- handlers --------------------------------------------------------------------- */
static char big_body[5000];

static void h_hello(sn_conn *c, const sn_request *req, void *u) {
  (void) req;
  (void) u;
  sn_http_printf(c, 200, "Content-Type: text/plain\r\n", "hello, world\n");
}

static void h_echo(sn_conn *c, const sn_request *req, void *u) {
  sn_str type = sn_http_header(req, "content-type");
  char head[300];
  (void) u;
  if (type.ptr == NULL || type.len > 200) snprintf(head, sizeof head, "Content-Type: application/octet-stream\r\n");
  else snprintf(head, sizeof head, "Content-Type: %.*s\r\n", (int) type.len, type.ptr);
  if (sn_http_reply(c, 200, head, req->body.ptr, req->body.len) != SN_OK) sn_http_error(c, 500);
}

static void h_user(sn_conn *c, const sn_request *req, void *u) {
  sn_str name = sn_http_param(req, "name");
  (void) u;
  sn_http_printf(c, 200, NULL, "user %.*s", (int) name.len, name.ptr);
}

static void h_big(sn_conn *c, const sn_request *req, void *u) {
  (void) req;
  (void) u;
  if (sn_http_reply(c, 200, NULL, big_body, sizeof big_body) != SN_OK) sn_http_error(c, 500);
}

static void h_silent(sn_conn *c, const sn_request *req, void *u) {
  (void) c;
  (void) req;
  (void) u;
}

typedef struct stream_state {
  unsigned long next, count;
} stream_state;

static void stream_more(sn_conn *c, void *arg) {
  stream_state *s = (stream_state *) sn_conn_scratch(c);
  int i;
  (void) arg;
  for (i = 0; i < 16 && s->next < s->count; i++, s->next++)
    if (sn_http_chunkf(c, "line %lu\n", s->next) != SN_OK) break;
  if (s->next >= s->count) sn_http_chunked_end(c);
}

static void h_stream(sn_conn *c, const sn_request *req, void *u) {
  stream_state *s = (stream_state *) sn_conn_scratch(c);
  char n[16];
  (void) u;
  s->next = 0;
  s->count = sn_http_query(req, "n", n, sizeof n) > 0 ? strtoul(n, NULL, 10) : 10;
  sn_http_chunked_begin(c, 200, "Content-Type: text/plain\r\n");
  sn_http_on_writable(c, stream_more, NULL);
  stream_more(c, NULL);
}

static void h_tls(sn_conn *c, const sn_request *req, void *u) {
  const char *v = sn_conn_tls_version(c);
  (void) req;
  (void) u;
  sn_http_printf(c, 200, NULL, "%s", v ? v : "plain");
}

static void h_slow(sn_conn *c, const sn_request *req, void *u);

static void routes(void) {
  size_t i;
  for (i = 0; i < sizeof big_body; i++) big_body[i] = (char) ('A' + i % 23);
  sn_router_init(&router);
  sn_router_add(&router, "GET", "/hello", h_hello, NULL);
  sn_router_add(&router, "POST", "/echo", h_echo, NULL);
  sn_router_add(&router, "GET", "/u/:name", h_user, NULL);
  sn_router_add(&router, "GET", "/big", h_big, NULL);
  sn_router_add(&router, "GET", "/silent", h_silent, NULL);
  sn_router_add(&router, "GET", "/stream", h_stream, NULL);
  sn_router_add(&router, "GET", "/tls", h_tls, NULL);
  sn_router_add(&router, "GET", "/slow", h_slow, NULL);
  sn_router_add(&router, "OPTIONS", "/opt", h_hello, NULL); /* a route answering OPTIONS itself */
}

static const char HELLO_200[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n" SN_HTTP_DEFAULT_HEADERS "Content-Type: text/plain\r\n\r\nhello, world\n";
#define GET_HELLO "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
static const char CYCLE_REQ_HEAD[] = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n";

/* One request on a fresh connection; returns the socket (response parsed into *r). */
static int one_request(const char *raw, size_t rchunk, size_t schunk, resp *r, int *got) {
  int s = cl_new(rchunk, schunk);
  cl_puts(s, raw);
  pump();
  *got = next_resp(s, r, 0);
  return s;
}

/* ---- (a) basic exchanges with 1-byte reads and writes ------------------------------ */
static void test_basic(void) {
  resp r;
  int s, got;
  char v[128];
  sn_mem_heap_reset(0, 0);
  if (!CHECK_INT(start(0, NULL), SN_OK, "faults: the server starts on the fake port")) return;

  s = cl_new(1, 1);
  cl_puts(s, GET_HELLO);
  pump();
  test_report(fp.s[s].out_len == sizeof HELLO_200 - 1 && memcmp(fp.s[s].out, HELLO_200, sizeof HELLO_200 - 1) == 0,
              "faults: a GET read 1 byte per recv, written 1 byte per send (every other send blocked) gets the exact 200",
              "got %s", test_show(fp.s[s].out, fp.s[s].out_len));
  CHECK(fp.s[s].in_off == fp.s[s].in_len && !fp.s[s].shut && !fp.s[s].closed,
        "faults: the request is read whole and the keep-alive connection stays open");
  fp.s[s].out_rd = fp.s[s].out_len;

  cl_puts(s, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  got = next_resp(s, &r, 1);
  CHECK(got == 1 && r.status == 200 && resp_hdr(&r, "content-length", v, sizeof v) && strcmp(v, "13") == 0 &&
            fp.s[s].out_rd == fp.s[s].out_len,
        "faults: HEAD gets GET's head with Content-Length 13 and no body, on the same connection");

  cl_puts(s, "GET /u/J%C3%B6rg HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 200 && body_is(&r, "user J\xc3\xb6rg"), "faults: a :param reaches the handler percent-decoded");

  cl_puts(s, "DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 405 && resp_hdr(&r, "allow", v, sizeof v) && strcmp(v, "GET, HEAD, OPTIONS") == 0,
        "faults: DELETE on a GET route is 405 with Allow: GET, HEAD, OPTIONS");
  CHECK(got == 1 && !resp_hdr(&r, "date", v, sizeof v), "faults: no Date header on a port without a wall clock");

  /* RFC 9110 9.3.7: the server answers OPTIONS itself where no route does */
  cl_puts(s, "OPTIONS /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 200 && resp_hdr(&r, "allow", v, sizeof v) && strcmp(v, "GET, HEAD, OPTIONS") == 0 &&
            resp_hdr(&r, "content-length", v, sizeof v) && strcmp(v, "0") == 0 && !has_close(&r),
        "faults: OPTIONS /hello is 200 with Allow: GET, HEAD, OPTIONS and Content-Length: 0, connection kept");
  cl_puts(s, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 200 && resp_hdr(&r, "allow", v, sizeof v) && strcmp(v, "GET, HEAD, POST, OPTIONS") == 0 &&
            resp_hdr(&r, "content-length", v, sizeof v) && strcmp(v, "0") == 0,
        "faults: OPTIONS * is 200 with Allow: GET, HEAD, POST, OPTIONS (the routes' methods) and Content-Length: 0");
  cl_puts(s, "OPTIONS /nope HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 404, "faults: OPTIONS on a path no route matches is 404");
  cl_puts(s, "OPTIONS /opt HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 200 && body_is(&r, "hello, world\n") && !resp_hdr(&r, "allow", v, sizeof v),
        "faults: a route registered for OPTIONS answers OPTIONS itself");

  cl_puts(s, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 404 && !has_close(&r), "faults: an unknown path is 404 and keeps the connection");

  cl_puts(s, "GET /silent HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 500, "faults: a handler that does not answer makes the server reply 500");

  {
    long bytes = heap->live_bytes;
    unsigned long calls = heap->calls;
    cl_puts(s, GET_HELLO);
    pump();
    got = next_resp(s, &r, 0);
    CHECK(got == 1 && r.status == 200 && heap->calls == calls && heap->live_bytes == bytes,
          "faults: a keep-alive connection serving a small request allocates nothing");
    cl_puts(s, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    pump();
    got = next_resp(s, &r, 0);
    CHECK(got == 1 && r.status == 200 && r.body_len == sizeof big_body && memcmp(r.body, big_body, sizeof big_body) == 0,
          "faults: a 5000-byte reply (send buffer grows) arrives whole, 1 byte per send");
    cl_puts(s, CYCLE_REQ_HEAD);
    cl_write(s, big_body, sizeof big_body);
    pump();
    got = next_resp(s, &r, 0);
    test_report(got == 1 && r.status == 200 && r.body_len == sizeof big_body && heap->live_bytes == bytes,
                "faults: after a 5000-byte request and reply the connection's buffers shrink back to their initial size",
                "status %d, %ld bytes live, %ld before", r.status, heap->live_bytes, bytes);
  }

  cl_puts(s, "GET /stream?n=300 HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  got = next_resp(s, &r, 0);
  {
    char want[8000];
    size_t o = 0;
    unsigned long i;
    for (i = 0; i < 300; i++) o += (size_t) sprintf(want + o, "line %lu\n", i);
    CHECK(got == 1 && r.status == 200 && r.body_len == o && memcmp(r.body, want, o) == 0,
          "faults: a streamed chunked reply (on_writable) of 300 lines arrives whole and in order");
  }

  cl_puts(s, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 100 && fp.s[s].out_rd == fp.s[s].out_len,
        "faults: Expect: 100-continue gets 100 Continue before the body is sent");
  cl_puts(s, "hello");
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 200 && body_is(&r, "hello"), "faults: after 100 Continue the body is echoed");

  cl_puts(s, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 200 && has_close(&r) && fp.s[s].shut,
        "faults: Connection: close gets Connection: close and the server ends its side");
  CHECK(!fp.s[s].closed, "faults: after its last response the server lingers, reading, until the client closes");
  cl_eof(s);
  pump();
  CHECK(fp.s[s].closed, "faults: the lingering connection is closed when the client closes");

  s = one_request("GET /hello HTTP/1.0\r\n\r\n", 3, 2, &r, &got);
  CHECK(got == 1 && r.status == 200 && has_close(&r) && fp.s[s].shut, "faults: an HTTP/1.0 request is answered and closed");
  s = one_request("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 3, 2, &r, &got);
  CHECK(got == 1 && r.status == 200 && resp_hdr(&r, "connection", v, sizeof v) && strcmp(v, "keep-alive") == 0 &&
            !fp.s[s].shut,
        "faults: HTTP/1.0 with Connection: keep-alive stays open");

  s = one_request("POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                  4096, 4096, &r, &got);
  test_report(got == 1 && (r.status == 400 || (has_close(&r) && fp.s[s].shut)),
              "faults: an HTTP/1.0 request with Transfer-Encoding is refused or answered and closed (RFC 9112 6.1)",
              "status %d, Connection: close %d, server ended its side %d", r.status, has_close(&r), fp.s[s].shut);

  /* errors over the wire */
  s = one_request("BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 1, 1, &r, &got);
  CHECK(got == 1 && r.status == 501 && has_close(&r) && fp.s[s].shut, "faults: BREW is answered 501 and the connection closed");
  s = one_request("GET /a/../hello HTTP/1.1\r\nHost: t\r\n\r\n", 1, 1, &r, &got);
  CHECK(got == 1 && r.status == 400 && has_close(&r) && fp.s[s].shut, "faults: a dot segment is answered 400 and closed");
  s = one_request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 70000\r\n\r\n", 1, 1, &r, &got);
  CHECK(got == 1 && r.status == 413 && has_close(&r), "faults: a Content-Length over max_body (65536) is 413");
  s = one_request("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n", 1, 1, &r, &got);
  CHECK(got == 1 && r.status == 400 && has_close(&r), "faults: malformed chunked framing is 400");
  s = one_request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 5, 5,
                  &r, &got);
  CHECK(got == 1 && r.status == 400 && has_close(&r) && fp.s[s].out_rd == fp.s[s].out_len,
        "faults: Content-Length with Transfer-Encoding is one 400 and nothing else");
  s = one_request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: tea\r\n\r\nabc", 5, 5, &r, &got);
  CHECK(got == 1 && r.status == 417, "faults: an unknown Expect is 417");
  {
    char huge[12000];
    memset(huge, 'x', sizeof huge);
    memcpy(huge, "GET /hello HTTP/1.1\r\nHost: t\r\nX: ", 33);
    memcpy(huge + sizeof huge - 5, "\r\n\r\n", 5);
    s = one_request(huge, 1, 1, &r, &got);
    CHECK(got == 1 && r.status == 431 && has_close(&r), "faults: a 12000-byte head (read 1 byte at a time) is 431");
    memset(huge, 'x', sizeof huge);
    memcpy(huge, "GET /", 5);
    memcpy(huge + sizeof huge - 30, " HTTP/1.1\r\nHost: t\r\n\r\n", 23);
    huge[sizeof huge - 7] = '\0';
    s = one_request(huge, 64, 64, &r, &got);
    CHECK(got == 1 && r.status == 414, "faults: a 12000-byte request line is 414");
  }
  stop("basic exchanges");
}

/* ---- (b) pipelining and (c) chunked uploads -------------------------------------------- */
static void test_pipelined(void) {
  static const char all[] =
      "GET /u/a HTTP/1.1\r\nHost: t\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
      "GET /u/b HTTP/1.1\r\nHost: t\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n"
      "HEAD /u/c HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /u/d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  static const char *const want[] = {"user a", "hello", "user b", "abcde", "", "user d"};
  static const size_t splits[][2] = {{65536, 65536}, {1, 1}, {7, 3}, {13, 64}, {4096, 1}};
  size_t k;
  sn_mem_heap_reset(0, 0);
  if (!CHECK_INT(start(0, NULL), SN_OK, "faults: the server starts for pipelining")) return;
  for (k = 0; k < sizeof splits / sizeof splits[0]; k++) {
    int s, i, ok = 1, strict;
    char name[200], why[300] = "";
    for (strict = 0; strict <= 1; strict++) {
      fp.strict_wait = strict;
      fp.block_recv = strict;
      s = cl_new(splits[k][0], splits[k][1]);
      cl_write(s, all, sizeof all - 1);
      pump();
      for (i = 0; i < 6; i++) {
        resp r;
        int got = next_resp(s, &r, i == 4);
        if (got != 1 || r.status != 200 || !body_is(&r, want[i]) || (i == 5) != has_close(&r)) {
          ok = 0;
          snprintf(why, sizeof why, "%s wait: response %d: parse %d, status %d, body %s", strict ? "strict" : "all-ready", i,
                   got, r.status, test_show(r.body, r.body_len));
          break;
        }
      }
      if (ok && (fp.s[s].out_rd != fp.s[s].out_len || !fp.s[s].shut)) {
        ok = 0;
        snprintf(why, sizeof why, "extra bytes after the last response or not closed");
      }
      cl_eof(s);
      pump();
    }
    snprintf(name, sizeof name,
             "faults: six pipelined requests (GET, POST, chunked POST, HEAD, close) sent at once are answered in order (recv %zu, send %zu)",
             splits[k][0], splits[k][1]);
    test_report(ok, name, "%s", why);
  }
  fp.strict_wait = 0;
  fp.block_recv = 0;

  {
    /* 60 pipelined requests in one read (they fit the initial receive
       buffer), sends that never block, readiness only for real input: more
       work than one sn_poll call's budget, and nothing left to wake it */
    static char many[60 * 40];
    size_t o = 0;
    int i, s, n_ok = 0;
    for (i = 0; i < 60; i++) o += (size_t) sprintf(many + o, "GET /u/%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    fp.strict_wait = 1;
    fp.block_send = 0;
    s = cl_new(sizeof many, 65536);
    cl_write(s, many, o);
    pump();
    for (i = 0; i < 60; i++) {
      resp r;
      char want[32];
      snprintf(want, sizeof want, "user %d", i);
      if (next_resp(s, &r, 0) == 1 && r.status == 200 && body_is(&r, want)) n_ok++;
    }
    fp.strict_wait = 0;
    fp.block_send = 1;
    test_report(o <= SN_RX_INIT && n_ok == 60,
                "faults: 60 pipelined requests read at once are all answered in order, with strict readiness (no stall)",
                "%d of 60 answered (%zu bytes)", n_ok, o);
  }
  {
    /* a request and the client's half-close (FIN) right behind it */
    resp r;
    int s = cl_new(4096, 4096), got;
    cl_puts(s, GET_HELLO "GET /u/last HTTP/1.1\r\nHost: t\r\n\r\n");
    cl_eof(s);
    pump();
    got = next_resp(s, &r, 0);
    got = got == 1 && r.status == 200 && body_is(&r, "hello, world\n") && next_resp(s, &r, 0) == 1 && body_is(&r, "user last");
    CHECK(got && fp.s[s].closed, "faults: requests followed at once by the client's half-close are answered, then the connection closes");
    s = cl_new(4096, 4096);
    cl_puts(s, "GET /hello HTTP/1.1\r\nHost:");
    cl_eof(s);
    pump();
    CHECK(fp.s[s].closed && fp.s[s].out_len == 0, "faults: a half request followed by the client's half-close is closed without a response");
  }

  {
    static const char chunked[] =
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n";
    resp r;
    int got, s = cl_new(1, 1);
    char v[64];
    cl_write(s, chunked, sizeof chunked - 1);
    pump();
    got = next_resp(s, &r, 0);
    CHECK(got == 1 && r.status == 200 && body_is(&r, "hello, world") && resp_hdr(&r, "content-type", v, sizeof v) &&
              strcmp(v, "text/x-test") == 0,
          "faults: a chunked POST delivered byte by byte is echoed (extension and trailer dropped)");
    cl_puts(s, GET_HELLO);
    pump();
    got = next_resp(s, &r, 0);
    CHECK(got == 1 && r.status == 200 && body_is(&r, "hello, world\n"), "faults: the connection serves a GET after the chunked POST");
  }
  {
    /* 3000 bytes in chunks of 1 to 100 bytes, byte by byte: the receive buffer grows */
    static char req[8000], body[3001];
    size_t o, b = 0;
    resp r;
    int got, s = cl_new(1, 1), i = 0;
    o = (size_t) sprintf(req, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    while (b < 3000) {
      size_t n = 1 + (size_t) (i++ * 37) % 100, k;
      if (n > 3000 - b) n = 3000 - b;
      o += (size_t) sprintf(req + o, "%zx\r\n", n);
      for (k = 0; k < n; k++, b++) req[o++] = body[b] = (char) ('a' + (b % 26));
      o += (size_t) sprintf(req + o, "\r\n");
    }
    o += (size_t) sprintf(req + o, "0\r\n\r\n");
    cl_write(s, req, o);
    pump();
    got = next_resp(s, &r, 0);
    CHECK(got == 1 && r.status == 200 && r.body_len == 3000 && memcmp(r.body, body, 3000) == 0,
          "faults: a 3000-byte body in 58 chunks, delivered byte by byte, is echoed whole");
  }
  {
    /* a body of exactly max_body in chunks, then one byte more */
    sn_http_opts o;
    resp r;
    int got, s;
    stop("pipelining and chunked uploads");
    memset(&o, 0, sizeof o);
    o.max_body = 100;
    sn_mem_heap_reset(0, 0);
    if (start(0, &o) != SN_OK) return;
    s = one_request("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "32\r\n01234567890123456789012345678901234567890123456789\r\n"
                    "32\r\n01234567890123456789012345678901234567890123456789\r\n0\r\n\r\n",
                    3, 7, &r, &got);
    CHECK(got == 1 && r.status == 200 && r.body_len == 100, "faults: a chunked body of exactly max_body is accepted");
    s = one_request("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "32\r\n01234567890123456789012345678901234567890123456789\r\n"
                    "33\r\n012345678901234567890123456789012345678901234567890\r\n0\r\n\r\n",
                    3, 7, &r, &got);
    CHECK(got == 1 && r.status == 413 && has_close(&r) && fp.s[s].shut, "faults: a chunked body one byte over max_body is 413");
    stop("max_body");
  }
}

/* ---- (d) allocation failures ---------------------------------------------------------- */

/* Sends the echo of big_body and a GET /hello on s. */
static void cycle_requests(int s) {
  cl_puts(s, CYCLE_REQ_HEAD);
  cl_write(s, big_body, sizeof big_body);
  cl_puts(s, GET_HELLO);
}

/* Checks the responses on s: each one is right or a 5xx that ends the
   connection; no response at all only if the server closed. With
   must_succeed, both must be right. */
static int cycle_check(int s, int must_succeed, char *why, size_t why_len) {
  resp r;
  int i;
  for (i = 0; i < 2; i++) {
    int got = next_resp(s, &r, 0);
    if (got == 0 && !must_succeed && (fp.s[s].closed || fp.s[s].shut)) return 1;
    if (got != 1) {
      snprintf(why, why_len, "response %d: parse %d (closed %d, shut %d, %zu bytes)", i, got, fp.s[s].closed,
               fp.s[s].shut, fp.s[s].out_len);
      return 0;
    }
    if (r.status >= 500 && !must_succeed) {
      if (!fp.s[s].shut && !fp.s[s].closed && r.status != 500) {
        snprintf(why, why_len, "response %d: %d but the connection stays open", i, r.status);
        return 0;
      }
      if (r.status == 503) return 1;
      continue; /* a handler's 500 keeps the connection */
    }
    if (r.status != 200 || (i == 0 && (r.body_len != sizeof big_body || memcmp(r.body, big_body, sizeof big_body) != 0)) ||
        (i == 1 && !body_is(&r, "hello, world\n"))) {
      snprintf(why, why_len, "response %d: status %d, %zu body bytes", i, r.status, r.body_len);
      return 0;
    }
  }
  return 1;
}

/* One full cycle with the given failure: start, one connection's two
   requests, then (allocation working again) a second connection's. Returns
   1 if everything held; *calls gets the allocation calls made before the
   second connection. */
static int alloc_cycle(unsigned long fail_at, int rest, unsigned long *calls, char *why, size_t why_len) {
  int r, a, b, ok = 1;
  sn_mem_heap_reset(fail_at, rest);
  r = start(0, NULL);
  if (r != SN_OK) {
    if (r != SN_ERR_NOMEM) {
      snprintf(why, why_len, "start failed with %d (%s), not SN_ERR_NOMEM", r, sn_strerror(r));
      ok = 0;
    }
    if (rest) heap->fail_at = 0;
    if ((r = start(0, NULL)) != SN_OK) {
      snprintf(why, why_len, "start failed twice: %d", r);
      if (mgr) sn_mgr_destroy(mgr);
      mgr = NULL;
      fp_reset();
      return 0;
    }
  }
  a = cl_new(512, 700);
  cycle_requests(a);
  pump();
  if (!cycle_check(a, 0, why, why_len)) ok = 0;
  *calls = heap->calls;
  heap->fail_at = 0;
  b = cl_new(512, 700);
  cycle_requests(b);
  pump();
  if (ok) {
    char tmp[300] = "";
    if (!cycle_check(b, 1, tmp, sizeof tmp)) {
      ok = 0;
      snprintf(why, why_len, "the next connection: %s", tmp);
    }
  }
  cl_eof(a);
  cl_eof(b);
  pump();
  fp.now += 5000; /* past any linger */
  pump();
  sn_mgr_destroy(mgr);
  mgr = NULL;
  if (heap->live != 0) {
    snprintf(why, why_len, "%ld allocations leaked", heap->live);
    ok = 0;
  }
  if (fp.misuse) {
    snprintf(why, why_len, "socket misuse: %s", fp.misuse_what);
    ok = 0;
  }
  fp_reset();
  return ok;
}

static void test_alloc_failures(void) {
  unsigned long total = 0, n, calls;
  char why[300] = "", name[200];
  int ok, rest;
  ok = alloc_cycle(0, 0, &total, why, sizeof why);
  test_report(ok && total > 3, "faults: the reference request cycle (echo 5000 bytes, then a GET) succeeds", "%s (%lu allocations)",
              why, total);
  for (rest = 0; rest <= 1; rest++) {
    for (n = 1; n <= total; n++) {
      why[0] = '\0';
      ok = alloc_cycle(n, rest, &calls, why, sizeof why);
      snprintf(name, sizeof name,
               "faults: failing allocation %lu%s of %lu (%zu bytes) neither crashes nor leaks, and the next request is served", n,
               rest ? " and every later one" : "", total, heap->size[n - 1]);
      test_report(ok, name, "%s", why);
    }
  }
}

/* ---- (e) timeouts ------------------------------------------------------------------------ */
static void test_timeouts(void) {
  sn_http_opts o;
  sn_mgr_stats st;
  resp r;
  int s, got;
  memset(&o, 0, sizeof o);
  o.request_timeout_ms = 5000;
  o.idle_timeout_ms = 20000;
  sn_mem_heap_reset(0, 0);
  fp.now = 1000;
  if (start(0, &o) != SN_OK) return;

  s = cl_new(1, 1);
  cl_puts(s, "GET /hello HTTP/1.1\r\nHo");
  pump();
  fp.now = 5999;
  pump();
  CHECK(fp.s[s].out_len == 0 && !fp.s[s].shut, "faults: a half request gets nothing before request_timeout_ms");
  fp.now = 6000;
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 408 && has_close(&r) && fp.s[s].shut,
        "faults: a half request gets 408 and a close when request_timeout_ms passes");
  sn_mgr_stats_get(mgr, &st);
  CHECK_INT(st.timeouts, 1, "faults: the 408 counts as a timeout in the stats");
  cl_eof(s);
  pump();
  CHECK(fp.s[s].closed, "faults: the timed-out connection is closed when the client closes");

  /* a body that stops short */
  s = cl_new(64, 64);
  cl_puts(s, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
  pump();
  fp.now += 5000;
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 408, "faults: a body that stops short gets 408 after request_timeout_ms");

  /* a slow client trickling a byte a second is still cut at request_timeout_ms */
  {
    const char *req = GET_HELLO;
    int k, cut_at = -1;
    uint64_t t0 = fp.now;
    s = cl_new(1, 1);
    for (k = 0; req[k] != '\0' && k < 20; k++) {
      cl_write(s, req + k, 1);
      pump();
      if (fp.s[s].out_len > 0 && cut_at < 0) cut_at = k;
      fp.now += 1000;
    }
    pump();
    got = next_resp(s, &r, 0);
    CHECK(got == 1 && r.status == 408 && cut_at >= 5 && cut_at <= 6 && fp.now - t0 >= 5000,
          "faults: a request trickled one byte a second gets 408 request_timeout_ms after its first byte");
  }

  /* idle keep-alive */
  fp.now = 100000;
  s = cl_new(4096, 4096);
  cl_puts(s, GET_HELLO);
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 200 && !fp.s[s].shut, "faults: a keep-alive request is served and the connection kept");
  fp.now = 100000 + 19999;
  pump();
  CHECK(!fp.s[s].shut && !fp.s[s].closed, "faults: an idle keep-alive connection is kept until idle_timeout_ms");
  fp.now = 100000 + 20000;
  pump();
  CHECK(fp.s[s].shut && fp.s[s].out_rd == fp.s[s].out_len,
        "faults: an idle keep-alive connection is ended (no response) when idle_timeout_ms passes");
  fp.now += 2000;
  pump();
  CHECK(fp.s[s].closed, "faults: the idle-closed connection is released after the linger time even if the client never closes");
  sn_mgr_stats_get(mgr, &st);
  CHECK_INT(st.connections, 0, "faults: no connection is left after the timeouts");
  stop("timeouts");
}

/* ---- the port's errors and a slow handler ------------------------------------------ */
static void h_slow(sn_conn *c, const sn_request *req, void *u) {
  (void) req, (void) u;
  fp.now += 600; /* the handler takes 600 ms of the round (a flash write, a sensor) */
  sn_http_reply(c, 200, "Content-Type: text/plain\r\n", "slow\n", 5);
}

static void test_port_errors(void) {
  sn_http_opts o;
  resp r;
  int s, got;
  memset(&o, 0, sizeof o);
  o.idle_timeout_ms = 1000;
  sn_mem_heap_reset(0, 0);
  fp.now = 1000;
  if (start(0, &o) != SN_OK) return;

  /* a recv that fails (the port says SN_ERR_IO) ends the connection as an
     error: dropped at once, not read as the peer's orderly end (which would
     keep it lingering, unanswered) */
  s = cl_new(4096, 4096);
  fp.s[s].block_send = 0;
  pump();
  fp.fail_recv_at = fp.recvs + 1;
  cl_puts(s, GET_HELLO);
  pump();
  fp.fail_recv_at = 0;
  CHECK(fp.s[s].closed && fp.s[s].out_len == 0,
        "faults: a plain connection whose recv fails (SN_ERR_IO) is closed at once, without a reply");
  s = cl_new(4096, 4096);
  cl_puts(s, GET_HELLO);
  pump();
  got = next_resp(s, &r, 0);
  CHECK(got == 1 && r.status == 200, "faults: the next connection is served after a recv error");

  /* idle time counts from the end of the reply as the clock says then, not
     from the start of the poll round in which a slow handler ran */
  s = cl_new(4096, 4096);
  fp.s[s].block_send = 0;
  pump();
  {
    uint64_t t_req = fp.now;
    cl_puts(s, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    sn_poll(mgr, 0); /* one round: read, handler (+600 ms), reply sent */
    got = next_resp(s, &r, 0);
    CHECK(got == 1 && r.status == 200 && fp.now == t_req + 600, "faults: the slow handler answers in one round");
    fp.now = t_req + 1500; /* 900 ms after the reply: idle, but not for idle_timeout_ms */
    pump();
    CHECK(!fp.s[s].shut && !fp.s[s].closed,
          "faults: a connection idle 900 ms after a reply that took 600 ms is kept (idle timeout 1000 ms)");
    fp.now = t_req + 1600;
    pump();
    CHECK(fp.s[s].shut, "faults: ... and is ended idle_timeout_ms after its reply");
  }
  stop("port errors");
}

/* ---- (f) LRU eviction ----------------------------------------------------------------- */
static int served_hello(int s) {
  resp r;
  return next_resp(s, &r, 0) == 1 && r.status == 200 && body_is(&r, "hello, world\n");
}

static void test_lru(void) {
  sn_mgr_stats st;
  int a, b, c, d;
  sn_mem_heap_reset(0, 0);
  fp.now = 1000;
  if (start(2, NULL) != SN_OK) return;
  a = cl_new(4096, 4096);
  cl_puts(a, GET_HELLO);
  pump();
  fp.now = 2000;
  b = cl_new(4096, 4096);
  cl_puts(b, GET_HELLO);
  pump();
  fp.now = 3000;
  cl_puts(a, GET_HELLO); /* a is now the more recently used */
  pump();
  CHECK(served_hello(a) && served_hello(b) && served_hello(a), "faults: with max_conns 2, two keep-alive connections are served");
  fp.now = 4000;
  c = cl_new(4096, 4096);
  cl_puts(c, GET_HELLO);
  pump();
  sn_mgr_stats_get(mgr, &st);
  CHECK(fp.s[b].closed && !fp.s[a].closed && served_hello(c) && st.evicted == 1,
        "faults: a third connection evicts the least recently used idle connection (not the oldest)");
  stop("LRU eviction");

  sn_mem_heap_reset(0, 0);
  fp.now = 1000;
  if (start(2, NULL) != SN_OK) return;
  a = cl_new(4096, 4096);
  cl_puts(a, "GET /hello HTTP/1.1\r\nHo"); /* a is mid-request, and the oldest */
  pump();
  fp.now = 2000;
  b = cl_new(4096, 4096);
  cl_puts(b, GET_HELLO);
  pump();
  fp.now = 3000;
  c = cl_new(4096, 4096);
  cl_puts(c, "GET /hello HTTP/1.1\r\nHo");
  pump();
  CHECK(fp.s[b].closed && !fp.s[a].closed && !fp.s[c].pending,
        "faults: the idle connection is evicted rather than an older one mid-request");
  fp.now = 3500;
  d = cl_new(4096, 4096);
  cl_puts(d, GET_HELLO);
  pump();
  CHECK(fp.s[d].pending && !fp.s[a].closed && !fp.s[c].closed,
        "faults: with every connection mid-request a new one waits in the backlog and none is evicted");
  fp.now = 4000;
  cl_puts(a, "st: t\r\n\r\n");
  pump();
  CHECK(served_hello(a) && !fp.s[d].pending && served_hello(d) && fp.s[a].closed && !fp.s[c].closed,
        "faults: once a connection goes idle the waiting one is admitted in its place");
  cl_puts(c, "st: t\r\n\r\n");
  pump();
  CHECK(served_hello(c), "faults: the connection that stayed mid-request is served in the end");
  stop("LRU eviction, mid-request");

  /* a burst: three connections arrive together, before any has sent its request */
  sn_mem_heap_reset(0, 0);
  fp.now = 1000;
  if (start(2, NULL) != SN_OK) return;
  a = cl_new(4096, 4096);
  b = cl_new(4096, 4096);
  c = cl_new(4096, 4096);
  pump();
  fp.now = 1001;
  cl_puts(a, GET_HELLO);
  cl_puts(b, GET_HELLO);
  cl_puts(c, GET_HELLO);
  pump();
  {
    int sa = served_hello(a), sb = served_hello(b);
    test_report(sa && sb,
                "faults: with max_conns 2, connections accepted in a burst before their first request are not evicted for a later one",
                "first connection %s, second %s (evicted: %s)", sa ? "served" : "not served", sb ? "served" : "not served",
                fp.s[a].closed && fp.s[a].out_len == 0 ? "the first, closed without a response" : "?");
  }
  pump();
  CHECK(served_hello(c), "faults: the third connection of the burst is served once a slot frees");
  stop("LRU eviction, burst");

  /* one slot left, two connections arrive together: the one that does not
     fit must wait in the backlog ("when every connection is busy, new ones
     wait in the listen backlog"), not be accepted and closed */
  sn_mem_heap_reset(0, 0);
  fp.now = 1000;
  if (start(2, NULL) != SN_OK) return;
  a = cl_new(4096, 4096);
  cl_puts(a, "GET /hello HTTP/1.1\r\nHo"); /* busy: mid-request */
  pump();
  fp.now = 1001;
  b = cl_new(4096, 4096);
  c = cl_new(4096, 4096);
  pump();
  test_report(!fp.s[c].closed,
              "faults: with one slot left, a second connection arriving with the first waits in the backlog instead of being refused",
              "it was %s", fp.s[c].pending ? "left pending" : "accepted and closed at once");
  fp.now = 1002;
  cl_puts(a, "st: t\r\n\r\n");
  cl_puts(b, GET_HELLO);
  cl_puts(c, GET_HELLO);
  pump();
  CHECK(served_hello(a) && served_hello(b), "faults: the busy connection and the one admitted with the last slot are both served");
  stop("LRU eviction, last slot");
}

/* ---- (g) garbage ------------------------------------------------------------------------ */
static const char *const tokens[] = {"GET", "POST", "HEAD", " ", "/", "\r\n", "\r", "\n", ":", "HTTP/1.1", "HTTP/1.0", "Host",
                                     "Content-Length", "Transfer-Encoding", "chunked", "0", "5", "ffffffff", "%", "%00", "..",
                                     "?", "#", "\t", "\r\n\r\n", "Expect", "100-continue", "Connection", "close", ";", "-1"};

static size_t make_garbage(unsigned mode, char *buf, size_t cap) {
  size_t n = 0, len = 1 + test_rand_below(600);
  if (mode == 0) { /* raw random bytes */
    while (n < len && n < cap) buf[n++] = (char) test_rand_below(256);
  } else { /* HTTP-ish token soup */
    while (n < len) {
      const char *t = tokens[test_rand_below(sizeof tokens / sizeof tokens[0])];
      size_t k = strlen(t);
      if (test_rand_below(8) == 0) {
        if (n + 1 > cap) break;
        buf[n++] = (char) test_rand_below(256);
        continue;
      }
      if (n + k > cap) break;
      memcpy(buf + n, t, k);
      n += k;
    }
  }
  return n;
}

static const char *const valid_reqs[] = {
    GET_HELLO,
    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ("GET /u/x%20y?q=1 HTTP/1.1\r\nHost: t\r\nAccept: */*\r\n\r\n" GET_HELLO),
};

static void test_garbage(void) {
  static char buf[4096];
  int i, strict_ok = 1, mut_ok = 1, alive_ok = 1;
  char why[300] = "", why2[300] = "", why3[200] = "";
  unsigned long answered = 0, closed_only = 0;
  sn_mgr_stats st;
  sn_mem_heap_reset(0, 0);
  fp.now = 1000;
  test_srand(0xC0FFEE);
  if (start(0, NULL) != SN_OK) return;
  for (i = 0; i < 450; i++) {
    unsigned mode = (unsigned) i % 3;
    size_t n;
    int s;
    fp.block_recv = (int) test_rand_below(2);
    s = cl_new(1 + test_rand_below(64), 1 + test_rand_below(64));
    if (mode < 2) {
      n = make_garbage(mode, buf, sizeof buf);
    } else { /* a valid request with 1 to 4 random byte changes */
      const char *v = valid_reqs[test_rand_below(sizeof valid_reqs / sizeof valid_reqs[0])];
      int m, muts = 1 + (int) test_rand_below(4);
      n = strlen(v);
      memcpy(buf, v, n);
      for (m = 0; m < muts; m++) {
        size_t at = test_rand_below((unsigned) n);
        unsigned op = test_rand_below(3);
        if (op == 0) buf[at] = (char) test_rand_below(256);
        else if (op == 1 && n + 1 < sizeof buf) memmove(buf + at + 1, buf + at, n - at), buf[at] = (char) test_rand_below(256), n++;
        else if (n > 1) memmove(buf + at, buf + at + 1, n - at - 1), n--;
      }
    }
    cl_write(s, buf, n);
    pump();
    if (!fp.s[s].shut && !fp.s[s].closed) { /* waiting for more: let the request time out */
      fp.now += 10001;
      pump();
    }
    cl_eof(s);
    pump();
    fp.now += 2001;
    pump();
    if (mode < 2) {
      resp r;
      int got = next_resp(s, &r, 0), good;
      while (got == 1 && r.status < 200) got = next_resp(s, &r, 0); /* a 100 Continue may come first */
      good = fp.s[s].closed &&
                 ((fp.s[s].out_len == 0) || (got == 1 && r.status >= 400 && r.status <= 599 && fp.s[s].out_rd == fp.s[s].out_len));
      if (fp.s[s].out_len == 0) closed_only++;
      else answered++;
      if (!good && strict_ok) {
        strict_ok = 0;
        snprintf(why, sizeof why, "case %d (%s): closed %d, parse %d, status %d, out %s, in %s", i, mode ? "tokens" : "bytes",
                 fp.s[s].closed, got, r.status, test_show(fp.s[s].out, fp.s[s].out_len), test_show(buf, n));
      }
    } else {
      resp r;
      int got = 1, k = 0;
      while (got == 1 && fp.s[s].out_rd < fp.s[s].out_len && k++ < 8) got = next_resp(s, &r, 0);
      if ((got != 1 || !fp.s[s].closed || fp.s[s].out_rd != fp.s[s].out_len) && mut_ok) {
        mut_ok = 0;
        snprintf(why2, sizeof why2, "case %d: closed %d, last parse %d, out %s, in %s", i, fp.s[s].closed, got,
                 test_show(fp.s[s].out, fp.s[s].out_len), test_show(buf, n));
      }
    }
    if (i % 50 == 49) { /* the server still works */
      int ok, v = cl_new(4096, 4096);
      cl_puts(v, GET_HELLO);
      pump();
      ok = served_hello(v);
      cl_eof(v);
      pump();
      fp.now += 2001;
      pump();
      if (fp.s[v].closed) sn_mem_forget(&fp, v);
      if (!ok && alive_ok) {
        alive_ok = 0;
        snprintf(why3, sizeof why3, "after case %d", i);
      }
    }
    if (fp.s[s].closed) sn_mem_forget(&fp, s); /* recycle the slot */
  }
  fp.block_recv = 0;
  test_report(strict_ok, "faults: 300 garbage inputs (random bytes, HTTP-ish tokens) each get a 4xx/5xx or a close, never a crash",
              "%s", why);
  printf("# garbage: %lu answered with an error status, %lu closed without an answer\n", answered, closed_only);
  test_report(mut_ok, "faults: 150 randomly mutated valid requests get only well-formed responses and end closed", "%s", why2);
  test_report(alive_ok, "faults: a valid request is still served after every 50 garbage inputs", "%s", why3);
  sn_mgr_stats_get(mgr, &st);
  CHECK_INT(st.connections, 0, "faults: no connection is left over after the garbage");
  stop("garbage");
}

/* ---- peers that vanish ---------------------------------------------------------------------- */
static void test_vanishing(void) {
  int s, v;
  resp r;
  sn_mem_heap_reset(0, 0);
  if (start(0, NULL) != SN_OK) return;
  s = cl_new(4096, 10);
  cl_puts(s, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
  sn_poll(mgr, 0);
  sn_poll(mgr, 0);
  sn_poll(mgr, 0);
  sn_mem_peer_reset(&fp, s);
  pump();
  CHECK(fp.s[s].closed && fp.s[s].out_len < sizeof big_body, "faults: a client reset in the middle of a response closes the connection");
  s = cl_new(1, 1);
  cl_puts(s, "GET /hello HTTP/1.1\r\nHo");
  cl_eof(s);
  pump();
  CHECK(fp.s[s].closed && fp.s[s].out_len == 0, "faults: a client that ends mid-request is closed without a response");
  s = cl_new(1, 1);
  cl_puts(s, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc");
  pump();
  sn_mem_peer_reset(&fp, s);
  pump();
  CHECK(fp.s[s].closed, "faults: a client reset in the middle of a body closes the connection");
  v = cl_new(4096, 4096);
  cl_puts(v, GET_HELLO);
  pump();
  CHECK(next_resp(v, &r, 0) == 1 && r.status == 200, "faults: the server serves others after peers vanish");
  stop("vanishing peers");
}

/* ---- the redirecting listener ----------------------------------------------------------- */
static int start_redirect(void) {
  sn_http_opts o;
  memset(&o, 0, sizeof o);
  o.redirect_to_https = 8443;
  return start(0, &o);
}

/* Runs a long redirect in a child process: a stack overflow there must not
   take the rest of this test with it. The child exits 0 if the response was
   well-formed (301, or 4xx for what it refuses). */
static void redirect_child(void) {
  static char req[4096];
  size_t o = 0;
  int i, s, ok;
  resp r;
  sn_mem_heap_reset(0, 0);
  if (start_redirect() != SN_OK) _exit(3);
  o += (size_t) sprintf(req + o, "GET /");
  for (i = 0; i < 255; i++) o += (size_t) sprintf(req + o, "%%FF");
  o += (size_t) sprintf(req + o, " HTTP/1.1\r\nHost: ");
  for (i = 0; i < 255; i++) req[o++] = 'a';
  o += (size_t) sprintf(req + o, "\r\n\r\n");
  s = cl_new(4096, 4096);
  cl_write(s, req, o);
  pump();
  ok = next_resp(s, &r, 0) == 1 && (r.status == 301 || (r.status >= 400 && r.status < 500));
  if (!ok) printf("# redirect child: %s\n", test_show(fp.s[s].out, fp.s[s].out_len));
  fflush(stdout);
  sn_mgr_destroy(mgr);
  _exit(ok && heap->live == 0 ? 0 : 1);
}

static void test_redirect(void) {
  resp r;
  int s, got, status = 0;
  char v[2048];
  pid_t pid;
  sn_mem_heap_reset(0, 0);
  {
    sn_mgr_opts mo;
    sn_http_opts ho;
    memset(&mo, 0, sizeof mo);
    memset(&ho, 0, sizeof ho);
    mo.port = sn_mem_port(&fp);
    ho.port = 80;
    if (CHECK_INT(sn_mgr_create(&mgr, &mo), SN_OK, "faults: sn_mgr_create")) {
      CHECK_INT(sn_http_listen(mgr, &ho), SN_ERR_INVALID,
                "faults: sn_http_listen without a router and without redirect_to_https is SN_ERR_INVALID");
      stop("listen without a router");
    }
  }
  if (!CHECK_INT(start_redirect(), SN_OK, "faults: a redirecting plain listener starts without a router (NULL)")) return;
  s = one_request("POST /form?a=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\nabc", 4096, 4096, &r, &got);
  resp_hdr(&r, "location", v, sizeof v);
  test_report(got == 1 && r.status == 308 && strcmp(v, "https://example.com:8443/form?a=1") == 0,
              "faults: a redirecting listener answers a POST with 308 (method and body kept, RFC 9110 15.4.9)",
              "status %d, Location %s", r.status, v);
  s = one_request("OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n", 4096, 4096, &r, &got);
  CHECK(got == 1 && r.status == 400, "faults: a redirecting listener answers OPTIONS * with 400");
  s = one_request("GET /a%20b/c?x=1&y=%41 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", 1, 1, &r, &got);
  resp_hdr(&r, "location", v, sizeof v);
  test_report(got == 1 && r.status == 301 && strcmp(v, "https://example.com:8443/a%20b/c?x=1&y=%41") == 0,
              "faults: a redirecting listener answers 301 to https://host:port with the path re-encoded and the query kept",
              "status %d, Location %s", r.status, v);
  s = one_request("GET /x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 4096, 4096, &r, &got);
  resp_hdr(&r, "location", v, sizeof v);
  test_report(got == 1 && r.status == 301 && strcmp(v, "https://[::1]:8443/x") == 0,
              "faults: a redirect keeps a bracketed IPv6 host", "status %d, Location %s", r.status, v);
  s = one_request("GET /x HTTP/1.1\r\nHost: evil.com/\"><\r\n\r\n", 4096, 4096, &r, &got);
  CHECK(got == 1 && r.status == 400, "faults: a redirect refuses a Host with characters outside a host name (400)");
  (void) s;
  stop("redirect");

  fflush(stdout);
  pid = fork();
  if (pid == 0) redirect_child();
  if (pid > 0) waitpid(pid, &status, 0);
  test_report(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "faults: a redirect for a 255-byte Host and a 256-byte path of escapes is answered without memory corruption",
              "the child %s %d (build with -fsanitize=address for the report)",
              WIFSIGNALED(status) ? "died of signal" : "exited with", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* ---- (g2) heads that announce a body that does not come ------------------------------------ */
/* The receive buffer follows the bytes that arrived, not the Content-Length a
   head announced: 8 heads of 60000 bytes each (under max_body) with no body
   cost the sn_conn structs and SN_RX_INIT buffers, not 8 x 60000. */
static void test_big_content_length(void) {
  enum { N = 8 };
  static char body[20000];
  static const char head[] = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 60000\r\n\r\n";
  resp r;
  int socks[N], i, s, got;
  long base, held, bound = (long) (N * (sizeof(sn_conn) + SN_RX_INIT)) + 4096;
  sn_mem_heap_reset(0, 0);
  if (!CHECK_INT(start(0, NULL), SN_OK, "faults: the server starts (big Content-Length)")) return;
  base = heap->live_bytes;
  for (i = 0; i < N; i++) {
    socks[i] = cl_new(4096, 4096);
    cl_puts(socks[i], head);
  }
  pump();
  held = heap->live_bytes - base;
  test_report(held <= bound,
              "faults: 8 heads announcing 60000-byte bodies, none sent, hold at most 8 x (sn_conn + SN_RX_INIT) + 4 KiB",
              "%ld bytes held, bound %ld (about %ld per connection)", held, bound, held / N);
  s = one_request(GET_HELLO, 4096, 4096, &r, &got);
  CHECK(got == 1 && r.status == 200, "faults: a normal request is served while the 8 bodies are awaited");
  (void) s;
  memset(body, 'b', sizeof body);
  cl_write(socks[0], body, 3000);
  pump();
  held = heap->live_bytes - base;
  test_report(held <= bound + 2 * 3000 + 2048,
              "faults: 3000 body bytes on one of them grow its buffer by about what arrived (at most twice, plus its head)",
              "%ld bytes held, bound %ld", held, bound + 2 * 3000 + 2048);
  s = one_request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\n\r\n", 700, 4096, &r, &got);
  cl_write(s, body, sizeof body);
  pump();
  got = next_resp(s, &r, 0);
  test_report(got == 1 && r.status == 200 && r.body_len == sizeof body && memcmp(r.body, body, sizeof body) == 0,
              "faults: a 20000-byte body read 700 bytes per recv still arrives whole (echoed)", "got %d, status %d, %lu bytes",
              got, r.status, (unsigned long) r.body_len);
  stop("big Content-Length");
}

/* ---- (h) TLS over the same port ---------------------------------------------------------------- */
#if defined(MBEDTLS_X509_CRT_WRITE_C) && defined(MBEDTLS_PK_WRITE_C) && defined(MBEDTLS_ECP_C) && \
    defined(MBEDTLS_ECDSA_C) && defined(MBEDTLS_SSL_CLI_C) && defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED)
#define HAVE_TLS_TEST 1
static unsigned char cert_pem[4096], key_pem[4096];

/* Deterministic "entropy" for the test's own DRBG (certificate, client). */
static int det_entropy(void *ctx, unsigned char *buf, size_t len) {
  (void) ctx;
  return sn_mem_port(&fp)->entropy(&fp, buf, len);
}

/* A self-signed P-256 certificate for CN=localhost, made now. */
static int make_cert(void) {
  mbedtls_pk_context key;
  mbedtls_x509write_cert crt;
  mbedtls_ctr_drbg_context drbg;
  int ret;
  mbedtls_pk_init(&key);
  mbedtls_x509write_crt_init(&crt);
  mbedtls_ctr_drbg_init(&drbg);
  ret = mbedtls_ctr_drbg_seed(&drbg, det_entropy, NULL, (const unsigned char *) "cert", 4);
  if (ret == 0) ret = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (ret == 0)
    ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, &drbg);
  if (ret == 0) ret = mbedtls_pk_write_key_pem(&key, key_pem, sizeof key_pem);
  if (ret == 0) {
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key);
    ret = mbedtls_x509write_crt_set_subject_name(&crt, "CN=localhost");
  }
  if (ret == 0) ret = mbedtls_x509write_crt_set_issuer_name(&crt, "CN=localhost");
  if (ret == 0) ret = mbedtls_x509write_crt_set_validity(&crt, "20200101000000", "20991231235959");
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
  if (ret == 0) ret = mbedtls_x509write_crt_set_serial_raw(&crt, (unsigned char *) "\x01", 1);
#else
  if (ret == 0) {
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    ret = mbedtls_mpi_lset(&serial, 1);
    if (ret == 0) ret = mbedtls_x509write_crt_set_serial(&crt, &serial);
    mbedtls_mpi_free(&serial);
  }
#endif
  if (ret == 0) ret = mbedtls_x509write_crt_set_basic_constraints(&crt, 1, -1);
  if (ret == 0) ret = mbedtls_x509write_crt_pem(&crt, cert_pem, sizeof cert_pem, mbedtls_ctr_drbg_random, &drbg);
  mbedtls_x509write_crt_free(&crt);
  mbedtls_pk_free(&key);
  mbedtls_ctr_drbg_free(&drbg);
  return ret;
}

typedef struct tls_client {
  int s;
  mbedtls_ssl_context ssl;
  mbedtls_ssl_config conf;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca;
  unsigned char plain[16384];
  size_t plain_len, plain_rd;
} tls_client;

static int tc_send(void *ctx, const unsigned char *buf, size_t len) {
  tls_client *t = (tls_client *) ctx;
  if (fp.s[t->s].closed) return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  cl_write(t->s, buf, len);
  return (int) len;
}

static int tc_recv(void *ctx, unsigned char *buf, size_t len) {
  tls_client *t = (tls_client *) ctx;
  size_t n = sn_mem_peer_read(&fp, t->s, buf, len);
  if (n == 0) return fp.s[t->s].closed ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
  return (int) n;
}

static int tc_open(tls_client *t, size_t rchunk, size_t schunk) {
  int ret;
  memset(t, 0, sizeof *t);
  t->s = cl_new(rchunk, schunk);
  mbedtls_ssl_init(&t->ssl);
  mbedtls_ssl_config_init(&t->conf);
  mbedtls_ctr_drbg_init(&t->drbg);
  mbedtls_x509_crt_init(&t->ca);
  ret = mbedtls_ctr_drbg_seed(&t->drbg, det_entropy, NULL, (const unsigned char *) "client", 6);
  if (ret == 0) ret = mbedtls_x509_crt_parse(&t->ca, cert_pem, strlen((const char *) cert_pem) + 1);
  if (ret == 0)
    ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret == 0) {
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
    ret = mbedtls_ssl_setup(&t->ssl, &t->conf);
  }
  if (ret == 0) ret = mbedtls_ssl_set_hostname(&t->ssl, "localhost");
  if (ret == 0) mbedtls_ssl_set_bio(&t->ssl, t, tc_send, tc_recv, NULL);
  return ret;
}

static void tc_free(tls_client *t) {
  mbedtls_ssl_free(&t->ssl);
  mbedtls_ssl_config_free(&t->conf);
  mbedtls_ctr_drbg_free(&t->drbg);
  mbedtls_x509_crt_free(&t->ca);
}

/* Runs the client's handshake against the server. Returns its last code. */
static int tc_handshake(tls_client *t) {
  long i;
  int ret = MBEDTLS_ERR_SSL_WANT_READ;
  for (i = 0; i < 400000; i++) {
    ret = mbedtls_ssl_handshake(&t->ssl);
    if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) break;
    sn_poll(mgr, 0);
  }
  return ret;
}

/* Writes the request, then polls and reads until `want` responses have
   come or nothing moves. Returns the number of responses parsed into rs. */
static int tc_exchange(tls_client *t, const char *reqs, resp *rs, int want) {
  size_t len = strlen(reqs), off = 0;
  long i;
  int got = 0, idle = 0;
  while (off < len) {
    int ret = mbedtls_ssl_write(&t->ssl, (const unsigned char *) reqs + off, len - off);
    if (ret > 0) off += (size_t) ret;
    else if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) return -1;
    else sn_poll(mgr, 0);
  }
  for (i = 0; i < 400000 && got < want && idle < 50; i++) {
    unsigned long before = fp.activity;
    int ret;
    sn_poll(mgr, 0);
    ret = mbedtls_ssl_read(&t->ssl, t->plain + t->plain_len, sizeof t->plain - t->plain_len);
    if (ret > 0) t->plain_len += (size_t) ret;
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
    else if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) continue;
#endif
    else if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) break;
    while (got < want && parse_resp(t->plain, t->plain_len, &t->plain_rd, 0, 0, &rs[got]) == 1) got++;
    idle = (fp.activity == before && ret <= 0) ? idle + 1 : 0;
  }
  return got;
}

static int start_tls(const sn_http_opts *extra) {
  sn_tls_opts tls;
  sn_http_opts ho;
  sn_mgr_opts mo;
  int r;
  memset(&tls, 0, sizeof tls);
  tls.cert = cert_pem;
  tls.cert_len = strlen((const char *) cert_pem); /* without the NUL: securenet copies and terminates */
  tls.key = key_pem;
  tls.key_len = strlen((const char *) key_pem);
  memset(&mo, 0, sizeof mo);
  mo.port = sn_mem_port(&fp);
  mo.log = log_cb;
  mo.log_level = SN_LOG_DEBUG;
  mgr = NULL;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) return r;
  if (extra) ho = *extra;
  else memset(&ho, 0, sizeof ho);
  ho.port = 443;
  ho.router = &router;
  ho.tls = &tls;
  if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
    sn_mgr_destroy(mgr);
    mgr = NULL;
  }
  return r;
}

static void test_tls(void) {
  tls_client t;
  resp rs[2];
  int ret, n;
  sn_mgr_stats st;
  unsigned long total, k;
  fp.seed = 0x1234567887654321ull;
  if (!CHECK_INT(make_cert(), 0, "faults/tls: a self-signed P-256 certificate is made at run time")) return;
  sn_mem_heap_reset(0, 0);
  if (!CHECK_INT(start_tls(NULL), SN_OK, "faults/tls: a TLS listener starts from in-memory PEM without a NUL")) return;
  total = heap->calls;

  if (tc_open(&t, 1, 1) != 0) return;
  ret = tc_handshake(&t);
  test_report(ret == 0, "faults/tls: the handshake completes (verified, 1-byte server reads and writes, every other write blocked)",
              "mbedtls_ssl_handshake -0x%04x, server says: %s", (unsigned) -ret, last_log);
  if (ret == 0) {
    n = tc_exchange(&t, GET_HELLO "GET /tls HTTP/1.1\r\nHost: t\r\n\r\n", rs, 2);
    CHECK(n == 2 && rs[0].status == 200 && body_is(&rs[0], "hello, world\n") && rs[1].status == 200 &&
              rs[1].body_len >= 7 && memcmp(rs[1].body, "TLSv1.", 6) == 0,
          "faults/tls: two pipelined requests over TLS are answered in order, the handler sees the TLS version");
    ret = mbedtls_ssl_close_notify(&t.ssl);
    pump();
    CHECK(fp.s[t.s].shut, "faults/tls: the client's close_notify makes the server end its side");
    cl_eof(t.s);
    pump();
    CHECK(fp.s[t.s].closed, "faults/tls: the connection is closed when the client is gone");
  }
  tc_free(&t);

  /* the same with whole records: the server reads a large request in pieces of its buffer */
  if (tc_open(&t, 65536, 65536) == 0 && tc_handshake(&t) == 0) {
    static char req[8000];
    size_t o = (size_t) sprintf(req, "%s", CYCLE_REQ_HEAD);
    memcpy(req + o, big_body, sizeof big_body);
    strcpy(req + o + sizeof big_body, GET_HELLO);
    fp.strict_wait = 1;
    n = tc_exchange(&t, req, rs, 2);
    fp.strict_wait = 0;
    CHECK(n == 2 && rs[0].status == 200 && rs[0].body_len == sizeof big_body &&
              memcmp(rs[0].body, big_body, sizeof big_body) == 0 && body_is(&rs[1], "hello, world\n"),
          "faults/tls: a 5000-byte POST and a pipelined GET in one TLS write are answered (strict readiness)");
  } else {
    CHECK(0, "faults/tls: a 5000-byte POST and a pipelined GET in one TLS write are answered (strict readiness)");
  }
  tc_free(&t);

  /* Expect: 100-continue over TLS: the body arrives while "100 Continue" is
     still going out 1 byte per write, and the response is queued behind it */
  if (tc_open(&t, 4096, 1) == 0 && tc_handshake(&t) == 0) {
    int i, sent = 0;
    const char *head = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n";
    ret = mbedtls_ssl_write(&t.ssl, (const unsigned char *) head, strlen(head));
    for (i = 0; i < 6; i++) sn_poll(mgr, 0);
    sent = fp.s[t.s].out_len > 0;
    n = tc_exchange(&t, "hello world", rs, 2);
    CHECK(ret > 0 && sent && n == 2 && rs[0].status == 100 && rs[1].status == 200 && body_is(&rs[1], "hello world"),
          "faults/tls: 100 Continue half sent when the body arrives is finished, then the echo follows whole");
  } else {
    CHECK(0, "faults/tls: 100 Continue half sent when the body arrives is finished, then the echo follows whole");
  }
  tc_free(&t);

  /* garbage and silence on the TLS listener */
  {
    int g = cl_new(7, 7), q = cl_new(1, 1), i;
    for (i = 0; i < 300; i++) {
      unsigned char b = (unsigned char) test_rand_below(256);
      if (i == 0) b = 0x16; /* looks like a handshake record at first */
      cl_write(g, &b, 1);
    }
    pump();
    CHECK(fp.s[g].shut || fp.s[g].closed,
          "faults/tls: random bytes to the TLS listener end the connection (half-closed, then lingering)");
    fp.now += 5000; /* past the linger time */
    pump();
    CHECK(fp.s[g].closed, "faults/tls: after a failed handshake the lingering connection is closed in time");
    fp.now += 10000;
    pump();
    sn_mgr_stats_get(mgr, &st);
    CHECK(fp.s[q].closed && st.handshake_fails >= 2, "faults/tls: a silent client is dropped at the handshake timeout");
  }
  stop("TLS");

  /* every allocation securenet makes for a TLS listener and connection, failed in turn */
  {
    int ok_all = 1;
    char why[300] = "";
    tls_client t2;
    sn_mem_heap_reset(0, 0);
    if (start_tls(NULL) == SN_OK && tc_open(&t2, 512, 512) == 0) {
      tc_handshake(&t2);
      total = heap->calls;
      tc_free(&t2);
    }
    stop("TLS, allocation count");
    for (k = 1; k <= total; k++) {
      int r1, ok;
      sn_mem_heap_reset(k, 0);
      r1 = start_tls(NULL);
      if (r1 != SN_OK) {
        if (r1 != SN_ERR_NOMEM && ok_all) {
          ok_all = 0;
          snprintf(why, sizeof why, "allocation %lu: start gave %d (%s), not SN_ERR_NOMEM", k, r1, sn_strerror(r1));
        }
        r1 = start_tls(NULL);
      }
      if (r1 != SN_OK) {
        ok_all = 0;
        snprintf(why, sizeof why, "allocation %lu: the second start failed: %d", k, r1);
        fp_reset();
        continue;
      }
      ok = 0;
      if (tc_open(&t2, 512, 512) == 0) {
        ret = tc_handshake(&t2);
        tc_free(&t2);
      }
      heap->fail_at = 0;
      if (tc_open(&t2, 512, 512) == 0) {
        if (tc_handshake(&t2) == 0) ok = tc_exchange(&t2, GET_HELLO, rs, 1) == 1 && rs[0].status == 200;
        tc_free(&t2);
      }
      pump();
      fp.now += 20000;
      pump();
      sn_mgr_destroy(mgr);
      mgr = NULL;
      if ((!ok || heap->live != 0 || fp.misuse) && ok_all) {
        ok_all = 0;
        snprintf(why, sizeof why, "allocation %lu of %lu: next handshake and request %s, %ld leaked, misuse %s", k, total,
                 ok ? "ok" : "failed", heap->live, fp.misuse ? fp.misuse_what : "none");
      }
      fp_reset();
    }
    {
      char name[200];
      snprintf(name, sizeof name,
               "faults/tls: failing each of the %lu allocations of a TLS listener and handshake neither crashes nor leaks, and the next client is served",
               total);
      test_report(ok_all, name, "%s", why);
    }
  }
}

/* A record longer than the server's receive buffer: mbedTLS alone closes
   without an alert (curl: "empty reply"); securenet says why and sends
   record_overflow (issue 20). */
static void test_overflow(void) {
  static const unsigned char head[5] = {0x17, 0x03, 0x03, 0x7f, 0xff}; /* application data, 32767 bytes */
  static unsigned char junk[600];
  tls_client t;
  resp r;
  int ret = 0, i;
  sn_mem_heap_reset(0, 0);
  last_log[0] = '\0';
  if (!CHECK_INT(start_tls(NULL), SN_OK, "overflow: a TLS listener starts")) return;
  if (tc_open(&t, 4096, 4096) != 0 || tc_handshake(&t) != 0 || tc_exchange(&t, GET_HELLO, &r, 1) != 1) {
    CHECK(0, "overflow: a client is served first");
    tc_free(&t);
    stop("overflow");
    return;
  }
  for (i = 0; i < SN_MEM_MAX_SOCKS; i++) /* the alert goes out once, best effort: into a send buffer with room, as on a real socket */
    fp.s[i].block_send = 0;
  cl_write(t.s, head, sizeof head); /* past mbedTLS: a record header, then part of its body */
  cl_write(t.s, junk, sizeof junk);
  for (i = 0; i < 2000; i++) {
    unsigned char b[64];
    sn_poll(mgr, 0);
    ret = mbedtls_ssl_read(&t.ssl, b, sizeof b);
    if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) break;
  }
  test_report(ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE,
              "overflow: a record larger than MBEDTLS_SSL_IN_CONTENT_LEN gets a fatal alert (record_overflow), not a silent close",
              "the client's read: -0x%04x", (unsigned) -ret);
  test_report(strstr(warn_log, "record_overflow") != NULL, "overflow: ... and the server says why in its log at WARN", "last warning: %s", warn_log);
  tc_free(&t);
  stop("overflow");
}

#if SN_ENABLE_AUTH
/* ---- guards over TLS in memory (issue 18): the fake clock makes the
   throttle's waits exact ---------------------------------------------------- */
static sn_user g_users[3];
static sn_auth *g_auth;

static void h_who(sn_conn *c, const sn_request *req, void *u) {
  int how;
  const sn_user *who = sn_http_user(c, &how);
  (void) req, (void) u;
  sn_http_printf(c, 200, NULL, "%s %d %lu", who ? who->name : "-", how, (unsigned long) req->body.len);
}

static void g_user(sn_user *u, const char *name, const char *role, const char *pw) {
  memset(u, 0, sizeof *u);
  snprintf(u->name, sizeof u->name, "%s", name);
  snprintf(u->role, sizeof u->role, "%s", role);
  u->iterations = 1000;
  memset(u->salt, name[0], sizeof u->salt);
  sn_pbkdf2_sha256(pw, strlen(pw), u->salt, sizeof u->salt, u->iterations, u->hash, sizeof u->hash);
}

/* "GET /who" with Basic user:pw (NULL: none) and extra header lines. */
static void g_req(char *out, size_t cap, const char *method, const char *cred, const char *extra) {
  char b64[260] = "";
  size_t n = 0;
  if (cred != NULL) {
    unsigned char enc[200];
    mbedtls_base64_encode(enc, sizeof enc, &n, (const unsigned char *) cred, strlen(cred));
    snprintf(b64, sizeof b64, "Authorization: Basic %s\r\n", (const char *) enc);
  }
  snprintf(out, cap, "%s /who HTTP/1.1\r\nHost: t\r\n%s%s%s\r\n", method, b64, extra ? extra : "",
           strcmp(method, "POST") == 0 && (extra == NULL || strstr(extra, "Content-Length") == NULL) ? "Content-Length: 0\r\n" : "");
}

/* One TLS client's request: the number of responses that came (0 or 1). */
static int g_one(tls_client *t, const char *req, resp *r) {
  return tc_exchange(t, req, r, 1);
}

/* CHECK with the name formatted (the figures seen go into it) */
#define GCHECK(cond, ...)                                                     \
  do {                                                                        \
    char gname_[400];                                                         \
    int gok_ = !!(cond); /* first: the name shows what it read */             \
    snprintf(gname_, sizeof gname_, __VA_ARGS__);                             \
    test_report(gok_, gname_, "%s is false", #cond);                          \
  } while (0)

static void test_guard(void) {
  static const sn_guard api = {NULL, NULL, SN_GUARD_API};
  sn_guard g = api, viewer_only = api;
  sn_auth_opts ao;
  tls_client t, t2;
  resp r;
  char req[600], v[200] = "";
  int i, n;
  unsigned long mallocs;
  uint64_t t0;
  g_user(&g_users[0], "alice", "admin", "pw-alice");
  g_user(&g_users[1], "bob", "viewer", "pw-bob");
  g_user(&g_users[2], "carol", "viewer", "pw-carol");
  sn_mem_heap_reset(0, 0);
  fp.now = 1000000;
  if (!CHECK_INT(start_tls(NULL), SN_OK, "guard: a TLS listener starts")) return;
  memset(&ao, 0, sizeof ao);
  ao.users = g_users;
  ao.user_count = 3;
  if (!CHECK_INT(sn_auth_create(&g_auth, mgr, &ao), SN_OK, "guard: sn_auth_create takes two users")) return;
  g.auth = viewer_only.auth = g_auth;
  viewer_only.roles = "viewer";
  sn_router_add(&router, "GET", "/who", h_who, NULL);
  sn_router_add(&router, "POST", "/who", h_who, NULL);
  sn_router_add(&router, "GET", "/viewers", h_who, NULL);
  sn_route_guard(&router, "GET", "/viewers", &viewer_only);
  sn_router_add_login(&router, g_auth);
  sn_router_guard(&router, &g);
  if (tc_open(&t, 4096, 4096) != 0 || tc_handshake(&t) != 0) return;

  g_req(req, sizeof req, "GET", NULL, NULL);
  n = g_one(&t, req, &r);
  GCHECK(n == 1 && r.status == 401 && resp_hdr(&r, "www-authenticate", v, sizeof v) &&
            strcmp(v, "Basic realm=\"securenet\", charset=\"UTF-8\"") == 0,
        "guard: no credentials: 401 with WWW-Authenticate Basic (%d, %s)", r.status, v);
  g_req(req, sizeof req, "GET", "alice:pw-alice", NULL);
  n = g_one(&t, req, &r);
  GCHECK(n == 1 && r.status == 200 && body_is(&r, "alice 2 0"), "guard: Basic lets alice in, the handler sees her (%d %.*s)",
        r.status, (int) r.body_len, r.body);
  mallocs = heap->mallocs;
  n = g_one(&t, req, &r);
  GCHECK(n == 1 && r.status == 200 && heap->mallocs == mallocs,
        "guard: her next request (the Basic cache) allocates nothing (%lu allocations)", heap->mallocs - mallocs);
  n = g_one(&t, "GET /viewers HTTP/1.1\r\nHost: t\r\nAuthorization: Basic YWxpY2U6cHctYWxpY2U=\r\n\r\n", &r);
  GCHECK(n == 1 && r.status == 403, "guard: a role the route's list lacks: 403 (%d)", r.status);

  /* the global cap: 8 checks a second, whoever asks */
  t0 = fp.now;
  n = g_one(&t, "GET /who HTTP/1.1\r\nHost: t\r\nAuthorization: Basic Ym9iOnB3LWJvYg==\r\n\r\n", &r);
  fp.now = t0 + 124;
  n += tc_exchange(&t, "", &r, 1);
  GCHECK(n == 0, "guard: another user's check right after hers waits for the global cap's turn (none at 124 ms)");
  fp.now = t0 + 125;
  n = tc_exchange(&t, "", &r, 1);
  GCHECK(n == 1 && r.status == 200 && body_is(&r, "bob 2 0"), "guard: ... and is served at 125 ms (%d)", r.status);

  /* throttle: the n-th failure makes the next check wait 250 << (n - 1) ms */
  fp.now += 1000;
  g_req(req, sizeof req, "GET", "alice:wrong", NULL);
  n = g_one(&t, req, &r);
  GCHECK(n == 1 && r.status == 401 && resp_hdr(&r, "www-authenticate", v, sizeof v) && strncmp(v, "Basic ", 6) == 0,
         "guard: a wrong password: 401 with the challenge again (RFC 9110 11.6.1) (%d, %s)", r.status, v);
  for (i = 2; i <= 7; i++) {
    uint32_t wait = 250u << (i - 2);
    if (wait > 4000) wait = 4000;
    t0 = fp.now;
    n = g_one(&t, req, &r);
    fp.now = t0 + wait - 1;
    n += tc_exchange(&t, "", &r, 1);
    GCHECK(n == 0, "guard: failure %d waits for its turn: no answer %u ms after the failure before", i, wait - 1);
    fp.now = t0 + wait;
    n = tc_exchange(&t, "", &r, 1);
    GCHECK(n == 1 && r.status == 401, "guard: ... and is checked (401) at %u ms (%d)", wait, r.status);
  }
  fp.now += 4000;
  n = g_one(&t, req, &r);
  GCHECK(n == 1 && r.status == 401, "guard: the 8th failure (%d)", r.status);
  g_req(req, sizeof req, "GET", "alice:pw-alice", NULL);
  fp.now += 4000;
  n = g_one(&t, "GET /who HTTP/1.1\r\nHost: t\r\nAuthorization: Basic Y2Fyb2w6cHctY2Fyb2w=\r\n\r\n", &r);
  GCHECK(n == 1 && r.status == 429 && resp_hdr(&r, "retry-after", v, sizeof v) && atoi(v) > 800,
        "guard: after 8 failures the address is locked out: even a right password gets 429 with Retry-After (%d, %s)", r.status, v);
  n = g_one(&t, req, &r);
  GCHECK(n == 1 && r.status == 200 && body_is(&r, "alice 2 0"),
        "guard: credentials that passed before still pass from the cache (no check) (%d)", r.status);
  fp.now += 900 * 1000;
  n = g_one(&t, "GET /who HTTP/1.1\r\nHost: t\r\nAuthorization: Basic Ym9iOnB3LWJvYg==\r\n\r\n", &r);
  GCHECK(n == 1 && r.status == 200 && body_is(&r, "bob 2 0"), "guard: the lock-out ends after lockout_s (%d)", r.status);

  /* a held request with a body and Expect: 100-continue, then the client gone while held */
  fp.now += 1000; /* past the global cap's turn */
  g_req(req, sizeof req, "GET", "alice:wrong2", NULL);
  n = g_one(&t, req, &r);
  g_req(req, sizeof req, "POST", "carol:pw-carol", "Origin: https://t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n");
  n = tc_exchange(&t, req, &r, 1);
  GCHECK(n == 0, "guard: a held POST gets no 100 Continue before its check");
  fp.now += 250;
  n = tc_exchange(&t, "", &r, 1);
  GCHECK(n == 1 && r.status == 100, "guard: ... and 100 Continue once it passed (%d)", r.status);
  n = tc_exchange(&t, "abcde", &r, 1);
  GCHECK(n == 1 && r.status == 200 && body_is(&r, "carol 2 5"), "guard: ... then its body is read and served (%d %.*s)", r.status,
        (int) r.body_len, r.body);
  fp.now += 1000;
  g_req(req, sizeof req, "GET", "alice:wrong3", NULL);
  n = g_one(&t, req, &r);
  if (tc_open(&t2, 4096, 4096) == 0 && tc_handshake(&t2) == 0) {
    g_req(req, sizeof req, "GET", "alice:pw-alice-not", NULL);
    n = tc_exchange(&t2, req, &r, 1);
    sn_mem_peer_reset(&fp, t2.s);
    pump();
    fp.now += 10000;
    pump();
    GCHECK(n == 0, "guard: a client gone while its check waits: the check's turn passes without it");
    tc_free(&t2);
  }

  /* CSRF */
  fp.now += 10000;
  g_req(req, sizeof req, "POST", "bob:pw-bob", "Origin: https://evil.example\r\n");
  n = g_one(&t, req, &r);
  GCHECK(n == 1 && r.status == 403, "guard: a POST with another Origin: 403 whatever authenticates it (%d)", r.status);
  g_req(req, sizeof req, "POST", "bob:pw-bob", "Sec-Fetch-Site: same-site\r\n");
  n = g_one(&t, req, &r);
  GCHECK(n == 1 && r.status == 403, "guard: Sec-Fetch-Site: same-site: 403 (%d)", r.status);
  g_req(req, sizeof req, "POST", "bob:pw-bob", "Origin: HTTPS://T:443\r\nSec-Fetch-Site: same-origin\r\n");
  n = g_one(&t, req, &r);
  GCHECK(n == 1 && r.status == 200, "guard: the request's own origin (case and default port aside): served (%d)", r.status);

  /* sessions */
  n = g_one(&t, "POST /login HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                "Content-Length: 30\r\n\r\nuser=alice&password=pw-alice&x", &r);
  GCHECK(n == 1 && r.status == 303 && resp_hdr(&r, "set-cookie", v, sizeof v) && strlen(v) == 85 &&
            strstr(v, "; Secure; HttpOnly; SameSite=Strict; Path=/") != NULL,
        "guard: a form login: 303 with the session cookie (%d, %s)", r.status, v);
  {
    char cookie[80], get[300];
    snprintf(cookie, sizeof cookie, "Cookie: %.42s\r\n", v);
    snprintf(get, sizeof get, "GET /who HTTP/1.1\r\nHost: t\r\n%s\r\n", cookie);
    n = g_one(&t, get, &r);
    GCHECK(n == 1 && r.status == 200 && body_is(&r, "alice 1 0"), "guard: the cookie lets her in as a session (%d %.*s)", r.status,
          (int) r.body_len, r.body);
    g_req(req, sizeof req, "POST", NULL, cookie);
    n = g_one(&t, req, &r);
    GCHECK(n == 1 && r.status == 403, "guard: a session's POST without Origin or Sec-Fetch-Site: 403 (%d)", r.status);
    fp.now += 899 * 1000;
    n = g_one(&t, get, &r);
    GCHECK(n == 1 && r.status == 200, "guard: 899 s idle: still in (%d)", r.status);
    fp.now += 900 * 1000;
    n = g_one(&t, get, &r);
    GCHECK(n == 1 && r.status == 401, "guard: 900 s idle: the session is over (%d)", r.status);
  }
  CHECK_INT(sn_auth_sessions(g_auth), 0, "guard: no session is left");

  /* destroy with a held request: 503 */
  fp.now += 1000;
  g_req(req, sizeof req, "GET", "alice:wrong4", NULL);
  n = g_one(&t, req, &r);
  g_req(req, sizeof req, "GET", "alice:pw-alice", NULL);
  n = tc_exchange(&t, req, &r, 1);
  sn_auth_destroy(g_auth);
  g_auth = NULL;
  n += tc_exchange(&t, "", &r, 1);
  GCHECK(n == 1 && r.status == 503, "guard: sn_auth_destroy answers a held request 503 (%d)", r.status);
  tc_free(&t);
  sn_router_guard(&router, NULL);
  stop("guard");
}
#endif
#endif

int main(void) {
  verbose = getenv("TEST_VERBOSE") != NULL;
  heap = sn_mem_heap_get();
  sn_mem_init(&fp);
  fp_reset();
  fp.seed = 0x0123456789ABCDEFull;
  routes();
  test_basic();
  test_pipelined();
  test_alloc_failures();
  test_timeouts();
  test_port_errors();
  test_lru();
  test_garbage();
  test_vanishing();
  test_redirect();
  test_big_content_length();
#if defined(HAVE_TLS_TEST)
  test_tls();
  test_overflow();
#if SN_ENABLE_AUTH
  test_guard();
#endif
#else
  printf("# TLS case skipped: this mbedTLS build lacks certificate writing or P-256\n");
#endif
  test_report(heap->mallocs == heap->frees, "faults: over the whole run, every SN_MALLOC was matched by an SN_FREE",
              "%lu mallocs, %lu frees", heap->mallocs, heap->frees);
  return test_summary();
}
