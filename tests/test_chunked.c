/* test_chunked.c - the chunked transfer coding decoder, sn_chunked_decode().

   Proves: simple and multi-chunk bodies, extensions and trailers, decoding
   in place (dst == src), that any split of the input (byte by byte, random
   pieces from a fixed-seed PRNG) gives the same body, that a call returning
   0 has consumed all it was given (the server relies on it), the max_body
   limit (SN_ERR_TOO_BIG), malformed framing (SN_ERR_PROTO, chunk extensions
   against RFC 9112 7.1.1 included), and that bytes
   after the last chunk's CRLF are not consumed (pipelined data survives).

   Inputs are copied into exact-size heap buffers so ASan sees over-reads. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "test.h"

#include <stdlib.h>

enum { ONE_CALL, BYTEWISE, RANDOM_SPLITS };

typedef struct result {
  int ret;          /* last return value */
  size_t consumed;  /* total consumed */
  char body[4096];  /* decoded bytes */
  size_t len;       /* their count */
  int short_zero;   /* a call returned 0 without consuming all it was given */
  uint64_t total;   /* st.total at the end */
} result;

/* Decodes src[0..n) in pieces chosen by mode, into a separate buffer or in
   place (each piece placed right after the bytes decoded so far, where the
   server's receive buffer has it). Stops at the first non-zero return. */
static void decode(const char *src, size_t n, int mode, int in_place, uint64_t max_body, result *res) {
  sn_chunked st;
  char *work = (char *) malloc(n ? n : 1);
  size_t pos = 0;
  memset(&st, 0, sizeof st);
  memset(res, 0, sizeof *res);
  if (work == NULL) abort();
  while (pos < n && res->ret == 0) {
    size_t piece = n - pos, consumed = 0, produced = 0;
    char *in, *dst;
    if (mode == BYTEWISE) piece = 1;
    else if (mode == RANDOM_SPLITS) piece = 1 + test_rand_below((unsigned) (n - pos < 17 ? n - pos : 17));
    if (in_place) {
      in = dst = work + res->len; /* decoded bytes stay in front */
      memmove(in, src + pos, piece);
    } else {
      in = (char *) malloc(piece); /* an exact-size copy of just this piece */
      dst = (char *) malloc(piece);
      if (in == NULL || dst == NULL) abort();
      memcpy(in, src + pos, piece);
    }
    res->ret = sn_chunked_decode(&st, in, piece, dst, &consumed, &produced, max_body);
    if (res->ret == 0 && consumed != piece) res->short_zero = 1;
    if (res->ret >= 0 && produced <= piece && res->len + produced <= sizeof res->body) {
      memcpy(res->body + res->len, dst, produced);
      res->len += produced;
    }
    if (!in_place) {
      free(in);
      free(dst);
    }
    res->consumed += consumed;
    pos += consumed;
    if (consumed == 0 && res->ret == 0) break; /* no progress: would loop */
  }
  res->total = st.total;
  free(work);
}

/* Checks that src decodes to want (ret 1, `used` bytes consumed, every call
   that returned 0 consumed all it got) in each mode, in place and not. */
static void check_body(const char *what, const char *src, size_t n, const char *want, size_t want_len, size_t used) {
  static const char *const modes[] = {"in one call", "byte by byte", "in random splits"};
  int mode, in_place;
  char name[300];
  for (mode = ONE_CALL; mode <= RANDOM_SPLITS; mode++) {
    int ok = 1;
    char why[600] = "";
    for (in_place = 0; in_place <= 1; in_place++) {
      result res;
      decode(src, n, mode, in_place, 65536, &res);
      if (!(res.ret == 1 && res.len == want_len && memcmp(res.body, want, want_len) == 0 && res.consumed == used &&
            !res.short_zero && res.total == want_len)) {
        ok = 0;
        snprintf(why, sizeof why, "%s: ret %d, body %s (want %s), consumed %zu of %zu (want %zu)%s, total %llu",
                 in_place ? "in place" : "separate dst", res.ret, test_show(res.body, res.len),
                 test_show(want, want_len), res.consumed, n, used,
                 res.short_zero ? ", a call returned 0 with input left" : "", (unsigned long long) res.total);
      }
    }
    snprintf(name, sizeof name, "chunked: %s: decoded %s, in place and into another buffer", what, modes[mode]);
    test_report(ok, name, "%s", why);
  }
}

#define BODY(what, src, want) check_body(what, src, sizeof(src) - 1, want, sizeof(want) - 1, sizeof(src) - 1)

/* The return of decoding src in one call, byte by byte and in random
   splits: all three must equal want. */
static void check_error(const char *what, const char *src, size_t n, uint64_t max_body, int want) {
  result a, b, c;
  char name[300];
  decode(src, n, ONE_CALL, 0, max_body, &a);
  decode(src, n, BYTEWISE, 1, max_body, &b);
  decode(src, n, RANDOM_SPLITS, 0, max_body, &c);
  snprintf(name, sizeof name, "chunked: %s gives %s", what, want == SN_ERR_PROTO ? "SN_ERR_PROTO" : want == SN_ERR_TOO_BIG ? "SN_ERR_TOO_BIG" : "?");
  test_report(a.ret == want && b.ret == want && c.ret == want, name, "one call %d, byte by byte %d, random splits %d (want %d)",
              a.ret, b.ret, c.ret, want);
}
#define BAD(what, src) check_error(what, src, sizeof(src) - 1, 65536, SN_ERR_PROTO)

static void test_bodies(void) {
  BODY("a single chunk", "5\r\nhello\r\n0\r\n\r\n", "hello");
  BODY("several chunks", "5\r\nhello\r\n1\r\n,\r\n6\r\n world\r\n0\r\n\r\n", "hello, world");
  BODY("upper and lower case hex sizes", "A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij");
  BODY("a chunk extension", "5;name=val\r\nhello\r\n3 ; x=\"q;r\"\r\nabc\r\n0;last\r\n\r\n", "helloabc");
  BODY("chunk extensions with BWS, several names, quoted pairs and obs-text (RFC 9112 7.1.1)",
       "5 \t; a = b ;c;d=\"x\\\"y\\\\ \t\x80\" ; e\t=\t\"\"\r\nhello\r\n0;!#$%&'*+-.^_`|~=tok\r\n\r\n", "hello");
  BODY("trailer fields", "3\r\nabc\r\n0\r\nX-Trailer: 1\r\nY: two words\r\n\r\n", "abc");
  BODY("an empty body", "0\r\n\r\n", "");
  BODY("data holding CRLF and a fake last chunk", "9\r\n0\r\n\r\n\r\nxy\r\n0\r\n\r\n", "0\r\n\r\n\r\nxy");
  BODY("binary data with NUL bytes", "4\r\n\0\1\2\3\r\n0\r\n\r\n", "\0\1\2\3");
  BODY("leading zeros in a size (15 hex digits)", "000000000000003\r\nabc\r\n0\r\n\r\n", "abc");
  {
    /* a larger body in many chunks */
    static char src[3000], want[2000];
    size_t n = 0, w = 0, i;
    for (i = 0; i < 40; i++) {
      size_t k, len = 1 + i % 37;
      n += (size_t) sprintf(src + n, "%lx\r\n", (unsigned long) len);
      for (k = 0; k < len; k++) src[n++] = want[w++] = (char) ('a' + (i + k) % 26);
      src[n++] = '\r';
      src[n++] = '\n';
    }
    n += (size_t) sprintf(src + n, "0\r\n\r\n");
    check_body("40 chunks of 1 to 37 bytes", src, n, want, w, n);
  }
}

static void test_pipelined(void) {
  static const char src[] = "3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
  size_t chunked_len = sizeof "3\r\nabc\r\n0\r\n\r\n" - 1;
  static const char src2[] = "3\r\nabc\r\n0\r\nT: v\r\n\r\nPOST";
  size_t chunked_len2 = sizeof "3\r\nabc\r\n0\r\nT: v\r\n\r\n" - 1;
  int seed;
  check_body("a body followed by a pipelined request", src, sizeof src - 1, "abc", 3, chunked_len);
  check_body("a body with a trailer followed by pipelined bytes", src2, sizeof src2 - 1, "abc", 3, chunked_len2);
  {
    sn_chunked st;
    size_t consumed, produced;
    char out[64];
    int r1, r2;
    memset(&st, 0, sizeof st);
    r1 = sn_chunked_decode(&st, src, sizeof src - 1, out, &consumed, &produced, 1000);
    CHECK(r1 == 1 && consumed == chunked_len && produced == 3,
          "chunked: consumed stops right after the last chunk's CRLF");
    r2 = sn_chunked_decode(&st, src + consumed, sizeof src - 1 - consumed, out, &consumed, &produced, 1000);
    CHECK(r2 == 1 && consumed == 0 && produced == 0, "chunked: after the end, further calls return 1 and consume nothing");
    r2 = sn_chunked_decode(&st, src, 0, out, &consumed, &produced, 1000);
    CHECK(r2 == 1 && consumed == 0, "chunked: after the end, an empty call returns 1");
  }
  {
    int good = 1;
    for (seed = 1; seed <= 200; seed++) {
      result res;
      test_srand((unsigned long long) seed * 7919u);
      decode(src, sizeof src - 1, RANDOM_SPLITS, seed & 1, 1000, &res);
      if (res.ret != 1 || res.consumed != chunked_len || res.len != 3 || memcmp(res.body, "abc", 3) != 0) good = 0;
    }
    CHECK(good, "chunked: over 200 random splits, the pipelined bytes are never consumed");
  }
  {
    sn_chunked st;
    size_t consumed, produced;
    char out[16];
    int r;
    memset(&st, 0, sizeof st);
    r = sn_chunked_decode(&st, "5\r\nhel", 6, out, &consumed, &produced, 1000);
    CHECK(r == 0 && consumed == 6 && produced == 3 && memcmp(out, "hel", 3) == 0,
          "chunked: a partial chunk is decoded as far as it goes and returns 0");
    CHECK(st.remaining == 2, "chunked: the state remembers the bytes left in the chunk");
  }
}

static void test_limits(void) {
  static const char five[] = "5\r\nhello\r\n0\r\n\r\n";
  result res;
  check_error("a chunk over max_body", five, sizeof five - 1, 4, SN_ERR_TOO_BIG);
  decode(five, sizeof five - 1, ONE_CALL, 0, 5, &res);
  CHECK(res.ret == 1 && res.len == 5, "chunked: a body of exactly max_body is accepted");
  check_error("chunks that add up to more than max_body", "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 22, 5, SN_ERR_TOO_BIG);
  check_error("a huge chunk size (15 hex digits)", "fffffffffffffff\r\nx", 18, 65536, SN_ERR_TOO_BIG);
  {
    sn_chunked st;
    size_t consumed, produced;
    char out[8];
    int r;
    memset(&st, 0, sizeof st);
    r = sn_chunked_decode(&st, "6\r\nabcdef", 9, out, &consumed, &produced, 5);
    CHECK(r == SN_ERR_TOO_BIG && produced == 0, "chunked: an over-limit chunk is refused before any of its data is written");
  }
}

static void test_malformed(void) {
  BAD("missing CRLF after the data", "3\r\nabcX\r\n0\r\n\r\n");
  BAD("data followed by LF without CR", "3\r\nabc\n0\r\n\r\n");
  BAD("data followed by CR without LF", "3\r\nabc\rX0\r\n\r\n");
  BAD("a non-hex size", "g\r\nabc\r\n0\r\n\r\n");
  BAD("a size with a non-hex tail", "3x\r\nabc\r\n0\r\n\r\n");
  BAD("a 0x prefix", "0x3\r\nabc\r\n0\r\n\r\n");
  BAD("a negative size", "-3\r\nabc\r\n0\r\n\r\n");
  BAD("an empty size line", "\r\nabc\r\n0\r\n\r\n");
  BAD("an extension without a size", ";x\r\nabc\r\n0\r\n\r\n");
  BAD("16 hex digits in a size", "0000000000000003\r\nabc\r\n0\r\n\r\n");
  BAD("a size line ending in LF without CR", "3\nabc\r\n0\r\n\r\n");
  BAD("an extension ending in LF without CR", "3;x\nabc\r\n0\r\n\r\n");
  BAD("a size line with CR not followed by LF", "3\rabc\r\n0\r\n\r\n");
  BAD("a last-chunk line ending in LF without CR", "0\n\r\n");
  BAD("a trailer line ending in LF without CR", "0\r\nX: y\n\r\n");
  BAD("a trailer with a bare CR", "0\r\nX: a\rb\r\n\r\n");
  BAD("a final empty line of CR then a non-LF byte", "0\r\n\rX");
  BAD("a final empty line that is a bare LF", "0\r\n\n");
  BAD("a size, whitespace, then more digits (RFC 9112 7.1.1 allows only BWS then ';')", "5 6\r\nhello\r\n0\r\n\r\n");
  /* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) (RFC 9112 7.1.1) */
  BAD("white space after the size with no ';' (\"5 \\r\\n\")", "5 \r\nhello\r\n0\r\n\r\n");
  BAD("a bare ';' after the size", "5;\r\nhello\r\n0\r\n\r\n");
  BAD("a ';' with only white space after it", "5; \r\nhello\r\n0\r\n\r\n");
  BAD("';;' (an empty extension name)", "5;;a\r\nhello\r\n0\r\n\r\n");
  BAD("an extension name that is not a token ('(')", "5;(a)\r\nhello\r\n0\r\n\r\n");
  BAD("an extension name holding '@'", "5;a@b\r\nhello\r\n0\r\n\r\n");
  BAD("a NUL in an extension name", "5;a\0b\r\nhello\r\n0\r\n\r\n");
  BAD("a NUL in an extension value", "5;a=b\0\r\nhello\r\n0\r\n\r\n");
  BAD("a NUL in a quoted extension value", "5;a=\"b\0\"\r\nhello\r\n0\r\n\r\n");
  BAD("a control character (0x01) in an extension", "5;a\x01\r\nhello\r\n0\r\n\r\n");
  BAD("DEL in a quoted extension value", "5;a=\"\x7f\"\r\nhello\r\n0\r\n\r\n");
  BAD("'=' with no value", "5;a=\r\nhello\r\n0\r\n\r\n");
  BAD("'=' with only white space after it", "5;a= \r\nhello\r\n0\r\n\r\n");
  BAD("a value that is not a token ('b/c')", "5;a=b/c\r\nhello\r\n0\r\n\r\n");
  BAD("two '='", "5;a==b\r\nhello\r\n0\r\n\r\n");
  BAD("an unterminated quoted value", "5;a=\"b\r\nhello\r\n0\r\n\r\n");
  BAD("a byte right after a closing quote", "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n");
  BAD("white space after an extension name before CRLF", "5;a \r\nhello\r\n0\r\n\r\n");
  BAD("white space after an extension value before CRLF", "5;a=b \r\nhello\r\n0\r\n\r\n");
  BAD("two names with only white space between them", "5;a b\r\nhello\r\n0\r\n\r\n");
  BAD("a bare ';' on the last chunk", "0;\r\n\r\n");
  BAD("white space after the last chunk's size", "0 \r\n\r\n");
  {
    /* an extension longer than the decoder's bound */
    static char src[600];
    memset(src, 'x', sizeof src);
    memcpy(src, "3;", 2);
    memcpy(src + sizeof src - 2, "\r\n", 2);
    check_error("a chunk extension of 600 bytes", src, sizeof src, 65536, SN_ERR_PROTO);
  }
  {
    /* a trailer field longer than the decoder's bound */
    static char src[5000];
    memset(src, 'x', sizeof src);
    memcpy(src, "0\r\nX: ", 6);
    memcpy(src + sizeof src - 4, "\r\n\r\n", 4);
    check_error("a trailer line of 5000 bytes", src, sizeof src, 65536, SN_ERR_PROTO);
  }
}

int main(void) {
  test_srand(12345);
  test_bodies();
  test_pipelined();
  test_limits();
  test_malformed();
  return test_summary();
}
