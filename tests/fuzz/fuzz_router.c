/* fuzz_router.c - path and query decoding, and the router.

   Input: byte 0 chooses the mode and buffer sizes; the rest is lines ('\n'):
     mode "request" (byte 0 bit 0 clear):
       line 0   the method
       line 1   the request target (path and query, as sent)
       line 2+  extra routes "METHOD PATTERN" (added after a fixed set)
     mode "strings" (bit 0 set): the rest goes through sn_url_decode (into
       an exact-size heap buffer and in place) and sn_json_str, and the
       small list parsers (tokens, Accept-Encoding, If-None-Match, MIME
       types) as header values.
   Oracles, each against a small reference written here:
     - the parser accepts an origin-form target iff its path percent-decodes
       and the result holds no NUL and no "." or ".." segment; then
       req.path is exactly the decoded path and req.query the raw query;
     - sn_router_add accepts exactly the well-formed patterns with a token
       as method;
     - sn_router_match picks the route the documented precedence picks
       (segment by segment: literal > :param > *, longer on a tie, then
       first added), with the same captures, and -404/-405 alike; Allow
       lists every method that matched the path (once each, HEAD with GET);
     - sn_http_param gives the first parameter of that name;
     - sn_http_query decodes the first pair with that key ('+' a space),
       fails alike on bad escapes and small buffers, and NUL-terminates;
     - sn_url_decode matches the reference, never writes past dst_len;
     - sn_json_str output is a JSON string that unescapes to the input. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "fuzz_common.h"

static void dummy(sn_conn *c, const sn_request *req, void *user) { (void) c, (void) req, (void) user; }

/* ---- references ------------------------------------------------------------ */
static int hexv(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* decoded length, -1 for a bad escape; out may be NULL */
static long ref_decode(const char *s, size_t n, char *out, int plus) {
  size_t i;
  long o = 0;
  for (i = 0; i < n; i++) {
    int ch = (unsigned char) s[i];
    if (ch == '%') {
      if (i + 2 >= n) return -1;
      if (hexv((unsigned char) s[i + 1]) < 0 || hexv((unsigned char) s[i + 2]) < 0) return -1;
      ch = hexv((unsigned char) s[i + 1]) * 16 + hexv((unsigned char) s[i + 2]);
      i += 2;
    } else if (plus && ch == '+') {
      ch = ' ';
    }
    if (out) out[o] = (char) ch;
    o++;
  }
  return o;
}

static int has_dot_segment(const char *p, size_t n) {
  size_t i = 0;
  while (i < n) { /* each segment after a '/' */
    size_t j;
    if (p[i] != '/') {
      i++;
      continue;
    }
    j = i + 1;
    while (j < n && p[j] != '/') j++;
    if ((j - i - 1 == 1 && p[i + 1] == '.') || (j - i - 1 == 2 && p[i + 1] == '.' && p[i + 2] == '.')) return 1;
    i = j;
  }
  return 0;
}

/* Splits "/a/b" into segments (pointers and lengths); returns the count. */
static int segments(const char *p, size_t n, const char **seg, size_t *len, int max) {
  int k = 0;
  size_t i = 0;
  if (n == 0 || p[0] != '/') return -1;
  while (i < n && k < max) {
    size_t j = i + 1;
    while (j < n && p[j] != '/') j++;
    seg[k] = p + i + 1;
    len[k++] = j - i - 1;
    i = j;
  }
  return i < n ? -1 : k;
}

static int ref_pattern_ok(const char *p) {
  const char *seg[40];
  size_t len[40];
  int n, k, params = 0;
  if (p == NULL || p[0] != '/') return 0;
  n = segments(p, strlen(p), seg, len, 40);
  if (n < 0 || n > 32) return 0;
  for (k = 0; k < n; k++) {
    if (len[k] == 1 && seg[k][0] == '*' && k != n - 1) return 0;
    if (len[k] >= 1 && seg[k][0] == ':' && (len[k] == 1 || ++params > SN_MAX_PARAMS)) return 0;
  }
  return 1;
}

/* a route's method: an HTTP token (RFC 9110 5.6.2) of at most 32 characters ("*" is one) */
static int ref_method_ok(const char *m) {
  size_t i, n = strlen(m);
  static const char extra[] = "!#$%&'*+-.^_`|~";
  if (n == 0 || n > 32) return 0;
  for (i = 0; i < n; i++) {
    int ch = (unsigned char) m[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr(extra, ch) != NULL))
      return 0;
  }
  return 1;
}

typedef struct ref_match {
  int ok, nrank, np;
  unsigned char rank[40];
  sn_str names[SN_MAX_PARAMS], vals[SN_MAX_PARAMS], wild;
} ref_match;

static void ref_try(const char *pat, sn_str path, ref_match *m) {
  const char *ps[40], *ss[300];
  size_t pl[40], sl[300];
  int np = segments(pat, strlen(pat), ps, pl, 40), ns = segments(path.ptr, path.len, ss, sl, 300), k;
  memset(m, 0, sizeof *m);
  if (np < 0 || ns < 0) return; /* a path of more than 300 segments: not compared */
  for (k = 0; k < np; k++) {
    if (pl[k] == 1 && ps[k][0] == '*') {
      if (k >= ns) return;
      m->wild.ptr = ss[k];
      m->wild.len = (size_t) (path.ptr + path.len - ss[k]);
      m->rank[m->nrank++] = 1;
      m->ok = 1;
      return;
    }
    if (k >= ns) return;
    if (pl[k] > 0 && ps[k][0] == ':') {
      if (sl[k] == 0) return;
      m->names[m->np].ptr = ps[k] + 1;
      m->names[m->np].len = pl[k] - 1;
      m->vals[m->np].ptr = ss[k];
      m->vals[m->np++].len = sl[k];
      m->rank[m->nrank++] = 2;
    } else {
      if (pl[k] != sl[k] || memcmp(ps[k], ss[k], sl[k]) != 0) return;
      m->rank[m->nrank++] = 3;
    }
  }
  m->ok = np == ns;
}

static int method_ok(const char *rm, sn_str m) {
  if (rm == NULL || strcmp(rm, "*") == 0) return 1;
  if (strlen(rm) == m.len && memcmp(rm, m.ptr, m.len) == 0) return 1;
  return strcmp(rm, "GET") == 0 && m.len == 4 && memcmp(m.ptr, "HEAD", 4) == 0;
}

/* 1 if a beats b */
static int beats(const ref_match *a, const ref_match *b) {
  int k, n = a->nrank < b->nrank ? a->nrank : b->nrank;
  for (k = 0; k < n; k++)
    if (a->rank[k] != b->rank[k]) return a->rank[k] > b->rank[k];
  return a->nrank > b->nrank;
}

static int str_eq(sn_str a, sn_str b) { return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0); }

/* Is `item` one element of the ", "-separated list? How many times? */
static int list_count(const char *list, const char *item) {
  int count = 0;
  size_t n = strlen(item);
  const char *p = list;
  while (*p) {
    const char *e = strstr(p, ", ");
    size_t len = e ? (size_t) (e - p) : strlen(p);
    if (len == n && memcmp(p, item, n) == 0) count++;
    p += len;
    if (e) p += 2;
  }
  return count;
}

/* ---- the request mode ---------------------------------------------------------- */
static const char *const base_routes[][2] = {
    {"GET", "/"},           {"GET", "/api/status"},   {"GET", "/api/hello/:name"}, {"POST", "/api/echo"},
    {"GET", "/files/*"},    {"*", "/any/:a/:b/*"},    {"PUT", "/api/:id"},         {"DELETE", "/api/:id/x"},
    {NULL, "/api/:id/:id"}, {"PATCH", "/api/hello/*"}};

static void check_query(const sn_request *req, const char *name, size_t out_len) {
  char *out = (char *) malloc(out_len ? out_len : 1), ref[4096];
  int r = sn_http_query(req, name, out, out_len);
  sn_str q = req->query;
  size_t nlen = strlen(name);
  int expect = SN_ERR_NOT_FOUND;
  long n = 0;
  if (out_len == 0) {
    FZ_CHECK(r == SN_ERR_INVALID, "sn_http_query with out_len 0 gave %d", r);
    free(out);
    return;
  }
  while (q.len) {
    const char *amp = (const char *) memchr(q.ptr, '&', q.len);
    size_t plen = amp ? (size_t) (amp - q.ptr) : q.len;
    const char *eq = (const char *) memchr(q.ptr, '=', plen);
    size_t klen = eq ? (size_t) (eq - q.ptr) : plen;
    if (klen == nlen && memcmp(q.ptr, name, nlen) == 0) {
      n = eq ? ref_decode(eq + 1, plen - klen - 1, plen - klen - 1 <= sizeof ref ? ref : NULL, 1) : 0;
      expect = n < 0 ? SN_ERR_PROTO : (size_t) n + 1 > out_len ? SN_ERR_TOO_BIG : (int) n;
      break;
    }
    q.ptr += amp ? plen + 1 : plen;
    q.len -= amp ? plen + 1 : plen;
  }
  if (expect == SN_ERR_TOO_BIG || expect == SN_ERR_PROTO) {
    /* the decoder stops at the first problem: a bad escape beyond the room
       is reported as too big, which is fine; either error is an error */
    FZ_CHECK(r == SN_ERR_TOO_BIG || r == SN_ERR_PROTO, "query %s: expected an error, got %d", name, r);
  } else {
    FZ_CHECK(r == expect, "query %s: expected %d, got %d", name, expect, r);
  }
  if (r >= 0) {
    FZ_CHECK(out[r] == '\0', "query value not NUL-terminated");
    if ((size_t) r <= sizeof ref) FZ_CHECK(memcmp(out, ref, (size_t) r) == 0, "query value differs");
  }
  free(out);
}

static void run_request(fz_in *in, unsigned flags) {
  char *lines[40];
  size_t lens[40];
  int nlines = 0, i, idx;
  char raw[4200], allow[160], buf[4400];
  size_t allow_len = 1 + (flags >> 1) % 128, blen;
  sn_router router;
  sn_request req;
  ref_match best, cur;
  int best_i = -1, path_matched = 0, r;
  size_t pos = 0;
  while (pos <= in->n && nlines < 40) { /* split into lines (NUL-terminated copies) */
    const uint8_t *nl = (const uint8_t *) memchr(in->p + pos, '\n', in->n - pos);
    size_t len = nl ? (size_t) (nl - (in->p + pos)) : in->n - pos;
    lines[nlines] = (char *) malloc(len + 1);
    memcpy(lines[nlines], in->p + pos, len);
    lines[nlines][len] = '\0';
    lens[nlines++] = len;
    pos += len + 1;
    if (!nl) break;
  }
  if (nlines < 2 || lens[0] + lens[1] + 64 > sizeof buf) goto out;

  /* the router: a fixed set, then the input's */
  sn_router_init(&router);
  for (i = 0; i < (int) (sizeof base_routes / sizeof base_routes[0]); i++) {
    r = sn_router_add(&router, base_routes[i][0], base_routes[i][1], dummy, NULL);
    FZ_CHECK(r == SN_OK, "base route %s refused", base_routes[i][1]);
  }
  for (i = 2; i < nlines; i++) {
    char *sp = strchr(lines[i], ' ');
    const char *method = sp ? lines[i] : "GET", *pat = sp ? sp + 1 : lines[i];
    int full = router.count >= SN_MAX_ROUTES;
    if (sp) *sp = '\0';
    r = sn_router_add(&router, method, pat, dummy, NULL);
    if (!ref_method_ok(method)) FZ_CHECK(r == SN_ERR_INVALID, "method \"%s\" accepted (%d)", method, r);
    else if (!ref_pattern_ok(pat)) FZ_CHECK(r == SN_ERR_INVALID, "malformed pattern \"%s\" accepted (%d)", pat, r);
    else FZ_CHECK(r == (full ? SN_ERR_FULL : SN_OK), "pattern \"%s\": %d", pat, r);
  }

  /* the request */
  blen = (size_t) snprintf(buf, sizeof buf, "%s %s HTTP/1.1\r\nHost: h\r\n\r\n", lines[0], lines[1]);
  memcpy(raw, lines[1], lens[1] + 1);
  r = sn_http_parse(buf, blen, &req, NULL, NULL);
  {
    /* origin-form targets whose other parts are fine: the decoding oracle */
    const char *t = lines[1];
    size_t tl = strlen(t), k, plen;
    int simple = tl > 0 && tl == lens[1] && t[0] == '/' && tl <= 2048 && lens[0] > 0 &&
                 strlen(lines[0]) == lens[0] && memchr(t, '#', tl) == NULL;
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    int km = 0, high = 0;
    for (k = 0; k < 7; k++) km |= strcmp(lines[0], known[k]) == 0;
    for (k = 0; k < tl; k++) {
      if ((unsigned char) t[k] <= 0x20 || (unsigned char) t[k] == 0x7f) simple = 0;
      if ((unsigned char) t[k] >= 0x80) high = 1;
    }
    if (simple && km && high) { /* RFC 3986 2: raw bytes outside ASCII are no URI characters */
      FZ_CHECK(r == -400, "target \"%s\" with a non-ASCII byte should be refused with 400, got %d", raw, r);
    } else if (simple && km) {
      char dec[4200];
      const char *q = strchr(t, '?');
      long n;
      plen = q ? (size_t) (q - t) : tl;
      n = ref_decode(t, plen, dec, 0);
      if (n < 0 || memchr(dec, '\0', (size_t) n) != NULL || has_dot_segment(dec, (size_t) n)) {
        FZ_CHECK(r == -400, "target \"%s\" should be refused with 400, got %d", raw, r);
      } else {
        FZ_CHECK(r > 0, "target \"%s\" should be accepted, got %d", raw, r);
        FZ_CHECK(req.path.len == (size_t) n && memcmp(req.path.ptr, dec, (size_t) n) == 0,
                 "decoded path of \"%s\" differs", raw);
        FZ_CHECK(q ? (req.query.len == tl - plen - 1 && memcmp(req.query.ptr, q + 1, req.query.len) == 0)
                   : req.query.len == 0,
                 "query of \"%s\" differs", raw);
      }
    }
  }
  if (r <= 0) goto out;
  if (req.path.len > 0 && req.path.ptr[0] == '/') {
    FZ_CHECK(memchr(req.path.ptr, '\0', req.path.len) == NULL && !has_dot_segment(req.path.ptr, req.path.len),
             "accepted path with NUL or dot segment");
  }

  /* routing against the reference */
  memset(&best, 0, sizeof best);
  for (i = 0; i < router.count; i++) {
    if (req.path.len == 0 || req.path.ptr[0] != '/') break;
    ref_try(router.routes[i].pattern, req.path, &cur);
    if (!cur.ok) continue;
    path_matched = 1;
    if (!method_ok(router.routes[i].method, req.method)) continue;
    if (best_i < 0 || beats(&cur, &best)) best = cur, best_i = i;
  }
  idx = sn_router_match(&router, &req, allow, allow_len);
  FZ_CHECK(memchr(allow, '\0', allow_len) != NULL, "Allow not NUL-terminated within %zu", allow_len);
  {
    const char *ss[300];
    size_t sl[300];
    int comparable = req.path.len > 0 && req.path.ptr[0] == '/' && segments(req.path.ptr, req.path.len, ss, sl, 300) >= 0;
    if (comparable) {
      FZ_CHECK(idx == (best_i >= 0 ? best_i : path_matched ? -405 : -404), "path \"%.*s\" method \"%.*s\": router %d, reference %d",
               (int) req.path.len, req.path.ptr, (int) req.method.len, req.method.ptr, idx,
               best_i >= 0 ? best_i : path_matched ? -405 : -404);
      if (idx >= 0) {
        int k;
        FZ_CHECK(req.param_count == best.np, "param_count %d, reference %d", req.param_count, best.np);
        for (k = 0; k < best.np; k++) {
          FZ_CHECK(str_eq(req.param_names[k], best.names[k]) && str_eq(req.params[k], best.vals[k]), "param %d differs", k);
          FZ_CHECK(req.params[k].len > 0 && memchr(req.params[k].ptr, '/', req.params[k].len) == NULL,
                   "a parameter is empty or holds a '/'");
        }
        FZ_CHECK(str_eq(req.wildcard, best.wild), "wildcard differs");
        for (k = 0; k < best.np; k++) { /* sn_http_param: the first of that name */
          char name[64];
          int j;
          sn_str v;
          if (best.names[k].len >= sizeof name) continue;
          memcpy(name, best.names[k].ptr, best.names[k].len);
          name[best.names[k].len] = '\0';
          v = sn_http_param(&req, name);
          for (j = 0; j < best.np; j++)
            if (str_eq(best.names[j], best.names[k])) break;
          FZ_CHECK(str_eq(v, best.vals[j]), "sn_http_param(%s) is not the first of that name", name);
        }
      } else if (idx == -405 && allow_len >= sizeof allow) {
        for (i = 0; i < router.count; i++) {
          ref_try(router.routes[i].pattern, req.path, &cur);
          if (!cur.ok || method_ok(router.routes[i].method, req.method)) continue;
          FZ_CHECK(list_count(allow, router.routes[i].method) == 1, "Allow \"%s\" lacks or repeats %s", allow,
                   router.routes[i].method);
          if (strcmp(router.routes[i].method, "GET") == 0)
            FZ_CHECK(list_count(allow, "HEAD") == 1, "Allow \"%s\" without HEAD", allow);
        }
      }
    }
  }

  /* the query: each key that occurs, a missing one, the empty name */
  {
    sn_str q = req.query;
    int nk = 0;
    size_t out_len = (flags >> 3) & 1 ? 1 + (flags >> 4) : 256;
    while (q.len && nk < 6) {
      const char *amp = (const char *) memchr(q.ptr, '&', q.len);
      size_t plen = amp ? (size_t) (amp - q.ptr) : q.len;
      const char *eq = (const char *) memchr(q.ptr, '=', plen);
      size_t klen = eq ? (size_t) (eq - q.ptr) : plen;
      char key[128];
      if (klen < sizeof key) {
        memcpy(key, q.ptr, klen);
        key[klen] = '\0';
        check_query(&req, key, out_len);
        nk++;
      }
      q.ptr += amp ? plen + 1 : plen;
      q.len -= amp ? plen + 1 : plen;
    }
    check_query(&req, "no-such-key", out_len);
    check_query(&req, "", out_len);
    check_query(&req, "n", 0);
  }
out:
  for (i = 0; i < nlines; i++) free(lines[i]);
}

/* ---- the strings mode ------------------------------------------------------------ */
static void run_strings(fz_in *in, unsigned flags) {
  size_t n = in->n, dst_len = (flags >> 1) & 1 ? (size_t) ((flags >> 2) % 64) : n;
  char *src = (char *) malloc(n ? n : 1), *dst = (char *) malloc(dst_len ? dst_len : 1), *ref = (char *) malloc(n + 1);
  int plus = (flags >> 7) & 1, r;
  long e;
  memcpy(src, in->p, n);
  /* sn_url_decode into an exact-size buffer */
  r = sn_url_decode(src, n, dst, dst_len, plus);
  e = ref_decode(src, n, ref, plus);
  if (e < 0) FZ_CHECK(r == SN_ERR_PROTO || r == SN_ERR_TOO_BIG, "bad escape: %d", r);
  else if ((size_t) e > dst_len) FZ_CHECK(r == SN_ERR_TOO_BIG || r == SN_ERR_PROTO, "too small: %d", r);
  else FZ_CHECK(r == (int) e && memcmp(dst, ref, (size_t) e) == 0, "url_decode %d, reference %ld", r, e);
  /* in place */
  r = sn_url_decode(src, n, src, n, plus);
  if (e >= 0) FZ_CHECK(r == (int) e && memcmp(src, ref, (size_t) e) == 0, "in-place url_decode differs");
  free(dst);
  /* sn_json_str round trip */
  {
    size_t jl = (flags >> 1) & 1 ? (size_t) ((flags >> 2) % 64) : 6 * n + 3;
    char *j = (char *) malloc(jl ? jl : 1);
    r = sn_json_str(j, jl, (const char *) in->p, n);
    if (jl >= 6 * n + 3) FZ_CHECK(r >= 2, "sn_json_str failed with room: %d", r);
    if (r >= 0) {
      size_t i, o = 0;
      FZ_CHECK((size_t) r < jl && j[r] == '\0', "JSON not NUL-terminated");
      FZ_CHECK(j[0] == '"' && j[r - 1] == '"' && r >= 2, "JSON not quoted");
      for (i = 1; i + 1 < (size_t) r; i++) {
        unsigned char ch = (unsigned char) j[i];
        FZ_CHECK(ch >= 0x20 && ch != 0x7f && ch != '"', "raw 0x%02x in JSON", ch);
        if (ch == '\\') {
          char esc = j[++i];
          if (esc == 'u') {
            FZ_CHECK(i + 4 < (size_t) r, "short \\u");
            ref[o++] = (char) (hexv((unsigned char) j[i + 3]) * 16 + hexv((unsigned char) j[i + 4]));
            FZ_CHECK(j[i + 1] == '0' && j[i + 2] == '0', "\\u beyond 0x00ff");
            i += 4;
          } else {
            FZ_CHECK(esc == '"' || esc == '\\', "unexpected escape \\%c", esc);
            ref[o++] = esc;
          }
        } else {
          ref[o++] = (char) ch;
        }
      }
      FZ_CHECK(o == n && memcmp(ref, in->p, n) == 0, "JSON does not unescape to the input");
    }
    free(j);
  }
  /* the small list parsers, fed as header values */
  {
    sn_request req;
    sn_str v;
    memset(&req, 0, sizeof req);
    v.ptr = (const char *) in->p;
    v.len = n;
    req.header_count = 2;
    req.headers[0].name.ptr = "Accept-Encoding";
    req.headers[0].name.len = 15;
    req.headers[0].value = v;
    req.headers[1].name.ptr = "If-None-Match";
    req.headers[1].name.len = 13;
    req.headers[1].value = v;
    /* FUZZ_SKIP_KNOWN: white space before the ';' makes sn__accepts_gzip
       read past the value (reported; see README.md) */
    if (getenv("FUZZ_SKIP_KNOWN") == NULL) (void) sn__accepts_gzip(&req);
    (void) sn__etag_matches(&req, "\"abc\"");
    (void) sn__has_token(v, "close");
    (void) sn_mime_type(v);
  }
  free(src);
  free(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  unsigned flags = fz_u8(&in);
  if (flags & 1) run_strings(&in, flags);
  else run_request(&in, flags);
  return 0;
}
