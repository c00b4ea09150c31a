/* fuzz_httpc.c - the HTTP client (sn_http_request) against a scripted,
   hostile HTTP server.

   The input is what the server says (status lines, header fields, bodies
   framed or not, interim responses, redirects), fed to a real request over
   the in-memory port: the head gatherer and parser, Transfer-Encoding and
   Content-Length framing, the chunked decoder, limits, keep-alive and the
   redirect decision are all on the path.
     byte 0   bit 0: HEAD; bit 1: a request body from memory; bit 2: a
              streamed body (body_source); bit 3: max_redirects 1 (the next
              connection is refused by the port); bit 4: max_body 100; bit 5:
              the server closes after its script; bit 6: max_header_bytes
              256; bit 7: a clock that moves 100 ms per round (timeouts)
     byte 1   number of split points (low 4 bits), then 16-bit offsets
   Oracle (no timeouts): the script fed whole and fed in pieces gives the
   same record (head, result, and the body when the result is a success).
   Invariants always: on_done exactly once, on_head at most once and before
   any body byte; a success had a head, and then (checked here on the
   headers the caller got, by a reference reading of RFC 9112 6) its
   Transfer-Encoding fields together are exactly "chunked" or absent, a
   Content-Length body (no chunked) has that length, a HEAD, 204 or 304 has
   no body, max_body holds; no CR or LF in a header name or value; the port
   is never misused; nothing leaks (ASan). */
#define SECURENET_IMPLEMENTATION
#define FZ_WITH_PORT
#include "securenet.h"
#include "fuzz_common.h"

typedef struct outcome {
  int heads, dones, err, status, body_before_head;
  int te_ok;                /* the reference reading of the Transfer-Encoding fields: only "chunked", once */
  int te_present, has_cl;
  long long cl;
  size_t body_len;
  fz_buf body; /* all of it: how it was cut into on_body calls is not compared */
  fz_buf *rec;
} outcome;

static int is_ows(char c) { return c == ' ' || c == '\t'; }

static int ieq(const char *a, const char *b, size_t n) { /* a[0..n) is b, in any case (ASCII) */
  size_t i;
  for (i = 0; i < n; i++)
    if ((a[i] | 0x20) != (b[i] | 0x20) || b[i] == '\0') return 0;
  return b[n] == '\0';
}

/* The reference: every Transfer-Encoding field's comma-separated items, all
   together, are exactly one "chunked" (any case). */
static void reference_te(outcome *o, const sn_http_response *r) {
  int i, chunked = 0, other = 0;
  for (i = 0; i < r->header_count; i++) {
    const sn_header *h = &r->headers[i];
    size_t k = 0;
    if (h->name.len != 17 || !ieq(h->name.ptr, "transfer-encoding", 17)) continue;
    o->te_present = 1;
    while (k < h->value.len) {
      size_t s, e;
      while (k < h->value.len && (is_ows(h->value.ptr[k]) || h->value.ptr[k] == ',')) k++;
      s = k;
      while (k < h->value.len && h->value.ptr[k] != ',') k++;
      e = k;
      while (e > s && is_ows(h->value.ptr[e - 1])) e--;
      if (e == s) continue;
      if (e - s == 7 && ieq(h->value.ptr + s, "chunked", 7)) chunked++;
      else other++;
    }
  }
  o->te_ok = chunked == 1 && other == 0;
}

static void on_head(void *user, const sn_http_response *r) {
  outcome *o = (outcome *) user;
  int i;
  o->heads++;
  o->status = r->status;
  reference_te(o, r);
  o->has_cl = r->content_length >= 0;
  o->cl = r->content_length;
  fz_printf(o->rec, "HEAD %d %d %d cl=%lld\n", r->version, r->status, r->header_count, (long long) r->content_length);
  for (i = 0; i < r->header_count; i++) {
    const sn_header *h = &r->headers[i];
    FZ_CHECK(memchr(h->name.ptr, '\r', h->name.len) == NULL && memchr(h->name.ptr, '\n', h->name.len) == NULL &&
                 memchr(h->value.ptr, '\r', h->value.len) == NULL && memchr(h->value.ptr, '\n', h->value.len) == NULL,
             "CR or LF in header %d handed to the caller", i);
    fz_field(o->rec, "name", h->name.ptr, h->name.len);
    fz_field(o->rec, "value", h->value.ptr, h->value.len);
  }
}

static void on_body(void *user, const void *data, size_t len) {
  outcome *o = (outcome *) user;
  if (o->heads == 0) o->body_before_head = 1;
  o->body_len += len;
  fz_put(&o->body, data, len);
}

static void on_done(void *user, int err, const char *why) {
  outcome *o = (outcome *) user;
  o->dones++;
  o->err = err;
  FZ_CHECK(why != NULL, "on_done without why");
  /* after an error the bytes handed over before it depend on how the stream was cut (a body
     streams): only a complete body is compared */
  if (err == SN_OK) fz_field(o->rec, "body", o->body.p ? o->body.p : "", o->body.len);
  fz_printf(o->rec, "DONE %d %s\n", err, why);
}

static int source_left;
static int body_source(void *arg, void *buf, size_t len) { /* 300 bytes, 70 at a time */
  size_t n = (size_t) source_left < 70 ? (size_t) source_left : 70;
  (void) arg;
  if (n > len) n = len;
  memset(buf, 'b', n);
  source_left -= (int) n;
  return (int) n;
}

static void run(unsigned flags, const uint8_t *script, size_t len, const size_t *pieces, int npieces, fz_buf *rec) {
  sn_mgr *mgr = NULL;
  sn_mgr_opts mo;
  sn_http_request_opts ro;
  outcome out;
  int s, round;
  memset(&mo, 0, sizeof mo);
  memset(&ro, 0, sizeof ro);
  memset(&out, 0, sizeof out);
  out.rec = rec;
  fz_port_start((flags & 128) ? 100 : 1);
  mo.port = sn_mem_port(&fz_net);
  FZ_CHECK(sn_mgr_create(&mgr, &mo) == SN_OK, "sn_mgr_create");
  s = sn_mem_peer_expect(&fz_net, NULL, 0); /* the server the request connects to */
  fz_script(s, script, len, pieces, npieces, 0, (flags >> 5) & 1);
  source_left = 300;
  ro.url = "http://fuzz.example:8080/path?q=1";
  ro.method = (flags & 1) ? "HEAD" : NULL;
  ro.headers = "Authorization: Basic eDp5\r\nCookie: a=b\r\nContent-Type: text/plain\r\n";
  if (flags & 2) ro.body = "a body", ro.body_len = 6;
  else if (flags & 4) ro.body_source = body_source;
  ro.max_redirects = (flags & 8) ? 1 : 0;
  ro.max_body = (flags & 16) ? 100 : 0;
  ro.max_header_bytes = (flags & 64) ? 256 : 0;
  ro.on_head = on_head;
  ro.on_body = on_body;
  ro.on_done = on_done;
  ro.user = &out;
  FZ_CHECK(sn_http_request(mgr, &ro) == SN_OK, "sn_http_request");
  for (round = 0; round < 3000 && out.dones == 0; round++) sn_poll(mgr, 0);
  sn_mgr_destroy(mgr);
  FZ_CHECK(fz_net.misuse == 0, "port misuse: %s", fz_net.misuse_what);
  FZ_CHECK(out.dones == 1, "on_done called %d times", out.dones);
  FZ_CHECK(out.heads <= 1, "on_head called %d times", out.heads);
  FZ_CHECK(!out.body_before_head, "body bytes before the head");
  if (out.err == SN_OK) {
    int bodiless = (flags & 1) || out.status == 204 || out.status == 304;
    FZ_CHECK(out.heads == 1, "success without a head");
    FZ_CHECK(out.status >= 200 && out.status <= 599, "success with status %d", out.status);
    FZ_CHECK(!out.te_present || out.te_ok || bodiless,
             "success with a Transfer-Encoding other than exactly \"chunked\": the body was handed over still coded");
    FZ_CHECK(!bodiless || out.body_len == 0, "a body of %zu bytes for HEAD, 204 or 304", out.body_len);
    FZ_CHECK(bodiless || out.te_present || !out.has_cl || (long long) out.body_len == out.cl,
             "Content-Length %lld but %zu body bytes", out.cl, out.body_len);
    FZ_CHECK(!(flags & 16) || out.body_len <= 100, "max_body 100 but %zu bytes", out.body_len);
  }
  fz_free(&out.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  unsigned flags = fz_u8(&in), ncuts = fz_u8(&in) & 15, i;
  size_t cuts[16], pieces[17];
  int npieces = 0;
  fz_buf whole, split;
  memset(&whole, 0, sizeof whole);
  memset(&split, 0, sizeof split);
  for (i = 0; i < ncuts; i++) cuts[i] = fz_u16(&in);
  npieces = fz_pieces(cuts, ncuts, in.n, pieces);
  run(flags, in.p, in.n, NULL, 0, &whole);
  if (getenv("FUZZ_VERBOSE") != NULL) fprintf(stderr, "%s\n", whole.p);
  if (!(flags & 128) && npieces > 0) {
    run(flags, in.p, in.n, pieces, npieces, &split);
    FZ_CHECK(whole.len == split.len && memcmp(whole.p, split.p, whole.len) == 0,
             "script fed whole (A) and in pieces (B): %s", fz_diff(&whole, &split));
  }
  fz_free(&whole);
  fz_free(&split);
  fz_port_done();
  return 0;
}
