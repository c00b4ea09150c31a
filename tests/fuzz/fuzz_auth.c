/* fuzz_auth.c - the login layer's parsers of untrusted bytes: the session
   cookie (sn__cookie_session), HTTP Basic credentials (sn__basic_decode),
   a user line (sn_user_parse) and a form body (sn_http_form).

   Input: byte 0 the mode (value % 5), bytes 1 and 2 sizes (A, B), the rest
   the payload P:
     0 cookie    P is a Cookie header value
     1 basic     P is an Authorization value; user_cap 1 + A % 48, pw_cap B % 160
     2 basic64   P is the decoded credentials: the target writes
                 "Basic " + base64(P) itself (A bit 0: no padding, bit 1:
                 scheme "basic", bit 2: two spaces, bit 3: a trailing byte
                 B appended to the base64, bit 4: a flipped bit in the last
                 base64 character), caps as in mode 1 from B and A >> 5
     3 user      P is a user line (sn-passwd's format)
     4 form      P is "NAME\nBODY"; out_len A (A >= 200: 4096); B bit 0:
                 no Content-Type, bit 1: "application/x-www-form-urlencoded;
                 charset=UTF-8", bit 2: "text/plain"
   Each checks the function against a reference written here from
   securenet.h's contract. A reference splits inputs into those it must
   accept, those it must refuse, and a few it may take either way (named
   at each MAY below); whatever is accepted must give exactly the
   reference's output. Buffers are heap blocks of the exact size, so ASan
   sees a write past a cap or a read past the input. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "fuzz_common.h"

enum { REF_REFUSE = 0, REF_ACCEPT = 1, REF_MAY = 2 };

static int ref_hex(int ch) { /* lowercase only */
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}
static int ref_hex_any(int ch) {
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return ref_hex(ch);
}

/* valid UTF-8 (RFC 3629: no overlong form, no surrogate, at most U+10FFFF) */
static int ref_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i], need, cp, k;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) need = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) need = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) need = 3, cp = c & 0x07;
    else return 0;
    if (i + need >= n) return 0;
    for (k = 1; k <= need; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += need + 1;
  }
  return 1;
}

static int ref_ctl(unsigned ch) { return ch < 0x20 || ch == 0x7f; }

/* ---- the session cookie ----------------------------------------------------------
   RFC 6265 4.2.1: cookie-string = cookie-pair *( ";" SP cookie-pair ). The
   reference splits at ';', trims SP and HTAB around each piece, and looks
   for pieces named exactly "__Host-sn" (names are case-sensitive). It
   must refuse when no piece has that name or none of those has a value of
   exactly 32 lowercase hex digits; it must accept when the value is that,
   the pair is the only one of its name and the string is pairs separated
   by "; " (or one pair). MAY: other separators or white space (";" alone,
   tabs, spaces around '='), a quoted value, the name twice, other pieces
   that are not name=value; accepted, the id must be one piece's digits. */
#define REF_COOKIE_MAX 64
typedef struct ref_cookie {
  int cls;
  int nvalid;
  unsigned char ids[REF_COOKIE_MAX][16];
} ref_cookie;

static int ref_id(const char *v, size_t n, unsigned char id[16]) {
  size_t i;
  if (n != 32) return 0;
  for (i = 0; i < 32; i++)
    if (ref_hex((unsigned char) v[i]) < 0) return 0;
  for (i = 0; i < 16; i++) id[i] = (unsigned char) (ref_hex((unsigned char) v[2 * i]) << 4 | ref_hex((unsigned char) v[2 * i + 1]));
  return 1;
}

static void ref_cookie_session(const char *s, size_t n, ref_cookie *r) {
  size_t i = 0;
  int named = 0, strict = 1, plain_valid = 0;
  memset(r, 0, sizeof *r);
  while (i <= n) {
    const char *semi = (const char *) memchr(s + i, ';', n - i);
    size_t end = semi ? (size_t) (semi - s) : n, a = i, b = end;
    const char *eq;
    if (semi && (end + 1 >= n || s[end + 1] != ' ')) strict = 0; /* "; " between pairs */
    if (i > 0 && a < b && s[a] == ' ') a++;                    /* the SP of "; " */
    if (a < b && (s[a] == ' ' || s[a] == '\t')) strict = 0;
    if (a < b && (s[b - 1] == ' ' || s[b - 1] == '\t')) strict = 0;
    while (a < b && (s[a] == ' ' || s[a] == '\t')) a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) b--;
    eq = (const char *) memchr(s + a, '=', b - a);
    if (eq == NULL) {
      strict = 0; /* a piece that is no pair (or an empty one) */
    } else {
      size_t na = a, nb = (size_t) (eq - s), va = nb + 1, vb = b;
      int spaced = 0;
      while (nb > na && (s[nb - 1] == ' ' || s[nb - 1] == '\t')) nb--, spaced = 1;
      while (va < vb && (s[va] == ' ' || s[va] == '\t')) va++, spaced = 1;
      if (nb - na == 9 && memcmp(s + na, "__Host-sn", 9) == 0) {
        unsigned char id[16];
        named++;
        if (spaced) strict = 0;
        if (ref_id(s + va, vb - va, id)) {
          if (!spaced) plain_valid++;
          if (r->nvalid < REF_COOKIE_MAX) memcpy(r->ids[r->nvalid++], id, 16);
        } else if (vb - va == 34 && s[va] == '"' && s[vb - 1] == '"' && ref_id(s + va + 1, 32, id)) {
          strict = 0; /* MAY: a quoted value (RFC 6265's cookie-value allows DQUOTEs) */
          if (r->nvalid < REF_COOKIE_MAX) memcpy(r->ids[r->nvalid++], id, 16);
        }
      }
    }
    if (!semi) break;
    i = end + 1;
  }
  if (named == 0 || r->nvalid == 0) r->cls = REF_REFUSE;
  else if (named == 1 && plain_valid == 1 && strict) r->cls = REF_ACCEPT;
  else r->cls = REF_MAY;
}

static void run_cookie(const uint8_t *p, size_t n) {
  ref_cookie ref;
  unsigned char id[16];
  sn_str v;
  int r, k, found = 0;
  v.ptr = (const char *) p;
  v.len = n;
  memset(id, 0xa5, sizeof id);
  r = sn__cookie_session(v, id);
  ref_cookie_session((const char *) p, n, &ref);
  FZ_CHECK(r == 0 || r == 1, "sn__cookie_session returned %d", r);
  if (ref.cls == REF_ACCEPT) FZ_CHECK(r == 1, "a well-formed session cookie refused: \"%.*s\"", (int) (n > 300 ? 300 : n), (const char *) p);
  if (ref.cls == REF_REFUSE) FZ_CHECK(r == 0, "no valid __Host-sn pair, yet accepted: \"%.*s\"", (int) (n > 300 ? 300 : n), (const char *) p);
  if (r == 1) {
    for (k = 0; k < ref.nvalid; k++) found |= memcmp(id, ref.ids[k], 16) == 0;
    FZ_CHECK(found, "accepted id is no pair's digits: \"%.*s\"", (int) (n > 300 ? 300 : n), (const char *) p);
  }
}

/* ---- HTTP Basic (RFC 7617) ---------------------------------------------------------
   credentials = auth-scheme 1*SP token68 (RFC 9110 11.4); the scheme is
   case-insensitive; token68 here is base64 (RFC 4648 4) of user-id ":"
   password, the user-id what comes before the first ':'. Must refuse:
   another scheme, a character outside the alphabet or '=' anywhere but at
   the end, a length of 1 mod 4 (no bytes can end there), no ':', a NUL or
   control byte in the user, a user that does not fit user_cap with its NUL
   or is longer than SN_USER_NAME_MAX (securenet.h: "a user that is no
   name"), a password over pw_cap. Must accept: "Basic" in any case, one SP, padded
   base64 whose unused bits are zero, a user of 1..SN_USER_NAME_MAX bytes
   (valid UTF-8, no control byte) that fits with its NUL, a password below
   pw_cap (no NUL in it). MAY: several spaces, SP or HTAB around the
   value (the header parser trims them anyway), unpadded or non-canonical
   base64, an empty user, a user that is not UTF-8, a password of exactly
   pw_cap bytes, holding a NUL or over SN_AUTH_PASSWORD_MAX (sn_user_check
   refuses those). Accepted: the user NUL-terminated and the
   password bytes as decoded. */
typedef struct ref_basic {
  int cls;
  unsigned char dec[6200];
  size_t dec_len, user_len; /* user_len: bytes before the first ':' */
  int has_colon;
} ref_basic;

static int ref_b64v(int ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+') return 62;
  if (ch == '/') return 63;
  return -1;
}

/* lenient base64: 1 decodes (out, *len), *strict says padded and canonical; 0 bad */
static int ref_b64(const char *s, size_t n, unsigned char *out, size_t cap, size_t *len, int *strict) {
  size_t i, data = n, o = 0;
  unsigned acc = 0, bits = 0;
  *strict = 1;
  while (data > 0 && s[data - 1] == '=') data--;
  if (n - data > 2 || data % 4 == 1) return 0;
  if (n - data > 0 && n % 4 != 0) return 0; /* padding, but not to a multiple of 4 */
  if (n % 4 != 0) *strict = 0;              /* no padding */
  for (i = 0; i < data; i++) {
    int v = ref_b64v((unsigned char) s[i]);
    if (v < 0) return 0;
    acc = (acc << 6) | (unsigned) v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o >= cap) return 0;
      out[o++] = (unsigned char) (acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) *strict = 0; /* unused bits not zero (RFC 4648 3.5) */
  *len = o;
  return 1;
}

static void ref_basic_decode(const char *s, size_t n, size_t user_cap, size_t pw_cap, ref_basic *r) {
  size_t i = 5, sp = 0, k, pw_len;
  int strict, may = 0, nul_pw = 0;
  memset(r, 0, sizeof *r);
  r->cls = REF_REFUSE;
  while (n > 0 && (s[0] == ' ' || s[0] == '\t')) s++, n--, may = 1; /* MAY: white space around */
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--, may = 1;
  if (n < 6) return;
  for (k = 0; k < 5; k++)
    if ((s[k] | 0x20) != "basic"[k]) return;
  while (i < n && s[i] == ' ') i++, sp++;
  if (sp == 0) return;
  if (sp > 1) may = 1;
  if (!ref_b64(s + i, n - i, r->dec, sizeof r->dec, &r->dec_len, &strict)) return;
  if (!strict) may = 1;
  for (k = 0; k < r->dec_len && r->dec[k] != ':'; k++) {
  }
  if (k == r->dec_len) return;
  r->has_colon = 1;
  r->user_len = k;
  pw_len = r->dec_len - k - 1;
  if (r->user_len + 1 > user_cap) return;
  if (r->user_len > SN_USER_NAME_MAX) return; /* finding 11 (README, fixed): refused whatever user_cap is */
  for (k = 0; k < r->user_len; k++)
    if (ref_ctl(r->dec[k])) return;
  if (r->user_len > 0 && (r->dec[0] == ' ' || r->dec[r->user_len - 1] == ' ')) return; /* " alice" is no name */
  if (pw_len > pw_cap) return;
  if (pw_len == pw_cap || pw_len > SN_AUTH_PASSWORD_MAX) may = 1;
  for (k = r->user_len + 1; k < r->dec_len; k++) nul_pw |= r->dec[k] == 0;
  if (nul_pw || r->user_len == 0 || !ref_utf8(r->dec, r->user_len)) may = 1;
  r->cls = may ? REF_MAY : REF_ACCEPT;
}

static void basic_check(const char *v, size_t n, size_t user_cap, size_t pw_cap) {
  static ref_basic ref;
  char *user = (char *) malloc(user_cap ? user_cap : 1), *pw = (char *) malloc(pw_cap ? pw_cap : 1);
  size_t pw_len = (size_t) -1;
  sn_str s;
  int r;
  if (user == NULL || pw == NULL) abort();
  s.ptr = v;
  s.len = n;
  r = sn__basic_decode(s, user, user_cap, pw, pw_cap, &pw_len);
  ref_basic_decode(v, n, user_cap, pw_cap, &ref);
  if (ref.cls == REF_ACCEPT)
    FZ_CHECK(r == SN_OK, "good Basic credentials refused (%d), caps %zu/%zu: \"%.*s\"", r, user_cap, pw_cap,
             (int) (n > 300 ? 300 : n), v);
  if (ref.cls == REF_REFUSE)
    FZ_CHECK(r != SN_OK, "bad Basic credentials accepted, caps %zu/%zu: \"%.*s\"", user_cap, pw_cap,
             (int) (n > 300 ? 300 : n), v);
  FZ_CHECK(r <= 0, "sn__basic_decode returned %d", r);
  if (r == SN_OK) {
    FZ_CHECK(ref.user_len < user_cap && memcmp(user, ref.dec, ref.user_len) == 0 && user[ref.user_len] == '\0',
             "user differs (want %zu bytes, NUL-terminated)", ref.user_len);
    FZ_CHECK(pw_len == ref.dec_len - ref.user_len - 1 && pw_len <= pw_cap, "password length %zu, want %zu (cap %zu)",
             pw_len, ref.dec_len - ref.user_len - 1, pw_cap);
    FZ_CHECK(pw_len == 0 || memcmp(pw, ref.dec + ref.user_len + 1, pw_len) == 0, "password bytes differ");
  }
  free(user);
  free(pw);
}

static void run_basic(const uint8_t *p, size_t n, unsigned a, unsigned b) {
  char *v = (char *) malloc(n ? n : 1);
  if (v == NULL) abort();
  if (n) memcpy(v, p, n);
  basic_check(v, n, 1 + a % 48, b % 160);
  free(v);
}

static void run_basic64(const uint8_t *p, size_t n, unsigned a, unsigned b) {
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t cap = 8 + (n + 2) / 3 * 4 + 1, o = 0, i;
  char *v = (char *) malloc(cap);
  if (v == NULL) abort();
  memcpy(v, (a & 2) ? "basic " : "Basic ", 6);
  o = 6;
  if (a & 4) v[o++] = ' ';
  for (i = 0; i < n; i += 3) {
    unsigned x = (unsigned) p[i] << 16 | (i + 1 < n ? (unsigned) p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    v[o++] = al[x >> 18 & 63];
    v[o++] = al[x >> 12 & 63];
    if (i + 1 < n) v[o++] = al[x >> 6 & 63];
    else if (!(a & 1)) v[o++] = '=';
    if (i + 2 < n) v[o++] = al[x & 63];
    else if (!(a & 1)) v[o++] = '=';
  }
  if ((a & 16) && o > 7) { /* flip a bit of the last data character */
    size_t last = o - 1;
    while (last > 7 && v[last] == '=') last--;
    v[last] = al[(ref_b64v((unsigned char) v[last]) ^ 1) & 63];
  }
  if (a & 8) v[o++] = (char) b;
  {
    /* an exact-size copy: a read past the value is seen */
    char *e = (char *) malloc(o);
    if (e == NULL) abort();
    memcpy(e, v, o);
    basic_check(e, o, 1 + b % 48, (a >> 5) * 23);
    free(e);
  }
  free(v);
}

/* ---- a user line (securenet.h "logging in") -------------------------------------
   NAME:ROLE:pbkdf2-sha256:ITERATIONS:SALT:HASH, NAME 1-32 bytes (UTF-8, no
   ':', no control character), ROLE 1-16 of [A-Za-z0-9_.-], ITERATIONS
   decimal 1000..10000000, SALT 32 and HASH 64 lowercase hex digits; one
   trailing LF, CR or CR LF. SN_ERR_INVALID for anything else. MAY: a name
   that is not valid UTF-8 or holds a C1 control (U+0080-U+009F), leading
   zeros in ITERATIONS, more trailing CR/LF bytes than one line end, upper
   case hex digits. */
typedef struct ref_user {
  int cls;
  sn_user u;
} ref_user;

static void ref_user_parse(const char *s, size_t n, ref_user *r) {
  const char *f[6];
  size_t fl[6], i, k, start = 0;
  int nf = 0, may = 0, upper = 0;
  unsigned long it = 0;
  memset(r, 0, sizeof *r);
  r->cls = REF_REFUSE;
  if (n > 0 && s[n - 1] == '\n') n--;
  if (n > 0 && s[n - 1] == '\r') n--;
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--, may = 1;
  for (i = 0; i <= n; i++) {
    if (i == n || s[i] == ':') {
      if (nf == 6) return;
      f[nf] = s + start;
      fl[nf++] = i - start;
      start = i + 1;
    }
  }
  if (nf != 6) return;
  if (fl[0] < 1 || fl[0] > SN_USER_NAME_MAX) return;
  for (k = 0; k < fl[0]; k++)
    if (ref_ctl((unsigned char) f[0][k])) return;
  if (f[0][0] == ' ' || f[0][fl[0] - 1] == ' ') return; /* no space at either end */
  if (!ref_utf8((const unsigned char *) f[0], fl[0])) may = 1;
  for (k = 0; k + 1 < fl[0]; k++) /* C1 controls: U+0080-U+009F are C2 80..C2 9F */
    if ((unsigned char) f[0][k] == 0xc2 && (unsigned char) f[0][k + 1] >= 0x80 && (unsigned char) f[0][k + 1] <= 0x9f) may = 1;
  if (fl[1] < 1 || fl[1] > SN_USER_ROLE_MAX) return;
  for (k = 0; k < fl[1]; k++) {
    int ch = (unsigned char) f[1][k];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
          ch == '-'))
      return;
  }
  if (fl[2] != 13 || memcmp(f[2], "pbkdf2-sha256", 13) != 0) return;
  if (fl[3] < 1) return;
  for (k = 0; k < fl[3]; k++) {
    if (f[3][k] < '0' || f[3][k] > '9') return;
    if (it <= 100000000ul) it = it * 10 + (unsigned long) (f[3][k] - '0');
  }
  if (it < 1000 || it > 10000000ul) return;
  if (fl[3] > 1 && f[3][0] == '0') may = 1;
  if (fl[4] != 32 || fl[5] != 64) return;
  for (k = 0; k < 32; k++) {
    if (ref_hex_any((unsigned char) f[4][k]) < 0) return;
    upper |= ref_hex((unsigned char) f[4][k]) < 0;
  }
  for (k = 0; k < 64; k++) {
    if (ref_hex_any((unsigned char) f[5][k]) < 0) return;
    upper |= ref_hex((unsigned char) f[5][k]) < 0;
  }
  if (upper) may = 1;
  memcpy(r->u.name, f[0], fl[0]);
  memcpy(r->u.role, f[1], fl[1]);
  r->u.iterations = (uint32_t) it;
  for (k = 0; k < 16; k++)
    r->u.salt[k] = (unsigned char) (ref_hex_any((unsigned char) f[4][2 * k]) << 4 | ref_hex_any((unsigned char) f[4][2 * k + 1]));
  for (k = 0; k < 32; k++)
    r->u.hash[k] = (unsigned char) (ref_hex_any((unsigned char) f[5][2 * k]) << 4 | ref_hex_any((unsigned char) f[5][2 * k + 1]));
  r->cls = may ? REF_MAY : REF_ACCEPT;
}

static void run_user(const uint8_t *p, size_t n) {
  static ref_user ref;
  sn_user u;
  int r;
  memset(&u, 0x5a, sizeof u);
  r = sn_user_parse(&u, (const char *) p, n);
  ref_user_parse((const char *) p, n, &ref);
  FZ_CHECK(r == SN_OK || r == SN_ERR_INVALID, "sn_user_parse returned %d", r);
  if (ref.cls == REF_ACCEPT) FZ_CHECK(r == SN_OK, "a well-formed user line refused: \"%.*s\"", (int) (n > 300 ? 300 : n), (const char *) p);
  if (ref.cls == REF_REFUSE) FZ_CHECK(r != SN_OK, "a malformed user line accepted: \"%.*s\"", (int) (n > 300 ? 300 : n), (const char *) p);
  if (r == SN_OK) {
    FZ_CHECK(memchr(u.name, '\0', sizeof u.name) && memchr(u.role, '\0', sizeof u.role), "name or role not NUL-terminated");
    FZ_CHECK(strcmp(u.name, ref.u.name) == 0, "name \"%s\", want \"%s\"", u.name, ref.u.name);
    FZ_CHECK(strcmp(u.role, ref.u.role) == 0, "role \"%s\", want \"%s\"", u.role, ref.u.role);
    FZ_CHECK(u.iterations == ref.u.iterations, "iterations %lu, want %lu", (unsigned long) u.iterations,
             (unsigned long) ref.u.iterations);
    FZ_CHECK(memcmp(u.salt, ref.u.salt, 16) == 0 && memcmp(u.hash, ref.u.hash, 32) == 0, "salt or hash differs");
  }
}

/* ---- a form body ---------------------------------------------------------------
   As sn_http_query (and fuzz_router's reference of it), in req->body: the
   first pair whose raw key is the name, its value percent-decoded with '+'
   a space, NUL-terminated; SN_ERR_NOT_FOUND without one, SN_ERR_PROTO or
   SN_ERR_TOO_BIG for a bad escape or a value that does not fit (either
   for a value that has both), SN_ERR_INVALID for out_len 0. The body is
   read whatever the Content-Type says (the route decides what it takes). */
static int ref_hexv(int ch) { return ref_hex_any(ch); }
static long ref_decode(const char *s, size_t n, char *out, size_t cap) {
  size_t i;
  long o = 0;
  for (i = 0; i < n; i++) {
    int ch = (unsigned char) s[i];
    if (ch == '%') {
      if (i + 2 >= n) return -1;
      if (ref_hexv((unsigned char) s[i + 1]) < 0 || ref_hexv((unsigned char) s[i + 2]) < 0) return -1;
      ch = ref_hexv((unsigned char) s[i + 1]) * 16 + ref_hexv((unsigned char) s[i + 2]);
      i += 2;
    } else if (ch == '+') {
      ch = ' ';
    }
    if (out && (size_t) o < cap) out[o] = (char) ch;
    o++;
  }
  return o;
}

static void run_form(const uint8_t *p, size_t n, unsigned a, unsigned b) {
  const uint8_t *nl = (const uint8_t *) memchr(p, '\n', n);
  size_t nlen = nl ? (size_t) (nl - p) : 0, out_len = a >= 200 ? 4096 : a, blen;
  char name[256], *out, ref[4096], *body;
  sn_request req;
  sn_str q;
  int r, expect = SN_ERR_NOT_FOUND;
  long dn = 0;
  if (nl == NULL || nlen >= sizeof name || memchr(p, '\0', nlen) != NULL) return;
  memcpy(name, p, nlen);
  name[nlen] = '\0';
  blen = n - nlen - 1;
  body = (char *) malloc(blen ? blen : 1);
  out = (char *) malloc(out_len ? out_len : 1);
  if (body == NULL || out == NULL) abort();
  if (blen) memcpy(body, nl + 1, blen);
  memset(&req, 0, sizeof req);
  req.method.ptr = "POST", req.method.len = 4;
  req.path.ptr = "/login", req.path.len = 6;
  req.version = 11;
  if (!(b & 1)) {
    const char *ct = (b & 2) ? "application/x-www-form-urlencoded; charset=UTF-8"
                             : (b & 4) ? "text/plain" : "application/x-www-form-urlencoded";
    req.headers[0].name.ptr = "Content-Type", req.headers[0].name.len = 12;
    req.headers[0].value.ptr = ct, req.headers[0].value.len = strlen(ct);
    req.header_count = 1;
  }
  req.body.ptr = body;
  req.body.len = blen;
  r = sn_http_form(&req, name, out, out_len);
  if (out_len == 0) {
    FZ_CHECK(r == SN_ERR_INVALID, "sn_http_form with out_len 0 gave %d", r);
    goto done;
  }
  q = req.body;
  while (q.len) {
    const char *amp = (const char *) memchr(q.ptr, '&', q.len);
    size_t plen = amp ? (size_t) (amp - q.ptr) : q.len;
    const char *eq = (const char *) memchr(q.ptr, '=', plen);
    size_t klen = eq ? (size_t) (eq - q.ptr) : plen;
    if (klen == nlen && memcmp(q.ptr, name, nlen) == 0) {
      dn = eq ? ref_decode(eq + 1, plen - klen - 1, ref, sizeof ref) : 0;
      expect = dn < 0 ? SN_ERR_PROTO : (size_t) dn + 1 > out_len ? SN_ERR_TOO_BIG : (int) dn;
      break;
    }
    q.ptr += amp ? plen + 1 : plen;
    q.len -= amp ? plen + 1 : plen;
  }
  if (expect == SN_ERR_TOO_BIG || expect == SN_ERR_PROTO)
    FZ_CHECK(r == SN_ERR_TOO_BIG || r == SN_ERR_PROTO, "form %s: expected an error, got %d", name, r);
  else
    FZ_CHECK(r == expect, "form %s: expected %d, got %d", name, expect, r);
  if (r >= 0) {
    FZ_CHECK((size_t) r < out_len && out[r] == '\0', "form value not NUL-terminated");
    FZ_CHECK((size_t) r > sizeof ref || memcmp(out, ref, (size_t) r) == 0, "form value differs");
  }
done:
  free(body);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  unsigned mode = fz_u8(&in) % 5, a = fz_u8(&in), b = fz_u8(&in);
  if (in.n > 8300) return 0; /* beyond a request head (8192): nothing new */
  switch (mode) {
  case 0: run_cookie(in.p, in.n); break;
  case 1: run_basic(in.p, in.n, a, b); break;
  case 2: run_basic64(in.p, in.n > 4500 ? 4500 : in.n, a, b); break;
  case 3: run_user(in.p, in.n); break;
  default: run_form(in.p, in.n, a, b); break;
  }
  return 0;
}
