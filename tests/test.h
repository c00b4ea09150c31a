/* tests/test.h - the few macros securenet's unit tests share.

   Every check prints one line, "ok - <behaviour>" or
   "not ok - <behaviour>: <details>", which tests/run.sh counts. A test
   program ends with `return test_summary();` (exit status 1 if any check
   failed). Include this after securenet.h. */
#ifndef SN_TEST_H
#define SN_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int test_passed_, test_failed_;

#if defined(__GNUC__)
static inline int test_report(int ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
/* Prints the line for one check; details (fmt) are shown only on failure.
   Returns ok, so a test can stop early on a failed precondition. */
static inline int test_report(int ok, const char *name, const char *fmt, ...) {
  if (ok) {
    printf("ok - %s\n", name);
    test_passed_++;
  } else {
    va_list ap;
    printf("not ok - %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    test_failed_++;
  }
  fflush(stdout);
  return ok;
}

/* Printable form of bytes for a failure message (static buffer, one at a
   time per argument slot: ring of 4). */
static inline const char *test_show(const void *p, size_t len) {
  static char ring[4][400];
  static int next;
  char *out = ring[next++ & 3];
  const unsigned char *s = (const unsigned char *) p;
  size_t i, o = 0;
  if (p == NULL) return "(null)";
  out[o++] = '"';
  for (i = 0; i < len && o < sizeof ring[0] - 8; i++) {
    unsigned char ch = s[i];
    if (ch == '\r') out[o++] = '\\', out[o++] = 'r';
    else if (ch == '\n') out[o++] = '\\', out[o++] = 'n';
    else if (ch == '"' || ch == '\\') out[o++] = '\\', out[o++] = (char) ch;
    else if (ch < 0x20 || ch >= 0x7f) o += (size_t) sprintf(out + o, "\\x%02x", ch);
    else out[o++] = (char) ch;
  }
  if (i < len) out[o++] = '.', out[o++] = '.', out[o++] = '.';
  out[o++] = '"';
  out[o] = '\0';
  return out;
}

/* CHECK(cond, name): the behaviour `name` holds when cond is true. */
#define CHECK(cond, name) test_report(!!(cond), (name), "%s is false", #cond)

/* CHECK_INT(got, want, name): integers equal. */
#define CHECK_INT(got, want, name) test_check_int_((long long) (got), (long long) (want), (name))
static inline int test_check_int_(long long got, long long want, const char *name) {
  return test_report(got == want, name, "got %lld, want %lld", got, want);
}

/* CHECK_STR(got, want, name): NUL-terminated strings equal (NULL allowed). */
#define CHECK_STR(got, want, name) test_check_str_((got), (want), (name))
/* CHECK_MEM(ptr, len, want, name): bytes [ptr, ptr+len) equal the C string want. */
#define CHECK_MEM(ptr, len, want, name) test_check_mem_((ptr), (len), (want), (name))
/* CHECK_SN(s, want, name): an sn_str equals the C string want. */
#define CHECK_SN(s, want, name) test_check_mem_((s).ptr, (s).len, (want), (name))
static inline int test_check_mem_(const void *ptr, size_t len, const char *want, const char *name) {
  int ok = (ptr == NULL && want == NULL) ||
           (ptr != NULL && want != NULL && len == strlen(want) && memcmp(ptr, want, len) == 0);
  return test_report(ok, name, "got %s, want %s", test_show(ptr, len), test_show(want, want ? strlen(want) : 0));
}

static inline int test_check_str_(const char *got, const char *want, const char *name) {
  return test_check_mem_(got, got ? strlen(got) : 0, want, name);
}

/* The program's exit status: 0 if every check passed, else 1. */
static inline int test_summary(void) {
  printf("# %d passed, %d failed\n", test_passed_, test_failed_);
  return test_failed_ ? 1 : 0;
}

/* A deterministic PRNG (xorshift64*) for random splits and garbage. */
static unsigned long long test_rng_state_ = 0x9E3779B97F4A7C15ull;
static inline void test_srand(unsigned long long seed) { test_rng_state_ = seed ? seed : 0x9E3779B97F4A7C15ull; }
static inline unsigned test_rand(void) {
  test_rng_state_ ^= test_rng_state_ >> 12;
  test_rng_state_ ^= test_rng_state_ << 25;
  test_rng_state_ ^= test_rng_state_ >> 27;
  return (unsigned) ((test_rng_state_ * 0x2545F4914F6CDD1Dull) >> 32);
}
/* Uniform-enough integer in [0, n) (n > 0). */
static inline unsigned test_rand_below(unsigned n) { return test_rand() % n; }

#endif /* SN_TEST_H */
