/* fuzz_server.c - the whole server, fed arbitrary bytes on its connections.

   The real code path: sn_mgr, a plain-HTTP listener (sn_http_listen without
   TLS: the stream a TLS connection would decrypt goes straight into the HTTP
   layer), sn_poll, the demo's routes (examples/common/demo_app.h: static
   files with gzip and ETags, JSON status, parameters, echo, wildcard,
   streaming) and a few of this target's own that misbehave (no reply, two
   replies, a reply over max_reply, chunked echo, on_writable streaming).
   The in-memory port (securenet_port_mem.h) hands each connection's bytes
   out in pieces, takes what the server sends (in pieces, every other send
   refused, or not at all beyond 4 KiB: a client that stops reading), and
   moves the clock a scripted step per round, so timeouts fire too.
     byte 0  bit 0: the listener redirects to HTTPS; bit 1: small limits
             (head 512, URI 128, body 256, reply 1024); bit 2: every other
             send refused; bit 3: the client closes after its bytes; bit 4:
             the client stops reading after 4 KiB; bits 5-6: extra
             connections (0-3); bit 7: this target's own routes too
     byte 1  recv piece size (0: as much as asked)
     byte 2  send piece size (0: as much as given)
     byte 3  clock step per round, in units of 50 ms
     rest    the connections' bytes, separated by "~~NEXT~~"
   Checks: no port misuse (a hook on a closed socket, a second shutdown, a
   send of 0 bytes); what each connection received is a sequence of
   well-formed HTTP/1.1 responses (status line, header lines, a body framed
   by Content-Length or chunked, or ended by the close), the last one
   possibly cut; memory stays under a bound the limits and the bytes each
   client really sent imply (not what its Content-Length announced); every
   allocation is freed by sn_mgr_destroy (and ASan's leak check). */
/* every allocation counted by the in-memory port's allocator (its peak too) */
#define SN_MALLOC(n) sn_mem_malloc(n)
#define SN_FREE(p) sn_mem_free(p)
/* a small first receive buffer: requests of a few hundred bytes already take
   the growth path (and a buffer sized from a Content-Length shows at once) */
#define SN_RX_INIT 128
#define SECURENET_IMPLEMENTATION
#define FZ_WITH_PORT
#include "securenet_port_mem.h" /* first: it declares sn_mem_malloc, then includes securenet.h */
#include "fuzz_common.h"
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function" /* the demo's main() helpers */
#endif
#include "demo_app.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* ---- this target's own routes ---------------------------------------------------- */
static void r_noreply(sn_conn *c, const sn_request *req, void *user) { (void) c, (void) req, (void) user; }

static void r_twice(sn_conn *c, const sn_request *req, void *user) {
  (void) req, (void) user;
  FZ_CHECK(sn_http_reply(c, 200, NULL, "one", 3) == SN_OK, "first reply refused");
  FZ_CHECK(sn_http_reply(c, 200, NULL, "two", 3) == SN_ERR_STATE, "second reply not refused");
  FZ_CHECK(sn_http_chunked_begin(c, 200, NULL) == SN_ERR_STATE, "chunked after a reply not refused");
}

static void r_big(sn_conn *c, const sn_request *req, void *user) {
  static char big[70000];
  (void) req, (void) user;
  if (sn_http_reply(c, 200, NULL, big, sizeof big) != SN_OK) sn_http_error(c, 500);
}

static void r_chunks(sn_conn *c, const sn_request *req, void *user) { /* the body back, 7 bytes a chunk */
  size_t i;
  (void) user;
  if (sn_http_chunked_begin(c, 200, "Content-Type: application/octet-stream\r\n") != SN_OK) return;
  for (i = 0; i < req->body.len; i += 7)
    if (sn_http_chunk(c, req->body.ptr + i, req->body.len - i < 7 ? req->body.len - i : 7) != SN_OK) break;
  sn_http_chunkf(c, "%s", "");
  sn_http_chunked_end(c);
  FZ_CHECK(sn_http_chunk(c, "x", 1) == SN_ERR_STATE, "chunk after the end not refused");
}

static void more(sn_conn *c, void *arg) {
  unsigned *left = (unsigned *) sn_conn_scratch(c);
  (void) arg;
  if (*left == 0) {
    sn_http_chunked_end(c);
    return;
  }
  sn_http_chunkf(c, "%u\n", (*left)--);
}

static void r_writable(sn_conn *c, const sn_request *req, void *user) {
  char n[8];
  unsigned *left = (unsigned *) sn_conn_scratch(c);
  (void) user;
  *left = sn_http_query(req, "n", n, sizeof n) > 0 ? (unsigned) strtoul(n, NULL, 10) % 500 : 3;
  sn_http_chunked_begin(c, 200, NULL);
  sn_http_on_writable(c, more, NULL);
}

/* ---- checking what a client received ---------------------------------------------- */
static int starts(const char *p, const char *end, const char *lit) {
  size_t n = strlen(lit);
  return (size_t) (end - p) >= n && memcmp(p, lit, n) == 0;
}

/* Responses one after the other; the last may be cut short. */
static void check_responses(const char *p, size_t n, int conn) {
  const char *end = p + n;
  int count = 0;
  while (p < end) {
    const char *head_end, *q;
    long long clen = -1;
    int status, chunked = 0, dates = 0, allow_options = 0;
    count++;
    FZ_CHECK(starts(p, end, "HTTP/1.1 ") || (size_t) (end - p) < 9, "connection %d, response %d: not a status line: %.40s",
             conn, count, p);
    if ((size_t) (end - p) < 14) return; /* cut */
    FZ_CHECK(p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9' && p[11] >= '0' && p[11] <= '9' && p[12] == ' ',
             "connection %d: bad status %.13s", conn, p);
    status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    for (head_end = p; head_end + 4 <= end && memcmp(head_end, "\r\n\r\n", 4) != 0; head_end++) continue;
    if (head_end + 4 > end) return; /* cut inside the head */
    for (q = p; q < head_end; q++) {
      FZ_CHECK(*q != '\n' || q[-1] == '\r', "connection %d: bare LF in a response head", conn);
      FZ_CHECK(*q != '\r' || q[1] == '\n', "connection %d: bare CR in a response head", conn);
      FZ_CHECK(*q != '\0', "connection %d: NUL in a response head", conn);
      if (*q == '\n') {
        const char *l = q + 1;
        if (starts(l, head_end, "Content-Length: ")) {
          const char *d = l + 16;
          FZ_CHECK(clen < 0, "connection %d: two Content-Lengths", conn);
          clen = 0;
          while (d < head_end && *d >= '0' && *d <= '9') clen = clen * 10 + (*d++ - '0');
          FZ_CHECK(*d == '\r' && d > l + 16, "connection %d: bad Content-Length", conn);
        }
        if (starts(l, head_end, "Transfer-Encoding: chunked\r\n")) chunked = 1;
        /* RFC 9110 6.6.1: Date from the port's clock (sn_mem.wall) in IMF-fixdate, once */
        if (starts(l, head_end, "Date:")) {
          FZ_CHECK(starts(l, head_end, "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n"), "connection %d: bad Date: %.40s", conn, l);
          dates++;
        }
        if (starts(l, head_end, "Allow: ")) {
          const char *e = l + 7;
          while (e < head_end && *e != '\r') e++;
          allow_options = e - l >= 14 && memcmp(e - 7, "OPTIONS", 7) == 0;
        }
      }
    }
    FZ_CHECK(!(chunked && clen >= 0), "connection %d: Content-Length and chunked", conn);
    FZ_CHECK(status < 200 || dates == 1, "connection %d, response %d (%d): %d Date fields", conn, count, status, dates);
    FZ_CHECK(status != 405 || allow_options, "connection %d: a 405 whose Allow does not end in OPTIONS", conn);
    p = head_end + 4;
    if (status < 200 || status == 204 || status == 304) continue;
    if (chunked && (p == end || starts(p, end, "HTTP/1.1 "))) {
      continue; /* a HEAD response: the head of a chunked reply, no body */
    } else if (chunked) {
      for (;;) { /* size line, data, CRLF; 0 ends (no trailers from us) */
        unsigned long size = 0;
        const char *s = p;
        while (p < end && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
          size = size * 16 + (unsigned long) (*p <= '9' ? *p - '0' : *p - 'a' + 10);
          p++;
        }
        if (p + 2 > end) return;
        FZ_CHECK(p > s && p[0] == '\r' && p[1] == '\n', "connection %d: bad chunk size line", conn);
        p += 2;
        if (size == 0) {
          if (p + 2 > end) return;
          FZ_CHECK(p[0] == '\r' && p[1] == '\n', "connection %d: no CRLF after the last chunk", conn);
          p += 2;
          break;
        }
        if ((size_t) (end - p) < size + 2) return;
        p += size;
        FZ_CHECK(p[0] == '\r' && p[1] == '\n', "connection %d: chunk not followed by CRLF", conn);
        p += 2;
      }
    } else if (clen >= 0) {
      /* a HEAD response says the length and sends nothing */
      if ((size_t) (end - p) >= (size_t) clen && (p + clen == end || starts(p + clen, end, "HTTP/1.1 "))) p += clen;
      else if (p == end || starts(p, end, "HTTP/1.1 ")) continue;
      else return; /* cut short */
    } else {
      return; /* HTTP/1.0 streaming: the body ends with the connection */
    }
  }
}

/* ---- the target ------------------------------------------------------------------- */
static const uint8_t *find(const uint8_t *p, size_t n, const char *what, size_t wn) {
  size_t i;
  for (i = 0; i + wn <= n; i++)
    if (memcmp(p + i, what, wn) == 0) return p + i;
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char sep[] = "~~NEXT~~";
  fz_in in = {data, size};
  unsigned flags = fz_u8(&in), rpiece = fz_u8(&in), spiece = fz_u8(&in), step = fz_u8(&in);
  int nconn = 1 + (int) ((flags >> 5) & 3), socks[4], ns = 0, i, round;
  sn_mgr *mgr = NULL;
  sn_mgr_opts mo;
  sn_http_opts ho;
  sn_router router;
  size_t bound, rx_max, tx_max;
  sn_mem_heap_reset(0, 0); /* the peak from now */
  fz_port_start(step * 50);
  memset(&mo, 0, sizeof mo);
  mo.port = sn_mem_port(&fz_net);
  FZ_CHECK(sn_mgr_create(&mgr, &mo) == SN_OK, "sn_mgr_create");
  demo_routes(&router, mgr);
  if (flags & 128) {
    sn_router_add(&router, "GET", "/fz/noreply", r_noreply, NULL);
    sn_router_add(&router, "GET", "/fz/twice", r_twice, NULL);
    sn_router_add(&router, "GET", "/fz/big", r_big, NULL);
    sn_router_add(&router, "POST", "/fz/chunks", r_chunks, NULL);
    sn_router_add(&router, "GET", "/fz/writable", r_writable, NULL);
  }
  memset(&ho, 0, sizeof ho);
  ho.port = 80;
  ho.router = &router;
  ho.redirect_to_https = (flags & 1) ? 443 : 0;
  if (flags & 2) ho.max_header_bytes = 512, ho.max_uri_bytes = 128, ho.max_body = 256, ho.max_reply = 1024;
  FZ_CHECK(sn_http_listen(mgr, &ho) == SN_OK, "sn_http_listen");
  while (ns < nconn) { /* the connections, in the order they arrive */
    const uint8_t *cut = ns + 1 < nconn && in.n >= sizeof sep - 1
                             ? find(in.p, in.n, sep, sizeof sep - 1)
                             : NULL;
    size_t len = cut ? (size_t) (cut - in.p) : in.n, piece = rpiece;
    int s = sn_mem_peer_connect(&fz_net, 80);
    fz_script(s, in.p, len, &piece, rpiece ? 1 : 0, 1, (flags >> 3) & 1);
    fz_net.s[s].max_send = spiece; /* 0: as much as given */
    fz_net.s[s].block_send = (flags >> 2) & 1;
    fz_net.s[s].out_limit = (flags & 16) ? 4096 : (size_t) 1 << 20;
    socks[ns++] = s;
    if (!cut) break;
    in.p = cut + sizeof sep - 1;
    in.n -= len + sizeof sep - 1;
  }
  /* what the limits allow per connection: the receive buffer up to a head
     plus max_body plus slack, the send buffer up to max_reply plus slack */
  rx_max = (flags & 2 ? 512 : 8192) + (flags & 2 ? 256 : 65536) + 4096 + 2048;
  tx_max = (flags & 2 ? 1024 : 65536) + 1024 + 2048;
  for (round = 0; round < 200; round++) {
    int open = 0;
    sn_poll(mgr, 0);
    /* and what the client sent: the receive buffer follows the bytes that
       arrived (it doubles, and a grow briefly holds old and new: three times
       them), never what a head announces (Content-Length) */
    bound = sizeof(sn_mgr) + sizeof(sn__listener);
    for (i = 0; i < ns; i++) {
      size_t got = 3 * fz_net.s[socks[i]].in_off + SN_RX_INIT + 2048;
      /* + a streamed body's piece (taken once a read filled the buffer) and the demo upload's state */
      bound += sizeof(sn_conn) + (got < rx_max ? got : rx_max) + tx_max + SN_BODY_PIECE + 512;
    }
    FZ_CHECK((size_t) sn_mem_heap_get()->peak_bytes <= bound, "%ld bytes allocated at most, over the bound %zu",
             sn_mem_heap_get()->peak_bytes, bound);
    for (i = 0; i < mgr->nstreams; i++) { /* each buffer at most doubles what has arrived */
      const sn_conn *c = (const sn_conn *) mgr->streams[i]; /* only server connections here */
      size_t got = fz_net.s[c->st.io.sock].in_off;
      /* a streamed body takes its head plus SN_BODY_PIECE once a read filled the buffer */
      FZ_CHECK(c->st.rx.cap <= SN_RX_INIT || c->st.rx.cap <= 2 * got ||
                   (c->route != NULL && c->route->opts != NULL && c->route->opts->on_body != NULL &&
                    c->st.rx.cap <= c->head_len + SN_BODY_PIECE && got >= SN_RX_INIT / 2),
               "receive buffer of %zu bytes after %zu bytes received (Content-Length allocated up front?)",
               c->st.rx.cap, got);
    }
    for (i = 0; i < ns; i++) open += !fz_net.s[socks[i]].closed;
    if (open == 0) break;
  }
  sn_mgr_destroy(mgr);
  FZ_CHECK(fz_net.misuse == 0, "port misuse: %s", fz_net.misuse_what);
  FZ_CHECK(sn_mem_heap_get()->live == 0 && sn_mem_heap_get()->live_bytes == 0,
           "%ld allocations (%ld bytes) outlived sn_mgr_destroy", sn_mem_heap_get()->live, sn_mem_heap_get()->live_bytes);
  if (getenv("FUZZ_VERBOSE") != NULL)
    for (i = 0; i < ns; i++)
      fprintf(stderr, "== connection %d received %zu bytes:\n%.*s\n", i, fz_net.s[socks[i]].out_len,
              (int) (fz_net.s[socks[i]].out_len < 3000 ? fz_net.s[socks[i]].out_len : 3000),
              fz_net.s[socks[i]].out ? (const char *) fz_net.s[socks[i]].out : "");
  for (i = 0; i < ns; i++)
    check_responses(fz_net.s[socks[i]].out ? (const char *) fz_net.s[socks[i]].out : "", fz_net.s[socks[i]].out_len, i);
  fz_port_done();
  return 0;
}
