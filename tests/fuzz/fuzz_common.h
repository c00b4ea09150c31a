/* fuzz_common.h - what securenet's fuzz targets share.

   Include it after securenet.h (with SECURENET_IMPLEMENTATION) in a target.
   It gives:
     - fz_in: a reader that takes bytes from the front of the fuzz input
       (options, split points) and leaves the rest as the payload;
     - fz_buf: a growable byte string, for the records the oracles compare;
     - FZ_CHECK: an invariant that aborts (libFuzzer keeps the input) with
       the reason on stderr;
     - with FZ_WITH_PORT, the in-memory port (securenet_port_mem.h: no
       sockets; scripted peers whose bytes recv hands out in pieces of
       scripted sizes; send keeps what the server wrote, up to a cap if
       asked, like a client that no longer reads; a clock that moves a
       scripted step per wait; a FIXED DETERMINISTIC entropy stream,
       acceptable only in a test) set up for one run (fz_port_start,
       fz_script, fz_port_done). The port records misuse (a hook called on
       a closed socket, a second shutdown, a send of 0 bytes); the targets
       treat misuse as a failure. */
#ifndef SN_FUZZ_COMMON_H
#define SN_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond, ...)                                                 \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "\nFUZZ INVARIANT FAILED at %s:%d: %s\n  ", __FILE__, \
              __LINE__, #cond);                                             \
      fprintf(stderr, __VA_ARGS__);                                         \
      fprintf(stderr, "\n");                                                \
      abort();                                                              \
    }                                                                       \
  } while (0)

/* ---- input reader ------------------------------------------------------ */
typedef struct fz_in {
  const uint8_t *p;
  size_t n;
} fz_in;

static inline unsigned fz_u8(fz_in *in) {
  unsigned v;
  if (in->n == 0) return 0;
  v = in->p[0];
  in->p++, in->n--;
  return v;
}

static inline unsigned fz_u16(fz_in *in) {
  unsigned lo = fz_u8(in);
  return lo | (fz_u8(in) << 8);
}

/* Split points: each of cuts[0..ncuts) taken modulo n (the stream's length),
   then sorted. */
static inline int fz_cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *) a, y = *(const size_t *) b;
  return x < y ? -1 : x > y;
}
static inline void fz_cuts_sort(size_t *cuts, unsigned ncuts, size_t n) {
  unsigned i;
  for (i = 0; i < ncuts; i++) cuts[i] = n ? cuts[i] % n : 0;
  qsort(cuts, ncuts, sizeof cuts[0], fz_cmp_size);
}
/* The same split points as the lengths of the pieces before each (repeats
   and zero dropped; the rest after the last is implied). Returns their count. */
static inline int fz_pieces(size_t *cuts, unsigned ncuts, size_t n, size_t *pieces) {
  size_t prev = 0;
  unsigned i;
  int np = 0;
  fz_cuts_sort(cuts, ncuts, n);
  for (i = 0; i < ncuts; i++) {
    if (cuts[i] <= prev) continue;
    pieces[np++] = cuts[i] - prev;
    prev = cuts[i];
  }
  return np;
}

/* ---- growable byte string ----------------------------------------------- */
typedef struct fz_buf {
  char *p;
  size_t len, cap;
} fz_buf;

static inline void fz_put(fz_buf *b, const void *data, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2 + 64;
    char *p = (char *) realloc(b->p, cap);
    if (p == NULL) abort();
    b->p = p;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static inline void fz_puts(fz_buf *b, const char *s) { fz_put(b, s, strlen(s)); }

#if defined(__GNUC__)
static inline void fz_printf(fz_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
static inline void fz_printf(fz_buf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) abort();
  fz_put(b, tmp, (size_t) n < sizeof tmp ? (size_t) n : sizeof tmp - 1);
}

/* bytes as a record field: length, then the bytes */
static inline void fz_field(fz_buf *b, const char *name, const char *p, size_t n) {
  fz_printf(b, "%s[%zu]=", name, n);
  fz_put(b, p, n);
  fz_puts(b, "\n");
}

static inline void fz_free(fz_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* First difference of two records, for the failure message. */
static inline const char *fz_diff(const fz_buf *a, const fz_buf *b) {
  static char msg[600];
  size_t i = 0;
  while (i < a->len && i < b->len && a->p[i] == b->p[i]) i++;
  snprintf(msg, sizeof msg, "records differ at byte %zu (lengths %zu, %zu):\n  A: %.200s\n  B: %.200s", i, a->len,
           b->len, a->p ? a->p + (i > 40 ? i - 40 : 0) : "", b->p ? b->p + (i > 40 ? i - 40 : 0) : "");
  return msg;
}

/* ---- the port (define FZ_WITH_PORT before including) ----------------------- */
/* securenet_port_mem.h, set up the way the targets want it: one sn_mem
   (fz_net) reset per run, the clock at 1000000 ms moving a scripted step per
   wait, a fixed wall clock (a fixed Date header), the FIXED DETERMINISTIC
   entropy stream of the port (acceptable only in a test). The targets
   treat any port misuse (fz_net.misuse) as a failure. */
#if defined(FZ_WITH_PORT)
#define SECURENET_PORT_MEM_IMPLEMENTATION
#include "securenet_port_mem.h"

static sn_mem fz_net;

/* A fresh port for one run: the clock moves tick ms per wait call. */
static inline void fz_port_start(uint32_t tick) {
  sn_mem_clear(&fz_net);
  sn_mem_init(&fz_net);
  fz_net.now = 1000000;
  fz_net.tick = tick;
  fz_net.wall = 1767225600; /* 2026-01-01T00:00:00Z */
}

/* Frees the port's buffers at the end of an input. */
static inline void fz_port_done(void) { sn_mem_clear(&fz_net); }

/* Socket s's peer says in[0, len) (recv hands it out in the given piece
   lengths, repeated when cycle) and, when eof, ends the stream after it. */
static inline void fz_script(int s, const uint8_t *in, size_t len, const size_t *pieces, int npieces, int cycle, int eof) {
  if (s < 0 || sn_mem_peer_write(&fz_net, s, in, len) != SN_OK) abort();
  sn_mem_recv_pieces(&fz_net, s, pieces, npieces, cycle);
  if (eof) sn_mem_peer_close(&fz_net, s);
}

#endif /* FZ_WITH_PORT */
#endif /* SN_FUZZ_COMMON_H */
