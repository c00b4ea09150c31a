/* test_multipart.c - the streaming multipart/form-data parser on its own
   (sn_multipart_init, sn_multipart_feed, sn_multipart_finish): well-formed
   bodies fed whole, split in two at every offset, in three at many offset
   pairs and byte by byte, giving the same events; part heads (name,
   filename, filename*, quoted strings, Content-Type); the errors the header
   lists; callbacks that stop the parse; no callbacks at all. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "test.h"

#include <stdlib.h>

#define STOP 4242 /* a callback's own error (positive: "anything else" stops the parse) */

/* ---- a record of the events -------------------------------------------------- */
typedef struct rec {
  char *p;
  size_t len, cap;
  int in_data, stop_part, stop_end, parts, ends;
  sn_part last;         /* the last part head, its strings copied below */
  char name[600], filename[600], ctype[600];
  int has_name, has_filename, has_ctype;
} rec;

static void put(rec *r, const void *d, size_t n) {
  if (r->len + n + 1 > r->cap) {
    r->cap = (r->len + n + 1) * 2;
    r->p = (char *) realloc(r->p, r->cap);
    if (r->p == NULL) abort();
  }
  memcpy(r->p + r->len, d, n);
  r->len += n;
  r->p[r->len] = '\0';
}
static void puts_(rec *r, const char *s) { put(r, s, strlen(s)); }

static void put_str(rec *r, sn_str s) {
  char tmp[32];
  if (s.ptr == NULL) {
    puts_(r, " -");
    return;
  }
  snprintf(tmp, sizeof tmp, " [%zu]", s.len);
  puts_(r, tmp);
  put(r, s.ptr, s.len);
}

static void copy_str(sn_str s, char *dst, int *has) {
  *has = s.ptr != NULL;
  memcpy(dst, s.ptr ? s.ptr : "", s.len);
  dst[s.len] = '\0';
}

static int on_part(void *user, const sn_part *p) {
  rec *r = (rec *) user;
  char tmp[32];
  if (r->in_data) puts_(r, "\n");
  r->in_data = 0;
  snprintf(tmp, sizeof tmp, "part %d", p->index);
  puts_(r, tmp);
  put_str(r, p->name);
  put_str(r, p->filename);
  put_str(r, p->content_type);
  puts_(r, "\n");
  r->last = *p;
  copy_str(p->name, r->name, &r->has_name);
  copy_str(p->filename, r->filename, &r->has_filename);
  copy_str(p->content_type, r->ctype, &r->has_ctype);
  return r->parts++ == r->stop_part ? STOP : SN_OK;
}

static int on_data(void *user, const void *d, size_t n) {
  rec *r = (rec *) user;
  if (!r->in_data) puts_(r, "data ");
  r->in_data = 1;
  put(r, d, n);
  return SN_OK;
}

static int on_end(void *user) {
  rec *r = (rec *) user;
  if (r->in_data) puts_(r, "\n");
  r->in_data = 0;
  puts_(r, "end\n");
  return r->ends++ == r->stop_end ? STOP : SN_OK;
}

static sn_str cstr(const char *s) {
  sn_str v;
  v.ptr = s;
  v.len = strlen(s);
  return v;
}

/* the record without its closing "result N" line */
static size_t events_len(const rec *r) {
  size_t n = r->len - 1;
  while (n > 0 && r->p[n - 1] != '\n') n--;
  return n;
}

static const sn_multipart_cb cbs = {on_part, on_data, on_end};
static int max_parts = -1; /* -1: the default */

/* Parses body with this Content-Type, fed in the pieces cuts[0..ncuts) make
   (offsets, ascending; ncuts -1: byte by byte). Returns the result; r holds
   the record (its "result N" line included). */
static int parse(rec *r, const char *ct, const char *body, size_t len, const size_t *cuts, int ncuts) {
  sn_multipart mp;
  size_t off = 0;
  int i, rc;
  char tmp[32];
  free(r->p);
  memset(r, 0, sizeof *r);
  r->stop_part = r->stop_end = -1;
  rc = sn_multipart_init(&mp, cstr(ct), &cbs, r);
  if (rc == SN_OK && max_parts >= 0) mp.max_parts = max_parts;
  for (i = 0; rc == SN_OK && (ncuts < 0 ? off < len : i <= ncuts); i++) {
    size_t end = ncuts < 0 ? off + 1 : i < ncuts ? cuts[i] : len;
    rc = sn_multipart_feed(&mp, body + off, end - off);
    off = end;
  }
  if (rc == SN_OK) rc = sn_multipart_finish(&mp);
  if (r->in_data) puts_(r, "\n");
  snprintf(tmp, sizeof tmp, "result %d\n", rc);
  puts_(r, tmp);
  return rc;
}

static int run(const char *ct, const char *body, size_t len) {
  rec r;
  int rc;
  memset(&r, 0, sizeof r);
  rc = parse(&r, ct, body, len, NULL, 0);
  free(r.p);
  return rc;
}
#define RUN(ct, lit) run((ct), (lit), sizeof(lit) - 1)

/* The body's events fed whole, and split every way asked, must be the same;
   the record of the whole parse must be want (when want is not NULL). */
static void check_splits(const char *what, const char *ct, const char *body, size_t len, const char *want, int want_rc) {
  rec whole, r;
  size_t a, b, cuts[2];
  int bad2 = 0, bad3 = 0, pairs = 0, rc;
  char name[200], detail[200];
  memset(&whole, 0, sizeof whole);
  memset(&r, 0, sizeof r);
  rc = parse(&whole, ct, body, len, NULL, 0);
  snprintf(name, sizeof name, "multipart: %s: fed whole, result %d", what, want_rc);
  CHECK_INT(rc, want_rc, name);
  if (want != NULL) {
    snprintf(name, sizeof name, "multipart: %s: the events", what);
    CHECK_MEM(whole.p, events_len(&whole), want, name);
  }
  for (a = 0; a <= len; a++) {
    cuts[0] = a;
    parse(&r, ct, body, len, cuts, 1);
    if (r.len != whole.len || memcmp(r.p, whole.p, r.len) != 0) {
      if (!bad2) snprintf(detail, sizeof detail, "first at %zu: %s", a, test_show(r.p, r.len));
      bad2++;
    }
  }
  snprintf(name, sizeof name, "multipart: %s: split in two at each of %zu offsets, the same events", what, len + 1);
  test_report(bad2 == 0, name, "%d differ, %s; whole %s", bad2, bad2 ? detail : "", test_show(whole.p, whole.len));
  /* every pair for short bodies; for longer ones every pair near a CR and a stride elsewhere */
  for (a = 0; a <= len; a++) {
    for (b = a; b <= len; b++) {
      int near = (a < len && (body[a] == '\r' || (a && body[a - 1] == '\r'))) || b - a < 4;
      if (len > 120 && !near && (a * 7 + b) % 13 != 0) continue;
      cuts[0] = a;
      cuts[1] = b;
      pairs++;
      parse(&r, ct, body, len, cuts, 2);
      if (r.len != whole.len || memcmp(r.p, whole.p, r.len) != 0) {
        if (!bad3) snprintf(detail, sizeof detail, "first at %zu,%zu", a, b);
        bad3++;
      }
    }
  }
  snprintf(name, sizeof name, "multipart: %s: split in three (%d offset pairs), the same events", what, pairs);
  test_report(bad3 == 0, name, "%d differ, %s", bad3, bad3 ? detail : "");
  parse(&r, ct, body, len, NULL, -1);
  snprintf(name, sizeof name, "multipart: %s: byte by byte, the same events", what);
  test_report(r.len == whole.len && memcmp(r.p, whole.p, r.len) == 0, name, "got %s, whole %s", test_show(r.p, r.len),
              test_show(whole.p, whole.len));
  free(whole.p);
  free(r.p);
}
#define SPLITS(what, ct, lit, want, rc) check_splits((what), (ct), (lit), sizeof(lit) - 1, (want), (rc))

/* the head of the one part of a body "--b" CRLF head CRLF "x" CRLF "--b--" */
static int head_rc(rec *r, const char *head) {
  char body[1200];
  int n = snprintf(body, sizeof body, "--b\r\n%s\r\nx\r\n--b--", head);
  return parse(r, "multipart/form-data; boundary=b", body, (size_t) n, NULL, 0);
}

static const char *CT = "multipart/form-data; boundary=b";

int main(void) {
  rec r;
  char big[2000], b70[71], ct70[120];
  int i, n;
  memset(&r, 0, sizeof r);

  /* ---- well-formed bodies, split every way ---- */
  SPLITS("one part", CT, "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nhello\r\n--b--",
         "part 0 [1]f - -\ndata hello\nend\n", SN_OK);
  SPLITS("several parts", "multipart/form-data; boundary=XyZ",
         "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; "
         "name=\"b\"; filename=\"b.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\x01\x7f\xff\r\n--XyZ\r\n"
         "Content-Disposition: form-data; name=c\r\n\r\nthree\r\n--XyZ--\r\n",
         "part 0 [1]a - -\ndata 1\nend\npart 1 [1]b [5]b.bin [24]application/octet-stream\ndata \x01\x7f\xff\nend\n"
         "part 2 [1]c - -\ndata three\nend\n",
         SN_OK);
  SPLITS("empty data", CT, "--b\r\nContent-Disposition: form-data; name=e\r\n\r\n\r\n--b--", "part 0 [1]e - -\nend\n", SN_OK);
  SPLITS("empty part head", CT, "--b\r\n\r\nabc\r\n--b\r\n\r\n\r\n--b--", "part 0 - - -\ndata abc\nend\npart 1 - - -\nend\n",
         SN_OK);
  SPLITS("no parts (the first delimiter closes)", CT, "--b--", "", SN_OK);
  SPLITS("preamble and epilogue ignored", CT,
         "This is the preamble.\r\n--notb\r\n-b\r\n--b\r\n\r\nd\r\n--b--\r\nepilogue\r\n--b\r\nmore", "part 0 - - -\ndata d\nend\n",
         SN_OK);
  SPLITS("a body opening with CRLF then the delimiter", CT, "\r\n--b\r\n\r\nd\r\n--b--", "part 0 - - -\ndata d\nend\n", SN_OK);
  SPLITS("transport padding after a delimiter", CT, "--b \t \r\n\r\nd\r\n--b\t\r\n\r\ne\r\n--b--  ",
         "part 0 - - -\ndata d\nend\npart 1 - - -\ndata e\nend\n", SN_OK);
  SPLITS("a quoted boundary with escapes", "multipart/form-data; charset=\"x\"; boundary=\"a\\\"b\\\\ c\"",
         "--a\"b\\ c\r\n\r\nd\r\n--a\"b\\ c--", NULL, SN_ERR_PROTO); /* '"' and '\' are not bchars */
  SPLITS("a quoted boundary with an escaped space and bchars", "Multipart/Form-Data;BOUNDARY=\"a\\ (b):=?\"",
         "--a (b):=?\r\n\r\nd\r\n--a (b):=?--", "part 0 - - -\ndata d\nend\n", SN_OK);
  SPLITS("a boundary of one character", "multipart/form-data; boundary=-", "---\r\n\r\n-\r\n--\r\n--x\r\n---\r\n\r\n\r\n-----",
         "part 0 - - -\ndata -\r\n--\r\n--x\nend\npart 1 - - -\nend\n", SN_OK);
  for (i = 0; i < 70; i++) b70[i] = (char) ('a' + i % 26);
  b70[70] = '\0';
  snprintf(ct70, sizeof ct70, "multipart/form-data; boundary=%s", b70);
  n = snprintf(big, sizeof big, "--%s\r\n\r\n\r\n--%.69s\r\n--%sX\r\n--%s--", b70, b70, b70, b70);
  check_splits("a boundary of 70 characters", ct70, big, (size_t) n, NULL, SN_ERR_PROTO); /* delimiter followed by X */
  n = snprintf(big, sizeof big, "--%s\r\n\r\n\r\n--%.69s\r\n-%s\r\n--%s--", b70, b70, b70, b70);
  check_splits("a boundary of 70 characters, its prefixes in the data", ct70, big, (size_t) n, NULL, SN_OK);
  SPLITS("data with CR, LF, CRLF--, and the delimiter's prefixes", "multipart/form-data; boundary=bound",
         "--bound\r\n\r\n\r\r\n\n\r\n--\r\n-\r\n--b\r\n--bou\r\r\n--boun\n--bound is here\r\n--boundx\r\n--bound--",
         NULL, SN_ERR_PROTO); /* "--bound is here" at a line start is a delimiter followed by data */
  SPLITS("data with CR, LF, CRLF-- and the delimiter's prefixes (no delimiter inside)", "multipart/form-data; boundary=bound",
         "--bound\r\n\r\n\r\r\n\n\r\n--\r\n-\r\n--b\r\n--bou\r\r\n--boun\n--bound is here\r\n\r\n--bound--",
         "part 0 - - -\ndata \r\r\n\n\r\n--\r\n-\r\n--b\r\n--bou\r\r\n--boun\n--bound is here\r\n\nend\n", SN_OK);
  SPLITS("a part whose data ends in the delimiter's first bytes", "multipart/form-data; boundary=bound",
         "--bound\r\n\r\nx\r\n--bou\r\n--bound\r\n\r\n\r\n--boun\r\n--bound--",
         "part 0 - - -\ndata x\r\n--bou\nend\npart 1 - - -\ndata \r\n--boun\nend\n", SN_OK);
  SPLITS("data starting with the boundary (no CRLF before it)", CT, "--b\r\n\r\n--b--\r\n--b--", "part 0 - - -\ndata --b--\nend\n",
         SN_OK);

  /* ---- heads ---- */
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; name=\"user name\"; filename=\"a \\\"q\\\" \\\\ b.txt\"\r\n"), SN_OK,
            "multipart: quoted strings with escapes");
  CHECK_STR(r.name, "user name", "multipart: name unquoted");
  CHECK_STR(r.filename, "a \"q\" \\ b.txt", "multipart: filename unquoted, its escapes undone");
  CHECK(!r.has_ctype && r.last.content_type.ptr == NULL && r.last.index == 0, "multipart: no Content-Type: ptr NULL");
  CHECK_INT(head_rc(&r, "content-disposition:form-data;name=tok;FILENAME=f.bin\r\nCONTENT-TYPE:   image/png ; q=1  \r\n"),
            SN_OK, "multipart: field and parameter names without case, token values, no OWS");
  CHECK_STR(r.name, "tok", "multipart: a token name");
  CHECK_STR(r.filename, "f.bin", "multipart: a token filename under FILENAME");
  CHECK_STR(r.ctype, "image/png ; q=1", "multipart: Content-Type as sent, trimmed");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; name=a; filename*=UTF-8''%e2%82%ac%20rates.txt\r\n"), SN_OK,
            "multipart: filename* in UTF-8");
  CHECK_STR(r.filename, "\xe2\x82\xac rates.txt", "multipart: filename* UTF-8 decoded");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename*=iso-8859-1'en'%A3%20%e9t%E9.txt\r\n"), SN_OK,
            "multipart: filename* in ISO-8859-1");
  CHECK_STR(r.filename, "\xc2\xa3 \xc3\xa9t\xc3\xa9.txt", "multipart: filename* ISO-8859-1 decoded to UTF-8");
  CHECK(!r.has_name, "multipart: no name: ptr NULL");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename=\"plain.txt\"; filename*=UTF-8''star.txt\r\n"), SN_OK,
            "multipart: filename then filename*");
  CHECK_STR(r.filename, "star.txt", "multipart: filename* wins (after filename)");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename*=UTF-8''star.txt; filename=\"plain.txt\"\r\n"), SN_OK,
            "multipart: filename* then filename");
  CHECK_STR(r.filename, "star.txt", "multipart: filename* wins (before filename)");
  CHECK_INT(head_rc(&r, "X-Unknown: a; name=\"no\"\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n"
                        "Content-Disposition: attachment; name=\"yes\"; size=3\r\n"),
            SN_OK, "multipart: unknown fields and parameters skipped");
  CHECK_STR(r.name, "yes", "multipart: the name from Content-Disposition only");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; name=\"\"; filename=\"\"\r\nContent-Type:\r\n"), SN_OK,
            "multipart: empty name, filename and Content-Type");
  CHECK(r.has_name && r.has_filename && r.has_ctype && r.last.name.len == 0 && r.last.filename.len == 0,
        "multipart: empty strings are not NULL");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; name=\"\xc3\xa9\xe2\x82\xac\"; filename=\"C:\\\\x\\\\y.txt\"\r\n"),
            SN_OK, "multipart: UTF-8 bytes in a quoted string");
  CHECK_STR(r.name, "\xc3\xa9\xe2\x82\xac", "multipart: UTF-8 name as sent");

  /* ---- errors: the Content-Type ---- */
  CHECK_INT(RUN("application/octet-stream", "--b--"), SN_ERR_PROTO, "multipart: refused: not multipart");
  CHECK_INT(RUN("multipart/", "--b--"), SN_ERR_PROTO, "multipart: refused: multipart/ without a subtype");
  CHECK_INT(RUN("multipart/form-data", "--b--"), SN_ERR_PROTO, "multipart: refused: no boundary");
  CHECK_INT(RUN("multipart/form-data; charset=utf-8", "--b--"), SN_ERR_PROTO, "multipart: refused: no boundary parameter");
  CHECK_INT(RUN("multipart/form-data; boundary=\"\"", "----"), SN_ERR_PROTO, "multipart: refused: empty boundary");
  CHECK_INT(RUN("multipart/form-data; boundary=", "----"), SN_ERR_PROTO, "multipart: refused: boundary= without a value");
  n = snprintf(big, sizeof big, "--%s--", b70);
  CHECK_INT(run(ct70, big, (size_t) n), SN_OK, "multipart: a boundary of 70 characters is taken");
  snprintf(ct70, sizeof ct70, "multipart/form-data; boundary=%sa", b70);
  CHECK_INT(run(ct70, "--b--", 5), SN_ERR_PROTO, "multipart: refused: a boundary of 71 characters");
  snprintf(ct70, sizeof ct70, "multipart/form-data; boundary=\"%s\\a\"", b70);
  CHECK_INT(run(ct70, "--b--", 5), SN_ERR_PROTO, "multipart: refused: a quoted boundary of 71 characters");
  CHECK_INT(RUN("multipart/form-data; boundary=\"a;b\"", "--a;b--"), SN_ERR_PROTO, "multipart: refused: ';' in the boundary");
  CHECK_INT(RUN("multipart/form-data; boundary=\"a\tb\"", "--a\tb--"), SN_ERR_PROTO, "multipart: refused: HTAB in the boundary");
  CHECK_INT(RUN("multipart/form-data; boundary=a*b", "--a*b--"), SN_ERR_PROTO, "multipart: refused: '*' in the boundary");
  CHECK_INT(RUN("multipart/form-data; boundary=\"a \"", "--a --"), SN_ERR_PROTO,
            "multipart: refused: a boundary ending in a space");
  CHECK_INT(RUN("multipart/form-data; boundary=\"a b\"", "--a b--"), SN_OK, "multipart: a space inside a boundary is taken");
  CHECK_INT(RUN("multipart/form-data; boundary=a; boundary=a", "--a--"), SN_ERR_PROTO, "multipart: refused: boundary twice");
  CHECK_INT(RUN("multipart/form-data; boundary=a; BOUNDARY=b", "--a--"), SN_ERR_PROTO,
            "multipart: refused: boundary twice (another case)");
  CHECK_INT(RUN("multipart/form-data; boundary=\"a", "--a--"), SN_ERR_PROTO, "multipart: refused: an unterminated quoted boundary");

  /* ---- errors: the body ---- */
  CHECK_INT(RUN(CT, ""), SN_ERR_PROTO, "multipart: refused at finish: an empty body");
  CHECK_INT(RUN(CT, "--b\r\n\r\ndata"), SN_ERR_PROTO, "multipart: refused at finish: no closing delimiter");
  CHECK_INT(RUN(CT, "--b\r\n\r\ndata\r\n--b"), SN_ERR_PROTO, "multipart: refused at finish: a delimiter, then the end");
  CHECK_INT(RUN(CT, "--b\r\n\r\ndata\r\n--b-"), SN_ERR_PROTO, "multipart: refused at finish: one dash of the closing");
  CHECK_INT(RUN(CT, "--b\r\nContent-Type: x\r\n"), SN_ERR_PROTO, "multipart: refused at finish: the end inside a head");
  CHECK_INT(RUN(CT, "--bc\r\n\r\n\r\n--b--"), SN_ERR_PROTO, "multipart: refused: a delimiter followed by data");
  CHECK_INT(RUN(CT, "--b\r\n\r\nx\r\n--b -- \r\n"), SN_ERR_PROTO, "multipart: refused: padding, then the closing dashes");
  CHECK_INT(RUN(CT, "--b\r\r\n\r\n\r\n--b--"), SN_ERR_PROTO, "multipart: refused: CR without LF after a delimiter");
  CHECK_INT(RUN(CT, "--b\n\r\n\r\n--b--"), SN_ERR_PROTO, "multipart: refused: LF alone after a delimiter");
  CHECK_INT(RUN(CT, "--b\r\n\r\nx\r\n--b-x"), SN_ERR_PROTO, "multipart: refused: a dash and data after a delimiter");
  /* a head of exactly SN_MULTIPART_HEAD bytes (its CRLFs included) passes, one more does not */
  for (n = SN_MULTIPART_HEAD - 1; n <= SN_MULTIPART_HEAD + 1; n++) {
    int fill = n - (int) strlen("X: \r\n\r\n"), len = 0;
    char name[120];
    memcpy(big, "--b\r\nX: ", 8);
    len = 8;
    memset(big + len, 'h', (size_t) fill);
    len += fill;
    memcpy(big + len, "\r\n\r\nd\r\n--b--", 13);
    len += 13;
    snprintf(name, sizeof name, "multipart: a part head of %d bytes (limit %d)", n, SN_MULTIPART_HEAD);
    CHECK_INT(run(CT, big, (size_t) len), n <= SN_MULTIPART_HEAD ? SN_OK : SN_ERR_TOO_BIG, name);
  }
  n = snprintf(big, sizeof big, "--b\r\n");
  for (i = 0; i < SN_MULTIPART_HEAD; i++) big[n++] = 'x';
  CHECK_INT(run(CT, big, (size_t) n), SN_ERR_PROTO, "multipart: a head of the limit, unterminated, then the end: no closing");
  big[n++] = 'x';
  CHECK_INT(run(CT, big, (size_t) n), SN_ERR_TOO_BIG, "multipart: a head over the limit, unterminated: too big at once");
  /* max_parts */
  n = 0;
  for (i = 0; i < SN_MULTIPART_PARTS; i++) n += snprintf(big + n, sizeof big - (size_t) n, "--b\r\n\r\n%d\r\n", i);
  n += snprintf(big + n, sizeof big - (size_t) n, "--b--");
  CHECK_INT(run(CT, big, (size_t) n), SN_OK, "multipart: SN_MULTIPART_PARTS parts are taken");
  n -= 5;
  n += snprintf(big + n, sizeof big - (size_t) n, "--b\r\n\r\nmore\r\n--b--");
  parse(&r, CT, big, (size_t) n, NULL, 0);
  CHECK(strstr(r.p, "result -19") != NULL && r.parts == SN_MULTIPART_PARTS && r.ends == SN_MULTIPART_PARTS,
        "multipart: one part more is too big, refused before its head (every earlier part ended)");
  max_parts = 1;
  CHECK_INT(RUN(CT, "--b\r\n\r\n\r\n--b--"), SN_OK, "multipart: max_parts 1, one part");
  CHECK_INT(RUN(CT, "--b\r\n\r\n\r\n--b\r\n\r\n\r\n--b--"), SN_ERR_TOO_BIG, "multipart: max_parts 1, two parts: too big");
  max_parts = 0;
  CHECK_INT(RUN(CT, "--b--"), SN_OK, "multipart: max_parts 0, no parts");
  CHECK_INT(RUN(CT, "--b\r\n\r\n\r\n--b--"), SN_ERR_TOO_BIG, "multipart: max_parts 0, one part: too big");
  max_parts = -1;

  /* ---- errors: heads ---- */
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data;\r\n name=a\r\n"), SN_ERR_PROTO, "multipart: refused: a folded line");
  CHECK_INT(head_rc(&r, "Content-Type: a\r\n\tb\r\n"), SN_ERR_PROTO, "multipart: refused: a line folded with HTAB");
  CHECK_INT(head_rc(&r, "no colon here\r\n"), SN_ERR_PROTO, "multipart: refused: a line without a colon");
  CHECK_INT(head_rc(&r, ": empty name\r\n"), SN_ERR_PROTO, "multipart: refused: an empty field name");
  CHECK_INT(head_rc(&r, "Bad Name: x\r\n"), SN_ERR_PROTO, "multipart: refused: a space in a field name");
  CHECK_INT(head_rc(&r, "Content-Type: a\rb\r\n"), SN_ERR_PROTO, "multipart: refused: a bare CR in a head");
  CHECK_INT(head_rc(&r, "Content-Type: a\nb\r\n"), SN_ERR_PROTO, "multipart: refused: a bare LF in a head");
  CHECK_INT(head_rc(&r, "Content-Type: a\n\r\n"), SN_ERR_PROTO, "multipart: refused: a bare LF before the head's end");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; name=a; name=b\r\n"), SN_ERR_PROTO, "multipart: refused: name twice");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename=a; FileName=\"b\"\r\n"), SN_ERR_PROTO,
            "multipart: refused: filename twice");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename*=utf-8''a; filename*=utf-8''b\r\n"), SN_ERR_PROTO,
            "multipart: refused: filename* twice");
  /* securenet.h: "A parameter given twice ... is an error" (RFC 6266 4.1); finding 10 in tests/fuzz/README.md */
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; name=a; size=1; size=2\r\n"), SN_ERR_PROTO,
            "multipart: refused: another parameter twice (size)");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; name=a; creation-date=\"x\"; Creation-Date=\"y\"\r\n"), SN_ERR_PROTO,
            "multipart: refused: another parameter twice, in another case");
  CHECK_INT(head_rc(&r, "Content-Type: a\r\nContent-Type: b\r\n"), SN_ERR_PROTO, "multipart: refused: Content-Type twice");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data\r\ncontent-disposition: form-data\r\n"), SN_ERR_PROTO,
            "multipart: refused: Content-Disposition twice");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename*=koi8-r''%C1\r\n"), SN_ERR_PROTO,
            "multipart: refused: filename* in another charset");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename*=''a\r\n"), SN_ERR_PROTO,
            "multipart: refused: filename* without a charset");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename*=utf-8'a\r\n"), SN_ERR_PROTO,
            "multipart: refused: filename* with one quote");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename*=utf-8''a'b\r\n"), SN_ERR_PROTO,
            "multipart: refused: filename* with a third quote");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename*=utf-8''a%4\r\n"), SN_ERR_PROTO,
            "multipart: refused: filename* with a cut %-escape");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename*=utf-8''a%g0\r\n"), SN_ERR_PROTO,
            "multipart: refused: filename* with a bad %-escape");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename*=utf-8''a%00\r\n"), SN_ERR_PROTO,
            "multipart: refused: filename* decoding to NUL");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; filename*=\"utf-8''a\"\r\n"), SN_ERR_PROTO,
            "multipart: refused: a quoted filename*");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; name=\"a\r\n"), SN_ERR_PROTO,
            "multipart: refused: an unterminated quoted string");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; name=\"a\"b\r\n"), SN_ERR_PROTO,
            "multipart: refused: bytes after a quoted string");
  CHECK_INT(head_rc(&r, "Content-Disposition: ; name=a\r\n"), SN_ERR_PROTO, "multipart: refused: no disposition type");
  CHECK_INT(head_rc(&r, "Content-Disposition: form-data; name\r\n"), SN_ERR_PROTO, "multipart: refused: a parameter without =");

  /* ---- callbacks ---- */
  {
    static const char body[] = "--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b\r\n\r\nthree\r\n--b--";
    sn_multipart mp;
    rec q;
    int rc;
    memset(&q, 0, sizeof q);
    q.stop_part = 1;
    q.stop_end = -1;
    sn_multipart_init(&mp, cstr(CT), &cbs, &q);
    rc = sn_multipart_feed(&mp, body, sizeof body - 1);
    CHECK_INT(rc, STOP, "multipart: on_part's error is returned as is");
    CHECK(q.parts == 2 && q.ends == 1 && strstr(q.p, "two") == NULL, "multipart: nothing is called after on_part's error");
    CHECK(sn_multipart_feed(&mp, "x", 1) == STOP && sn_multipart_feed(&mp, body, 0) == STOP &&
              sn_multipart_finish(&mp) == STOP && mp.err == STOP && mp.why != NULL && mp.why[0],
          "multipart: every later call returns the callback's error");
    free(q.p);
    memset(&q, 0, sizeof q);
    q.stop_part = -1;
    q.stop_end = 0;
    sn_multipart_init(&mp, cstr(CT), &cbs, &q);
    rc = 0;
    for (i = 0; i < (int) sizeof body - 1 && rc == 0; i++) rc = sn_multipart_feed(&mp, body + i, 1);
    CHECK(rc == STOP && q.parts == 1 && q.ends == 1 && i == 15,
          "multipart: on_part_end's error stops the parse at the delimiter's last byte");
    CHECK_INT(sn_multipart_finish(&mp), STOP, "multipart: finish returns on_part_end's error");
    free(q.p);
    sn_multipart_init(&mp, cstr(CT), NULL, NULL);
    CHECK(sn_multipart_feed(&mp, body, sizeof body - 1) == SN_OK && sn_multipart_finish(&mp) == SN_OK,
          "multipart: no callbacks (cb NULL): a syntax check that accepts");
    sn_multipart_init(&mp, cstr(CT), NULL, NULL);
    CHECK(sn_multipart_feed(&mp, body, sizeof body - 6) == SN_OK && sn_multipart_finish(&mp) == SN_ERR_PROTO &&
              strcmp(mp.why, "") != 0,
          "multipart: no callbacks: a cut body refused at finish, with a reason");
    sn_multipart_init(&mp, cstr(CT), NULL, NULL);
    CHECK_INT(sn_multipart_feed(&mp, "--b\r\nbad\r\n\r\n", 12), SN_ERR_PROTO, "multipart: no callbacks: a bad head refused");
    CHECK_INT(sn_multipart_init(&mp, cstr("text/plain"), &cbs, NULL), SN_ERR_PROTO, "multipart: init refuses text/plain");
    CHECK(sn_multipart_feed(&mp, "--b--", 5) == SN_ERR_PROTO && sn_multipart_finish(&mp) == SN_ERR_PROTO,
          "multipart: after a refused init, feed and finish return its error");
    memset(&mp, 0, sizeof mp);
    CHECK_INT(sn_multipart_feed(&mp, "x", 1), SN_ERR_STATE, "multipart: a zeroed struct (never initialised): SN_ERR_STATE");
  }
  free(r.p);
  return test_summary();
}
