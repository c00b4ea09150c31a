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
   CRLF CRLF and respects the limits. Reference checks (written apart from
   the library's code, RFC 9110 / 9112 / 3986): the method is one the server
   implements; the raw request-target is visible ASCII; every Host is a
   uri-host [":" port] and HTTP/1.1 has exactly one; a Content-Length fits in
   64 bits; a Transfer-Encoding is exactly "chunked"; a chunked body the
   decoder accepts (and one it refuses) is judged the same way by a small
   reference decoder of RFC 9112 7.1, chunk extensions included. */
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

/* ---- reference rules, independent of securenet.h's code ---------------------------- */
static int ref_hex(int ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'); }
static int ref_digit(int ch) { return ch >= '0' && ch <= '9'; }

/* dec-octet "." dec-octet "." dec-octet "." dec-octet */
static int ref_ipv4(const char *p, size_t n) {
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    size_t s = i;
    int v = 0;
    while (i < n && ref_digit((unsigned char) p[i]) && i - s < 4) v = v * 10 + (p[i++] - '0');
    if (i == s || i - s > 3 || v > 255 || (i - s > 1 && p[s] == '0')) return 0;
    if (++parts < 4) {
      if (i >= n || p[i] != '.') return 0;
      i++;
    }
  }
  return i == n;
}

/* h16 fields on each side of at most one "::"; an IPv4 tail counts two. */
static int ref_ipv6(const char *p, size_t n) {
  const char *dc = NULL;
  size_t i, side;
  int fields = 0;
  for (i = 0; i + 1 < n; i++)
    if (p[i] == ':' && p[i + 1] == ':') {
      if (dc != NULL) return 0;
      dc = p + i;
      i++;
    }
  for (side = 0; side < 2 && (side == 0 || dc != NULL); side++) { /* no "dc + 2" on NULL (UBSan) */
    const char *a = side == 0 ? p : dc + 2, *e = side == 0 ? (dc ? dc : p + n) : p + n;
    if (a == e) continue;
    for (;;) {
      const char *f = a;
      while (f < e && *f != ':') f++;
      if (f == e && memchr(a, '.', (size_t) (e - a)) != NULL && (side == 1 || dc == NULL)) {
        if (!ref_ipv4(a, (size_t) (e - a))) return 0;
        fields += 2;
        break;
      }
      if (f == a || f - a > 4) return 0;
      for (; a < f; a++)
        if (!ref_hex((unsigned char) *a)) return 0;
      fields++;
      if (f == e) break;
      a = f + 1;
      if (a == e) return 0;
    }
  }
  return dc ? fields <= 7 : fields == 8;
}

static int ref_regname_char(int ch) { /* unreserved, sub-delims but ',' (a host list) */
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ref_digit(ch) || (ch != 0 && strchr("-._~!$&'()*+;=", ch));
}

/* Host = uri-host [ ":" port ], not empty (RFC 9110 7.2, RFC 3986 3.2.2-3). */
static int ref_host(const char *p, size_t n) {
  size_t i = 0, hostlen;
  if (n == 0) return 0;
  if (p[0] == '[') {
    const char *rb = (const char *) memchr(p, ']', n);
    if (rb == NULL) return 0;
    hostlen = (size_t) (rb - p) + 1;
    if (hostlen > 2 && (p[1] == 'v' || p[1] == 'V')) { /* IPvFuture */
      size_t k = 2, h = 0;
      while (k < hostlen - 1 && ref_hex((unsigned char) p[k])) k++, h++;
      if (h == 0 || k >= hostlen - 1 || p[k] != '.' || k + 1 == hostlen - 1) return 0;
      for (k++; k < hostlen - 1; k++)
        if (!ref_regname_char((unsigned char) p[k]) && p[k] != ':' && p[k] != ',') return 0;
    } else if (!ref_ipv6(p + 1, hostlen - 2)) {
      return 0;
    }
  } else {
    while (i < n && p[i] != ':') {
      if (p[i] == '%') {
        if (n - i < 3 || !ref_hex((unsigned char) p[i + 1]) || !ref_hex((unsigned char) p[i + 2])) return 0;
        i += 3;
      } else if (ref_regname_char((unsigned char) p[i])) {
        i++;
      } else {
        return 0;
      }
    }
    hostlen = i;
    if (hostlen == 0) return 0;
  }
  if (hostlen == n) return 1;
  if (p[hostlen] != ':') return 0;
  for (i = hostlen + 1; i < n; i++)
    if (!ref_digit((unsigned char) p[i])) return 0;
  return 1;
}

/* CRLF at s[i]: 1, 0 when it needs more bytes, -1 when it is not one. */
static int ref_crlf(const uint8_t *s, size_t n, size_t i) {
  if (i < n && s[i] != '\r') return -1;
  if (i + 1 >= n) return 0;
  return s[i + 1] == '\n' ? 1 : -1;
}

/* RFC 9112 7.1 over s[0..n): 1 and *used when a whole chunked body is there
   and well-formed, 0 when it needs more, -1 when malformed, -2 when near or
   over the decoder's documented bounds (15 hex digits, a size line of 256
   bytes, a trailer line of 4096, max_body), where either verdict is right. */
static int ref_chunked(const uint8_t *s, size_t n, uint64_t max_body, size_t *used) {
  size_t i = 0, line = 0;
  uint64_t total = 0;
  int c;
#define REF_END(pos, v) return ((pos) - line > 240 ? -2 : (v))
  for (;;) { /* chunk-size [ chunk-ext ] CRLF */
    size_t digits = 0;
    uint64_t size = 0;
    line = i;
    while (i < n && ref_hex(s[i])) {
      if (++digits > 15) return -2;
      size = size * 16 + (uint64_t) (ref_digit(s[i]) ? s[i] - '0' : (s[i] | 32) - 'a' + 10);
      i++;
    }
    if (i == n) return 0;
    if (digits == 0) return -1;
    for (;;) { /* *( BWS ";" BWS name [ BWS "=" BWS value ] ) */
      size_t k = i;
      while (k < n && (s[k] == ' ' || s[k] == '\t')) k++;
      if (k == n) REF_END(k, 0);
      if (s[k] != ';') break; /* no BWS before the CRLF: the CRLF check below refuses it */
      for (i = k + 1; i < n && (s[i] == ' ' || s[i] == '\t'); i++) continue;
      for (k = i; i < n && is_tchar(s[i]); i++) continue;
      if (i == n) REF_END(i, 0);
      if (i == k) REF_END(i, -1);
      for (k = i; k < n && (s[k] == ' ' || s[k] == '\t'); k++) continue;
      if (k == n) REF_END(k, 0);
      if (s[k] != '=') continue;
      for (i = k + 1; i < n && (s[i] == ' ' || s[i] == '\t'); i++) continue;
      if (i == n) REF_END(i, 0);
      if (s[i] == '"') {
        for (i++; i < n && s[i] != '"'; i++) {
          if (s[i] == '\\') i++;
          if (i < n && ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)) REF_END(i, -1);
        }
        if (i >= n) REF_END(n, 0);
        i++;
      } else {
        for (k = i; i < n && is_tchar(s[i]); i++) continue;
        if (i == n) REF_END(i, 0);
        if (i == k) REF_END(i, -1);
      }
    }
    if ((c = ref_crlf(s, n, i)) != 1) REF_END(i, c);
    if (i - line > 240) return -2;
    i += 2;
    if (size == 0) break;
    if (total + size > max_body) return -2;
    total += size;
    if (n - i < size) return 0;
    i += (size_t) size;
    if ((c = ref_crlf(s, n, i)) != 1) return c;
    i += 2;
  }
#undef REF_END
  for (;;) { /* trailer lines: any bytes but CR and LF, then CRLF; an empty line ends */
    line = i;
    while (i < n && s[i] != '\r' && s[i] != '\n') i++;
    if (i - line > 4000) return -2;
    if ((c = ref_crlf(s, n, i)) != 1) return c;
    i += 2;
    if (i - 2 == line) break;
  }
  *used = i;
  return 1;
}

static int ref_ieq(const char *p, size_t n, const char *lit) {
  size_t i;
  if (strlen(lit) != n) return 0;
  for (i = 0; i < n; i++)
    if ((p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]) != lit[i]) return 0;
  return 1;
}

/* Invariants of one parsed request head buf[0..r); raw[] holds the bytes as
   they were before the parse (the path is decoded in place). */
static void check_head(const char *buf, size_t len, int r, const sn_request *req, const sn_http_limits *lim,
                       const char *raw) {
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
  { /* the method is one the server implements (RFC 9112 3: 501 for others) */
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    int found = 0;
    for (i = 0; i < sizeof known / sizeof known[0]; i++)
      found |= req->method.len == strlen(known[i]) && memcmp(req->method.ptr, known[i], req->method.len) == 0;
    FZ_CHECK(found, "unknown method %.*s accepted", (int) req->method.len, req->method.ptr);
  }
  { /* the raw request-target: visible ASCII only (RFC 9112 3.2, RFC 3986 2) */
    const char *t = raw + (req->method.ptr - buf) + req->method.len + 1, *e = (const char *) memchr(t, ' ', head - (size_t) (t - raw));
    FZ_CHECK(raw[t - raw - 1] == ' ' && e != NULL, "no request-target");
    for (; t < e; t++)
      FZ_CHECK((unsigned char) *t > 0x20 && (unsigned char) *t < 0x7f, "byte 0x%02x in an accepted request-target",
               (unsigned char) *t);
  }
  {
    int hosts = 0;
    for (h = 0; h < req->header_count; h++) {
      sn_str nm = req->headers[h].name, v = req->headers[h].value;
      if (ref_ieq(nm.ptr, nm.len, "host")) {
        hosts++;
        FZ_CHECK(ref_host(v.ptr, v.len), "accepted Host is no uri-host[:port]: \"%.*s\"", (int) v.len, v.ptr);
      }
      if (ref_ieq(nm.ptr, nm.len, "content-length")) {
        uint64_t x = 0;
        size_t k;
        for (k = 0; k < v.len; k++) {
          FZ_CHECK(ref_digit((unsigned char) v.ptr[k]) && x <= (UINT64_MAX - (uint64_t) (v.ptr[k] - '0')) / 10,
                   "accepted Content-Length is no 64-bit length: %.*s", (int) v.len, v.ptr);
          x = x * 10 + (uint64_t) (v.ptr[k] - '0');
        }
      }
      if (ref_ieq(nm.ptr, nm.len, "transfer-encoding")) {
        /* the list's elements (empty ones ignored, RFC 9110 5.6.1): "chunked" alone */
        size_t k = 0, items = 0, ok = 1;
        while (k <= v.len) {
          size_t a = k, e;
          while (k < v.len && v.ptr[k] != ',') k++;
          for (e = k; a < e && (v.ptr[a] == ' ' || v.ptr[a] == '\t'); a++) continue;
          while (e > a && (v.ptr[e - 1] == ' ' || v.ptr[e - 1] == '\t')) e--;
          if (e > a) items++, ok &= ref_ieq(v.ptr + a, e - a, "chunked");
          k++;
        }
        FZ_CHECK(items == 1 && ok, "accepted Transfer-Encoding \"%.*s\"", (int) v.len, v.ptr);
      }
    }
    FZ_CHECK(hosts <= 1 && (req->version == 10 || hosts == 1), "%d Host fields in HTTP/1.%d", hosts, req->version % 10);
  }
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
  char *rx = (char *) malloc(len ? len : 1), *raw = (char *) malloc(len ? len : 1);
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
        int r;
        memcpy(raw, rx, rx_len);
        r = sn_http_parse(rx, rx_len, &req, x->lim, &scan);
        if (r == 0) break;
        if (r < 0) {
          if (strict_status) fz_printf(&x->rec, "ERROR %d\n", r);
          else fz_puts(&x->rec, "ERROR\n");
          FZ_CHECK(r == -400 || r == -414 || r == -431 || r == -501 || r == -505 || r == -413,
                   "unexpected parser status %d", r);
          stop = 1;
          break;
        }
        check_head(rx, rx_len, r, &req, x->lim, raw);
        record_head(&x->rec, &req, r);
        head_len = (size_t) r;
        {
          sn_str cl = sn_http_header(&req, "content-length"), te = sn_http_header(&req, "transfer-encoding");
          chunked = te.ptr != NULL;
          body_len = 0;
          if (cl.ptr != NULL) {
            size_t i;
            FZ_CHECK(!chunked, "Content-Length and Transfer-Encoding both accepted");
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
  free(raw);
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
  { /* the reference decoder's verdict on the same bytes */
    size_t used = 0;
    int ref = ref_chunked(s, len, max_body, &used);
    if (ref != -2) { /* -2: at the decoder's bounds, either verdict is right */
      FZ_CHECK(r == 1 || r == 0 || r == SN_ERR_PROTO, "decoder returned %d within its bounds", r);
      FZ_CHECK(ref == (r == 1 ? 1 : r == 0 ? 0 : -1), "decoder says %d, the reference (RFC 9112 7.1) %d", r, ref);
      FZ_CHECK(r != 1 || used == off, "decoder accepted %zu bytes, the reference %zu", off, used);
    }
  }
  free(src);
  free(dst);
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
  fz_cuts_sort(cuts, ncuts, in.n);
  lim.max_header_bytes = heads[(flags >> 1) & 3][0] ? heads[(flags >> 1) & 3][0] : 8192;
  lim.max_uri_bytes = heads[(flags >> 1) & 3][1] ? heads[(flags >> 1) & 3][1] : 8000;
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
