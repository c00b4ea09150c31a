/* securenet_port_mem.h - securenet's in-memory test port: no network, faults on demand
   - MIT license, see securenet.h

   A port whose sockets are buffers in this process, for testing an
   application (its handlers, its mail and HTTP client code) or securenet
   itself without a network, the way littlefs ships its RAM block device.
   The test is the peer of every connection:
     - it opens connections to the application's listeners
       (sn_mem_peer_connect) and answers the application's outgoing connect
       with a peer it prepared (sn_mem_peer_expect);
     - it writes what the peer says (sn_mem_peer_write), ends or resets the
       stream (sn_mem_peer_close, sn_mem_peer_reset) and reads what the
       application sent (sn_mem_peer_read, or the socket's out buffer),
       between sn_poll calls or, through on_recv, inside the application's
       recv (a peer that answers each command as it comes);
     - it moves the clock (sn_mem.now; or tick: so many ms per wait call);
     - it injects faults: at most N bytes per recv or send (1 splits at
       every byte), a script of piece lengths per recv or send, every other
       call "not now", a network that says nothing (stall), a refused or
       reset connection, the N-th send or recv failing, entropy failing, and,
       through sn_mem_malloc/sn_mem_free as SN_MALLOC/SN_FREE, the N-th
       allocation of securenet failing (or every one from the N-th on);
     - it sees misuse: a hook called with SN_INVALID_SOCK, a socket the port
       never handed out or one already closed, a send or recv of 0 bytes, a
       send after shutdown, a second shutdown, a wait for an unknown event
       are counted in sn_mem.misuse (the first described in misuse_what).
   It uses securenet's public port interface only (struct sn_port), so it
   also shows, in a few hundred lines, what a port must do.

   Use: in one C file, define SECURENET_PORT_MEM_IMPLEMENTATION before
   including this header (the implementation; it may be the file that
   defines SECURENET_IMPLEMENTATION, or another). To count and fail
   securenet's allocations, include this header before securenet.h in the
   file that defines SECURENET_IMPLEMENTATION, with SN_MALLOC/SN_FREE set
   (the header declares sn_mem_malloc first, then includes securenet.h):

       #define SN_MALLOC(n) sn_mem_malloc(n)
       #define SN_FREE(p) sn_mem_free(p)
       #define SECURENET_IMPLEMENTATION
       #define SECURENET_PORT_MEM_IMPLEMENTATION
       #include "securenet_port_mem.h"
       ...
       static sn_mem net;                   (large: static, not on the stack)
       sn_mem_init(&net);
       mo.port = sn_mem_port(&net);         then sn_mgr_create, sn_http_listen on 80
       c = sn_mem_peer_connect(&net, 80);
       net.s[c].max_recv = 1;               securenet reads one byte per recv
       sn_mem_peer_puts(&net, c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
       for (i = 0; i < 10000 && net.s[c].out_len == 0; i++) sn_poll(mgr, 0);
       ... net.s[c].out (out_len bytes, NUL after them) is the response
       sn_mgr_destroy(mgr); sn_mem_clear(&net);

   Notes
   - Entropy is a FIXED DETERMINISTIC xorshift stream (sn_mem.seed), so runs
     repeat exactly. Acceptable ONLY in a test: never ship this port; a
     real port must use a real entropy source (see the port contract).
   - wait never blocks: by default every wanted event is reported ready
     (the contract allows it: a false "ready" only costs a "not now");
     strict_wait reports levels as poll() does.
   - The port's own buffers come from realloc()/free(), never SN_MALLOC, so
     counting securenet's allocations sees securenet's only. mbedTLS's
     allocations go through its own calloc and are not counted.
   - Single-threaded, like sn_poll. The allocation counter is the one
     global (SN_MALLOC has no context); everything else is in the sn_mem
     the test owns. */
#ifndef SECURENET_PORT_MEM_H
#define SECURENET_PORT_MEM_H

#include <stddef.h> /* compiler-provided: glibc's feature choice is still securenet.h's to make */

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SNDEF
#define SNDEF extern
#endif

/* ---- counted allocator (optional: SN_MALLOC/SN_FREE) ----------------------- */
#ifndef SN_MEM_HEAP_SIZES
#define SN_MEM_HEAP_SIZES 256 /* sizes kept of the first calls after a reset */
#endif

typedef struct sn_mem_heap {
  unsigned long calls;            /* sn_mem_malloc calls since sn_mem_heap_reset */
  unsigned long fail_at;          /* 0: none fails; else the call with this number returns NULL */
  int fail_rest;                  /* 1: every call after fail_at fails too */
  unsigned long failed;           /* calls made to fail */
  long live, live_bytes;          /* blocks (and their bytes) allocated, not yet freed */
  long peak_bytes;                /* the most live_bytes since the reset */
  unsigned long mallocs, frees;   /* successful allocations and frees since the program started */
  size_t size[SN_MEM_HEAP_SIZES]; /* bytes asked by the first calls since the reset */
} sn_mem_heap;

/* malloc/free that count, and fail on request (see sn_mem_heap). */
SNDEF void *sn_mem_malloc(size_t n);
SNDEF void sn_mem_free(void *p);
/* The counter (one per program: SN_MALLOC has no context); the test may
   read it and set fail_at / fail_rest. */
SNDEF sn_mem_heap *sn_mem_heap_get(void);
/* Restarts the call count (calls, failed, size) and the peak (from what is
   live now) and sets what fails; live, mallocs and frees go on. */
SNDEF void sn_mem_heap_reset(unsigned long fail_at, int fail_rest);

#ifdef __cplusplus
}
#endif

#include "securenet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the port ----------------------------------------------------------------- */
#ifndef SN_MEM_MAX_SOCKS
#define SN_MEM_MAX_SOCKS 40 /* sockets at once: listeners, connections both ways */
#endif
#ifndef SN_MEM_PIECES
#define SN_MEM_PIECES 16 /* lengths in a recv or send script */
#endif
#define SN_MEM_SMTP_REPLIES 64
#define SN_MEM_SMTP_MSGS 8

/* A script of piece lengths for one direction of a socket: each recv (or
   send) call that has bytes to move moves at most the next length; a 0
   length makes that call say "not now" (SN_WANT_READ / SN_WANT_WRITE). */
typedef struct sn_mem_pieces {
  size_t len[SN_MEM_PIECES];
  int n;     /* lengths in len (0: no script) */
  int next;  /* calls that took a length so far */
  int cycle; /* 1: the lengths repeat; 0: after the last, no limit */
} sn_mem_pieces;

/* A scripted SMTP server (sn_mem_peer_smtp): it says reply k only once the
   application has sent k commands (the greeting is reply 0; a message
   after a 354 counts as one command, ending at CRLF.CRLF). */
typedef struct sn_mem_smtp {
  int on;
  int nreplies;
  size_t reply_end[SN_MEM_SMTP_REPLIES]; /* end offset of each reply in the script */
  size_t units;                          /* commands the application has sent */
  size_t msg_reply[SN_MEM_SMTP_MSGS];    /* per message sent: the index of the reply to its dot */
  int nmsg;                              /* messages sent (up to SN_MEM_SMTP_MSGS counted) */
  int in_msg, saw_354;
  char tail[5]; /* the message's last bytes, to see its end */
} sn_mem_smtp;

/* One socket. The test reads any field and may set those marked (test). */
typedef struct sn_mem_sock {
  int used;        /* the slot holds a socket */
  int listener;    /* made by the application's listen */
  int pending;     /* made by sn_mem_peer_connect, not accepted yet */
  int awaiting;    /* made by sn_mem_peer_expect, not connected to yet */
  int outgoing;    /* handed out by the application's connect */
  int closed;      /* the application closed it (not used again; kept until sn_mem_clear/forget) */
  int shut;        /* the application ended its sending side (shutdown) */
  int err;         /* (test) nonzero: the connection failed: send and recv return this, wait adds SN_ERROR
                      (sn_mem_peer_reset: SN_ERR_CLOSED; SN_ERR_IO is a refused connect as POSIX shows it) */
  unsigned seq;    /* creation order: accept and connect take the oldest first */
  uint16_t port;   /* listener: its port; connection: the port it was made for (0: any) */
  char host[64];   /* listener: its address ("" for every interface); outgoing: the host connected to */
  /* peer -> application: what recv hands out */
  unsigned char *in; /* NUL after in_len */
  size_t in_len, in_off, in_cap;
  int in_eof;        /* the peer ended its side after in: recv returns 0 once in is read */
  /* application -> peer: what send took */
  unsigned char *out; /* NUL after out_len; NULL before the first byte */
  size_t out_len, out_cap;
  size_t out_rd;      /* (test) bytes of out the peer has read (sn_mem_peer_read moves it) */
  /* faults (test; from sn_mem's defaults at creation) */
  size_t max_recv, max_send; /* most bytes per recv / send call (0: no limit; 1: every byte apart) */
  size_t out_limit;          /* send takes nothing once out_len reaches it (a peer that stops reading; 0: none) */
  int block_recv;            /* 1: every other recv that has bytes says SN_WANT_READ */
  int block_send;            /* 1: every other send says SN_WANT_WRITE */
  sn_mem_pieces recv_pieces, send_pieces;
  unsigned long recvs, sends; /* calls counted for block_recv / block_send */
  sn_mem_smtp smtp;
} sn_mem_sock;

/* The port's whole state: one per test, owned by the test (large: make it
   static). Fields marked (test) are the test's to set at any time. */
typedef struct sn_mem {
  sn_port port; /* what sn_mem_port() returns; its ctx is this sn_mem */
  sn_mem_sock s[SN_MEM_MAX_SOCKS]; /* a socket's handle is its index here */
  uint64_t now;        /* (test) now_ms */
  uint32_t tick;       /* (test) ms now moves at each wait call (0: only the test moves it) */
  int64_t wall;        /* (test) wall_s (-1, unknown, after init) */
  uint64_t seed;       /* (test) the entropy stream's state (not 0) */
  int entropy_fails;   /* (test) 1: entropy fails (returns -1) */
  int stall;           /* (test) 1: wait reports nothing ready (a network that says nothing) */
  int strict_wait;     /* (test) 1: wait reports levels (readable: bytes, the end, a reset or, on a
                          listener, a pending connection; writable: send would take bytes) */
  int connect_err;     /* (test) connect's answer when no peer waits for it (SN_ERR_ADDR after init) */
  /* (test) faults every new socket starts with (see sn_mem_sock) */
  size_t max_recv, max_send;
  int block_recv, block_send;
  /* (test) the N-th send or recv call of the port (counted from init or clear, 1 first) fails
     with fail_err (SN_ERR_IO after init); 0: none */
  unsigned long fail_send_at, fail_recv_at;
  int fail_err;
  unsigned long sends, recvs; /* send and recv calls counted */
  int last_timeout;           /* the timeout_ms the last wait was given (it never blocks) */
  unsigned long waits, wakes; /* wait calls; wake calls (sn_mgr_wakeup) */
  unsigned long activity;     /* accepts, connects, bytes moved, closes, shutdowns: a test polls until
                                 it stops moving */
  unsigned seq;
  int misuse;            /* misuses seen since init or clear */
  char misuse_what[160]; /* the first, in words */
  /* (test) a test-driven peer: called at each recv on a connection, before it looks for bytes,
     to answer there what the application has sent (s's out from out_rd); may be NULL */
  void (*on_recv)(void *user, struct sn_mem *m, int s);
  void *on_recv_user;
  /* (test) called at each misuse (e.g. to abort where it happens); may be NULL */
  void (*on_misuse)(void *user, const char *what);
  void *misuse_user;
} sn_mem;

/* Sets m up: no sockets, clock at 0, wall -1, default seed, no faults.
   Allocates nothing. */
SNDEF void sn_mem_init(sn_mem *m);
/* Frees every socket's buffers and forgets every socket, the misuse count
   and the send/recv counts; the clock, seed and settings stay. Call it after
   sn_mgr_destroy (and at the end: the buffers are the port's). */
SNDEF void sn_mem_clear(sn_mem *m);
/* The port table for sn_mgr_opts.port (points into m). */
SNDEF const sn_port *sn_mem_port(sn_mem *m);

/* A connection from a peer to the listener on port (0: any listener):
   pending until the application accepts it (oldest first). Returns its
   socket (an index into m->s) or -1 when all SN_MEM_MAX_SOCKS are in use. */
SNDEF int sn_mem_peer_connect(sn_mem *m, uint16_t port);
/* A peer for the application's next connect to host (NULL: any) and port
   (0: any); connects take the oldest match. Write its script first or
   answer as the application speaks. Returns its socket or -1. */
SNDEF int sn_mem_peer_expect(sn_mem *m, const char *host, uint16_t port);
/* Bytes the peer sends: recv hands them to the application (copied).
   Returns SN_OK, SN_ERR_STATE after sn_mem_peer_close, SN_ERR_INVALID for a
   bad socket, SN_ERR_NOMEM. */
SNDEF int sn_mem_peer_write(sn_mem *m, int s, const void *data, size_t len);
SNDEF int sn_mem_peer_puts(sn_mem *m, int s, const char *text);
/* The peer ends its side (a FIN): once the bytes written are read, recv returns 0. */
SNDEF void sn_mem_peer_close(sn_mem *m, int s);
/* The peer resets the connection: send and recv return SN_ERR_CLOSED (sets err). */
SNDEF void sn_mem_peer_reset(sn_mem *m, int s);
/* Copies up to len bytes the application sent and the peer has not read
   yet into buf, and marks them read. Returns the count (0: none now). */
SNDEF size_t sn_mem_peer_read(sn_mem *m, int s, void *buf, size_t len);
/* Scripts of piece lengths for socket s's recv or send calls (see
   sn_mem_pieces; n beyond SN_MEM_PIECES is cut). */
SNDEF void sn_mem_recv_pieces(sn_mem *m, int s, const size_t *len, int n, int cycle);
SNDEF void sn_mem_send_pieces(sn_mem *m, int s, const size_t *len, int n, int cycle);
/* Makes socket s's script (written before) a well-behaved SMTP server (see
   sn_mem_smtp): a reply ends at a line "ddd " or "ddd", or a malformed one. */
SNDEF void sn_mem_peer_smtp(sn_mem *m, int s);
/* 1 if message j (0 first) was sent on s and the reply to its dot, a whole
   "250" line, reached the application: the server took the mail. */
SNDEF int sn_mem_smtp_accepted(const sn_mem *m, int s, int j);
/* Frees socket s's buffers and its slot (for long tests that make many
   connections; only once the application has closed it). */
SNDEF void sn_mem_forget(sn_mem *m, int s);
/* Sockets handed to the application (listened, accepted, connected) and
   not closed: 0 after sn_mgr_destroy, or securenet leaked one. */
SNDEF int sn_mem_open_count(const sn_mem *m);

#ifdef __cplusplus
}
#endif
#endif /* SECURENET_PORT_MEM_H */

#if defined(SECURENET_PORT_MEM_IMPLEMENTATION) && !defined(SECURENET_PORT_MEM_DONE)
#define SECURENET_PORT_MEM_DONE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- counted allocator ---- */
/* Each block carries its size in front, aligned for any scalar. */
typedef union sn_mem__hdr {
  size_t n;
  long double ld;
  long long ll;
  void *p;
} sn_mem__hdr;

static sn_mem_heap sn_mem__heap;

SNDEF sn_mem_heap *sn_mem_heap_get(void) { return &sn_mem__heap; }

SNDEF void sn_mem_heap_reset(unsigned long fail_at, int fail_rest) {
  sn_mem__heap.calls = 0;
  sn_mem__heap.fail_at = fail_at;
  sn_mem__heap.fail_rest = fail_rest;
  sn_mem__heap.failed = 0;
  sn_mem__heap.peak_bytes = sn_mem__heap.live_bytes;
}

SNDEF void *sn_mem_malloc(size_t n) {
  sn_mem_heap *h = &sn_mem__heap;
  sn_mem__hdr *b;
  h->calls++;
  if (h->calls <= SN_MEM_HEAP_SIZES) h->size[h->calls - 1] = n;
  if (h->fail_at && (h->calls == h->fail_at || (h->fail_rest && h->calls > h->fail_at))) {
    h->failed++;
    return NULL;
  }
  b = (sn_mem__hdr *) malloc(sizeof *b + n);
  if (b == NULL) return NULL;
  b->n = n;
  h->live++;
  h->live_bytes += (long) n;
  if (h->live_bytes > h->peak_bytes) h->peak_bytes = h->live_bytes;
  h->mallocs++;
  return b + 1;
}

SNDEF void sn_mem_free(void *p) {
  sn_mem__hdr *b;
  if (p == NULL) return;
  b = (sn_mem__hdr *) p - 1;
  sn_mem__heap.live--;
  sn_mem__heap.live_bytes -= (long) b->n;
  sn_mem__heap.frees++;
  free(b);
}

/* ---- sockets ---- */
static void sn_mem__misuse(sn_mem *m, const char *what, sn_sock s) {
  char line[sizeof m->misuse_what];
  snprintf(line, sizeof line, "%s on socket %ld", what, (long) s);
  if (m->misuse++ == 0) memcpy(m->misuse_what, line, sizeof line);
  if (m->on_misuse != NULL) m->on_misuse(m->misuse_user, line);
}

/* 1 if s is an open socket the port handed out, else records a misuse. */
static int sn_mem__ok(sn_mem *m, sn_sock s, const char *hook) {
  const sn_mem_sock *f;
  if (s < 0 || s >= SN_MEM_MAX_SOCKS) {
    sn_mem__misuse(m, hook, s);
    return 0;
  }
  f = &m->s[s];
  if (!f->used || f->closed || f->pending || f->awaiting) {
    sn_mem__misuse(m, hook, s);
    return 0;
  }
  return 1;
}

/* 1 if s names a socket, for the test's own calls. */
static int sn_mem__valid(const sn_mem *m, int s) { return s >= 0 && s < SN_MEM_MAX_SOCKS && m->s[s].used; }

/* Room for need bytes and a NUL. */
static int sn_mem__grow(unsigned char **buf, size_t *cap, size_t need) {
  unsigned char *p;
  size_t ncap;
  if (need + 1 <= *cap) return 0;
  ncap = need * 2 + 256;
  p = (unsigned char *) realloc(*buf, ncap);
  if (p == NULL) return -1;
  *buf = p;
  *cap = ncap;
  return 0;
}

static int sn_mem__new(sn_mem *m) {
  int i;
  for (i = 0; i < SN_MEM_MAX_SOCKS; i++)
    if (!m->s[i].used) {
      sn_mem_sock *f = &m->s[i];
      memset(f, 0, sizeof *f);
      f->used = 1;
      f->seq = ++m->seq;
      f->max_recv = m->max_recv;
      f->max_send = m->max_send;
      f->block_recv = m->block_recv;
      f->block_send = m->block_send;
      return i;
    }
  return -1;
}

/* The most the next call of a piece script lets through ((size_t) -1: no
   limit; 0: "not now"). */
static size_t sn_mem__piece(sn_mem_pieces *p) {
  if (p->n <= 0 || (!p->cycle && p->next >= p->n)) return (size_t) -1;
  return p->len[p->next++ % p->n];
}

static void sn_mem__set_pieces(sn_mem_pieces *p, const size_t *len, int n, int cycle) {
  int k;
  if (n < 0) n = 0;
  if (n > SN_MEM_PIECES) n = SN_MEM_PIECES;
  for (k = 0; k < n; k++) p->len[k] = len[k];
  p->n = n;
  p->next = 0;
  p->cycle = cycle;
}

/* What the peer has said so far: its whole script, or, for a scripted SMTP
   server, the replies the application's commands have earned. */
static size_t sn_mem__released(const sn_mem_sock *f) {
  const sn_mem_smtp *g = &f->smtp;
  if (!g->on) return f->in_len;
  return g->reply_end[g->units < (size_t) g->nreplies ? g->units : (size_t) g->nreplies - 1];
}

/* Counts the SMTP commands in what the application sent. */
static void sn_mem__smtp_sent(sn_mem_smtp *g, const unsigned char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (!g->in_msg && g->saw_354) g->in_msg = 1, g->saw_354 = 0, memset(g->tail, 0, sizeof g->tail);
    if (g->in_msg) {
      memmove(g->tail, g->tail + 1, 4);
      g->tail[4] = (char) p[i];
      if (memcmp(g->tail, "\r\n.\r\n", 5) == 0) {
        g->in_msg = 0;
        g->units++;
        if (g->nmsg < SN_MEM_SMTP_MSGS) g->msg_reply[g->nmsg++] = g->units;
      }
    } else if (p[i] == '\n') {
      g->units++;
    }
  }
}

/* A 354 reply wholly in in[off, off + n): a message follows. */
static void sn_mem__smtp_received(sn_mem_sock *f, size_t off, size_t n) {
  sn_mem_smtp *g = &f->smtp;
  int k;
  for (k = 0; k < g->nreplies; k++) {
    size_t start = k ? g->reply_end[k - 1] : 0;
    if (g->reply_end[k] > off && g->reply_end[k] <= off + n && g->reply_end[k] - start >= 3 &&
        memcmp(f->in + start, "354", 3) == 0)
      g->saw_354 = 1;
  }
}

/* ---- the hooks ---- */
static int sn_mem__listen(void *ctx, const char *addr, uint16_t port, sn_sock *out) {
  sn_mem *m = (sn_mem *) ctx;
  int i;
  for (i = 0; i < SN_MEM_MAX_SOCKS; i++) /* address in use */
    if (m->s[i].used && m->s[i].listener && !m->s[i].closed && m->s[i].port == port) return SN_ERR_ADDR;
  if ((i = sn_mem__new(m)) < 0) return SN_ERR_ADDR;
  m->s[i].listener = 1;
  m->s[i].port = port;
  snprintf(m->s[i].host, sizeof m->s[i].host, "%s", addr != NULL ? addr : "");
  *out = (sn_sock) i;
  return SN_OK;
}

static int sn_mem__accept(void *ctx, sn_sock l, sn_sock *out, char *peer, size_t peer_len) {
  sn_mem *m = (sn_mem *) ctx;
  int i, best = -1;
  if (!sn_mem__ok(m, l, "accept")) return SN_ERR_IO;
  if (!m->s[l].listener) {
    sn_mem__misuse(m, "accept on a socket that is not a listener", l);
    return SN_ERR_IO;
  }
  for (i = 0; i < SN_MEM_MAX_SOCKS; i++) {
    const sn_mem_sock *f = &m->s[i];
    if (f->used && f->pending && (f->port == 0 || f->port == m->s[l].port) && (best < 0 || f->seq < m->s[best].seq))
      best = i;
  }
  if (best < 0) return SN_WANT_READ;
  m->s[best].pending = 0;
  m->s[best].port = m->s[l].port;
  *out = (sn_sock) best;
  if (peer != NULL && peer_len > 0) snprintf(peer, peer_len, "mem:%d", best);
  m->activity++;
  return SN_OK;
}

static int sn_mem__connect(void *ctx, const char *host, uint16_t port, sn_sock *out) {
  sn_mem *m = (sn_mem *) ctx;
  int i, best = -1;
  for (i = 0; i < SN_MEM_MAX_SOCKS; i++) {
    const sn_mem_sock *f = &m->s[i];
    if (f->used && f->awaiting && (f->port == 0 || f->port == port) &&
        (f->host[0] == '\0' || (host != NULL && strcmp(f->host, host) == 0)) && (best < 0 || f->seq < m->s[best].seq))
      best = i;
  }
  if (best < 0) return m->connect_err;
  m->s[best].awaiting = 0;
  m->s[best].outgoing = 1;
  m->s[best].port = port;
  snprintf(m->s[best].host, sizeof m->s[best].host, "%s", host != NULL ? host : "");
  *out = (sn_sock) best;
  m->activity++;
  return SN_OK;
}

static int sn_mem__send(void *ctx, sn_sock s, const void *buf, size_t len) {
  sn_mem *m = (sn_mem *) ctx;
  sn_mem_sock *f;
  size_t n = len, piece;
  if (!sn_mem__ok(m, s, "send")) return SN_ERR_IO;
  f = &m->s[s];
  if (f->listener) sn_mem__misuse(m, "send to a listener", s);
  if (len == 0) sn_mem__misuse(m, "send of 0 bytes", s);
  if (f->shut) sn_mem__misuse(m, "send after shutdown", s);
  if (++m->sends == m->fail_send_at) return m->fail_err;
  if (f->err) return f->err;
  if (f->block_send && (++f->sends & 1)) return SN_WANT_WRITE;
  if (f->out_limit && f->out_len >= f->out_limit) return SN_WANT_WRITE; /* the peer stopped reading */
  if (f->max_send && n > f->max_send) n = f->max_send;
  if ((piece = sn_mem__piece(&f->send_pieces)) == 0) return SN_WANT_WRITE;
  if (n > piece) n = piece;
  if (sn_mem__grow(&f->out, &f->out_cap, f->out_len + n) != 0) return SN_ERR_IO;
  memcpy(f->out + f->out_len, buf, n);
  f->out_len += n;
  f->out[f->out_len] = '\0';
  if (f->smtp.on) sn_mem__smtp_sent(&f->smtp, (const unsigned char *) buf, n);
  m->activity++;
  return (int) n;
}

static int sn_mem__recv(void *ctx, sn_sock s, void *buf, size_t len) {
  sn_mem *m = (sn_mem *) ctx;
  sn_mem_sock *f;
  size_t n, piece, avail;
  if (!sn_mem__ok(m, s, "recv")) return SN_ERR_IO;
  f = &m->s[s];
  if (f->listener) sn_mem__misuse(m, "recv from a listener", s);
  if (len == 0) sn_mem__misuse(m, "recv of 0 bytes", s);
  if (++m->recvs == m->fail_recv_at) return m->fail_err;
  if (f->err) return f->err;
  if (m->on_recv != NULL && !f->listener) m->on_recv(m->on_recv_user, m, (int) s);
  avail = sn_mem__released(f);
  if (f->in_off < avail) {
    if (f->block_recv && (++f->recvs & 1)) return SN_WANT_READ;
    n = avail - f->in_off;
    if (f->max_recv && n > f->max_recv) n = f->max_recv;
    if ((piece = sn_mem__piece(&f->recv_pieces)) == 0) return SN_WANT_READ;
    if (n > piece) n = piece;
    if (n > len) n = len;
    memcpy(buf, f->in + f->in_off, n);
    if (f->smtp.on) sn_mem__smtp_received(f, f->in_off, n);
    f->in_off += n;
    m->activity++;
    return (int) n;
  }
  return f->in_eof && f->in_off == f->in_len ? 0 : SN_WANT_READ;
}

static void sn_mem__close(void *ctx, sn_sock s) {
  sn_mem *m = (sn_mem *) ctx;
  if (!sn_mem__ok(m, s, "close")) return;
  m->s[s].closed = 1;
  m->activity++;
}

static void sn_mem__shutdown(void *ctx, sn_sock s) {
  sn_mem *m = (sn_mem *) ctx;
  if (!sn_mem__ok(m, s, "shutdown")) return;
  if (m->s[s].shut) sn_mem__misuse(m, "second shutdown", s);
  m->s[s].shut = 1;
  m->activity++;
}

/* Readiness as poll() would see it (for strict_wait). */
static uint8_t sn_mem__level(const sn_mem *m, int i) {
  const sn_mem_sock *f = &m->s[i];
  uint8_t r = 0;
  int k;
  if (f->listener) {
    for (k = 0; k < SN_MEM_MAX_SOCKS; k++)
      if (m->s[k].used && m->s[k].pending && (m->s[k].port == 0 || m->s[k].port == f->port)) r |= SN_READABLE;
    return r;
  }
  if (f->in_off < sn_mem__released(f) || (f->in_eof && f->in_off == f->in_len) || f->err) r |= SN_READABLE;
  if (!(f->out_limit && f->out_len >= f->out_limit)) r |= SN_WRITABLE;
  return r;
}

static int sn_mem__wait(void *ctx, sn_wait_item *items, int n, int timeout_ms) {
  sn_mem *m = (sn_mem *) ctx;
  int i, ready = 0;
  m->last_timeout = timeout_ms; /* never blocks: the test moves the clock */
  m->waits++;
  m->now += m->tick;
  for (i = 0; i < n; i++) {
    items[i].ready = 0;
    if (!sn_mem__ok(m, items[i].sock, "wait")) continue;
    if (items[i].want & ~(SN_READABLE | SN_WRITABLE)) sn_mem__misuse(m, "wait for an unknown event", items[i].sock);
    items[i].ready = m->stall ? 0 : items[i].want;
    if (m->strict_wait) items[i].ready &= sn_mem__level(m, (int) items[i].sock);
    if (m->s[items[i].sock].err && !m->stall) items[i].ready |= SN_ERROR;
    if (items[i].ready) ready++;
  }
  return ready;
}

/* One thread: wake only counts, and the lock is not needed. */
static void sn_mem__wake(void *ctx) { ((sn_mem *) ctx)->wakes++; }

/* Deterministic "entropy" (xorshift64): acceptable ONLY in a test. */
static int sn_mem__entropy(void *ctx, unsigned char *buf, size_t len) {
  sn_mem *m = (sn_mem *) ctx;
  size_t i;
  if (m->entropy_fails) return -1;
  for (i = 0; i < len; i++) {
    m->seed ^= m->seed << 13;
    m->seed ^= m->seed >> 7;
    m->seed ^= m->seed << 17;
    buf[i] = (unsigned char) (m->seed >> 24);
  }
  return 0;
}

static uint64_t sn_mem__now_ms(void *ctx) { return ((sn_mem *) ctx)->now; }

static int64_t sn_mem__wall_s(void *ctx) { return ((sn_mem *) ctx)->wall; }

/* ---- the test's side ---- */
SNDEF void sn_mem_init(sn_mem *m) {
  memset(m, 0, sizeof *m);
  m->port.ctx = m;
  m->port.listen = sn_mem__listen;
  m->port.accept = sn_mem__accept;
  m->port.connect = sn_mem__connect;
  m->port.send = sn_mem__send;
  m->port.recv = sn_mem__recv;
  m->port.close = sn_mem__close;
  m->port.shutdown = sn_mem__shutdown;
  m->port.wait = sn_mem__wait;
  m->port.entropy = sn_mem__entropy;
  m->port.now_ms = sn_mem__now_ms;
  m->port.wall_s = sn_mem__wall_s;
  m->port.wake = sn_mem__wake;
  m->wall = -1;
  m->seed = 0x9E3779B97F4A7C15ull;
  m->connect_err = SN_ERR_ADDR;
  m->fail_err = SN_ERR_IO;
}

SNDEF void sn_mem_clear(sn_mem *m) {
  int i;
  for (i = 0; i < SN_MEM_MAX_SOCKS; i++) {
    free(m->s[i].in);
    free(m->s[i].out);
  }
  memset(m->s, 0, sizeof m->s);
  m->misuse = 0;
  m->misuse_what[0] = '\0';
  m->sends = m->recvs = 0;
}

SNDEF const sn_port *sn_mem_port(sn_mem *m) { return &m->port; }

SNDEF int sn_mem_peer_connect(sn_mem *m, uint16_t port) {
  int i = sn_mem__new(m);
  if (i < 0) return -1;
  m->s[i].pending = 1;
  m->s[i].port = port;
  return i;
}

SNDEF int sn_mem_peer_expect(sn_mem *m, const char *host, uint16_t port) {
  int i = sn_mem__new(m);
  if (i < 0) return -1;
  m->s[i].awaiting = 1;
  m->s[i].port = port;
  snprintf(m->s[i].host, sizeof m->s[i].host, "%s", host != NULL ? host : "");
  return i;
}

SNDEF int sn_mem_peer_write(sn_mem *m, int s, const void *data, size_t len) {
  sn_mem_sock *f;
  if (!sn_mem__valid(m, s)) return SN_ERR_INVALID;
  f = &m->s[s];
  if (f->in_eof) return SN_ERR_STATE;
  if (sn_mem__grow(&f->in, &f->in_cap, f->in_len + len) != 0) return SN_ERR_NOMEM;
  if (len) memcpy(f->in + f->in_len, data, len);
  f->in_len += len;
  f->in[f->in_len] = '\0';
  return SN_OK;
}

SNDEF int sn_mem_peer_puts(sn_mem *m, int s, const char *text) { return sn_mem_peer_write(m, s, text, strlen(text)); }

SNDEF void sn_mem_peer_close(sn_mem *m, int s) {
  if (sn_mem__valid(m, s)) m->s[s].in_eof = 1;
}

SNDEF void sn_mem_peer_reset(sn_mem *m, int s) {
  if (sn_mem__valid(m, s)) m->s[s].err = SN_ERR_CLOSED;
}

SNDEF size_t sn_mem_peer_read(sn_mem *m, int s, void *buf, size_t len) {
  sn_mem_sock *f;
  size_t n;
  if (!sn_mem__valid(m, s)) return 0;
  f = &m->s[s];
  n = f->out_len - f->out_rd;
  if (n > len) n = len;
  if (n) memcpy(buf, f->out + f->out_rd, n);
  f->out_rd += n;
  return n;
}

SNDEF void sn_mem_recv_pieces(sn_mem *m, int s, const size_t *len, int n, int cycle) {
  if (sn_mem__valid(m, s)) sn_mem__set_pieces(&m->s[s].recv_pieces, len, n, cycle);
}

SNDEF void sn_mem_send_pieces(sn_mem *m, int s, const size_t *len, int n, int cycle) {
  if (sn_mem__valid(m, s)) sn_mem__set_pieces(&m->s[s].send_pieces, len, n, cycle);
}

SNDEF void sn_mem_peer_smtp(sn_mem *m, int s) {
  sn_mem_sock *f;
  sn_mem_smtp *g;
  size_t off = 0;
  if (!sn_mem__valid(m, s)) return;
  f = &m->s[s];
  g = &f->smtp;
  memset(g, 0, sizeof *g);
  g->on = 1;
  while (off < f->in_len && g->nreplies < SN_MEM_SMTP_REPLIES) {
    const unsigned char *l = f->in + off, *nl = (const unsigned char *) memchr(l, '\n', f->in_len - off);
    size_t end = nl ? (size_t) (nl - f->in) + 1 : f->in_len, len = end - off;
    int last;
    if (len && l[len - 1] == '\n') len--;
    if (len && l[len - 1] == '\r') len--;
    last = len < 4 || l[3] != '-' || l[0] < '0' || l[0] > '9';
    off = end;
    if (last) g->reply_end[g->nreplies++] = off;
  }
  if (g->nreplies < SN_MEM_SMTP_REPLIES) g->reply_end[g->nreplies++] = f->in_len; /* an unfinished last reply */
  else g->reply_end[SN_MEM_SMTP_REPLIES - 1] = f->in_len;
}

SNDEF int sn_mem_smtp_accepted(const sn_mem *m, int s, int j) {
  const sn_mem_sock *f;
  const sn_mem_smtp *g;
  size_t k, start;
  if (!sn_mem__valid(m, s)) return 0;
  f = &m->s[s];
  g = &f->smtp;
  if (j < 0 || j >= g->nmsg) return 0;
  k = g->msg_reply[j];
  if (k >= (size_t) g->nreplies) return 0;
  start = k ? g->reply_end[k - 1] : 0;
  return g->reply_end[k] - start >= 4 && memcmp(f->in + start, "250", 3) == 0 && f->in[g->reply_end[k] - 1] == '\n' &&
         f->in_off >= g->reply_end[k];
}

SNDEF void sn_mem_forget(sn_mem *m, int s) {
  if (!sn_mem__valid(m, s)) return;
  free(m->s[s].in);
  free(m->s[s].out);
  memset(&m->s[s], 0, sizeof m->s[s]);
}

SNDEF int sn_mem_open_count(const sn_mem *m) {
  int i, n = 0;
  for (i = 0; i < SN_MEM_MAX_SOCKS; i++) {
    const sn_mem_sock *f = &m->s[i];
    n += f->used && !f->closed && !f->pending && !f->awaiting;
  }
  return n;
}

#endif /* SECURENET_PORT_MEM_IMPLEMENTATION */
