/* fuzz_http_parser.c - the HTTP request parser and the chunked decoder.

   The input is a byte stream from a client: one request or several
   pipelined ones, with Content-Length or chunked bodies. The first bytes
   choose options:
     byte 0   bit 0: the stream is a chunked body alone (no head);
              bits 1-2: header/URI limits (default, small, tiny, large);
              bits 3-4: max_body (64 KiB, 16, 0 bytes, 1 MiB)
     byte 1   number of split points (low 4 bits)
     then     that many 16-bit split offsets (modulo the stream length)
   The stream is processed the way the server does it (sn_http_parse with
   its `scan` memory on a growing buffer, then the body framed by
   Content-Length or decoded in place by sn_chunked_decode, then the next
   pipelined request moved to the front), once fed whole and once fed in the
   pieces the split points make. Oracle: both runs produce the same record
   (every request's method, path, query, version, headers and body, and the
   fact that an error ended it; see strict_status). Invariants on every parsed request: the
   views lie inside the head, the method is a token, the path starts with
   '/' (or is "*" for OPTIONS) and holds no NUL and no dot segment, header
   names are tokens, values hold no CTL and are trimmed, the head ends in
   CRLF CRLF and respects the limits. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "fuzz_common.h"

/* Which error a malformed head gets may depend on how much of it had
   arrived (a bare LF seen in an incomplete head is refused at once; the
   complete head is checked field by field, version first): both are
   errors. FUZZ_STRICT_STATUS=1 in the environment compares the statuses
   too (see tests/fuzz/README.md, findings). */
static int strict_status = -1;

typedef struct px {
  const sn_http_limits *lim;
  uint64_t max_body;
  fz_buf rec;
} px;

static int in_view(const char *base, size_t len, sn_str s) {
  if (s.len == 0) return s.ptr == NULL || (s.ptr >= base && s.ptr <= base + len);
  return s.ptr >= base && s.ptr + s.len <= base + len;
}

static int is_tchar(int ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Invariants of one parsed request head buf[0..r). */
static void check_head(const char *buf, size_t len, int r, const sn_request *req, const sn_http_limits *lim) {
  size_t i, head = (size_t) r;
  int h;
  FZ_CHECK(head >= 4 && head <= len, "head length %d of %zu", r, len);
  FZ_CHECK(memcmp(buf + head - 4, "\r\n\r\n", 4) == 0, "head does not end in CRLF CRLF");
  FZ_CHECK(head <= lim->max_header_bytes, "head of %zu bytes over the limit %zu", head, lim->max_header_bytes);
  FZ_CHECK(in_view(buf, head, req->method) && req->method.len > 0, "method outside the head");
  for (i = 0; i < req->method.len; i++) FZ_CHECK(is_tchar((unsigned char) req->method.ptr[i]), "method not a token");
  FZ_CHECK(in_view(buf, head, req->path) && req->path.len > 0, "path outside the head");
  FZ_CHECK(in_view(buf, head, req->query), "query outside the head");
  FZ_CHECK(req->version == 10 || req->version == 11, "version %d", req->version);
  if (req->path.len == 1 && req->path.ptr[0] == '*') {
    FZ_CHECK(req->method.len == 7 && memcmp(req->method.ptr, "OPTIONS", 7) == 0, "'*' target without OPTIONS");
  } else {
    const char *p = req->path.ptr;
    size_t n = req->path.len;
    FZ_CHECK(p[0] == '/', "path does not start with '/'");
    FZ_CHECK(memchr(p, '\0', n) == NULL, "decoded path holds a NUL");
    for (i = 0; i < n; i++) {
      if (p[i] != '/') continue;
      /* a segment "." or ".." */
      if (i + 1 < n && p[i + 1] == '.' && (i + 2 == n || p[i + 2] == '/'))
        FZ_CHECK(0, "path holds a \"/.\" segment: %.*s", (int) n, p);
      if (i + 2 < n && p[i + 1] == '.' && p[i + 2] == '.' && (i + 3 == n || p[i + 3] == '/'))
        FZ_CHECK(0, "path holds a \"/..\" segment: %.*s", (int) n, p);
    }
  }
  FZ_CHECK(req->header_count >= 0 && req->header_count <= SN_MAX_HEADERS, "header_count %d", req->header_count);
  for (h = 0; h < req->header_count; h++) {
    sn_str nm = req->headers[h].name, v = req->headers[h].value;
    FZ_CHECK(in_view(buf, head, nm) && nm.len > 0, "header name outside the head");
    FZ_CHECK(in_view(buf, head, v), "header value outside the head");
    for (i = 0; i < nm.len; i++) FZ_CHECK(is_tchar((unsigned char) nm.ptr[i]), "header name not a token");
    for (i = 0; i < v.len; i++) {
      unsigned char ch = (unsigned char) v.ptr[i];
      FZ_CHECK(!((ch < 0x20 && ch != '\t') || ch == 0x7f), "CTL 0x%02x in a header value", ch);
    }
    if (v.len) FZ_CHECK(v.ptr[0] != ' ' && v.ptr[0] != '\t' && v.ptr[v.len - 1] != ' ' && v.ptr[v.len - 1] != '\t',
                        "header value not trimmed");
  }
}

static void record_head(fz_buf *b, const sn_request *req, int r) {
  int h;
  fz_printf(b, "HEAD %d v%d\n", r, req->version);
  fz_field(b, "method", req->method.ptr, req->method.len);
  fz_field(b, "path", req->path.ptr, req->path.len);
  fz_field(b, "query", req->query.ptr, req->query.len);
  for (h = 0; h < req->header_count; h++) {
    fz_field(b, "name", req->headers[h].name.ptr, req->headers[h].name.len);
    fz_field(b, "value", req->headers[h].value.ptr, req->headers[h].value.len);
  }
}

/* Runs the stream s[0..len) delivered in pieces ending at cuts[] (sorted),
   as the server would. */
static void run_stream(px *x, const uint8_t *s, size_t len, const size_t *cuts, int ncuts) {
  char *rx = (char *) malloc(len ? len : 1);
  size_t rx_len = 0, delivered = 0, scan = 0, head_len = 0, body_len = 0, dec_len = 0;
  int k = 0, in_body = 0, chunked = 0, stop = 0;
  sn_request req;
  sn_chunked ch;
  memset(&req, 0, sizeof req);
  memset(&ch, 0, sizeof ch);
  while (!stop && delivered < len) {
    size_t upto = len;
    while (k < ncuts && cuts[k] <= delivered) k++;
    if (k < ncuts) upto = cuts[k++];
    memcpy(rx + rx_len, s + delivered, upto - delivered);
    rx_len += upto - delivered;
    delivered = upto;
    for (;;) { /* what the buffered bytes allow */
      if (!in_body) {
        int r = sn_http_parse(rx, rx_len, &req, x->lim, &scan);
        if (r == 0) break;
        if (r < 0) {
          if (strict_status) fz_printf(&x->rec, "ERROR %d\n", r);
          else fz_puts(&x->rec, "ERROR\n");
          FZ_CHECK(r == -400 || r == -414 || r == -431 || r == -501 || r == -505 || r == -413,
                   "unexpected parser status %d", r);
          stop = 1;
          break;
        }
        check_head(rx, rx_len, r, &req, x->lim);
        record_head(&x->rec, &req, r);
        head_len = (size_t) r;
        {
          sn_str cl = sn_http_header(&req, "content-length"), te = sn_http_header(&req, "transfer-encoding");
          chunked = te.ptr != NULL;
          body_len = 0;
          if (cl.ptr != NULL) {
            size_t i;
            FZ_CHECK(!chunked, "Content-Length and Transfer-Encoding both accepted");
            FZ_CHECK(cl.len <= 18, "Content-Length of %zu digits accepted", cl.len);
            for (i = 0; i < cl.len; i++) body_len = body_len * 10 + (size_t) (cl.ptr[i] - '0');
            if (body_len > x->max_body) {
              fz_puts(&x->rec, "ERROR 413\n");
              stop = 1;
              break;
            }
          }
        }
        dec_len = 0;
        memset(&ch, 0, sizeof ch);
        in_body = 1;
      }
      {
        size_t body_end;
        if (chunked) {
          size_t start = head_len + dec_len, consumed = 0, produced = 0;
          int r;
          if (rx_len == start) break;
          r = sn_chunked_decode(&ch, rx + start, rx_len - start, rx + start, &consumed, &produced, x->max_body);
          FZ_CHECK(consumed <= rx_len - start && produced <= consumed, "consumed %zu produced %zu of %zu", consumed,
                   produced, rx_len - start);
          if (r < 0) {
            fz_printf(&x->rec, "CHUNK ERROR %d\n", r);
            stop = 1;
            break;
          }
          dec_len += produced;
          FZ_CHECK(dec_len <= x->max_body, "decoded %zu bytes over max_body", dec_len);
          if (r == 0) {
            FZ_CHECK(consumed == rx_len - start, "more input needed, but input left unread");
            rx_len = head_len + dec_len;
            break;
          }
          body_end = start + consumed;
          fz_field(&x->rec, "body", rx + head_len, dec_len);
        } else {
          if (rx_len < head_len + body_len) break;
          body_end = head_len + body_len;
          fz_field(&x->rec, "body", rx + head_len, body_len);
        }
        memmove(rx, rx + body_end, rx_len - body_end);
        rx_len -= body_end;
        in_body = 0;
        scan = 0;
      }
    }
  }
  /* A head that never completes and a head refused early are both "no
     request": a prefix may already be refused (a request line longer than
     any allowed target) while the whole stream, ending before its empty
     line, is still waiting for more. */
  if (!stop && !in_body && rx_len > 0) fz_puts(&x->rec, "ERROR\n");
  else if (!stop) fz_printf(&x->rec, "END in_body=%d pending=%zu\n", in_body, rx_len);
  free(rx);
}

/* The chunked decoder alone: whole against pieces, the pieces also going
   to a separate buffer (dst before src is allowed; here dst is apart). */
static void run_chunked(fz_buf *rec, const uint8_t *s, size_t len, const size_t *cuts, int ncuts, uint64_t max_body) {
  char *src = (char *) malloc(len ? len : 1), *dst = (char *) malloc(len ? len : 1);
  size_t off = 0, out = 0;
  int k = 0, r = 0;
  sn_chunked st;
  memset(&st, 0, sizeof st);
  memcpy(src, s, len);
  while (off < len && r == 0) {
    size_t upto = len, consumed = 0, produced = 0;
    while (k < ncuts && cuts[k] <= off) k++;
    if (k < ncuts) upto = cuts[k++];
    r = sn_chunked_decode(&st, src + off, upto - off, dst + out, &consumed, &produced, max_body);
    FZ_CHECK(consumed <= upto - off && produced <= consumed, "consumed %zu produced %zu", consumed, produced);
    FZ_CHECK(r != 0 || consumed == upto - off, "needs more but left input");
    off += consumed;
    out += produced;
    FZ_CHECK(out <= max_body, "decoded past max_body");
  }
  fz_printf(rec, "r=%d off=%zu state=%d\n", r, off, r == 0 ? st.state : -1);
  fz_field(rec, "out", dst, out);
  free(src);
  free(dst);
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *) a, y = *(const size_t *) b;
  return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t heads[4][2] = {{0, 0}, {256, 64}, {40, 8}, {65536, 16384}};
  static const uint64_t bodies[4] = {65536, 16, 0, 1 << 20};
  fz_in in = {data, size};
  unsigned flags = fz_u8(&in), ncuts = fz_u8(&in) & 15, i;
  size_t cuts[16];
  sn_http_limits lim;
  px whole, split;
  if (strict_status < 0) strict_status = getenv("FUZZ_STRICT_STATUS") != NULL && atoi(getenv("FUZZ_STRICT_STATUS")) > 0;
  for (i = 0; i < ncuts; i++) cuts[i] = fz_u16(&in);
  for (i = 0; i < ncuts; i++) cuts[i] = in.n ? cuts[i] % in.n : 0;
  qsort(cuts, ncuts, sizeof cuts[0], cmp_size);
  lim.max_header_bytes = heads[(flags >> 1) & 3][0] ? heads[(flags >> 1) & 3][0] : 8192;
  lim.max_uri_bytes = heads[(flags >> 1) & 3][1] ? heads[(flags >> 1) & 3][1] : 2048;
  memset(&whole, 0, sizeof whole);
  memset(&split, 0, sizeof split);
  whole.lim = split.lim = &lim;
  whole.max_body = split.max_body = bodies[(flags >> 3) & 3];
  if (flags & 1) {
    run_chunked(&whole.rec, in.p, in.n, NULL, 0, whole.max_body);
    run_chunked(&split.rec, in.p, in.n, cuts, (int) ncuts, whole.max_body);
  } else {
    run_stream(&whole, in.p, in.n, NULL, 0);
    run_stream(&split, in.p, in.n, cuts, (int) ncuts);
  }
  FZ_CHECK(whole.rec.len == split.rec.len && memcmp(whole.rec.p, split.rec.p, whole.rec.len) == 0,
           "fed whole (A) and in %u pieces (B): %s", ncuts + 1, fz_diff(&whole.rec, &split.rec));
  fz_free(&whole.rec);
  fz_free(&split.rec);
  return 0;
}
