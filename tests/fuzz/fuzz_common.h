/* fuzz_common.h - what securenet's fuzz targets share.

   Include it after securenet.h (with SECURENET_IMPLEMENTATION) in a target.
   It gives:
     - fz_in: a reader that takes bytes from the front of the fuzz input
       (options, split points) and leaves the rest as the payload;
     - fz_buf: a growable byte string, for the records the oracles compare;
     - FZ_CHECK: an invariant that aborts (libFuzzer keeps the input) with
       the reason on stderr;
     - a fake port (fzp_*): no sockets, a listener whose accept hands out
       scripted connections, a connect for the mail session, recv that
       hands the script out in pieces of scripted sizes, send that keeps
       what the server wrote (up to a cap, then stops taking, like a client
       that no longer reads), a clock that moves a scripted step per wait,
       and a FIXED DETERMINISTIC entropy stream (acceptable only in a test:
       runs must be reproducible; nothing here protects a secret).
   The port also records misuse (a hook called on a closed socket, a second
   shutdown, a send of 0 bytes); the targets treat misuse as a failure. */
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

/* ---- the fake port (define FZ_WITH_PORT before including) ------------------ */
#if defined(FZ_WITH_PORT)
#define FZP_MAX 8
#define FZP_PIECES 16

typedef struct fzp_sock {
  int used, listener, pending, closed, shut;
  int is_client; /* made by connect (the mail session) */
  const uint8_t *in;
  size_t in_len, in_off;
  int in_eof;                  /* recv returns 0 after the script */
  size_t pieces[FZP_PIECES];   /* recv piece sizes in order; a 0 entry: SN_WANT_READ once */
  int npieces, ipiece;
  int cycle;                   /* 1: the sizes repeat; 0: after the last, no limit */
  fz_buf out;                  /* what the server sent */
  size_t out_cap;              /* stop taking beyond this (a client that stops reading) */
  size_t schunk;               /* most bytes per send */
  int block_send;              /* SN_WANT_WRITE every other send */
  unsigned long sends;
  /* gated: a well-behaved SMTP server, that says reply k only once the
     client has sent k commands (the greeting is reply 0; a message after a
     354 counts as one command, ending at CRLF.CRLF) */
  int gated, nreplies, in_msg, saw_354;
  size_t reply_end[64];        /* end offset of each reply in the script */
  size_t units;                /* commands the client has sent */
  size_t msg_reply[8];         /* for each message sent: the index of the reply to its dot */
  int nmsg;
  char tail[5];                /* the message's last bytes, to see its end */
} fzp_sock;

static struct {
  fzp_sock s[FZP_MAX];
  uint64_t now;
  uint32_t tick; /* ms the clock moves per wait */
  uint64_t ent;
  int misuse;
  char misuse_what[128];
  int client_script; /* index of the scripted socket connect hands out, -1: none */
} fzp;

static inline void fzp_misuse(const char *what, sn_sock s) {
  if (fzp.misuse++ == 0) snprintf(fzp.misuse_what, sizeof fzp.misuse_what, "%s on socket %ld", what, (long) s);
}

static inline int fzp_ok(sn_sock s, const char *hook) {
  if (s < 0 || s >= FZP_MAX || !fzp.s[s].used || fzp.s[s].closed || fzp.s[s].pending) {
    fzp_misuse(hook, s);
    return 0;
  }
  return 1;
}

static inline void fzp_reset(uint32_t tick) {
  int i;
  for (i = 0; i < FZP_MAX; i++) fz_free(&fzp.s[i].out);
  memset(&fzp, 0, sizeof fzp);
  fzp.now = 1000000;
  fzp.tick = tick;
  fzp.ent = 0x9E3779B97F4A7C15ull;
  fzp.client_script = -1;
}

static inline void fzp_done(void) {
  int i;
  for (i = 0; i < FZP_MAX; i++) fz_free(&fzp.s[i].out);
}

static inline int fzp_new(void) {
  int i;
  for (i = 0; i < FZP_MAX; i++)
    if (!fzp.s[i].used) {
      memset(&fzp.s[i], 0, sizeof fzp.s[i]);
      fzp.s[i].used = 1;
      fzp.s[i].schunk = 1 << 20;
      fzp.s[i].out_cap = 1 << 20;
      return i;
    }
  abort();
}

/* A scripted peer: its bytes, the recv piece sizes (repeated when cycle),
   whether the stream ends after the script. */
static inline int fzp_script(const uint8_t *in, size_t len, const size_t *pieces, int npieces, int cycle, int eof) {
  int i = fzp_new(), k;
  fzp.s[i].in = in;
  fzp.s[i].in_len = len;
  fzp.s[i].in_eof = eof;
  for (k = 0; k < npieces && k < FZP_PIECES; k++) fzp.s[i].pieces[k] = pieces[k];
  fzp.s[i].npieces = npieces < FZP_PIECES ? npieces : FZP_PIECES;
  fzp.s[i].cycle = cycle;
  return i;
}

/* Makes socket i's script a gated SMTP server: splits it into replies
   (a reply ends at a line "ddd " or "ddd", or at a malformed line). */
static inline void fzp_gate_smtp(int i) {
  fzp_sock *f = &fzp.s[i];
  size_t off = 0;
  f->gated = 1;
  while (off < f->in_len && f->nreplies < 64) {
    const uint8_t *nl = (const uint8_t *) memchr(f->in + off, '\n', f->in_len - off);
    size_t end = nl ? (size_t) (nl - f->in) + 1 : f->in_len, len = end - off;
    const uint8_t *l = f->in + off;
    int last;
    if (len && l[len - 1] == '\n') len--;
    if (len && l[len - 1] == '\r') len--;
    last = len < 4 || l[3] != '-' || l[0] < '0' || l[0] > '9';
    off = end;
    if (last) f->reply_end[f->nreplies++] = off;
  }
  if (f->nreplies < 64) f->reply_end[f->nreplies++] = f->in_len; /* an unfinished last reply */
  else f->reply_end[63] = f->in_len;
}

/* What a gated server has said so far (bytes of the script). */
static inline size_t fzp_released(const fzp_sock *f) {
  if (!f->gated) return f->in_len;
  return f->reply_end[f->units < (size_t) f->nreplies ? f->units : (size_t) f->nreplies - 1];
}

/* Counts the commands in what the client sent. */
static inline void fzp_count_units(fzp_sock *f, const uint8_t *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (!f->in_msg && f->saw_354) f->in_msg = 1, f->saw_354 = 0, memset(f->tail, 0, sizeof f->tail);
    if (f->in_msg) {
      memmove(f->tail, f->tail + 1, 4);
      f->tail[4] = (char) p[i];
      if (memcmp(f->tail, "\r\n.\r\n", 5) == 0) {
        f->in_msg = 0;
        f->units++;
        if (f->nmsg < 8) f->msg_reply[f->nmsg++] = f->units;
      }
    } else if (p[i] == '\n') {
      f->units++;
    }
  }
}

/* 1 if message j was sent, and the reply to its dot, a complete "250",
   reached the client: the server took the mail. */
static inline int fzp_msg_accepted(const fzp_sock *f, int j) {
  size_t k, start;
  if (j >= f->nmsg) return 0;
  k = f->msg_reply[j];
  if (k >= (size_t) f->nreplies) return 0;
  start = k ? f->reply_end[k - 1] : 0;
  return f->reply_end[k] - start >= 4 && memcmp(f->in + start, "250", 3) == 0 && f->in[f->reply_end[k] - 1] == '\n' &&
         f->in_off >= f->reply_end[k];
}

static inline int fzp_listen(void *ctx, const char *addr, uint16_t port, sn_sock *out) {
  int i = fzp_new();
  (void) ctx, (void) addr, (void) port;
  fzp.s[i].listener = 1;
  *out = i;
  return SN_OK;
}

static inline int fzp_accept(void *ctx, sn_sock l, sn_sock *out, char *peer, size_t peer_len) {
  int i;
  (void) ctx;
  if (!fzp_ok(l, "accept") || !fzp.s[l].listener) return SN_ERR_IO;
  for (i = 0; i < FZP_MAX; i++)
    if (fzp.s[i].used && fzp.s[i].pending && !fzp.s[i].is_client) {
      fzp.s[i].pending = 0;
      *out = i;
      snprintf(peer, peer_len, "fuzz:%d", i);
      return SN_OK;
    }
  return SN_WANT_READ;
}

static inline int fzp_connect(void *ctx, const char *host, uint16_t port, sn_sock *out) {
  (void) ctx, (void) host, (void) port;
  if (fzp.client_script < 0) return SN_ERR_ADDR;
  fzp.s[fzp.client_script].pending = 0;
  fzp.s[fzp.client_script].is_client = 1;
  *out = fzp.client_script;
  fzp.client_script = -1; /* one connection per script */
  return SN_OK;
}

static inline int fzp_send(void *ctx, sn_sock s, const void *buf, size_t len) {
  fzp_sock *f;
  size_t n;
  (void) ctx;
  if (!fzp_ok(s, "send")) return SN_ERR_IO;
  f = &fzp.s[s];
  if (f->listener) fzp_misuse("send to a listener", s);
  if (len == 0) fzp_misuse("send of 0 bytes", s);
  if (f->shut) fzp_misuse("send after shutdown", s);
  if (f->block_send && (++f->sends & 1)) return SN_WANT_WRITE;
  if (f->out.len >= f->out_cap) return SN_WANT_WRITE; /* the peer stopped reading */
  n = len < f->schunk ? len : f->schunk;
  fz_put(&f->out, buf, n);
  if (f->gated) fzp_count_units(f, (const uint8_t *) buf, n);
  return (int) n;
}

static inline int fzp_recv(void *ctx, sn_sock s, void *buf, size_t len) {
  fzp_sock *f;
  size_t n;
  (void) ctx;
  if (!fzp_ok(s, "recv")) return SN_ERR_IO;
  f = &fzp.s[s];
  if (len == 0) fzp_misuse("recv of 0 bytes", s);
  if (f->in_off < fzp_released(f)) {
    size_t k;
    n = fzp_released(f) - f->in_off;
    if (f->npieces > 0 && (f->cycle || f->ipiece < f->npieces)) {
      size_t piece = f->pieces[f->ipiece++ % f->npieces];
      if (piece == 0) return SN_WANT_READ;
      if (n > piece) n = piece;
    }
    if (n > len) n = len;
    memcpy(buf, f->in + f->in_off, n);
    for (k = 0; f->gated && k < (size_t) f->nreplies; k++) { /* a 354 fully delivered: a message follows */
      size_t start = k ? f->reply_end[k - 1] : 0;
      if (f->reply_end[k] > f->in_off && f->reply_end[k] <= f->in_off + n && f->reply_end[k] - start >= 3 &&
          memcmp(f->in + start, "354", 3) == 0)
        f->saw_354 = 1;
    }
    f->in_off += n;
    return (int) n;
  }
  return f->in_eof && f->in_off == f->in_len ? 0 : SN_WANT_READ;
}

static inline void fzp_close(void *ctx, sn_sock s) {
  (void) ctx;
  if (!fzp_ok(s, "close")) return;
  fzp.s[s].closed = 1;
}

static inline void fzp_shutdown(void *ctx, sn_sock s) {
  (void) ctx;
  if (!fzp_ok(s, "shutdown")) return;
  if (fzp.s[s].shut) fzp_misuse("second shutdown", s);
  fzp.s[s].shut = 1;
}

static inline int fzp_wait(void *ctx, sn_wait_item *items, int n, int timeout_ms) {
  int i, ready = 0;
  (void) ctx, (void) timeout_ms;
  fzp.now += fzp.tick;
  for (i = 0; i < n; i++) {
    items[i].ready = 0;
    if (!fzp_ok(items[i].sock, "wait")) continue;
    if (items[i].want & ~(SN_READABLE | SN_WRITABLE)) fzp_misuse("wait for an unknown event", items[i].sock);
    items[i].ready = items[i].want;
    if (items[i].ready) ready++;
  }
  return ready;
}

/* Deterministic "entropy" (xorshift64): acceptable ONLY in a test. */
static inline int fzp_entropy(void *ctx, unsigned char *buf, size_t len) {
  size_t i;
  (void) ctx;
  for (i = 0; i < len; i++) {
    fzp.ent ^= fzp.ent << 13;
    fzp.ent ^= fzp.ent >> 7;
    fzp.ent ^= fzp.ent << 17;
    buf[i] = (unsigned char) (fzp.ent >> 24);
  }
  return 0;
}

static inline uint64_t fzp_now(void *ctx) {
  (void) ctx;
  return fzp.now;
}

static inline int64_t fzp_wall(void *ctx) {
  (void) ctx;
  return 1767225600; /* 2026-01-01T00:00:00Z: a fixed Date header */
}

static const sn_port fzp_port = {NULL,      fzp_listen,   fzp_accept, fzp_connect, fzp_send, fzp_recv,
                                 fzp_close, fzp_shutdown, fzp_wait,   fzp_entropy, fzp_now,  fzp_wall};

#endif /* FZ_WITH_PORT */
#endif /* SN_FUZZ_COMMON_H */
