/* test_http_parser.c - sn_http_parse() and the request helpers.

   Proves: complete and incremental parsing (the `scan` optimisation never
   misses a terminator split across calls), the request fields, in-place
   percent-decoding of the path and refusal of NUL / bad escapes / dot
   segments, absolute-form targets, every error status (400, 414, 431, 501,
   505), the RFC 9110/9112 rules a conformance probe checks (Host is a
   uri-host [":" port], chunked last in Transfer-Encoding, a Content-Length
   that fits 64 bits, an ASCII target, 501 for a long method, 8000-byte
   targets), sn_http_query, sn_url_decode, sn_json_str, sn_mime_type and
   sn_strerror.

   Every parse runs on a heap copy of exactly the bytes given, so ASan sees
   any read past them. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "test.h"

#include <stdlib.h>

static sn_request req;
static char *buf;     /* the bytes of the last parse (req points into them) */
static size_t buflen; /* their length */

static void set_buf(const char *raw, size_t len) {
  free(buf);
  buf = (char *) malloc(len ? len : 1);
  if (buf == NULL) abort();
  memcpy(buf, raw, len);
  buflen = len;
}

/* Parses raw (len bytes) with the given limits (0: defaults) in one call. */
static int parse_n(const char *raw, size_t len, size_t max_head, size_t max_uri) {
  sn_http_limits lim;
  size_t scan = 0;
  lim.max_header_bytes = max_head;
  lim.max_uri_bytes = max_uri;
  set_buf(raw, len);
  return sn_http_parse(buf, buflen, &req, &lim, &scan);
}
static int parse(const char *raw) { return parse_n(raw, strlen(raw), 0, 0); }
static int parse_lim(const char *raw, size_t max_head, size_t max_uri) {
  return parse_n(raw, strlen(raw), max_head, max_uri);
}

/* A request head around `target` and extra header lines (each "...\r\n"). */
static int parse_req(const char *target, const char *headers) {
  char tmp[8192];
  snprintf(tmp, sizeof tmp, "GET %s HTTP/1.1\r\nHost: example.com\r\n%s\r\n", target, headers);
  return parse(tmp);
}

/* Feeds raw one byte more per call (each call on an exact-size copy of the
   prefix, the same scan carried over). Returns 1 if every prefix gave 0 and
   the whole gave its length; *bad_at tells the first prefix that did not. */
static int feed_bytewise(const char *raw, size_t *bad_at, int *bad_ret) {
  size_t len = strlen(raw), k, scan = 0;
  for (k = 1; k <= len; k++) {
    int r;
    set_buf(raw, k);
    r = sn_http_parse(buf, k, &req, NULL, &scan);
    if ((k < len && r != 0) || (k == len && r != (int) len)) {
      *bad_at = k;
      *bad_ret = r;
      return 0;
    }
  }
  return 1;
}

/* For every split point k: first call with k bytes (must give 0), second
   with all of them and the scan of the first (must give the length). */
static int feed_two_pieces(const char *raw, size_t *bad_at, int *bad_ret) {
  size_t len = strlen(raw), k;
  for (k = 1; k < len; k++) {
    size_t scan = 0;
    int r1, r2;
    set_buf(raw, k);
    r1 = sn_http_parse(buf, k, &req, NULL, &scan);
    set_buf(raw, len);
    r2 = sn_http_parse(buf, len, &req, NULL, &scan);
    if (r1 != 0 || r2 != (int) len) {
      *bad_at = k;
      *bad_ret = r1 != 0 ? r1 : r2;
      return 0;
    }
  }
  return 1;
}

static void test_complete(void) {
  const char *r1 = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Pad:   a b \t\r\n\r\n";
  const char *r2 = "POST /submit?x=1&y=%41 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  int r;
  r = parse(r1);
  CHECK_INT(r, strlen(r1), "parser: a complete GET returns the head's length");
  CHECK_SN(req.method, "GET", "parser: the method is the request line's first token");
  CHECK_SN(req.path, "/index.html", "parser: the path is the request target");
  CHECK_INT(req.query.len, 0, "parser: a target without '?' has an empty query");
  CHECK_INT(req.version, 11, "parser: HTTP/1.1 gives version 11");
  CHECK_INT(req.header_count, 3, "parser: every header field is counted");
  CHECK_SN(req.headers[0].name, "Host", "parser: header names are kept as sent");
  CHECK_SN(req.headers[0].value, "example.com", "parser: header values are kept without the leading space");
  CHECK_SN(sn_http_header(&req, "x-pad"), "a b", "parser: leading and trailing whitespace of a value is trimmed");
  CHECK_SN(sn_http_header(&req, "HOST"), "example.com", "sn_http_header: names are case-insensitive (HOST)");
  CHECK_SN(sn_http_header(&req, "accept"), "*/*", "sn_http_header: names are case-insensitive (accept)");
  CHECK(sn_http_header(&req, "Accep").ptr == NULL && sn_http_header(&req, "Accept-X").ptr == NULL,
        "sn_http_header: a prefix or extension of a name does not match");
  CHECK(sn_http_header(&req, "cookie").ptr == NULL && sn_http_header(&req, "cookie").len == 0,
        "sn_http_header: an absent header is {NULL, 0}");

  r = parse(r2);
  CHECK_INT(r, strlen(r2) - 3, "parser: the body after the empty line is not part of the head");
  CHECK_SN(req.method, "POST", "parser: POST is parsed");
  CHECK_SN(req.path, "/submit", "parser: the path stops at '?'");
  CHECK_SN(req.query, "x=1&y=%41", "parser: the query is kept raw, without '?'");

  r = parse("GET / HTTP/1.0\r\n\r\n");
  CHECK(r == 18 && req.version == 10 && req.header_count == 0,
        "parser: HTTP/1.0 without any header (no Host needed) gives version 10");

  r = parse("\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(r == (int) buflen && sn__eq(req.method, "GET") && sn__eq(req.path, "/x"),
        "parser: empty lines before the request line are ignored");

  r = parse("GET /a?b?c=d HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(r > 0 && sn__eq(req.path, "/a") && sn__eq(req.query, "b?c=d"),
        "parser: the query starts at the first '?' and may hold more");

  r = parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(r > 0 && sn__eq(req.path, "*"), "parser: OPTIONS * is accepted with path \"*\"");
  r = parse("GET * HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK_INT(r, -400, "parser: '*' as the target of anything but OPTIONS is 400");

  r = parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
  CHECK(r > 0, "parser: two equal Content-Length fields are accepted");

  r = parse("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n");
  CHECK(r > 0 && sn_http_header(&req, "x-empty").len == 0 && sn_http_header(&req, "x-empty").ptr != NULL,
        "parser: an empty header value is present with length 0");
}

static void test_incremental(void) {
  const char *r1 = "GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n";
  const char *r2 = "\r\nPOST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  size_t at = 0, len;
  int ret = 0, ok;
  ok = feed_bytewise(r1, &at, &ret);
  test_report(ok, "parser: fed byte by byte it returns 0 until complete, then the head's length",
              "prefix of %zu bytes returned %d", at, ret);
  ok = feed_bytewise(r2, &at, &ret);
  test_report(ok, "parser: fed byte by byte with a leading empty line it returns 0, then the length",
              "prefix of %zu bytes returned %d", at, ret);
  ok = feed_two_pieces(r1, &at, &ret);
  test_report(ok, "parser: split in two at every byte, the scan of the first call never hides the terminator",
              "split at %zu returned %d", at, ret);
  ok = feed_two_pieces(r2, &at, &ret);
  test_report(ok, "parser: split in two at every byte with a leading empty line, the terminator is found",
              "split at %zu returned %d", at, ret);

  /* the terminator split as "\r\n\r" | "\n", "\r\n" | "\r\n" and "\r" | "\n\r\n" */
  len = strlen(r1);
  {
    size_t cut[3], i;
    int good = 1;
    cut[0] = len - 1;
    cut[1] = len - 2;
    cut[2] = len - 3;
    for (i = 0; i < 3; i++) {
      size_t scan = 0;
      int a, b;
      set_buf(r1, cut[i]);
      a = sn_http_parse(buf, cut[i], &req, NULL, &scan);
      if (scan == 0) good = 0; /* it must remember how far it looked */
      set_buf(r1, len);
      b = sn_http_parse(buf, len, &req, NULL, &scan);
      if (a != 0 || b != (int) len || scan != 0) good = 0;
    }
    CHECK(good, "parser: a CRLFCRLF split after 1, 2 or 3 of its bytes is found; scan is 0 after success");
  }
  {
    /* many small steps: 5 bytes at a time */
    size_t scan = 0, k;
    int r = 0, early = 0;
    for (k = 5; k < len + 5; k += 5) {
      size_t n = k < len ? k : len;
      set_buf(r1, n);
      r = sn_http_parse(buf, n, &req, NULL, &scan);
      if (n < len && r != 0) early = 1;
    }
    CHECK(!early && r == (int) len && sn__eq(req.path, "/path"),
          "parser: fed 5 bytes at a time it parses the same request");
  }
  {
    size_t scan = 0;
    int r;
    set_buf(r1, len);
    r = sn_http_parse(buf, len, &req, NULL, NULL);
    CHECK_INT(r, len, "parser: scan may be NULL");
    (void) scan;
  }
}

static void test_path_decoding(void) {
  int r;
  const char *before;
  r = parse_req("/a%20b/%C3%A9t%c3%a9?x=%20", "");
  before = buf + 4;
  CHECK(r > 0 && req.path.len == 10 && memcmp(req.path.ptr, "/a b/\xc3\xa9t\xc3\xa9", 10) == 0,
        "parser: the path is percent-decoded (upper and lower case hex)");
  CHECK(req.path.ptr == before, "parser: the path is decoded in place, in the request buffer");
  CHECK_SN(req.query, "x=%20", "parser: the query is not decoded");
  r = parse_req("/a%2Fb", "");
  CHECK(r > 0 && sn__eq(req.path, "/a/b"), "parser: %2F decodes to '/' in the path");
  r = parse_req("/plus+sign", "");
  CHECK(r > 0 && sn__eq(req.path, "/plus+sign"), "parser: '+' in the path stays '+'");

  CHECK_INT(parse_req("/a%00b", ""), -400, "parser: %00 in the path is 400");
  CHECK_INT(parse_req("/a%zzb", ""), -400, "parser: a bad escape (%zz) in the path is 400");
  CHECK_INT(parse_req("/a%g1", ""), -400, "parser: a bad escape (%g1) in the path is 400");
  CHECK_INT(parse_req("/a%", ""), -400, "parser: a trailing '%' in the path is 400");
  CHECK_INT(parse_req("/a%4", ""), -400, "parser: a truncated escape (%4) at the end of the path is 400");
  CHECK_INT(parse_req("/a%4?x", ""), -400, "parser: a truncated escape before the query is 400");

  CHECK_INT(parse_req("/../etc/passwd", ""), -400, "parser: a /../ segment is 400");
  CHECK_INT(parse_req("/a/../b", ""), -400, "parser: /a/../b is 400");
  CHECK_INT(parse_req("/a/./b", ""), -400, "parser: a /./ segment is 400");
  CHECK_INT(parse_req("/a/..", ""), -400, "parser: a trailing /.. is 400");
  CHECK_INT(parse_req("/a/.", ""), -400, "parser: a trailing /. is 400");
  CHECK_INT(parse_req("/.", ""), -400, "parser: the path /. is 400");
  CHECK_INT(parse_req("/%2e%2e/etc", ""), -400, "parser: an encoded /%2e%2e/ segment is 400");
  CHECK_INT(parse_req("/a/%2E%2E", ""), -400, "parser: an encoded trailing /%2E%2E is 400");
  CHECK_INT(parse_req("/a/.%2e/b", ""), -400, "parser: a half-encoded /.%2e/ segment is 400");
  CHECK_INT(parse_req("/a/%2e/b", ""), -400, "parser: an encoded /%2e/ segment is 400");
  CHECK_INT(parse_req("/a%2f..%2fb", ""), -400, "parser: a dot segment made of encoded slashes is 400");
  CHECK_INT(parse_req("/a/../b?x=1", ""), -400, "parser: a dot segment before a query is 400");

  r = parse_req("/.well-known/x", "");
  CHECK(r > 0 && sn__eq(req.path, "/.well-known/x"), "parser: a segment starting with a dot is allowed");
  r = parse_req("/a..b/...", "");
  CHECK(r > 0 && sn__eq(req.path, "/a..b/..."), "parser: dots inside a segment and '...' are allowed");
  r = parse_req("/a/..b", "");
  CHECK(r > 0 && sn__eq(req.path, "/a/..b"), "parser: a segment '..b' is allowed");
}

static void test_absolute_form(void) {
  int r;
  r = parse_req("http://example.com/p/q?x=1", "");
  CHECK(r > 0 && sn__eq(req.path, "/p/q") && sn__eq(req.query, "x=1"),
        "parser: an absolute-form target gives its path and query");
  r = parse_req("HTTPS://Example.com:8443/", "");
  CHECK(r > 0 && sn__eq(req.path, "/") && req.query.len == 0,
        "parser: an absolute-form https target (any case, with port) gives its path");
  r = parse_req("http://example.com/a%20b", "");
  CHECK(r > 0 && sn__eq(req.path, "/a b"), "parser: an absolute-form path is percent-decoded");
  CHECK_INT(parse_req("http://example.com", ""), -400, "parser: an absolute-form target without a path is 400");
  CHECK_INT(parse_req("http://example.com?x=/a", ""), -400,
            "parser: an absolute-form target with a query but no path is 400");
  CHECK_INT(parse_req("http://example.com/../x", ""), -400, "parser: an absolute-form dot segment is 400");
  CHECK_INT(parse_req("ftp://example.com/x", ""), -400, "parser: a target that is neither '/' nor http(s):// is 400");
  CHECK_INT(parse_req("a/b", ""), -400, "parser: a relative target is 400");
}

static void test_errors_400(void) {
  char big[4096];
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"), -400, "parser: a header line without a colon is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), -400, "parser: a space before the colon is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), -400, "parser: a tab before the colon is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n"), -400, "parser: an empty header name is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"), -400, "parser: obs-fold (a line starting with SP) is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n"), -400, "parser: obs-fold (a line starting with HTAB) is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nX-A: b\nHost: a\r\n\r\n"), -400, "parser: a header line ending in a bare LF is 400");
  CHECK_INT(parse("GET / HTTP/1.1\nHost: a\r\n\r\n"), -400, "parser: a request line ending in a bare LF is 400");
  CHECK_INT(parse("GET / HTTP/1.1\nHost: a\n\n"), -400,
            "parser: a head of bare-LF lines is 400 at once, not a wait for a CRLF CRLF that never comes");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\n"), -400, "parser: an unfinished head with a bare LF is 400 at once");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n"), -400, "parser: a bare CR inside a header value is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\r\n\r\n"), -400, "parser: CR CR LF at the end of a header line is 400");
  CHECK_INT(parse_n("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n", sizeof("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n") - 1, 0, 0), -400, "parser: a NUL inside a header value is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7f\r\n\r\n"), -400, "parser: DEL inside a header value is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nX-\x01: b\r\n\r\n"), -400, "parser: a control character in a header name is 400");
  CHECK_INT(parse("GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n"), -400, "parser: a bare CR in the target is 400");
  CHECK_INT(parse("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), -400, "parser: a control character in the target is 400");
  CHECK_INT(parse("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"), -400, "parser: DEL in the target is 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), -400,
            "parser: Content-Length with Transfer-Encoding is 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), -400,
            "parser: Transfer-Encoding before Content-Length is 400 too");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), -400,
            "parser: two different Content-Length fields are 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 05\r\n\r\n"), -400,
            "parser: two Content-Length fields differing only in a leading zero are 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12a\r\n\r\n"), -400, "parser: a non-digit in Content-Length is 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), -400, "parser: a negative Content-Length is 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"), -400, "parser: a Content-Length with '+' is 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"), -400, "parser: a Content-Length list is 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n"), -400, "parser: an empty Content-Length is 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), -400,
            "parser: two Transfer-Encoding fields are 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"), -400,
            "parser: chunked applied twice is 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n"), -400, "parser: an empty Transfer-Encoding is 400");
  CHECK_INT(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), -400,
            "parser: Transfer-Encoding in an HTTP/1.0 request is 400 (RFC 9112 6.1)");
  CHECK_INT(parse("GET / HTTP/1.1\r\n\r\n"), -400, "parser: HTTP/1.1 without Host is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), -400, "parser: two Host fields are 400");
  CHECK_INT(parse("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"), -400, "parser: two Host fields in HTTP/1.0 are 400");
  CHECK_INT(parse_req("/a#frag", ""), -400, "parser: a '#' in the target is 400");
  CHECK_INT(parse_req("/a?b#frag", ""), -400, "parser: a '#' in the query is 400");
  CHECK_INT(parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), -400, "parser: two spaces after the method (empty target) are 400");
  CHECK_INT(parse("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), -400, "parser: a space after the version is 400");
  CHECK_INT(parse("GET /\r\nHost: a\r\n\r\n"), -400, "parser: a request line without a version is 400");
  CHECK_INT(parse("GET\r\nHost: a\r\n\r\n"), -400, "parser: a request line of one word is 400");
  CHECK_INT(parse(" / HTTP/1.1\r\nHost: a\r\n\r\n"), -400, "parser: an empty method is 400");
  CHECK_INT(parse("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), -400, "parser: a method with a non-token character is 400");
  CHECK_INT(parse("GET / http/1.1\r\nHost: a\r\n\r\n"), -400, "parser: a lower-case version name is 400");
  CHECK_INT(parse("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), -400, "parser: a version with two minor digits is 400");
  CHECK_INT(parse("GET / HTTP/1\r\nHost: a\r\n\r\n"), -400, "parser: a version without a minor is 400");
  CHECK_INT(parse("GET / HTTP/x.1\r\nHost: a\r\n\r\n"), -400, "parser: a non-digit major version is 400");
  CHECK_INT(parse("\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), -400,
            "parser: a flood of empty lines before the request line is 400, not skipped forever");
  memset(big, 0, sizeof big);
  snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\n%s\r\n", "X-A: b\r\n\r\nBody");
  CHECK(parse(big) > 0 && sn__eq(sn_http_header(&req, "x-a"), "b"), "parser: only the first empty line ends the head");
}

static void test_errors_other(void) {
  char tmp[8192], target[8100];
  size_t i;
  int r;
  /* 414 */
  memset(target, 'a', sizeof target);
  target[0] = '/';
  target[32] = '\0';
  snprintf(tmp, sizeof tmp, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", target);
  CHECK(parse_lim(tmp, 0, 32) > 0, "parser: a target of exactly max_uri_bytes is accepted");
  target[32] = 'a';
  target[33] = '\0';
  snprintf(tmp, sizeof tmp, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", target);
  CHECK_INT(parse_lim(tmp, 0, 32), -414, "parser: a target one byte over max_uri_bytes is 414");
  target[33] = 'a';
  target[8000] = '\0';
  snprintf(tmp, sizeof tmp, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", target);
  CHECK(parse(tmp) > 0, "parser: a target of 8000 bytes is accepted with the default limits (RFC 9112 3)");
  target[8000] = 'a';
  target[8001] = '\0';
  snprintf(tmp, sizeof tmp, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", target);
  CHECK_INT(parse(tmp), -414, "parser: a target of 8001 bytes is 414 with the default limit (8000)");
  target[8001] = 'a';
  target[200] = '\0';
  snprintf(tmp, sizeof tmp, "GET %s", target); /* no line end yet */
  CHECK_INT(parse_lim(tmp, 0, 64), -414, "parser: an incomplete request line already longer than the limit is 414");
  target[200] = 'a';
  target[40] = '\0';
  snprintf(tmp, sizeof tmp, "GET %s", target);
  CHECK_INT(parse_lim(tmp, 0, 64), 0, "parser: an incomplete request line within the limit waits for more");
  target[40] = 'a';

  /* 431 */
  snprintf(tmp, sizeof tmp, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: %.*s\r\n\r\n", 200, target + 1);
  CHECK_INT(parse_lim(tmp, 128, 0), -431, "parser: a complete head over max_header_bytes is 431");
  CHECK(parse_lim(tmp, (size_t) strlen(tmp), 0) > 0, "parser: a head of exactly max_header_bytes is accepted");
  snprintf(tmp, sizeof tmp, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: %.*s", 200, target + 1);
  CHECK_INT(parse_lim(tmp, 128, 0), -431, "parser: an incomplete head already over max_header_bytes is 431");
  {
    size_t o = (size_t) snprintf(tmp, sizeof tmp, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (i = 1; i < SN_MAX_HEADERS; i++) o += (size_t) snprintf(tmp + o, sizeof tmp - o, "X-%u: v\r\n", (unsigned) i);
    snprintf(tmp + o, sizeof tmp - o, "\r\n");
    r = parse(tmp);
    CHECK(r > 0 && req.header_count == SN_MAX_HEADERS, "parser: exactly SN_MAX_HEADERS fields are accepted");
    snprintf(tmp + o, sizeof tmp - o, "X-Last: v\r\n\r\n");
    CHECK_INT(parse(tmp), -431, "parser: one field more than SN_MAX_HEADERS is 431");
  }

  /* 501 */
  CHECK_INT(parse("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"), -501, "parser: an unknown method (BREW) is 501");
  CHECK_INT(parse("get / HTTP/1.1\r\nHost: a\r\n\r\n"), -501, "parser: methods are case-sensitive (get is 501)");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), -501,
            "parser: Transfer-Encoding gzip, chunked (an unknown coding, chunked last) is 501");
  r = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
  CHECK(r > 0, "parser: Transfer-Encoding Chunked (any case) is accepted");
  {
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    int all = 1;
    for (i = 0; i < sizeof known / sizeof known[0]; i++) {
      snprintf(tmp, sizeof tmp, "%s / HTTP/1.1\r\nHost: a\r\n\r\n", known[i]);
      if (parse(tmp) <= 0 || !sn__eq(req.method, known[i])) all = 0;
    }
    CHECK(all, "parser: GET, HEAD, POST, PUT, DELETE, PATCH and OPTIONS are accepted");
  }

  /* 505 */
  CHECK_INT(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), -505, "parser: HTTP/2.0 is 505");
  CHECK_INT(parse("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), -505, "parser: HTTP/0.9 is 505");
  CHECK_INT(parse("GET / HTTP/3.0\r\n\r\n"), -505, "parser: HTTP/3.0 is 505 before any header check");

  /* Content-Length: a valid length is left to the server's max_body (413), one no integer holds is 400 */
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999\r\n\r\n") > 0,
        "parser: a Content-Length of 18 digits is left to the server's max_body");
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n") > 0,
        "parser: a Content-Length of 2^64-1 is a valid length, left to the server's max_body (413)");
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000000000000000000005\r\n\r\n") > 0,
        "parser: a Content-Length of 5 with 24 leading zeros is a valid length");
}

/* RFC 9110 / RFC 9112 requirements a conformance probe checks (issue 14, 7). */
static void test_conformance(void) {
  static const char *const good_hosts[] = {
      "example.com", "example.com:8443", "127.0.0.1:80", "localhost:", "[::1]", "[::1]:8443", "[2001:db8::1]",
      "[1:2:3:4:5:6:7:8]", "[::ffff:192.0.2.1]:80", "[1::]", "[v1.fe:x]", "a%41b", "x-y_z~!$&'()*+;=.e"};
  static const char *const bad_hosts[] = {
      "user@host", "u:p@host:80", "host/path", "host/", "a, b", "a,b", "host:80a", "host:-1", ":80", "ho st",
      "[::1", "[::1]x", "[::1]:8a", "[:::1]", "[1:2:3:4:5:6:7:8:9]", "[12345::]", "[1::2::3]", "[1.2.3.4]",
      "[::1.2.3.256]", "[::01.2.3.4]", "[fe80::1%25eth0]", "[v.x]", "[v1.]", "[]", "host?", "host#f", "h\"x", "h%4"};
  char tmp[10240];
  size_t i;
  int all = 1;
  char why[200] = "";
  /* Host (RFC 9112 3.2, RFC 9110 7.2) */
  for (i = 0; i < sizeof good_hosts / sizeof good_hosts[0]; i++) {
    snprintf(tmp, sizeof tmp, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good_hosts[i]);
    if (parse(tmp) <= 0) all = 0, snprintf(why, sizeof why, "Host: %s gave %d", good_hosts[i], parse(tmp));
  }
  test_report(all, "parser: Host values that are uri-host [\":\" port] are accepted (reg-name, IPv4, [IPv6], [IPvFuture])",
              "%s", why);
  all = 1;
  for (i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
    snprintf(tmp, sizeof tmp, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad_hosts[i]);
    if (parse(tmp) != -400) all = 0, snprintf(why, sizeof why, "Host: %s gave %d", bad_hosts[i], parse(tmp));
  }
  test_report(all, "parser: Host values that are not uri-host [\":\" port] are 400 (userinfo, path, list, bad IP literal, port)",
              "%s", why);
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n"), -400, "parser: an empty Host is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: user@host\r\n\r\n"), -400, "parser: a Host with userinfo (user@host) is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: host/path\r\n\r\n"), -400, "parser: a Host with a path (host/path) is 400");
  CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.example, b.example\r\n\r\n"), -400, "parser: a Host list (a, b) is 400");
  CHECK_INT(parse("GET / HTTP/1.0\r\nHost: user@host\r\n\r\n"), -400, "parser: an invalid Host in HTTP/1.0 is 400 too");
  CHECK(parse("GET / HTTP/1.0\r\n\r\n") > 0, "parser: HTTP/1.0 without Host is still accepted");
  CHECK(parse("GET http://other.example/x HTTP/1.1\r\nHost: example.com:80\r\n\r\n") > 0,
        "parser: an absolute-form request with a valid Host is accepted");

  /* Transfer-Encoding (RFC 9112 6.3): chunked not last is 400 */
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), -400,
            "parser: Transfer-Encoding chunked, gzip (chunked not last) is 400 (RFC 9112 6.3)");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), -400,
            "parser: Transfer-Encoding gzip (no chunked last) is 400 (RFC 9112 6.3)");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n"), -400,
            "parser: Transfer-Encoding chunked, identity is 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, br, chunked\r\n\r\n"), -501,
            "parser: Transfer-Encoding gzip, br, chunked is 501");

  /* Content-Length that no integer holds (RFC 9112 6.3) */
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n"), -400,
            "parser: Content-Length 99999999999999999999 (over 2^64) is 400, not 413");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n"), -400,
            "parser: Content-Length 2^64 is 400");
  CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n"), -400,
            "parser: an absurd Content-Length (26 digits) is 400, not an overflow");

  /* Request line (RFC 9112 3) */
  CHECK_INT(parse("GET /caf\xC3\xA9 HTTP/1.1\r\nHost: a\r\n\r\n"), -400, "parser: raw UTF-8 in the target (/caf\\xC3\\xA9) is 400");
  CHECK_INT(parse("GET /\xC0\xAF HTTP/1.1\r\nHost: a\r\n\r\n"), -400, "parser: raw \\xC0\\xAF in the target is 400");
  CHECK_INT(parse("GET /a?q=\x80 HTTP/1.1\r\nHost: a\r\n\r\n"), -400, "parser: a raw byte over 0x7f in the query is 400");
  CHECK(parse("GET /caf%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n") > 0, "parser: the same bytes percent-encoded are accepted");
  CHECK_INT(parse("OPTIONSX / HTTP/1.1\r\nHost: a\r\n\r\n"), -501, "parser: a method of 8 characters is 501");
  CHECK_INT(parse("OPTIONSX"), -501, "parser: 8 method characters without a space yet are 501 at once");
  CHECK_INT(parse("OPTIONS"), 0, "parser: 7 method characters without a space yet wait for more");
  {
    memset(tmp, 'M', sizeof tmp);
    strcpy(tmp + 9000, " / HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK_INT(parse(tmp), -501, "parser: a complete request with a method of 9000 characters is 501, not 414 or 431");
    CHECK_INT(parse_lim(tmp, 65536, 0), -501, "parser: a method of 9000 characters within max_header_bytes is 501");
    tmp[3000] = '\0';
    CHECK_INT(parse(tmp), -501, "parser: 3000 method characters without an end yet are 501, not 414");
    memcpy(tmp, "GE\x01", 3);
    CHECK_INT(parse(tmp), -400, "parser: a control character in a long unfinished method is 400 at once");
    CHECK_INT(parse("GE\x01"), -400, "parser: a control character in an unfinished method is 400 at once");
    CHECK_INT(parse("\r"), 0, "parser: a CR that may begin an empty line before the request line waits");
    CHECK_INT(parse("\rX"), -400, "parser: a CR not followed by LF before the request line is 400");
  }
}

static void test_query(void) {
  char out[64];
  int r;
  r = parse_req("/s?name=J%C3%B6rg+M&empty=&flag&x=1&a%3Db=2&nam=z", "");
  if (!CHECK(r > 0, "sn_http_query: the request with a query parses")) return;
  r = sn_http_query(&req, "name", out, sizeof out);
  CHECK(r == 7 && strcmp(out, "J\xc3\xb6rg M") == 0, "sn_http_query: a value is percent-decoded, '+' is a space");
  r = sn_http_query(&req, "x", out, sizeof out);
  CHECK(r == 1 && strcmp(out, "1") == 0, "sn_http_query: a later field is found");
  r = sn_http_query(&req, "empty", out, sizeof out);
  CHECK(r == 0 && out[0] == '\0', "sn_http_query: 'empty=' gives an empty string");
  r = sn_http_query(&req, "flag", out, sizeof out);
  CHECK(r == 0 && out[0] == '\0', "sn_http_query: a name without '=' gives an empty string");
  CHECK_INT(sn_http_query(&req, "missing", out, sizeof out), SN_ERR_NOT_FOUND, "sn_http_query: an absent name is SN_ERR_NOT_FOUND");
  CHECK_INT(sn_http_query(&req, "na", out, sizeof out), SN_ERR_NOT_FOUND, "sn_http_query: a prefix of a name does not match");
  r = sn_http_query(&req, "nam", out, sizeof out);
  CHECK(r == 1 && strcmp(out, "z") == 0, "sn_http_query: a name that is a prefix of an earlier one finds its own field");
  CHECK_INT(sn_http_query(&req, "a=b", out, sizeof out), SN_ERR_NOT_FOUND, "sn_http_query: names are compared raw (not decoded)");
  CHECK_INT(sn_http_query(&req, "name", out, 7), SN_ERR_TOO_BIG, "sn_http_query: a buffer without room for the NUL is SN_ERR_TOO_BIG");
  r = sn_http_query(&req, "name", out, 8);
  CHECK(r == 7 && out[7] == '\0', "sn_http_query: a buffer of exactly length + 1 is enough");
  CHECK_INT(sn_http_query(&req, "name", out, 0), SN_ERR_INVALID, "sn_http_query: a zero-size buffer is SN_ERR_INVALID");
  r = parse_req("/s?bad=%zz&ok=1", "");
  CHECK_INT(sn_http_query(&req, "bad", out, sizeof out), SN_ERR_PROTO, "sn_http_query: a bad escape is SN_ERR_PROTO");
  r = parse_req("/s", "");
  CHECK_INT(sn_http_query(&req, "x", out, sizeof out), SN_ERR_NOT_FOUND, "sn_http_query: without a query nothing is found");
}

static void test_url_decode(void) {
  char out[32], inplace[32];
  int r;
  r = sn_url_decode("a%2Fb+c%41%6a", 13, out, sizeof out, 0);
  CHECK(r == 7 && memcmp(out, "a/b+cAj", 7) == 0, "sn_url_decode: escapes decode, '+' stays without plus_is_space");
  r = sn_url_decode("a+b", 3, out, sizeof out, 1);
  CHECK(r == 3 && memcmp(out, "a b", 3) == 0, "sn_url_decode: '+' is a space with plus_is_space");
  strcpy(inplace, "%48%69%21 there");
  r = sn_url_decode(inplace, strlen(inplace), inplace, sizeof inplace, 0);
  CHECK(r == 9 && memcmp(inplace, "Hi! there", 9) == 0, "sn_url_decode: decodes in place (dst == src)");
  CHECK_INT(sn_url_decode("abc%", 4, out, sizeof out, 0), SN_ERR_PROTO, "sn_url_decode: a trailing '%' is SN_ERR_PROTO");
  CHECK_INT(sn_url_decode("abc%4", 5, out, sizeof out, 0), SN_ERR_PROTO, "sn_url_decode: a truncated escape is SN_ERR_PROTO");
  CHECK_INT(sn_url_decode("%zz", 3, out, sizeof out, 0), SN_ERR_PROTO, "sn_url_decode: a non-hex escape is SN_ERR_PROTO");
  CHECK_INT(sn_url_decode("%41", 2, out, sizeof out, 0), SN_ERR_PROTO, "sn_url_decode: an escape cut by len is SN_ERR_PROTO (no byte beyond len is read)");
  {
    char *exact = (char *) malloc(2); /* "%4" with nothing after it, for ASan */
    if (exact == NULL) abort();
    memcpy(exact, "%4", 2);
    CHECK_INT(sn_url_decode(exact, 2, out, sizeof out, 0), SN_ERR_PROTO, "sn_url_decode: '%4' at the very end of the buffer is SN_ERR_PROTO");
    free(exact);
  }
  CHECK_INT(sn_url_decode("abcdef", 6, out, 5, 0), SN_ERR_TOO_BIG, "sn_url_decode: a too-small dst is SN_ERR_TOO_BIG");
  CHECK_INT(sn_url_decode("%41%42", 6, out, 2, 0), 2, "sn_url_decode: dst of exactly the decoded length is enough");
  CHECK_INT(sn_url_decode("", 0, out, 0, 0), 0, "sn_url_decode: empty input gives 0");
  r = sn_url_decode("%00", 3, out, sizeof out, 0);
  CHECK(r == 1 && out[0] == '\0', "sn_url_decode: %00 decodes to a NUL byte (the path check refuses it)");
}

static void test_json(void) {
  char out[128];
  int r;
  static const char src[] = "a\"b\\c\n\x01\x1f\x7f/\xc3\xa9";
  r = sn_json_str(out, sizeof out, src, sizeof src - 1);
  CHECK_STR(out, "\"a\\\"b\\\\c\\u000a\\u0001\\u001f\\u007f/\xc3\xa9\"",
            "sn_json_str: quotes, backslashes and control characters are escaped, UTF-8 kept");
  CHECK_INT(r, strlen(out), "sn_json_str: returns the length written");
  r = sn_json_str(out, sizeof out, "", 0);
  CHECK(r == 2 && strcmp(out, "\"\"") == 0, "sn_json_str: an empty string is \"\"");
  r = sn_json_str(out, sizeof out, "a\0b", 3);
  CHECK(r > 0 && strcmp(out, "\"a\\u0000b\"") == 0, "sn_json_str: a NUL byte is escaped");
  CHECK_INT(sn_json_str(out, 6, "abcd", 4), SN_ERR_TOO_BIG, "sn_json_str: no room for the NUL is SN_ERR_TOO_BIG");
  r = sn_json_str(out, 7, "abcd", 4);
  CHECK(r == 6 && strcmp(out, "\"abcd\"") == 0, "sn_json_str: a buffer of exactly length + 1 is enough");
  CHECK_INT(sn_json_str(out, 8, "\x01", 1), SN_ERR_TOO_BIG, "sn_json_str: an escape that does not fit is SN_ERR_TOO_BIG");
  CHECK_INT(sn_json_str(out, 0, "a", 1), SN_ERR_TOO_BIG, "sn_json_str: a zero-size buffer is SN_ERR_TOO_BIG");
}

static sn_str S(const char *s) {
  sn_str r;
  r.ptr = s;
  r.len = strlen(s);
  return r;
}

static void test_mime(void) {
  CHECK_STR(sn_mime_type(S("/index.html")), "text/html; charset=utf-8", "sn_mime_type: .html is text/html");
  CHECK_STR(sn_mime_type(S("/app.js")), "text/javascript; charset=utf-8", "sn_mime_type: .js is text/javascript");
  CHECK_STR(sn_mime_type(S("/s.css")), "text/css; charset=utf-8", "sn_mime_type: .css is text/css");
  CHECK_STR(sn_mime_type(S("/d.JSON")), "application/json", "sn_mime_type: extensions are case-insensitive");
  CHECK_STR(sn_mime_type(S("/i.png")), "image/png", "sn_mime_type: .png is image/png");
  CHECK_STR(sn_mime_type(S("/i.svg")), "image/svg+xml", "sn_mime_type: .svg is image/svg+xml");
  CHECK_STR(sn_mime_type(S("/f.woff2")), "font/woff2", "sn_mime_type: .woff2 is font/woff2");
  CHECK_STR(sn_mime_type(S("/README")), "application/octet-stream", "sn_mime_type: no extension is octet-stream");
  CHECK_STR(sn_mime_type(S("/a.b/README")), "application/octet-stream", "sn_mime_type: a dot in a directory name is not an extension");
  CHECK_STR(sn_mime_type(S("/x.unknownext")), "application/octet-stream", "sn_mime_type: an unknown extension is octet-stream");
  CHECK_STR(sn_mime_type(S("/x.htmlx")), "application/octet-stream", "sn_mime_type: an extension is compared whole");
  CHECK_STR(sn_mime_type(S("")), "application/octet-stream", "sn_mime_type: an empty path is octet-stream");
  CHECK_STR(sn_mime_type(S("/a.tar.json")), "application/json", "sn_mime_type: the last extension counts");
}

/* The Date of every response (RFC 9110 5.6.7 IMF-fixdate). */
static void test_imf_date(void) {
  static const struct {
    int64_t t;
    const char *want;
  } cases[] = {{0, "Thu, 01 Jan 1970 00:00:00 GMT"},          {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
               {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},   {4107542399LL, "Sun, 28 Feb 2100 23:59:59 GMT"},
               {1767225600, "Thu, 01 Jan 2026 00:00:00 GMT"},  {253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT"}};
  char out[30];
  size_t i;
  int all = 1;
  char why[120] = "";
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memset(out, 'Z', sizeof out);
    if (sn__imf_date(cases[i].t, out) != 29 || strcmp(out, cases[i].want) != 0)
      all = 0, snprintf(why, sizeof why, "%lld gave %.30s", (long long) cases[i].t, out);
  }
  test_report(all, "sn__imf_date: 1970, 1994 (RFC 9110's example), leap days, 2100, 2026 and 9999 in IMF-fixdate", "%s", why);
  CHECK(sn__imf_date(-1, out) == 0 && sn__imf_date(253402300800LL, out) == 0,
        "sn__imf_date: a time before 1970 or after 9999 gives no date");
}

static void test_strerror(void) {
  struct {
    int code;
    const char *name;
  } codes[] = {
#define X(name, num, text) {num, #name},
      SN_ERROR_LIST(X)
#undef X
  };
  size_t n = sizeof codes / sizeof codes[0], i, j;
  int own = 1, distinct = 1;
  char why[200] = "";
  for (i = 0; i < n; i++) {
    const char *t = sn_strerror(codes[i].code);
    if (t == NULL || strcmp(t, "unknown error") == 0 || t[0] == '\0') {
      own = 0;
      snprintf(why, sizeof why, "%s (%d) has no text", codes[i].name, codes[i].code);
    }
    for (j = 0; j < i; j++)
      if (t && strcmp(t, sn_strerror(codes[j].code)) == 0) {
        distinct = 0;
        snprintf(why, sizeof why, "%s and %s share their text", codes[i].name, codes[j].name);
      }
  }
  test_report(own && n == (size_t) -SN__ERR_LAST, "sn_strerror: every code in SN_ERROR_LIST has its own text", "%s (%zu codes)", why, n);
  test_report(distinct, "sn_strerror: no two codes share a text", "%s", why);
  CHECK_STR(sn_strerror(SN__ERR_LAST), "unknown error", "sn_strerror: SN__ERR_LAST says unknown error");
  CHECK_STR(sn_strerror(1), "unknown error", "sn_strerror: a positive code says unknown error");
  CHECK_STR(sn_strerror(-1000), "unknown error", "sn_strerror: -1000 says unknown error");
  CHECK_STR(sn_strerror(SN_ERR_TOO_BIG), "larger than the configured limit", "sn_strerror: SN_ERR_TOO_BIG has its words");
  CHECK_STR(sn_http_reason(431), "Request Header Fields Too Large", "sn_http_reason: 431 has its reason phrase");
}

int main(void) {
  test_complete();
  test_incremental();
  test_path_decoding();
  test_absolute_form();
  test_errors_400();
  test_errors_other();
  test_conformance();
  test_query();
  test_url_decode();
  test_json();
  test_mime();
  test_imf_date();
  test_strerror();
  free(buf);
  return test_summary();
}
