/* test_auth.c - password verifiers on their own: sn_pbkdf2_sha256 against
   published PBKDF2-HMAC-SHA256 vectors (RFC 7914 section 11), against
   values computed independently with Python's hashlib and, where mbedTLS
   has PKCS#5, against mbedTLS's own PBKDF2 over many random inputs;
   sn_user_parse taking exactly the sn-passwd line format and refusing each
   way a line can be broken; sn_user_check saying yes to the password and
   no to every other (one byte changed at each position, each prefix, one
   byte more, over SN_AUTH_PASSWORD_MAX, a verifier of 0 iterations, no
   user).

   The user lines below were made with Python, not with sn_pbkdf2_sha256 or
   tools/sn-passwd, so a check that passes agrees with an independent
   PBKDF2:
     /usr/bin/python3 -c 'import hashlib; s=bytes(range(16)); print("alice:admin:pbkdf2-sha256:1000:" + s.hex()
       + ":" + hashlib.pbkdf2_hmac("sha256", b"correct horse battery staple", s, 1000, 32).hex())' */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "test.h"

#include <stdlib.h>

#if defined(MBEDTLS_PKCS5_C)
#include "mbedtls/pkcs5.h"
#endif

/* ---- helpers -------------------------------------------------------------------- */
static int unhex(const char *hex, unsigned char *out, size_t max) {
  size_t n = strlen(hex) / 2, i;
  if (n > max) abort();
  for (i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) abort();
    out[i] = (unsigned char) v;
  }
  return (int) n;
}

static const char *tohex(const unsigned char *p, size_t n) {
  static char ring[2][2 * 256 + 1];
  static int next;
  char *out = ring[next++ & 1];
  size_t i;
  if (n > 256) n = 256;
  for (i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
  out[2 * n] = '\0';
  return out;
}

/* The 128-byte password of the vectors below: byte i is (7i + 1) mod 256, 1 for 0
   (/usr/bin/python3: bytes((i*7+1)&0xff or 1 for i in range(128))). */
static unsigned char pw128[129];
static void make_pw128(void) {
  int i;
  for (i = 0; i < 128; i++) {
    pw128[i] = (unsigned char) ((i * 7 + 1) & 0xff);
    if (pw128[i] == 0) pw128[i] = 1;
  }
  pw128[128] = 'x'; /* the 129-byte password: the same and an 'x' */
}

/* ---- PBKDF2-HMAC-SHA256 ------------------------------------------------------------ */
typedef struct vector {
  const char *what;
  const void *pw;
  size_t pw_len;
  const char *salt;
  uint32_t c;
  size_t dk_len;
  const char *dk; /* hex */
} vector;

static void test_pbkdf2_vectors(void) {
  /* RFC 7914 11 (the two PBKDF2-HMAC-SHA256 vectors), then values from
     /usr/bin/python3 -c 'import hashlib; print(hashlib.pbkdf2_hmac("sha256", PW, SALT, C, DKLEN).hex())' */
  static const vector v[] = {
      {"RFC 7914 11: P=passwd S=salt c=1 dkLen=64", "passwd", 6, "salt", 1, 64,
       "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
       "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"},
      {"RFC 7914 11: P=Password S=NaCl c=80000 dkLen=64", "Password", 8, "NaCl", 80000, 64,
       "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
       "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"},
      /* PW=b"" SALT=b"salt" C=1 DKLEN=32 */
      {"hashlib: empty password, c=1, 32 bytes", "", 0, "salt", 1, 32,
       "f135c27993baf98773c5cdb40a5706ce6a345cde61b000a67858650cd6a324d7"},
      /* PW=b"" SALT=b"" C=2 DKLEN=33 */
      {"hashlib: empty password and salt, c=2, 33 bytes (a second block's first byte)", "", 0, "", 2, 33,
       "97398411d6aea43a77acef92226ab8278d4db0668bd1d7a76a725f7680ac45c504"},
      /* PW=b"password" SALT=b"salt" C=2 DKLEN=1 */
      {"hashlib: c=2, 1 byte", "password", 8, "salt", 2, 1, "ae"},
      /* PW=b"password" SALT=b"salt" C=2 DKLEN=32 */
      {"hashlib: c=2, 32 bytes", "password", 8, "salt", 2, 32,
       "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"},
      /* PW=b"password" SALT=b"salt" C=4096 DKLEN=32 */
      {"hashlib: c=4096, 32 bytes", "password", 8, "salt", 4096, 32,
       "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
      /* PW=the 128-byte password above SALT=b"securenet-salt-1" C=1 DKLEN=64 */
      {"hashlib: 128-byte password (longer than SHA-256's block: hashed first), c=1, 64 bytes", pw128, 128,
       "securenet-salt-1", 1, 64,
       "c71975f09681e3c1b1a609d597b1ce68519c5e2a1abcb7aa61e67adb65dc197a"
       "f61dd579a623fba1cfbeae704a0eeff55683e4566acedce8232c1141f11aff8f"},
      /* PW=the 128-byte password SALT=b"securenet-salt-1" C=2 DKLEN=33 */
      {"hashlib: 128-byte password, c=2, 33 bytes", pw128, 128, "securenet-salt-1", 2, 33,
       "c8e252ee2dafb98881ecd28d9da2e88589d8660523e526e06e6387ded40e9e3d85"},
  };
  size_t i;
  for (i = 0; i < sizeof v / sizeof v[0]; i++) {
    unsigned char want[64], got[80];
    char name[200];
    int n = unhex(v[i].dk, want, sizeof want), r;
    memset(got, 0xA5, sizeof got);
    r = sn_pbkdf2_sha256(v[i].pw, v[i].pw_len, (const unsigned char *) v[i].salt, strlen(v[i].salt), v[i].c, got,
                         v[i].dk_len);
    snprintf(name, sizeof name, "pbkdf2: %s", v[i].what);
    test_report(r == SN_OK && (size_t) n == v[i].dk_len && memcmp(got, want, v[i].dk_len) == 0, name,
                "returned %d, got %s, want %s", r, tohex(got, v[i].dk_len), v[i].dk);
    snprintf(name, sizeof name, "pbkdf2: %s: nothing written past out_len", v[i].what);
    CHECK(got[v[i].dk_len] == 0xA5 && got[sizeof got - 1] == 0xA5, name);
  }
  {
    /* a shorter output is the longer one's prefix (each block stands alone) */
    unsigned char a[64], b[64];
    size_t len;
    int same = 1;
    sn_pbkdf2_sha256("pw", 2, (const unsigned char *) "NaCl", 4, 3, a, sizeof a);
    for (len = 1; len <= sizeof b; len++) {
      memset(b, 0, sizeof b);
      sn_pbkdf2_sha256("pw", 2, (const unsigned char *) "NaCl", 4, 3, b, len);
      if (memcmp(a, b, len) != 0) same = 0;
    }
    CHECK(same, "pbkdf2: every out_len of 1-64 gives the 64-byte output's prefix");
  }
}

#if defined(MBEDTLS_PKCS5_C)
static int mbed_pbkdf2(const unsigned char *pw, size_t pw_len, const unsigned char *salt, size_t salt_len, unsigned c,
                       unsigned char *out, size_t out_len) {
#if MBEDTLS_VERSION_NUMBER >= 0x03030000
  return mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256, pw, pw_len, salt, salt_len, c, (uint32_t) out_len, out);
#else
  mbedtls_md_context_t md;
  int r;
  mbedtls_md_init(&md);
  r = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
  if (r == 0) r = mbedtls_pkcs5_pbkdf2_hmac(&md, pw, pw_len, salt, salt_len, c, (uint32_t) out_len, out);
  mbedtls_md_free(&md);
  return r;
#endif
}

/* Random passwords (0-200 bytes: across SHA-256's 64-byte block), salts
   (0-80), iteration counts (1-5) and output lengths (1-100: up to four
   blocks), against mbedTLS's PBKDF2. */
static void test_pbkdf2_mbedtls(void) {
  int i, bad = 0, first = -1;
  char why[300] = "";
  test_srand(0x5eed0018u);
  for (i = 0; i < 300; i++) {
    unsigned char pw[200], salt[80], want[100], got[100];
    size_t pw_len = test_rand_below(201), salt_len = test_rand_below(81), out_len = 1 + test_rand_below(100), k;
    unsigned c = 1 + test_rand_below(5);
    for (k = 0; k < pw_len; k++) pw[k] = (unsigned char) test_rand();
    for (k = 0; k < salt_len; k++) salt[k] = (unsigned char) test_rand();
    if (mbed_pbkdf2(pw, pw_len, salt, salt_len, c, want, out_len) != 0) {
      snprintf(why, sizeof why, "mbedTLS's PBKDF2 failed at case %d", i);
      bad++;
      break;
    }
    if (sn_pbkdf2_sha256(pw, pw_len, salt, salt_len, c, got, out_len) != SN_OK || memcmp(got, want, out_len) != 0) {
      if (first < 0) {
        first = i;
        snprintf(why, sizeof why, "case %d: password %u bytes, salt %u, c=%u, %u bytes: got %.40s, want %.40s", i,
                 (unsigned) pw_len, (unsigned) salt_len, c, (unsigned) out_len, tohex(got, out_len),
                 tohex(want, out_len));
      }
      bad++;
    }
  }
  test_report(bad == 0, "pbkdf2: 300 random inputs (password 0-200 B, salt 0-80 B, c 1-5, 1-100 B out) equal mbedTLS's PBKDF2",
              "%d differ; first %s", bad, why);
  {
    unsigned char want[32], got[32];
    mbed_pbkdf2((const unsigned char *) "hunter2", 7, (const unsigned char *) "0123456789abcdef", 16, 10000, want, 32);
    sn_pbkdf2_sha256("hunter2", 7, (const unsigned char *) "0123456789abcdef", 16, 10000, got, 32);
    test_report(memcmp(got, want, 32) == 0, "pbkdf2: at SN_AUTH_ITERATIONS' 10000, a verifier equals mbedTLS's",
                "got %s, want %s", tohex(got, 32), tohex(want, 32));
  }
}
#endif

/* ---- sn_user_parse -------------------------------------------------------------- */
#define ALICE_SALT "000102030405060708090a0b0c0d0e0f"
#define ALICE_HASH "a69b179e3add3c1e0aaf227a0eb3aa2aa8645ab86fecf6ca00c17512697c719e"
#define ALICE "alice:admin:pbkdf2-sha256:1000:" ALICE_SALT ":" ALICE_HASH
#define ALICE_PW "correct horse battery staple"
/* bytes(range(16, 32)), the 128-byte password, 1000 iterations */
#define BOB "bob:operator:pbkdf2-sha256:1000:101112131415161718191a1b1c1d1e1f:" \
            "ec958ea924af7bdbc03749788fe2b8d0cfbb1be0331b11a6bb4e694450c51c89"
/* bytes(range(32, 48)), the 129-byte password (the 128 and b"x"), 1000 iterations */
#define CAROL "carol:viewer:pbkdf2-sha256:1000:202122232425262728292a2b2c2d2e2f:" \
              "47bb59d3cedd4d8fa6e543581c111d1be4de21d8c8350b2968137f3352ed193f"
#define TAIL ":pbkdf2-sha256:1000:" ALICE_SALT ":" ALICE_HASH
#define S32 "0123456789abcdef0123456789abcdef"
#define H64 S32 S32

static int parse(sn_user *u, const char *line) { return sn_user_parse(u, line, strlen(line)); }

static void test_parse_good(void) {
  sn_user u;
  unsigned char salt[16], hash[32];
  char name[200];
  size_t i;
  static const struct {
    const char *line, *name, *role;
    uint32_t iterations;
    const char *what;
  } good[] = {
      {ALICE "\n", "alice", "admin", 1000, "a trailing LF"},
      {ALICE "\r\n", "alice", "admin", 1000, "a trailing CRLF"},
      {ALICE "\r", "alice", "admin", 1000, "a trailing CR"},
      {"abcdefghijklmnopqrstuvwxyz012345:r" TAIL, "abcdefghijklmnopqrstuvwxyz012345", "r", 1000,
       "a 32-byte name and a 1-byte role"},
      {"j\xc3\xbcrgen:Ops_1.2-x" TAIL, "j\xc3\xbcrgen", "Ops_1.2-x", 1000, "a UTF-8 name, a role of letters, digits, _ . -"},
      {"a:abcdefghijklmnop" TAIL, "a", "abcdefghijklmnop", 1000, "a 1-byte name and a 16-byte role"},
      {"a b:admin" TAIL, "a b", "admin", 1000, "a name with a space"},
      {"x:admin:pbkdf2-sha256:10000000:" ALICE_SALT ":" ALICE_HASH, "x", "admin", 10000000, "10000000 iterations"},
      {"x:admin:pbkdf2-sha256:1000:" ALICE_SALT ":" ALICE_HASH, "x", "admin", 1000, "1000 iterations"},
      {"x:admin:pbkdf2-sha256:4294967:" ALICE_SALT ":" ALICE_HASH, "x", "admin", 4294967, "4294967 iterations"},
      {NULL, NULL, NULL, 0, NULL},
  };
  memset(&u, 0x5A, sizeof u);
  test_report(parse(&u, ALICE) == SN_OK, "parse: an sn-passwd line", "refused: %s", ALICE);
  unhex(ALICE_SALT, salt, sizeof salt);
  unhex(ALICE_HASH, hash, sizeof hash);
  CHECK_STR(u.name, "alice", "parse: the name, NUL-terminated");
  CHECK_STR(u.role, "admin", "parse: the role, NUL-terminated");
  CHECK_INT(u.iterations, 1000, "parse: the iteration count");
  CHECK(memcmp(u.salt, salt, 16) == 0, "parse: the salt's 16 bytes");
  CHECK(memcmp(u.hash, hash, 32) == 0, "parse: the hash's 32 bytes");
  for (i = 0; good[i].what != NULL; i++) {
    int r;
    memset(&u, 0, sizeof u);
    r = parse(&u, good[i].line);
    snprintf(name, sizeof name, "parse: %s is taken", good[i].what);
    test_report(r == SN_OK && strcmp(u.name, good[i].name) == 0 && strcmp(u.role, good[i].role) == 0 &&
                    u.iterations == good[i].iterations,
                name, "returned %d, name %s role %s iterations %lu, for %s", r, test_show(u.name, strlen(u.name)),
                u.role, (unsigned long) u.iterations, test_show(good[i].line, strlen(good[i].line)));
  }
  {
    /* len bounds the line: what follows it is not read */
    char buf[sizeof ALICE + 40];
    memcpy(buf, ALICE, sizeof ALICE - 1);
    memcpy(buf + sizeof ALICE - 1, "ff:extra:fields", 16);
    CHECK_INT(sn_user_parse(&u, buf, sizeof ALICE - 1), SN_OK, "parse: only len bytes are read (bytes after the line are not)");
    CHECK_INT(sn_user_parse(&u, buf, sizeof ALICE - 2), SN_ERR_INVALID, "parse: a line cut one byte short is refused");
  }
  {
    /* the line need not be NUL-terminated: it is copied to an exact-size block (ASan sees an overread) */
    char *exact = (char *) malloc(sizeof ALICE - 1);
    if (exact == NULL) abort();
    memcpy(exact, ALICE, sizeof ALICE - 1);
    CHECK_INT(sn_user_parse(&u, exact, sizeof ALICE - 1), SN_OK, "parse: a line without a NUL after it");
    free(exact);
  }
}

static void test_parse_bad(void) {
  static const struct {
    const char *line;
    const char *what;
  } bad[] = {
      {"", "an empty line"},
      {"\n", "a line of LF only"},
      {":admin" TAIL, "an empty name"},
      {"abcdefghijklmnopqrstuvwxyz0123456:admin" TAIL, "a 33-byte name"},
      {"al:ice:admin" TAIL, "a name with ':' (seven fields)"},
      {"al\x01ice:admin" TAIL, "a name with a control character (0x01)"},
      {"al\tice:admin" TAIL, "a name with a tab"},
      {" alice:admin" TAIL, "a name with a leading space"},
      {"alice :admin" TAIL, "a name with a trailing space"},
      {"al\x7f" "ice:admin" TAIL, "a name with DEL (0x7f)"},
      {"al\nice:admin" TAIL, "a name with a LF inside"},
      {"alice::pbkdf2-sha256:1000:" ALICE_SALT ":" ALICE_HASH, "an empty role"},
      {"alice:abcdefghijklmnopq" TAIL, "a 17-byte role"},
      {"alice:ad min" TAIL, "a role with a space"},
      {"alice:admin/x" TAIL, "a role with '/'"},
      {"alice:r\xc3\xb4le" TAIL, "a role with a non-ASCII byte"},
      {"alice" TAIL, "no role (five fields)"},
      {"alice:admin", "only a name and a role"},
      {"alice:admin::1000:" ALICE_SALT ":" ALICE_HASH, "an empty algorithm"},
      {"alice:admin:pbkdf2-sha1:1000:" ALICE_SALT ":" ALICE_HASH, "algorithm pbkdf2-sha1"},
      {"alice:admin:PBKDF2-SHA256:1000:" ALICE_SALT ":" ALICE_HASH, "algorithm in uppercase"},
      {"alice:admin:pbkdf2-sha2566:1000:" ALICE_SALT ":" ALICE_HASH, "algorithm pbkdf2-sha2566"},
      {"alice:admin:pbkdf2-sha25:1000:" ALICE_SALT ":" ALICE_HASH, "algorithm pbkdf2-sha25"},
      {"alice:admin:pbkdf2-sha256::" ALICE_SALT ":" ALICE_HASH, "empty iterations"},
      {"alice:admin:pbkdf2-sha256:0:" ALICE_SALT ":" ALICE_HASH, "0 iterations"},
      {"alice:admin:pbkdf2-sha256:999:" ALICE_SALT ":" ALICE_HASH, "999 iterations"},
      {"alice:admin:pbkdf2-sha256:10000001:" ALICE_SALT ":" ALICE_HASH, "10000001 iterations"},
      {"alice:admin:pbkdf2-sha256:4294968296:" ALICE_SALT ":" ALICE_HASH, "iterations that wrap 32 bits to 1000"},
      {"alice:admin:pbkdf2-sha256:18446744073709552616:" ALICE_SALT ":" ALICE_HASH, "iterations that wrap 64 bits to 1000"},
      {"alice:admin:pbkdf2-sha256:+1000:" ALICE_SALT ":" ALICE_HASH, "iterations with a leading +"},
      {"alice:admin:pbkdf2-sha256:-1000:" ALICE_SALT ":" ALICE_HASH, "negative iterations"},
      {"alice:admin:pbkdf2-sha256: 1000:" ALICE_SALT ":" ALICE_HASH, "iterations with a leading space"},
      {"alice:admin:pbkdf2-sha256:1000 :" ALICE_SALT ":" ALICE_HASH, "iterations with a trailing space"},
      {"alice:admin:pbkdf2-sha256:1e4:" ALICE_SALT ":" ALICE_HASH, "iterations 1e4"},
      {"alice:admin:pbkdf2-sha256:0x3e8:" ALICE_SALT ":" ALICE_HASH, "iterations in hex"},
      {"alice:admin:pbkdf2-sha256:10k:" ALICE_SALT ":" ALICE_HASH, "iterations with a letter"},
      {"alice:admin:pbkdf2-sha256:1000::" ALICE_HASH, "an empty salt"},
      {"alice:admin:pbkdf2-sha256:1000:000102030405060708090a0b0c0d0e0:" ALICE_HASH, "a salt of 31 hex digits"},
      {"alice:admin:pbkdf2-sha256:1000:000102030405060708090a0b0c0d0e0f00:" ALICE_HASH, "a salt of 34 hex digits"},
      {"alice:admin:pbkdf2-sha256:1000:000102030405060708090A0B0C0D0E0F:" ALICE_HASH, "a salt in uppercase hex"},
      {"alice:admin:pbkdf2-sha256:1000:000102030405060708090a0b0c0d0e0g:" ALICE_HASH, "a salt with 'g'"},
      {"alice:admin:pbkdf2-sha256:1000:" ALICE_SALT ":", "an empty hash"},
      {"alice:admin:pbkdf2-sha256:1000:" ALICE_SALT, "no hash (five fields)"},
      {"alice:admin:pbkdf2-sha256:1000:" ALICE_SALT ":" S32 "0123456789abcdef0123456789abcde", "a hash of 63 hex digits"},
      {"alice:admin:pbkdf2-sha256:1000:" ALICE_SALT ":" H64 "00", "a hash of 66 hex digits"},
      {"alice:admin:pbkdf2-sha256:1000:" ALICE_SALT ":" S32 "0123456789ABCDEF0123456789abcdef", "a hash in uppercase hex"},
      {"alice:admin:pbkdf2-sha256:1000:" ALICE_SALT ":" S32 "0123456789abcdef0123456789abcdeZ", "a hash with 'Z'"},
      {ALICE ":", "a trailing ':' (an empty seventh field)"},
      {ALICE ":extra", "a seventh field"},
      {ALICE " ", "a trailing space"},
      {ALICE "\t", "a trailing tab"},
      {ALICE " \n", "a trailing space before the LF"},
      {ALICE "\n\n", "two LFs"},
      {ALICE "\n\r", "LF CR"},
      {ALICE "\r\r\n", "CR CR LF"},
      {"alice:admin :pbkdf2-sha256:1000:" ALICE_SALT ":" ALICE_HASH, "a role with a trailing space"},
      {"alice:admin:pbkdf2-sha256:1000:" ALICE_SALT " :" ALICE_HASH, "a salt with a trailing space"},
      {"alice:admin:pbkdf2-sha256:1000:" ALICE_SALT ":" ALICE_HASH "\x00", "a NUL after the hash"},
      {NULL, NULL},
  };
  char name[220];
  int i;
  for (i = 0; bad[i].what != NULL; i++) {
    sn_user u;
    size_t len = strlen(bad[i].line);
    int r;
    if (strcmp(bad[i].what, "a NUL after the hash") == 0) len++;
    memset(&u, 0, sizeof u);
    r = sn_user_parse(&u, bad[i].line, len);
    snprintf(name, sizeof name, "parse refuses %s", bad[i].what);
    test_report(r == SN_ERR_INVALID, name, "returned %d for %s", r, test_show(bad[i].line, len));
  }
  {
    /* a NUL inside the name, with len counting past it */
    static const char line[] = "al\0ice:admin" TAIL;
    sn_user u;
    CHECK_INT(sn_user_parse(&u, line, sizeof line - 1), SN_ERR_INVALID, "parse refuses a NUL inside the name");
  }
  {
    /* every field of a good line cut to nothing, one at a time */
    sn_user u;
    int field, refused = 0;
    for (field = 0; field < 6; field++) {
      char line[200];
      const char *p = ALICE;
      size_t o = 0;
      int f = 0;
      for (; *p; p++) {
        if (*p == ':') f++;
        if (f == field && *p != ':') continue;
        line[o++] = *p;
      }
      line[o] = '\0';
      if (sn_user_parse(&u, line, o) == SN_ERR_INVALID) refused++;
    }
    CHECK_INT(refused, 6, "parse refuses each of the six fields empty");
  }
  {
    /* NULL arguments */
    sn_user u;
    CHECK(sn_user_parse(&u, NULL, 0) == SN_ERR_INVALID, "parse refuses a NULL line");
  }
}

/* ---- sn_user_check ------------------------------------------------------------- */
static void test_check(void) {
  sn_user alice, bob, carol, zero;
  char pw[sizeof ALICE_PW];
  size_t i, n = strlen(ALICE_PW);
  int wrong;
  if (!CHECK_INT(parse(&alice, ALICE), SN_OK, "check: alice's line parses")) return;
  if (!CHECK_INT(parse(&bob, BOB), SN_OK, "check: bob's line parses")) return;
  if (!CHECK_INT(parse(&carol, CAROL), SN_OK, "check: carol's line parses")) return;

  CHECK_INT(sn_user_check(&alice, ALICE_PW, n), 1, "check: the right password (verifier from Python's hashlib)");
  CHECK_INT(sn_user_check(&alice, "correct horse battery stapler", n + 1), 0, "check: a wrong password");
  CHECK_INT(sn_user_check(&alice, "Correct horse battery staple", n), 0, "check: the password with another case");
  CHECK_INT(sn_user_check(&alice, "", 0), 0, "check: an empty password");
  CHECK_INT(sn_user_check(&alice, NULL, 0), 0, "check: a NULL password of length 0");

  /* one byte changed at each position: one bit flipped, and the byte replaced by 0 */
  wrong = 0;
  for (i = 0; i < n; i++) {
    memcpy(pw, ALICE_PW, n + 1);
    pw[i] = (char) (pw[i] ^ 0x01);
    if (sn_user_check(&alice, pw, n) != 0) wrong++;
    pw[i] = '\0';
    if (sn_user_check(&alice, pw, n) != 0) wrong++;
  }
  test_report(wrong == 0, "check: the password with one byte changed at each position (bit 0 flipped; NUL) fails",
              "%d of %u accepted", wrong, (unsigned) (2 * n));
  wrong = 0;
  for (i = 0; i < n; i++)
    if (sn_user_check(&alice, ALICE_PW, i) != 0) wrong++;
  test_report(wrong == 0, "check: each prefix of the password (0 to len-1 bytes) fails", "%d accepted", wrong);
  memcpy(pw, ALICE_PW, n + 1);
  /* (Not checked: the password and a NUL. HMAC pads a key shorter than its block
     with zeros, so PBKDF2 gives P and P + "\0" the same verifier; hashlib agrees.) */
  CHECK_INT(sn_user_check(&alice, ALICE_PW "!", n + 1), 0, "check: the password and one byte more fails");

  /* the verifier: its salt, hash or iteration count different */
  memcpy(&zero, &alice, sizeof zero);
  zero.salt[15] ^= 1;
  CHECK_INT(sn_user_check(&zero, ALICE_PW, n), 0, "check: a verifier with one salt bit changed fails");
  memcpy(&zero, &alice, sizeof zero);
  zero.hash[0] ^= 0x80;
  CHECK_INT(sn_user_check(&zero, ALICE_PW, n), 0, "check: a verifier with the hash's first bit changed fails");
  memcpy(&zero, &alice, sizeof zero);
  zero.hash[31] ^= 0x01;
  CHECK_INT(sn_user_check(&zero, ALICE_PW, n), 0, "check: a verifier with the hash's last bit changed fails");
  memcpy(&zero, &alice, sizeof zero);
  zero.iterations = 1001;
  CHECK_INT(sn_user_check(&zero, ALICE_PW, n), 0, "check: the verifier's iteration count is used (1001 fails)");
  memcpy(&zero, &alice, sizeof zero);
  zero.iterations = 0;
  CHECK_INT(sn_user_check(&zero, ALICE_PW, n), 0, "check: a user of 0 iterations (a certificate's user) has no password");
  sn_pbkdf2_sha256("", 0, zero.salt, 16, 1, zero.hash, 32);
  CHECK_INT(sn_user_check(&zero, "", 0), 0, "check: 0 iterations fails even for the empty password's hash");
  CHECK_INT(sn_user_check(NULL, ALICE_PW, n), 0, "check: no user (NULL) fails");

  /* SN_AUTH_PASSWORD_MAX: 128 bytes are checked, 129 fail whatever the verifier */
  CHECK_INT(SN_AUTH_PASSWORD_MAX, 128, "check: SN_AUTH_PASSWORD_MAX is 128");
  CHECK_INT(sn_user_check(&bob, (const char *) pw128, 128), 1, "check: a 128-byte password (verifier from hashlib)");
  CHECK_INT(sn_user_check(&bob, (const char *) pw128, 127), 0, "check: its 127-byte prefix fails");
  CHECK_INT(sn_user_check(&carol, (const char *) pw128, 129), 0,
            "check: a 129-byte password fails although the verifier is its own (hashlib)");
  CHECK_INT(sn_user_check(&carol, (const char *) pw128, 128), 0, "check: carol's 128-byte prefix fails");
  CHECK_INT(sn_user_check(&carol, (const char *) pw128, (size_t) -1), 0, "check: a length of SIZE_MAX fails");
  {
    /* the check agrees with sn_pbkdf2_sha256 at the default iteration count */
    sn_user u;
    memset(&u, 0, sizeof u);
    strcpy(u.name, "eve");
    strcpy(u.role, "admin");
    u.iterations = SN_AUTH_ITERATIONS;
    memcpy(u.salt, "0123456789abcdef", 16);
    sn_pbkdf2_sha256("s3cret", 6, u.salt, 16, u.iterations, u.hash, 32);
    CHECK_INT(sn_user_check(&u, "s3cret", 6), 1, "check: a verifier made by sn_pbkdf2_sha256 at SN_AUTH_ITERATIONS");
    CHECK_INT(sn_user_check(&u, "s3creT", 6), 0, "check: and a wrong password against it");
  }
}

int main(void) {
  make_pw128();
  test_pbkdf2_vectors();
#if defined(MBEDTLS_PKCS5_C)
  test_pbkdf2_mbedtls();
#else
  printf("# mbedTLS without MBEDTLS_PKCS5_C: no comparison with its PBKDF2\n");
#endif
  test_parse_good();
  test_parse_bad();
  test_check();
  return test_summary();
}
