/* test_lifecycle.c - requests that outlive a handler call, in memory (issue 16).

   The real server (sn_mgr, sn_http_listen on a plain listener, sn_poll) on
   the in-memory port (securenet_port_mem.h): the test is every client, moves
   the fake clock and injects faults. The port's table is copied and a few
   hooks wrapped, to see what securenet asked of it: the timeout each wait
   was given, the recv calls per socket, the wake hook's calls and the lock
   hooks' nesting. Every securenet allocation goes through
   sn_mem_malloc/sn_mem_free (SN_MALLOC/SN_FREE), counted, and can be made
   to fail; every phase ends with sn_mgr_destroy and checks that nothing
   outlived it, no socket stayed open and none was misused.

   Checks, by group:
   - timers: one-shot at (and not before) its time, once; late ones at the
     next round; repeating each period, late without a burst; cancel from
     the own callback and of another due timer; a 0-delay timer added by a
     callback runs at the next round; order by due time (equal: as added);
     sn_poll's wait bounded by the next timer; no allocation per firing;
     sn_timer_add in sn_mgr_destroy's callbacks -> SN_ERR_STATE; destroy
     never calls armed timers.
   - wakeups (one thread): FIFO; SN_WAKE_QUEUE accepted then SN_ERR_FULL;
     queued from a wakeup -> the next round (and this round does not
     sleep); the wake hook once per accepted wakeup; the lock held around
     the queue only; sn_mgr_destroy runs the queued ones.
   - deferred replies: from a timer and a wakeup, keep-alive after it, the
     handle after the reply, the client gone first, the request timeout
     (503, on_abort(SN_ERR_TIMEOUT)), the id check (a handle whose
     connection pointer is a live connection's), a chunked reply from
     timers, no reply and no deferral -> 500, destroy with one waiting.
   - streamed bodies: Content-Length and chunked, split at every byte and in
     large pieces, exact bytes, the handler once with an empty body;
     pipelined requests after them; pause/resume (no recv while paused);
     max_body (413 before on_head, 413 mid-body); malformed chunks; the
     client gone mid-body; a reply from on_body; on_body failing; piece
     length and memory for a 1 MiB body.
   - decisions before the body: on_head refusing or accepting with
     Expect: 100-continue, without on_head, without a route; per-route
     max_body and request timeout.
   - attached state: sn_http_attach's and sn_conn_attach's end, once, with
     the reason.
   - owned state (the demo's /api/upload pattern): state SN_MALLOCed in
     on_head, freed by its end, through every way a streamed request ends.
   - allocation failures: the deferred, the streamed and the owned-state
     scenarios with the N-th allocation failing (and every one from the N-th
     on) for every N until a run passes.
   The mem port does not record the timeout its wait was given, nor recv
   calls per socket: the wrapped hooks above do.

   Entropy is the mem port's FIXED DETERMINISTIC stream: acceptable ONLY in
   a test. Run with -v for securenet's log lines. */
#define SN_MALLOC(n) sn_mem_malloc(n)
#define SN_FREE(p) sn_mem_free(p)
#define SECURENET_IMPLEMENTATION
#define SECURENET_PORT_MEM_IMPLEMENTATION
#include "securenet_port_mem.h" /* before securenet.h, which it includes: it declares sn_mem_malloc */
#include "test.h"

#include <ctype.h>
#include <stdlib.h>

/* ---- the port, wrapped --------------------------------------------------------- */
static sn_mem net;
static sn_mem_heap *heap;
static sn_port wport; /* the mem port's table with the hooks below */
static struct {
  int last_timeout;     /* the timeout_ms the last wait was given */
  unsigned long waits;
  unsigned long recvs[SN_MEM_MAX_SOCKS]; /* recv calls per socket */
  unsigned long wakes;  /* wake hook calls */
  unsigned long locks, unlocks;
  int depth, max_depth; /* lock nesting */
} pw;

static int w_wait(void *ctx, sn_wait_item *items, int n, int timeout_ms) {
  pw.last_timeout = timeout_ms;
  pw.waits++;
  return net.port.wait(ctx, items, n, timeout_ms);
}
static int w_recv(void *ctx, sn_sock s, void *buf, size_t len) {
  if (s >= 0 && s < SN_MEM_MAX_SOCKS) pw.recvs[s]++;
  return net.port.recv(ctx, s, buf, len);
}
static void w_wake(void *ctx) {
  (void) ctx;
  pw.wakes++;
}
static void w_lock(void *ctx) {
  (void) ctx;
  pw.locks++;
  if (++pw.depth > pw.max_depth) pw.max_depth = pw.depth;
}
static void w_unlock(void *ctx) {
  (void) ctx;
  pw.unlocks++;
  pw.depth--;
}

/* ---- the server ------------------------------------------------------------------ */
static sn_mgr *mgr;
static sn_router router;
static int verbose;

static char w_lastlog[SN_LOG_MAX]; /* the last WARN line */
static void log_cb(void *user, int level, const char *msg) {
  (void) user;
  if (level <= SN_LOG_WARN) snprintf(w_lastlog, sizeof w_lastlog, "%s", msg);
  if (verbose) printf("# log %d: %s\n", level, msg);
}

static int start_mgr(void) {
  sn_mgr_opts mo;
  memset(&mo, 0, sizeof mo);
  wport = *sn_mem_port(&net);
  wport.wait = w_wait;
  wport.recv = w_recv;
  wport.wake = w_wake;
  wport.lock = w_lock;
  wport.unlock = w_unlock;
  mo.port = &wport;
  mo.log = log_cb;
  mo.log_level = SN_LOG_DEBUG;
  mgr = NULL;
  return sn_mgr_create(&mgr, &mo);
}

#define LISTENER_MAX_BODY 1000
/* The manager and a plain HTTP listener on port 80: max_body 1000, the
   default timeouts (request 10 s, idle 30 s). */
static int start(void) {
  sn_http_opts ho;
  int r;
  if ((r = start_mgr()) != SN_OK) return r;
  memset(&ho, 0, sizeof ho);
  ho.port = 80;
  ho.router = &router;
  ho.max_body = LISTENER_MAX_BODY;
  if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
    sn_mgr_destroy(mgr);
    mgr = NULL;
  }
  return r;
}

/* Destroys the manager; every allocation freed, no socket open or misused. */
static void stop(const char *phase) {
  char name[220];
  sn_mgr_destroy(mgr);
  mgr = NULL;
  snprintf(name, sizeof name, "lifecycle: %s: sn_mgr_destroy frees every allocation, closes every socket, none misused",
           phase);
  test_report(heap->live == 0 && sn_mem_open_count(&net) == 0 && net.misuse == 0, name,
              "%ld allocations live, %d sockets open, %d misuses (first: %s)", heap->live, sn_mem_open_count(&net),
              net.misuse, net.misuse_what);
  sn_mem_clear(&net);
  memset(&pw, 0, sizeof pw);
}

/* Polls until nothing has moved for a few rounds (bounded). */
static long pump(void) {
  long rounds = 0;
  int idle = 0;
  while (idle < 4 && rounds < 4000000) {
    unsigned long before = net.activity;
    sn_poll(mgr, 0);
    rounds++;
    idle = net.activity == before ? idle + 1 : 0;
  }
  return rounds;
}

/* Moves the clock ms forward in steps of step, pumping at each. */
static void advance(uint64_t ms, uint64_t step) {
  while (ms > 0) {
    uint64_t d = ms < step ? ms : step;
    net.now += d;
    ms -= d;
    pump();
  }
}

/* ---- clients ----------------------------------------------------------------------- */
static int cl_new(size_t max_recv) {
  int s = sn_mem_peer_connect(&net, 80);
  if (s < 0) {
    fprintf(stderr, "test_lifecycle: out of mem sockets\n");
    abort();
  }
  net.s[s].max_recv = max_recv;
  return s;
}
static void cl_write(int s, const void *p, size_t n) {
  if (sn_mem_peer_write(&net, s, p, n) != SN_OK) abort();
}
static void cl_puts(int s, const char *t) { cl_write(s, t, strlen(t)); }
/* The server has ended its side (shut down or closed). */
static int srv_closed(int s) { return net.s[s].shut || net.s[s].closed; }
static int out_has(int s, const char *str) { return net.s[s].out != NULL && strstr((const char *) net.s[s].out, str) != NULL; }

typedef struct resp {
  int status;
  char head[2048];
  char body[16384];
  size_t body_len;
} resp;

static int resp_hdr(const resp *r, const char *name, char *val, size_t vlen) {
  const char *p = strstr(r->head, "\r\n");
  size_t nl = strlen(name);
  while (p != NULL && p[2] != '\r' && p[2] != '\0') {
    const char *line = p + 2, *end = strstr(line, "\r\n");
    size_t k;
    int same = end != NULL;
    for (k = 0; same && k < nl; k++)
      if (tolower((unsigned char) line[k]) != tolower((unsigned char) name[k])) same = 0;
    if (same && line[nl] == ':') {
      const char *v = line + nl + 1;
      size_t len;
      while (*v == ' ') v++;
      len = (size_t) (end - v);
      if (len >= vlen) len = vlen - 1;
      memcpy(val, v, len);
      val[len] = '\0';
      return 1;
    }
    p = end;
  }
  if (vlen) val[0] = '\0';
  return 0;
}

static int has_close(const resp *r) {
  char v[64];
  return resp_hdr(r, "connection", v, sizeof v) && strcmp(v, "close") == 0;
}

/* The next response on s (from out_rd): 1 (out_rd moves past it), 0 while
   incomplete, -1 when malformed. Content-Length and chunked bodies. */
static int next_resp(int s, resp *r) {
  sn_mem_sock *f = &net.s[s];
  const char *p;
  size_t n, hl = 0, i;
  char v[64];
  r->status = 0;
  r->body_len = 0;
  r->head[0] = r->body[0] = '\0';
  if (f->out == NULL || f->out_rd >= f->out_len) return 0;
  p = (const char *) f->out + f->out_rd;
  n = f->out_len - f->out_rd;
  for (i = 0; i + 3 < n; i++)
    if (memcmp(p + i, "\r\n\r\n", 4) == 0) {
      hl = i + 4;
      break;
    }
  if (hl == 0) return 0;
  if (hl >= sizeof r->head || hl < 14 || memcmp(p, "HTTP/1.1 ", 9) != 0) return -1;
  memcpy(r->head, p, hl);
  r->head[hl] = '\0';
  r->status = atoi(p + 9);
  if (r->status < 200 || r->status == 204 || r->status == 304) {
    f->out_rd += hl;
    return 1;
  }
  if (resp_hdr(r, "content-length", v, sizeof v)) {
    size_t cl = (size_t) strtoul(v, NULL, 10);
    if (cl >= sizeof r->body) return -1;
    if (n - hl < cl) return 0;
    memcpy(r->body, p + hl, cl);
    r->body[cl] = '\0';
    r->body_len = cl;
    f->out_rd += hl + cl;
    return 1;
  }
  if (resp_hdr(r, "transfer-encoding", v, sizeof v) && strcmp(v, "chunked") == 0) {
    size_t at = hl;
    for (;;) {
      size_t size = 0, k = at;
      while (k < n && isxdigit((unsigned char) p[k])) {
        size = size * 16 + (size_t) (isdigit((unsigned char) p[k]) ? p[k] - '0' : tolower((unsigned char) p[k]) - 'a' + 10);
        k++;
      }
      if (k + 2 > n) return 0;
      if (k == at || p[k] != '\r' || p[k + 1] != '\n') return -1;
      k += 2;
      if (size == 0) {
        if (k + 2 > n) return 0;
        if (p[k] != '\r' || p[k + 1] != '\n') return -1;
        f->out_rd += k + 2;
        return 1;
      }
      if (k + size + 2 > n) return 0;
      if (r->body_len + size >= sizeof r->body) return -1;
      memcpy(r->body + r->body_len, p + k, size);
      r->body_len += size;
      r->body[r->body_len] = '\0';
      at = k + size + 2;
    }
  }
  return -1; /* this server always frames its bodies */
}

/* ---- bodies ------------------------------------------------------------------------- */
/* The byte at offset i of every body the test sends. */
static unsigned char pat(size_t i) { return (unsigned char) ((i * 131u + (i >> 9) + 7u) & 0xffu); }

static char big[(1u << 20) + 300000]; /* requests as sent (1 MiB body and its head, chunked framing) */

/* A head for method path with a Content-Length of n, then n body bytes, into
   big at off. Returns the new end. */
static size_t put_cl(size_t off, const char *method, const char *path, size_t n, const char *extra) {
  size_t i;
  off += (size_t) sprintf(big + off, "%s %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %lu\r\n\r\n", method, path,
                          extra ? extra : "", (unsigned long) n);
  for (i = 0; i < n; i++) big[off + i] = (char) pat(i);
  return off + n;
}

/* The same body chunked: chunk sizes vary (1 to 4096 bytes, hex in both
   cases, some with extensions), then a trailer. */
static size_t put_chunked(size_t off, const char *method, const char *path, size_t n, const char *extra) {
  static const size_t sizes[] = {1, 7, 255, 1000, 16, 3, 4096, 100, 2};
  size_t done = 0, i;
  int k = 0;
  off += (size_t) sprintf(big + off, "%s %s HTTP/1.1\r\nHost: t\r\n%sTransfer-Encoding: chunked\r\n\r\n", method, path,
                          extra ? extra : "");
  while (done < n) {
    size_t len = sizes[k % 9];
    if (len > n - done) len = n - done;
    if (k % 3 == 1) off += (size_t) sprintf(big + off, "%lx;name=\"v a\"\r\n", (unsigned long) len);
    else off += (size_t) sprintf(big + off, "%lX\r\n", (unsigned long) len);
    for (i = 0; i < len; i++) big[off + i] = (char) pat(done + i);
    off += len;
    big[off++] = '\r';
    big[off++] = '\n';
    done += len;
    k++;
  }
  off += (size_t) sprintf(big + off, "0\r\nX-Trailer: 1\r\n\r\n");
  return off;
}

/* ---- the application ----------------------------------------------------------------- */
typedef struct app_t {
  int sock; /* the test's socket of the request being looked at */
  /* handlers */
  int handler_calls, head_calls;
  size_t handler_body_len;
  /* on_abort */
  int abort_calls, abort_err, abort_ref_r, abort_add_timer, abort_timer_r, abort_probe;
  int probe_r;
  /* a deferred request */
  sn_req_ref ref, ref_old;
  sn_timer t, t2;
  uint32_t delay;
  int timer_calls, late_r, reply_r, reply2_r, after_reply_r;
  int chunk_tick, chunk_fail;
  /* attached state */
  int attach_req, attach_r, attach2_r, state_ok;
  int end_calls, end_why;
  size_t end_out_len;
  int cend_calls, cend_why, cattach_r, cattach2_r, cstate_ok;
  /* a streamed body */
  int body_calls;
  size_t body_bytes, max_piece;
  unsigned long mismatch;
  int pause_mode; /* 1: pause after each piece, resume after resume_ms; 2: pause once, never resume */
  uint32_t resume_ms;
  int pauses, resumes, resume_r, recv_while_paused;
  unsigned long recvs_at_pause;
  int reply_at_piece; /* reply 403 from on_body at this piece (1 first) */
  int defer_at_end;   /* the streamed route's handler defers (a timer replies) */
  long owned_live;    /* heap->live after the demo-style state was freed */
  int owned_allocs;   /* demo-style states allocated */
  int body_ret;       /* on_body returns this at its first piece */
} app_t;
static app_t app;

/* Only once the manager that may hold app's timers is gone. */
static void app_reset(void) {
  memset(&app, 0, sizeof app);
  app.abort_err = app.end_why = app.cend_why = 12345;
}

static void t_noop(void *arg) { (void) arg; }

static void w_probe(void *arg) {
  sn_conn *c;
  (void) arg;
  app.probe_r = sn_req_conn(app.ref, &c);
}

static void on_abort_rec(sn_conn *c, int err, void *user) {
  sn_conn *x;
  (void) c;
  (void) user;
  app.abort_calls++;
  app.abort_err = err;
  app.abort_ref_r = sn_req_conn(app.ref, &x);
  if (app.abort_add_timer) app.abort_timer_r = sn_timer_add(sn_conn_mgr(c), &app.t2, 10, 0, t_noop, NULL);
  if (app.abort_probe) sn_mgr_wakeup(sn_conn_mgr(c), w_probe, NULL);
}

static void end_rec(void *state, int why) {
  app_t *a = (app_t *) state;
  a->end_calls++;
  a->end_why = why;
  a->end_out_len = net.s[a->sock].out_len;
}

static void cend_rec(void *state, int why) {
  app_t *a = (app_t *) state;
  a->cend_calls++;
  a->cend_why = why;
}

static void h_hello(sn_conn *c, const sn_request *req, void *u) {
  (void) req;
  (void) u;
  sn_http_printf(c, 200, "Content-Type: text/plain\r\n", "hello");
}

/* Buffered: checks the body against pat(), says how long it was. */
static void h_store(sn_conn *c, const sn_request *req, void *u) {
  size_t i;
  (void) u;
  app.handler_calls++;
  app.handler_body_len = req->body.len;
  for (i = 0; i < req->body.len; i++)
    if ((unsigned char) req->body.ptr[i] != pat(i)) app.mismatch++;
  sn_http_printf(c, 200, NULL, "stored %lu", (unsigned long) req->body.len);
}

static void h_silent(sn_conn *c, const sn_request *req, void *u) {
  (void) c;
  (void) req;
  (void) u;
  app.handler_calls++;
}

/* A deferred reply from a timer. */
static void t_reply(void *arg) {
  sn_conn *c, *c2;
  (void) arg;
  app.timer_calls++;
  app.late_r = sn_req_conn(app.ref, &c);
  if (app.late_r == SN_OK) {
    app.reply_r = sn_http_printf(c, 200, "Content-Type: text/plain\r\n", "late %lu", (unsigned long) app.delay);
    app.reply2_r = sn_http_reply(c, 200, NULL, "x", 1);
    app.after_reply_r = sn_req_conn(app.ref, &c2);
  } else if (c != NULL) {
    app.late_r = 999; /* must be NULL then */
  }
}

static void h_defer(sn_conn *c, const sn_request *req, void *u) {
  (void) req;
  (void) u;
  app.handler_calls++;
  app.ref = sn_http_defer(c);
  if (app.attach_req) app.attach_r = sn_http_attach(c, &app, end_rec);
  sn_timer_add(sn_conn_mgr(c), &app.t, app.delay, 0, t_reply, NULL);
}

/* A deferred reply from a wakeup. */
static void w_reply(void *arg) {
  sn_conn *c;
  (void) arg;
  app.timer_calls++;
  if ((app.late_r = sn_req_conn(app.ref, &c)) == SN_OK) app.reply_r = sn_http_printf(c, 200, NULL, "woken");
}

static void h_defer_wake(sn_conn *c, const sn_request *req, void *u) {
  (void) req;
  (void) u;
  app.handler_calls++;
  app.ref = sn_http_defer(c);
  sn_mgr_wakeup(sn_conn_mgr(c), w_reply, NULL);
}

/* A deferred chunked reply, a piece per tick of a repeating timer. */
static void t_chunks(void *arg) {
  sn_conn *c;
  (void) arg;
  app.chunk_tick++;
  if (sn_req_conn(app.ref, &c) != SN_OK) {
    app.chunk_fail++;
    sn_timer_cancel(mgr, &app.t);
    return;
  }
  if (app.chunk_tick == 1) {
    if (sn_http_chunked_begin(c, 200, "Content-Type: text/plain\r\n") != SN_OK) app.chunk_fail++;
  } else if (app.chunk_tick <= 4) {
    if (sn_http_chunkf(c, "part %d;", app.chunk_tick) != SN_OK) app.chunk_fail++;
  } else {
    if (sn_http_chunked_end(c) != SN_OK) app.chunk_fail++;
    sn_timer_cancel(mgr, &app.t);
  }
}

static void h_defer_chunks(sn_conn *c, const sn_request *req, void *u) {
  (void) req;
  (void) u;
  app.handler_calls++;
  app.ref = sn_http_defer(c);
  sn_timer_add(sn_conn_mgr(c), &app.t, 10, 10, t_chunks, NULL);
}

static void h_attach(sn_conn *c, const sn_request *req, void *u) {
  (void) req;
  (void) u;
  app.handler_calls++;
  app.attach_r = sn_http_attach(c, &app, end_rec);
  app.attach2_r = sn_http_attach(c, &app, end_rec);
  app.state_ok = sn_http_state(c) == (void *) &app;
  sn_http_printf(c, 200, NULL, "attached and answered, with a body long enough to need many sends");
}

static void h_conn(sn_conn *c, const sn_request *req, void *u) {
  int r = sn_conn_attach(c, &app, cend_rec);
  (void) req;
  (void) u;
  if (app.handler_calls++ == 0) app.cattach_r = r, app.cstate_ok = 1;
  else app.cattach2_r = r;
  app.cstate_ok &= sn_conn_state(c) == (void *) &app;
  sn_http_printf(c, 200, NULL, "request %d", app.handler_calls);
}

/* Streamed: the end of the body. */
static void h_up_done(sn_conn *c, const sn_request *req, void *u) {
  (void) u;
  app.handler_calls++;
  app.handler_body_len = req->body.len;
  sn_http_printf(c, 200, NULL, "got %lu", (unsigned long) app.body_bytes);
}

static void h_count_head(sn_conn *c, const sn_request *req, void *u) {
  (void) req;
  (void) u;
  app.head_calls++;
  app.ref = sn_http_ref(c);
}

/* on_head: 401 unless "Authorization: yes". */
static void h_guard(sn_conn *c, const sn_request *req, void *u) {
  sn_str a = sn_http_header(req, "authorization");
  (void) u;
  app.head_calls++;
  app.ref = sn_http_ref(c);
  if (a.ptr == NULL || a.len != 3 || memcmp(a.ptr, "yes", 3) != 0) sn_http_error(c, 401);
}

static void t_resume(void *arg) {
  sn_conn *c;
  (void) arg;
  app.resume_r = sn_req_conn(app.ref, &c);
  if (app.resume_r == SN_OK && pw.recvs[app.sock] != app.recvs_at_pause) app.recv_while_paused++;
  if (app.resume_r == SN_OK && sn_http_resume_body(c) == SN_OK) app.resumes++;
}

static int up_body(sn_conn *c, const void *data, size_t len, void *u) {
  const unsigned char *p = (const unsigned char *) data;
  size_t k;
  (void) u;
  if (app.body_calls++ == 0) app.ref = sn_http_ref(c);
  if (len > app.max_piece) app.max_piece = len;
  for (k = 0; k < len; k++)
    if (p[k] != pat(app.body_bytes + k)) app.mismatch++;
  app.body_bytes += len;
  if (app.reply_at_piece && app.body_calls == app.reply_at_piece) {
    sn_http_error(c, 403);
    return SN_OK;
  }
  if (app.body_ret && app.body_calls == 1) return app.body_ret;
  if (app.pause_mode == 1 || (app.pause_mode == 2 && app.pauses == 0)) {
    app.recvs_at_pause = pw.recvs[app.sock];
    app.pauses++;
    if (app.pause_mode == 1) sn_timer_add(sn_conn_mgr(c), &app.t, app.resume_ms, 0, t_resume, NULL);
    return SN_WANT_READ;
  }
  return SN_OK;
}

/* The demo's pattern (examples/common/demo_app.h, /api/upload): on_head
   allocates the request's state with SN_MALLOC and attaches it; its end
   frees it, however the request ends. */
typedef struct owned {
  unsigned long bytes;
  int magic;
} owned;
static void owned_end(void *state, int why) {
  owned *o = (owned *) state;
  app.end_calls++;
  app.end_why = why;
  if (o->magic != 0x5eed) app.mismatch++;
  o->magic = 0;
  SN_FREE(o);
  app.owned_live = heap->live;
}
static void owned_head(sn_conn *c, const sn_request *req, void *u) {
  owned *o = (owned *) SN_MALLOC(sizeof *o);
  (void) req;
  (void) u;
  app.head_calls++;
  if (o == NULL) {
    sn_http_error(c, 503);
    return;
  }
  app.owned_allocs++;
  o->bytes = 0;
  o->magic = 0x5eed;
  app.attach_r = sn_http_attach(c, o, owned_end);
  app.ref = sn_http_ref(c);
}
static int owned_body(sn_conn *c, const void *data, size_t len, void *u) {
  owned *o = (owned *) sn_http_state(c);
  if (o == NULL || o->magic != 0x5eed) app.mismatch++;
  else o->bytes += len;
  return up_body(c, data, len, u);
}
static void owned_done(sn_conn *c, const sn_request *req, void *u) {
  owned *o = (owned *) sn_http_state(c);
  (void) req;
  (void) u;
  app.handler_calls++;
  sn_http_printf(c, 200, NULL, "owned %lu", o != NULL ? o->bytes : 0ul);
}

/* Streamed, then the handler defers when asked. */
static void h_up_maybe_defer(sn_conn *c, const sn_request *req, void *u) {
  if (!app.defer_at_end) {
    h_up_done(c, req, u);
    return;
  }
  app.handler_calls++;
  app.handler_body_len = req->body.len;
  app.ref = sn_http_defer(c);
  sn_timer_add(sn_conn_mgr(c), &app.t, app.delay, 0, t_reply, NULL);
}

#define UP_MAX (4ull << 20)
static const sn_route_opts o_defer = {h_defer, NULL, NULL, on_abort_rec, 0, 0, NULL};
static const sn_route_opts o_defer_short = {h_defer, NULL, NULL, on_abort_rec, 0, 500, NULL};
static const sn_route_opts o_defer_wake = {h_defer_wake, NULL, NULL, on_abort_rec, 0, 0, NULL};
static const sn_route_opts o_defer_chunks = {h_defer_chunks, NULL, NULL, on_abort_rec, 0, 0, NULL};
static const sn_route_opts o_silent = {h_silent, NULL, NULL, on_abort_rec, 0, 0, NULL};
static const sn_route_opts o_up = {h_up_maybe_defer, NULL, up_body, on_abort_rec, UP_MAX, 0, NULL};
static const sn_route_opts o_owned = {owned_done, owned_head, owned_body, on_abort_rec, 1u << 20, 300, NULL};
static const sn_route_opts o_small = {h_up_done, h_count_head, up_body, on_abort_rec, 1000, 0, NULL};
static const sn_route_opts o_slow = {h_up_done, NULL, up_body, on_abort_rec, UP_MAX, 300, NULL};
static const sn_route_opts o_guard = {h_store, h_guard, NULL, on_abort_rec, 0, 0, NULL};
static const sn_route_opts o_guard_up = {h_up_done, h_guard, up_body, on_abort_rec, UP_MAX, 0, NULL};
static const sn_route_opts o_big = {h_store, NULL, NULL, on_abort_rec, 10000, 0, NULL};
static const sn_route_opts o_tiny = {h_store, NULL, NULL, on_abort_rec, 100, 0, NULL};
static const sn_route_opts o_long = {h_store, NULL, NULL, on_abort_rec, 0, 20000, NULL};
static const sn_route_opts o_attach_defer = {h_defer, NULL, NULL, on_abort_rec, 0, 500, NULL};

/* ---- writers (sn_http_on_writable): each call writes, ends or steps off ---- */
static int w_calls;
static void w_stuck(sn_conn *c, void *arg) { /* writes nothing: the old busy loop */
  (void) c, (void) arg;
  w_calls++;
}
static void w_toobig(sn_conn *c, void *arg) { /* a chunk over max_reply, retried: the demo's /api/blob bug */
  static char huge[70000];
  (void) arg;
  w_calls++;
  sn_http_chunk(c, huge, sizeof huge);
}
static void w_lines(sn_conn *c, void *arg) { /* 600 lines, 100 a call, then the end */
  int i;
  (void) arg;
  for (i = 0; i < 100 && w_calls * 100 + i < 600; i++) sn_http_chunkf(c, "line %d\n", w_calls * 100 + i);
  if (++w_calls == 6) sn_http_chunked_end(c);
}
static void t_later(void *arg) { /* the paused writer's data comes from a timer */
  sn_conn *c;
  (void) arg;
  if (sn_req_conn(app.ref, &c) != SN_OK) return;
  sn_http_chunkf(c, "later;");
  sn_http_chunked_end(c);
}
static void w_step_off(sn_conn *c, void *arg) {
  (void) arg;
  w_calls++;
  sn_http_on_writable(c, NULL, NULL); /* nothing yet: a timer writes the rest */
  app.ref = sn_http_ref(c);
  sn_timer_add(sn_conn_mgr(c), &app.t, 50, 0, t_later, NULL);
}
typedef struct writer {
  sn_writable_fn fn;
} writer;
static const writer wr_stuck = {w_stuck}, wr_toobig = {w_toobig}, wr_lines = {w_lines}, wr_step_off = {w_step_off};
static void h_writer(sn_conn *c, const sn_request *req, void *u) {
  (void) req;
  w_calls = 0;
  sn_http_chunked_begin(c, 200, "Content-Type: text/plain\r\n");
  sn_http_on_writable(c, ((const writer *) u)->fn, NULL);
}

static void routes(void) {
  sn_router_init(&router);
  sn_router_add(&router, "GET", "/hello", h_hello, NULL);
  sn_router_add(&router, "POST", "/store", h_store, NULL);
  sn_router_add_opts(&router, "GET", "/defer", &o_defer);
  sn_router_add_opts(&router, "GET", "/defer_short", &o_defer_short);
  sn_router_add_opts(&router, "GET", "/defer_wake", &o_defer_wake);
  sn_router_add_opts(&router, "GET", "/defer_chunks", &o_defer_chunks);
  sn_router_add_opts(&router, "GET", "/silent", &o_silent);
  sn_router_add_opts(&router, "PUT", "/up", &o_up);
  sn_router_add_opts(&router, "PUT", "/small", &o_small);
  sn_router_add_opts(&router, "PUT", "/owned", &o_owned);
  sn_router_add_opts(&router, "PUT", "/slow", &o_slow);
  sn_router_add_opts(&router, "PUT", "/guard", &o_guard);
  sn_router_add_opts(&router, "PUT", "/guard_up", &o_guard_up);
  sn_router_add_opts(&router, "PUT", "/big", &o_big);
  sn_router_add_opts(&router, "POST", "/big", &o_big);
  sn_router_add_opts(&router, "PUT", "/tiny", &o_tiny);
  sn_router_add_opts(&router, "PUT", "/long", &o_long);
  sn_router_add(&router, "GET", "/attach", h_attach, NULL);
  sn_router_add_opts(&router, "GET", "/attach_defer", &o_attach_defer);
  sn_router_add(&router, "GET", "/conn", h_conn, NULL);
  sn_router_add(&router, "GET", "/w_stuck", h_writer, (void *) &wr_stuck);
  sn_router_add(&router, "GET", "/w_toobig", h_writer, (void *) &wr_toobig);
  sn_router_add(&router, "GET", "/w_lines", h_writer, (void *) &wr_lines);
  sn_router_add(&router, "GET", "/w_step_off", h_writer, (void *) &wr_step_off);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* ================================================================================= */
/* ---- timers ---- */
static sn_timer T[8];
static struct {
  int calls[8];
  uint64_t at[64];
  int nat;
  int order[16];
  int norder;
  int self_cancel_at, cancel_other, rearm_other;
  int add_r;
} tm;

static void t_count(void *arg) {
  int k = (int) (intptr_t) arg;
  tm.calls[k]++;
  if (tm.nat < 64) tm.at[tm.nat++] = net.now;
  if (tm.norder < 16) tm.order[tm.norder++] = k;
  if (tm.self_cancel_at && tm.calls[k] == tm.self_cancel_at) sn_timer_cancel(mgr, &T[k]);
  if (tm.cancel_other) sn_timer_cancel(mgr, &T[tm.cancel_other]), tm.cancel_other = 0;
  if (tm.rearm_other) tm.add_r = sn_timer_add(mgr, &T[tm.rearm_other], 30, 0, t_count, (void *) (intptr_t) tm.rearm_other),
                      tm.rearm_other = 0;
}

static void t_again(void *arg) {
  (void) arg;
  tm.calls[6]++;
  tm.add_r = sn_timer_add(mgr, &T[6], 0, 0, t_again, NULL);
}

static int wake_order[64], nwake, wake_depth_bad, wake_add_r = 12345, wake_requeue_r = 12345;
static void w_rec(void *arg) {
  if (nwake < 64) wake_order[nwake++] = (int) (intptr_t) arg;
  if (pw.depth != 0) wake_depth_bad++;
}
static void w_nested(void *arg) {
  (void) arg;
  w_rec((void *) (intptr_t) 98);
  sn_mgr_wakeup(mgr, w_rec, (void *) (intptr_t) 99);
}
static void w_add_timer(void *arg) {
  (void) arg;
  wake_add_r = sn_timer_add(mgr, &T[7], 0, 0, t_count, (void *) (intptr_t) 7);
}
static void w_requeue(void *arg) {
  (void) arg;
  wake_requeue_r = sn_mgr_wakeup(mgr, w_rec, (void *) (intptr_t) 77);
}

static void poll_at(uint64_t now) {
  net.now = now;
  sn_poll(mgr, 0);
}

static void test_timers(void) {
  int k, ok;
  uint64_t t0;
  unsigned long calls;
  memset(T, 0, sizeof T);
  memset(&tm, 0, sizeof tm);
  sn_mem_heap_reset(0, 0);
  net.now = 0;
  if (!CHECK_INT(start_mgr(), SN_OK, "lifecycle: timers: the manager starts")) return;

  /* one-shot */
  CHECK_INT(sn_timer_add(mgr, &T[0], 100, 0, t_count, (void *) 0), SN_OK, "lifecycle: timers: sn_timer_add arms a one-shot");
  for (t0 = 0; t0 < 100; t0++) poll_at(t0);
  CHECK_INT(tm.calls[0], 0, "lifecycle: timers: a one-shot at 100 ms does not fire in 100 rounds before its time");
  poll_at(100);
  test_report(tm.calls[0] == 1 && tm.at[0] == 100, "lifecycle: timers: the one-shot fires in the first round at its time",
              "calls %d at %lu", tm.calls[0], (unsigned long) tm.at[0]);
  for (t0 = 100; t0 <= 1000; t0 += 3) poll_at(t0);
  CHECK(tm.calls[0] == 1 && !T[0].armed, "lifecycle: timers: the one-shot fires once, then is disarmed");
  /* a late round */
  CHECK_INT(sn_timer_add(mgr, &T[1], 100, 0, t_count, (void *) 1), SN_OK, "lifecycle: timers: a second one-shot is armed");
  poll_at(1050);
  poll_at(1099);
  k = tm.calls[1];
  poll_at(1300);
  test_report(k == 0 && tm.calls[1] == 1 && tm.at[1] == 1300,
              "lifecycle: timers: a one-shot whose time passed between rounds fires at the next round, once",
              "before %d, calls %d at %lu", k, tm.calls[1], (unsigned long) tm.at[1]);

  /* repeating */
  net.now = 2000;
  tm.nat = 0;
  sn_timer_add(mgr, &T[2], 50, 50, t_count, (void *) 2);
  for (t0 = 2000; t0 <= 2500; t0++) poll_at(t0);
  ok = tm.calls[2] == 10 && tm.nat == 10;
  for (k = 0; ok && k < 10; k++) ok = tm.at[k] == 2050 + 50 * (uint64_t) k;
  test_report(ok, "lifecycle: timers: a repeating timer (50 ms) fires once per period, at each multiple, for 500 ms",
              "calls %d, first at %lu, last at %lu", tm.calls[2], (unsigned long) tm.at[0],
              (unsigned long) tm.at[tm.nat ? tm.nat - 1 : 0]);
  poll_at(2675); /* 3.5 periods late */
  k = tm.calls[2];
  poll_at(2676);
  poll_at(2724);
  test_report(k == 11 && tm.calls[2] == 11, "lifecycle: timers: a repeating timer late by several periods fires once, no burst",
              "calls after the late round %d, then %d", k, tm.calls[2]);
  poll_at(2725);
  test_report(tm.calls[2] == 12, "lifecycle: timers: ... and next a period after that late round", "calls %d", tm.calls[2]);
  sn_timer_cancel(mgr, &T[2]);
  for (t0 = 2726; t0 < 3000; t0 += 5) poll_at(t0);
  CHECK(tm.calls[2] == 12 && !T[2].armed, "lifecycle: timers: sn_timer_cancel stops a repeating timer");

  /* cancel from the own callback */
  net.now = 3000;
  tm.self_cancel_at = 3;
  sn_timer_add(mgr, &T[3], 10, 10, t_count, (void *) 3);
  for (t0 = 3000; t0 < 3200; t0++) poll_at(t0);
  test_report(tm.calls[3] == 3 && !T[3].armed, "lifecycle: timers: a repeating timer that cancels itself in its callback stops there",
              "calls %d armed %d", tm.calls[3], T[3].armed);
  tm.self_cancel_at = 0;

  /* cancel of another timer due in the same round */
  net.now = 4000;
  sn_timer_add(mgr, &T[4], 10, 0, t_count, (void *) 4);
  sn_timer_add(mgr, &T[5], 10, 0, t_count, (void *) 5);
  tm.cancel_other = 5;
  for (t0 = 4000; t0 < 4200; t0 += 5) poll_at(t0);
  test_report(tm.calls[4] == 1 && tm.calls[5] == 0 && !T[5].armed,
              "lifecycle: timers: a callback that cancels another timer due in the same round: that one never runs",
              "calls %d and %d, armed %d", tm.calls[4], tm.calls[5], T[5].armed);
  /* re-arming another due timer moves it */
  net.now = 5000;
  tm.nat = 0;
  sn_timer_add(mgr, &T[4], 10, 0, t_count, (void *) 4);
  sn_timer_add(mgr, &T[5], 10, 0, t_count, (void *) 5);
  tm.rearm_other = 5;
  tm.calls[4] = tm.calls[5] = 0;
  for (t0 = 5000; t0 <= 5100; t0++) poll_at(t0);
  test_report(tm.add_r == SN_OK && tm.calls[4] == 1 && tm.calls[5] == 1 && tm.nat == 2 && tm.at[1] == 5040,
              "lifecycle: timers: a callback that re-arms another due timer (30 ms) moves it: it runs once, 30 ms later",
              "calls %d and %d, second at %lu", tm.calls[4], tm.calls[5], (unsigned long) tm.at[1]);

  /* a 0-delay timer added by its own callback */
  net.now = 6000;
  sn_timer_add(mgr, &T[6], 0, 0, t_again, NULL);
  sn_poll(mgr, 1000);
  k = tm.calls[6];
  test_report(k == 1 && pw.last_timeout == 0,
              "lifecycle: timers: a callback that adds itself with 0 delay runs once per sn_poll (no loop), and that round "
              "does not sleep", "calls %d, wait timeout %d", k, pw.last_timeout);
  sn_poll(mgr, 1000);
  sn_poll(mgr, 1000);
  CHECK_INT(tm.calls[6], 3, "lifecycle: timers: ... and once more in each next round");
  sn_timer_cancel(mgr, &T[6]);

  /* order by due time */
  net.now = 7000;
  tm.norder = 0;
  memset(tm.calls, 0, sizeof tm.calls);
  sn_timer_add(mgr, &T[0], 30, 0, t_count, (void *) 0);
  sn_timer_add(mgr, &T[1], 10, 0, t_count, (void *) 1);
  sn_timer_add(mgr, &T[2], 20, 0, t_count, (void *) 2);
  sn_timer_add(mgr, &T[3], 10, 0, t_count, (void *) 3);
  sn_timer_add(mgr, &T[4], 25, 0, t_count, (void *) 4);
  sn_timer_add(mgr, &T[4], 5, 0, t_count, (void *) 4); /* re-armed: once, at its new time */
  poll_at(7030);
  test_report(tm.norder == 5 && tm.order[0] == 4 && tm.order[1] == 1 && tm.order[2] == 3 && tm.order[3] == 2 &&
                  tm.order[4] == 0,
              "lifecycle: timers: due in one round, they run by due time (equal times in the order added; a re-armed one "
              "once, at its new time)",
              "%d ran: %d %d %d %d %d", tm.norder, tm.order[0], tm.order[1], tm.order[2], tm.order[3], tm.order[4]);

  /* the wait is bounded by the next timer */
  net.now = 8000;
  sn_poll(mgr, -1);
  CHECK_INT(pw.last_timeout, -1, "lifecycle: timers: without timers or sockets, sn_poll(-1) waits without a limit");
  sn_timer_add(mgr, &T[0], 250, 0, t_count, (void *) 0);
  sn_poll(mgr, -1);
  CHECK_INT(pw.last_timeout, 250, "lifecycle: timers: sn_poll(-1) waits no longer than the next timer (250 ms)");
  sn_poll(mgr, 1000);
  CHECK_INT(pw.last_timeout, 250, "lifecycle: timers: sn_poll(1000) waits no longer than the next timer (250 ms)");
  sn_poll(mgr, 100);
  CHECK_INT(pw.last_timeout, 100, "lifecycle: timers: sn_poll(100) with a timer in 250 ms waits 100 ms");
  net.now = 8200;
  sn_poll(mgr, -1);
  CHECK_INT(pw.last_timeout, 50, "lifecycle: timers: 200 ms later, the wait is the 50 ms left");
  sn_timer_add(mgr, &T[1], 10, 0, t_count, (void *) 1);
  sn_poll(mgr, -1);
  CHECK_INT(pw.last_timeout, 10, "lifecycle: timers: a sooner timer lowers the wait (10 ms)");
  sn_timer_cancel(mgr, &T[0]);
  sn_timer_cancel(mgr, &T[1]);
  sn_poll(mgr, -1);
  CHECK_INT(pw.last_timeout, -1, "lifecycle: timers: once they are cancelled, the wait has no limit again");
  sn_timer_add(mgr, &T[0], 0xffffffffu, 0, t_count, (void *) 0);
  sn_poll(mgr, -1);
  CHECK_INT(pw.last_timeout, 0x7fffffff, "lifecycle: timers: a timer 2^32-1 ms away bounds the wait to the most an int holds");
  sn_timer_cancel(mgr, &T[0]);

  /* no allocation, ever */
  net.now = 9000;
  sn_mem_heap_reset(0, 0);
  memset(tm.calls, 0, sizeof tm.calls);
  sn_timer_add(mgr, &T[2], 1, 1, t_count, (void *) 2);
  for (t0 = 9000; t0 < 10000; t0++) poll_at(t0);
  sn_timer_cancel(mgr, &T[2]);
  calls = heap->calls;
  test_report(tm.calls[2] >= 990 && calls == 0, "lifecycle: timers: 1000 firings of a 1 ms timer allocate nothing",
              "%d firings, %lu allocations", tm.calls[2], calls);
  CHECK(sn_timer_add(mgr, NULL, 1, 0, t_count, NULL) == SN_ERR_INVALID &&
            sn_timer_add(mgr, &T[0], 1, 0, NULL, NULL) == SN_ERR_INVALID,
        "lifecycle: timers: sn_timer_add without a timer or a function is SN_ERR_INVALID");

  /* sn_mgr_destroy: armed timers are not called; a wakeup it runs cannot add one */
  memset(tm.calls, 0, sizeof tm.calls);
  net.now = 20000;
  sn_timer_add(mgr, &T[0], 0, 0, t_count, (void *) 0);   /* due now */
  sn_timer_add(mgr, &T[1], 5, 5, t_count, (void *) 1);   /* repeating */
  sn_timer_add(mgr, &T[2], 1000, 0, t_count, (void *) 2); /* later */
  net.now = 30000;                                       /* all overdue */
  wake_add_r = 12345;
  sn_mgr_wakeup(mgr, w_add_timer, NULL);
  stop("timers");
  test_report(tm.calls[0] + tm.calls[1] + tm.calls[2] + tm.calls[7] == 0 && !T[0].armed && !T[1].armed && !T[2].armed &&
                  !T[7].armed,
              "lifecycle: timers: sn_mgr_destroy disarms the armed timers without calling them (overdue ones included)",
              "calls %d %d %d %d, armed %d %d %d %d", tm.calls[0], tm.calls[1], tm.calls[2], tm.calls[7], T[0].armed,
              T[1].armed, T[2].armed, T[7].armed);
  CHECK_INT(wake_add_r, SN_ERR_STATE, "lifecycle: timers: sn_timer_add from a wakeup run by sn_mgr_destroy is SN_ERR_STATE");
}

/* ---- wakeups ---- */
static void test_wakeups(void) {
  int k, ok, r;
  unsigned long wakes;
  sn_mem_heap_reset(0, 0);
  nwake = 0;
  if (!CHECK_INT(start_mgr(), SN_OK, "lifecycle: wakeups: the manager starts")) return;
  sn_mem_heap_reset(0, 0);
  ok = 1;
  for (k = 0; k < 5; k++) ok &= sn_mgr_wakeup(mgr, w_rec, (void *) (intptr_t) k) == SN_OK;
  test_report(ok && nwake == 0 && pw.wakes == 5,
              "lifecycle: wakeups: sn_mgr_wakeup queues without running, and calls the port's wake hook each time",
              "ok %d, ran %d, wakes %lu", ok, nwake, pw.wakes);
  sn_poll(mgr, -1);
  ok = nwake == 5;
  for (k = 0; ok && k < 5; k++) ok = wake_order[k] == k;
  test_report(ok && pw.last_timeout == -1, "lifecycle: wakeups: the next sn_poll runs them in the order queued, once each",
              "ran %d (first %d), wait %d", nwake, wake_order[0], pw.last_timeout);
  sn_poll(mgr, 0);
  CHECK_INT(nwake, 5, "lifecycle: wakeups: a wakeup runs once");

  nwake = 0;
  pw.wakes = 0;
  ok = 1;
  for (k = 0; k < SN_WAKE_QUEUE; k++) ok &= sn_mgr_wakeup(mgr, w_rec, (void *) (intptr_t) k) == SN_OK;
  r = sn_mgr_wakeup(mgr, w_rec, (void *) 100);
  wakes = pw.wakes;
  test_report(ok && r == SN_ERR_FULL && wakes == SN_WAKE_QUEUE,
              "lifecycle: wakeups: SN_WAKE_QUEUE wakeups are accepted, the next is SN_ERR_FULL (and wakes nothing)",
              "ok %d, then %d, wakes %lu", ok, r, wakes);
  sn_poll(mgr, 0);
  ok = nwake == SN_WAKE_QUEUE;
  for (k = 0; ok && k < SN_WAKE_QUEUE; k++) ok = wake_order[k] == k;
  test_report(ok, "lifecycle: wakeups: a full queue runs whole, in order, and the refused one is not among them", "ran %d",
              nwake);
  CHECK_INT(sn_mgr_wakeup(mgr, w_rec, (void *) 101), SN_OK, "lifecycle: wakeups: the queue takes wakeups again once it ran");
  sn_poll(mgr, 0);

  nwake = 0;
  sn_mgr_wakeup(mgr, w_nested, NULL);
  sn_poll(mgr, -1);
  test_report(nwake == 1 && wake_order[0] == 98 && pw.last_timeout == 0,
              "lifecycle: wakeups: one queued by a wakeup waits for the next round, and this round's wait does not sleep",
              "ran %d, wait %d", nwake, pw.last_timeout);
  sn_poll(mgr, -1);
  CHECK(nwake == 2 && wake_order[1] == 99, "lifecycle: wakeups: ... and runs in the next round");
  CHECK(pw.max_depth == 1 && pw.locks == pw.unlocks && pw.locks > 0 && wake_depth_bad == 0,
        "lifecycle: wakeups: the port's lock is taken around the queue only (never nested, released before each call)");
  CHECK_INT(heap->calls, 0, "lifecycle: wakeups: queueing and running wakeups allocates nothing");
  CHECK_INT(sn_mgr_wakeup(mgr, NULL, NULL), SN_ERR_INVALID, "lifecycle: wakeups: without a function: SN_ERR_INVALID");

  nwake = 0;
  wake_add_r = wake_requeue_r = 12345;
  sn_mgr_wakeup(mgr, w_rec, (void *) 10);
  sn_mgr_wakeup(mgr, w_rec, (void *) 11);
  sn_mgr_wakeup(mgr, w_add_timer, NULL);
  sn_mgr_wakeup(mgr, w_rec, (void *) 12);
  sn_mgr_wakeup(mgr, w_requeue, NULL);
  stop("wakeups");
  test_report(nwake >= 3 && wake_order[0] == 10 && wake_order[1] == 11 && wake_order[2] == 12,
              "lifecycle: wakeups: sn_mgr_destroy runs the queued wakeups, in order", "ran %d", nwake);
  CHECK_INT(wake_add_r, SN_ERR_STATE, "lifecycle: wakeups: sn_timer_add from a wakeup run by sn_mgr_destroy: SN_ERR_STATE");
  test_report(wake_requeue_r != SN_OK || (nwake == 4 && wake_order[3] == 77),
              "lifecycle: wakeups: a wakeup queued by one that sn_mgr_destroy runs is refused or run (not accepted and lost)",
              "sn_mgr_wakeup returned %d (SN_OK) and it never ran: its argument is lost", wake_requeue_r);
}

/* ---- deferred replies ---- */
static void test_deferred(void) {
  resp r;
  int s, got, s2;
  sn_conn *c;
  sn_req_ref forged, ref_a;

  /* from a timer; keep-alive after it */
  app_reset();
  app.delay = 100;
  sn_mem_heap_reset(0, 0);
  net.now = 0;
  if (!CHECK_INT(start(), SN_OK, "lifecycle: deferred: the server starts")) return;
  s = app.sock = cl_new(0);
  cl_puts(s, GET("/defer"));
  pump();
  CHECK(app.handler_calls == 1 && net.s[s].out_len == 0 && !srv_closed(s),
        "lifecycle: deferred: a handler that defers: nothing is sent, the connection stays");
  CHECK(sn_req_conn(app.ref, &c) == SN_OK && c != NULL, "lifecycle: deferred: the handle finds the waiting request");
  advance(99, 1);
  CHECK(net.s[s].out_len == 0 && app.timer_calls == 0, "lifecycle: deferred: nothing before the timer");
  advance(1, 1);
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 200 && strcmp(r.body, "late 100") == 0 && app.reply_r == SN_OK && !has_close(&r),
              "lifecycle: deferred: the reply from the timer reaches the client (200, keep-alive)", "got %d status %d %s", got,
              r.status, test_show(net.s[s].out, net.s[s].out_len));
  CHECK_INT(app.reply2_r, SN_ERR_STATE, "lifecycle: deferred: a second reply to the same request is SN_ERR_STATE");
  test_report(app.after_reply_r == SN_ERR_CLOSED,
              "lifecycle: deferred: right after the reply (same callback) the handle says SN_ERR_CLOSED: it is answered",
              "sn_req_conn returned %d (%s)", app.after_reply_r, sn_strerror(app.after_reply_r));
  c = (sn_conn *) &app;
  CHECK(sn_req_conn(app.ref, &c) == SN_ERR_CLOSED && c == NULL,
        "lifecycle: deferred: once the reply went out the handle says SN_ERR_CLOSED (and NULL)");
  cl_puts(s, GET("/hello"));
  pump();
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 200 && strcmp(r.body, "hello") == 0 && !srv_closed(s),
        "lifecycle: deferred: the next request on the same keep-alive connection is answered");
  /* a handle of the connection's previous request */
  app.ref_old = app.ref;
  cl_puts(s, GET("/defer"));
  pump();
  test_report(app.ref.c == app.ref_old.c && app.ref.id != app.ref_old.id && sn_req_conn(app.ref_old, &c) == SN_ERR_CLOSED &&
                  sn_req_conn(app.ref, &c) == SN_OK,
              "lifecycle: deferred: the handle of the previous request on the same connection is SN_ERR_CLOSED while the "
              "new one waits",
              "same conn %d, ids %u %u", app.ref.c == app.ref_old.c, (unsigned) app.ref_old.id, (unsigned) app.ref.id);
  advance(100, 10);
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 200, "lifecycle: deferred: a second deferred reply on the connection");
  /* a request pipelined behind a deferred one */
  cl_puts(s, GET("/defer") GET("/hello"));
  pump();
  {
    size_t before = net.s[s].out_len - net.s[s].out_rd; /* unread: sent since the last response */
    resp r2;
    int got2;
    advance(100, 10);
    got = next_resp(s, &r);
    got2 = next_resp(s, &r2);
    test_report(before == 0 && got == 1 && strcmp(r.body, "late 100") == 0 && got2 == 1 && strcmp(r2.body, "hello") == 0,
                "lifecycle: deferred: a request pipelined behind a deferred one waits, then is answered after it",
                "%lu bytes before the reply; %d %s / %d %s", (unsigned long) before, got, r.body, got2, r2.body);
  }
  /* from a wakeup */
  app.timer_calls = 0;
  cl_puts(s, GET("/defer_wake"));
  pump();
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 200 && strcmp(r.body, "woken") == 0 && app.timer_calls == 1,
        "lifecycle: deferred: a reply from a wakeup (queued by the handler) is sent");
  /* a chunked reply, a piece per timer tick */
  cl_puts(s, GET("/defer_chunks"));
  advance(100, 5);
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 200 && strcmp(r.body, "part 2;part 3;part 4;") == 0 && app.chunk_fail == 0 &&
                  app.chunk_tick == 5 && !app.t.armed,
              "lifecycle: deferred: a chunked reply begun, written and ended from timer ticks through the handle",
              "got %d status %d body %s, fails %d ticks %d", got, r.status, test_show(r.body, r.body_len), app.chunk_fail,
              app.chunk_tick);
  /* neither reply nor deferral */
  app.abort_calls = 0;
  cl_puts(s, GET("/silent"));
  pump();
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 500 && app.abort_calls == 0,
        "lifecycle: deferred: a handler that neither replies nor defers: 500 (no on_abort)");
  CHECK_INT(app.abort_calls, 0, "lifecycle: deferred: no on_abort for requests that were answered");
  stop("deferred, answered");

  /* the client goes away first: FIN, then a reset */
  {
    int how;
    for (how = 0; how < 2; how++) {
      const char *what = how == 0 ? "closes" : "resets";
      char name[200];
      long base;
      app_reset();
      app.delay = 1000;
      sn_mem_heap_reset(0, 0);
      if (start() != SN_OK) return;
      base = heap->live;
      s = app.sock = cl_new(0);
      cl_puts(s, GET("/defer"));
      pump();
      if (how == 0) sn_mem_peer_close(&net, s);
      else sn_mem_peer_reset(&net, s);
      pump();
      snprintf(name, sizeof name,
               "lifecycle: deferred: the client %s before the reply: on_abort(SN_ERR_CLOSED) once, the connection is closed",
               what);
      test_report(app.abort_calls == 1 && app.abort_err == SN_ERR_CLOSED && net.s[s].closed, name,
                  "on_abort %d times, err %d, closed %d", app.abort_calls, app.abort_err, net.s[s].closed);
      snprintf(name, sizeof name, "lifecycle: deferred: the client %s: the handle is SN_ERR_CLOSED, in on_abort and after",
               what);
      test_report(app.abort_ref_r == SN_ERR_CLOSED && sn_req_conn(app.ref, &c) == SN_ERR_CLOSED, name,
                  "in on_abort %d", app.abort_ref_r);
      advance(1000, 100);
      snprintf(name, sizeof name, "lifecycle: deferred: the client %s: the late timer finds SN_ERR_CLOSED; no second on_abort",
               what);
      test_report(app.timer_calls == 1 && app.late_r == SN_ERR_CLOSED && app.abort_calls == 1, name,
                  "timer %d, late %d, on_abort %d", app.timer_calls, app.late_r, app.abort_calls);
      snprintf(name, sizeof name, "deferred, client %s", what);
      snprintf(name, sizeof name, "lifecycle: deferred: the client %s: the connection's memory is freed at once", what);
      test_report(heap->live == base, name, "%ld live, %ld before the connection", heap->live, base);
      stop(name);
    }
  }

  /* a note: the client pipelines more than the receive buffer holds while
     its request is deferred, then resets */
  {
    int k;
    uint64_t t_abort = 0;
    app_reset();
    app.delay = 60000;
    sn_mem_heap_reset(0, 0);
    net.now = 0;
    if (start() != SN_OK) return;
    s = app.sock = cl_new(0);
    cl_puts(s, GET("/defer"));
    for (k = 0; k < 100; k++) cl_puts(s, GET("/hello"));
    pump();
    sn_mem_peer_reset(&net, s);
    for (k = 0; k < 200 && app.abort_calls == 0; k++) advance(100, 100);
    t_abort = net.now;
    printf("# deferred, the client resets with more pipelined than the buffer holds: on_abort(%s) after %lu ms\n",
           sn_strerror(app.abort_err), (unsigned long) t_abort);
    stop("deferred, reset behind a full buffer");
  }

  /* the request timeout */
  app_reset();
  app.delay = 2000;
  app.abort_probe = 1;
  sn_mem_heap_reset(0, 0);
  net.now = 0;
  if (start() != SN_OK) return;
  s = app.sock = cl_new(0);
  net.s[s].max_send = 1;
  net.s[s].block_send = 1; /* the 503 takes many rounds */
  cl_puts(s, GET("/defer_short"));
  advance(499, 1);
  CHECK(net.s[s].out_len == 0 && app.abort_calls == 0,
        "lifecycle: deferred: a deferred request before its route's timeout (500 ms): nothing yet");
  advance(1, 1);
  advance(10, 1);
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 503 && has_close(&r) && srv_closed(s),
              "lifecycle: deferred: unanswered at its route's request timeout: 503, Connection: close",
              "got %d status %d closed %d: %s", got, r.status, srv_closed(s), test_show(net.s[s].out, net.s[s].out_len));
  test_report(app.abort_calls == 1 && app.abort_err == SN_ERR_TIMEOUT,
              "lifecycle: deferred: the timeout calls on_abort(SN_ERR_TIMEOUT) once", "%d calls, err %d", app.abort_calls,
              app.abort_err);
  test_report(app.abort_ref_r == SN_ERR_CLOSED,
              "lifecycle: deferred: the handle is SN_ERR_CLOSED in on_abort(SN_ERR_TIMEOUT) (the request has ended)",
              "sn_req_conn in on_abort returned %d (%s)", app.abort_ref_r, sn_strerror(app.abort_ref_r));
  test_report(app.probe_r == SN_ERR_CLOSED,
              "lifecycle: deferred: the handle is SN_ERR_CLOSED while the 503 is still being sent",
              "sn_req_conn from a wakeup the round after the timeout returned %d (%s)", app.probe_r, sn_strerror(app.probe_r));
  advance(2000, 100);
  CHECK(app.timer_calls == 1 && app.late_r == SN_ERR_CLOSED && app.abort_calls == 1,
        "lifecycle: deferred: the late timer after the timeout finds SN_ERR_CLOSED");
  stop("deferred, timed out");

  /* the id check: a handle whose connection pointer is a live connection's */
  app_reset();
  app.delay = 5000;
  sn_mem_heap_reset(0, 0);
  net.now = 0;
  if (start() != SN_OK) return;
  s = app.sock = cl_new(0);
  cl_puts(s, GET("/defer"));
  pump();
  ref_a = app.ref;
  sn_mem_peer_reset(&net, s);
  pump();
  s2 = cl_new(0);
  cl_puts(s2, GET("/defer"));
  pump();
  forged = ref_a;
  forged.c = app.ref.c;
  printf("# the new connection %s the freed one's address\n", app.ref.c == ref_a.c ? "reuses" : "does not reuse");
  test_report(app.abort_calls == 1 && sn_req_conn(ref_a, &c) == SN_ERR_CLOSED && sn_req_conn(forged, &c) == SN_ERR_CLOSED &&
                  c == NULL && sn_req_conn(app.ref, &c) == SN_OK,
              "lifecycle: deferred: a handle to a freed connection whose address a new waiting connection has (old id) is "
              "SN_ERR_CLOSED",
              "abort %d", app.abort_calls);
  /* destroy with a request waiting */
  app.abort_calls = 0;
  app.abort_add_timer = 1;
  app.abort_timer_r = 12345;
  app.timer_calls = 0;
  app.probe_r = 12345;
  sn_mgr_wakeup(mgr, w_probe, NULL); /* runs in sn_mgr_destroy, after the connections */
  stop("deferred, destroyed");
  CHECK_INT(app.probe_r, SN_ERR_CLOSED,
            "lifecycle: deferred: a wakeup that sn_mgr_destroy runs finds the request's handle SN_ERR_CLOSED (no freed memory read)");
  test_report(app.abort_calls == 1 && app.abort_err == SN_ERR_DESTROYED && app.timer_calls == 0,
              "lifecycle: deferred: sn_mgr_destroy with a deferred request: on_abort(SN_ERR_DESTROYED) once, its timer not run",
              "on_abort %d err %d, timer %d", app.abort_calls, app.abort_err, app.timer_calls);
  CHECK_INT(app.abort_timer_r, SN_ERR_STATE, "lifecycle: deferred: sn_timer_add from on_abort in sn_mgr_destroy: SN_ERR_STATE");
}

/* ---- streamed bodies ---- */
/* One streamed request (len bytes already in big) on a new connection; the
   response in *r. Returns what next_resp returned. */
static int stream_one(size_t max_recv, size_t len, resp *r) {
  int s = app.sock = cl_new(max_recv);
  cl_write(s, big, len);
  pump();
  return next_resp(s, r);
}

static void check_streamed(const char *what, int got, const resp *r, size_t n) {
  char name[220], want[40];
  snprintf(want, sizeof want, "got %lu", (unsigned long) n);
  snprintf(name, sizeof name, "lifecycle: streamed: %s: on_body gets exactly the bytes in order, then the handler once with "
                              "an empty body, 200",
           what);
  test_report(got == 1 && r->status == 200 && strcmp(r->body, want) == 0 && app.body_bytes == n && app.mismatch == 0 &&
                  app.handler_calls == 1 && app.handler_body_len == 0 && app.abort_calls == 0,
              name, "got %d status %d body %s; %lu bytes in %d pieces, %lu wrong; handler %d (body %lu); abort %d", got,
              r->status, r->body, (unsigned long) app.body_bytes, app.body_calls, app.mismatch, app.handler_calls,
              (unsigned long) app.handler_body_len, app.abort_calls);
}

static void test_streamed(void) {
  resp r, r2;
  int s, got, got2, chunked;
  size_t len;
  char name[220];

  /* every byte apart, then large pieces; Content-Length, then chunked */
  for (chunked = 0; chunked < 2; chunked++) {
    size_t split;
    for (split = 0; split < 2; split++) {
      size_t n = split == 0 ? 3000 : 200000;
      char what[100];
      app_reset();
      sn_mem_heap_reset(0, 0);
      if (start() != SN_OK) return;
      len = chunked ? put_chunked(0, "PUT", "/up", n, NULL) : put_cl(0, "PUT", "/up", n, NULL);
      snprintf(what, sizeof what, "%s, %lu bytes, %s", chunked ? "chunked" : "Content-Length", (unsigned long) n,
               split == 0 ? "1 byte per recv" : "large recvs");
      got = stream_one(split == 0 ? 1 : 0, len, &r);
      check_streamed(what, got, &r, n);
      snprintf(name, sizeof name, "lifecycle: streamed: %s: no piece is longer than SN_BODY_PIECE", what);
      test_report(app.max_piece <= SN_BODY_PIECE, name, "longest piece %lu", (unsigned long) app.max_piece);
      snprintf(name, sizeof name, "streamed, %s", what);
      stop(name);
    }
  }

  /* no body at all */
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  s = app.sock = cl_new(0);
  cl_puts(s, "PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\nPUT /up HTTP/1.1\r\nHost: t\r\n\r\n");
  pump();
  got = next_resp(s, &r);
  got2 = next_resp(s, &r2);
  test_report(got == 1 && r.status == 200 && strcmp(r.body, "got 0") == 0 && got2 == 1 && r2.status == 200 &&
                  app.body_calls == 0 && app.handler_calls == 2,
              "lifecycle: streamed: a streamed route's request without a body (Content-Length: 0, none): the handler, no piece",
              "%d %d %s / %d %d, pieces %d handler %d", got, r.status, r.body, got2, r2.status, app.body_calls,
              app.handler_calls);
  stop("streamed, no body");

  /* the handler at the end of a streamed body defers */
  app_reset();
  app.defer_at_end = 1;
  app.delay = 50;
  sn_mem_heap_reset(0, 0);
  net.now = 0;
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/up", 3000, NULL);
  s = app.sock = cl_new(0);
  cl_write(s, big, len);
  pump();
  got = next_resp(s, &r);
  advance(50, 5);
  got2 = next_resp(s, &r2);
  test_report(got == 0 && app.body_bytes == 3000 && got2 == 1 && r2.status == 200 && strcmp(r2.body, "late 50") == 0 &&
                  app.abort_calls == 0,
              "lifecycle: streamed: the handler after a streamed body defers; the reply from a timer is sent",
              "%d / %d %d %s, abort %d", got, got2, r2.status, r2.body, app.abort_calls);
  stop("streamed, deferred at the end");

  /* pipelined after a streamed body */
  for (chunked = 0; chunked < 2; chunked++) {
    size_t mr;
    for (mr = 0; mr < 2; mr++) {
      app_reset();
      sn_mem_heap_reset(0, 0);
      if (start() != SN_OK) return;
      len = chunked ? put_chunked(0, "PUT", "/up", 3000, NULL) : put_cl(0, "PUT", "/up", 3000, NULL);
      len += (size_t) sprintf(big + len, GET("/hello"));
      s = app.sock = cl_new(mr ? 1 : 0);
      cl_write(s, big, len);
      pump();
      got = next_resp(s, &r);
      got2 = next_resp(s, &r2);
      snprintf(name, sizeof name,
               "lifecycle: streamed: a request pipelined after a %s streamed body (%s) is answered after it",
               chunked ? "chunked" : "Content-Length", mr ? "1 byte per recv" : "one recv");
      test_report(got == 1 && r.status == 200 && strcmp(r.body, "got 3000") == 0 && app.mismatch == 0 && got2 == 1 &&
                      r2.status == 200 && strcmp(r2.body, "hello") == 0 && !srv_closed(s),
                  name, "%d %d %s / %d %d %s", got, r.status, r.body, got2, r2.status, r2.body);
      stop("streamed, pipelined");
    }
  }

  /* a streamed body after a buffered chunked one in the same read: its pieces */
  {
    static const size_t firsts[] = {3000, 4500, 6000, 8000};
    size_t longest = 0, k;
    int whole = 1;
    app_reset();
    sn_mem_heap_reset(0, 0);
    if (start() != SN_OK) return;
    for (k = 0; k < sizeof firsts / sizeof firsts[0]; k++) {
      app.body_bytes = app.max_piece = 0;
      app.mismatch = 0;
      len = put_chunked(0, "POST", "/big", firsts[k], NULL);
      len = put_cl(len, "PUT", "/up", 20000, NULL);
      s = app.sock = cl_new(0);
      cl_write(s, big, len);
      pump();
      got = next_resp(s, &r);
      got2 = next_resp(s, &r2);
      if (!(got == 1 && r.status == 200 && got2 == 1 && r2.status == 200 && strcmp(r2.body, "got 20000") == 0 &&
            app.mismatch == 0))
        whole = 0;
      if (app.max_piece > longest) longest = app.max_piece;
      printf("# behind a %lu-byte chunked body: the longest piece %lu bytes\n", (unsigned long) firsts[k],
             (unsigned long) app.max_piece);
    }
    CHECK(whole, "lifecycle: streamed: a streamed body pipelined behind a buffered chunked one is delivered whole");
    test_report(longest <= SN_BODY_PIECE,
                "lifecycle: streamed: ... in pieces of at most SN_BODY_PIECE (the connection's buffer grew for the first)",
                "on_body got a piece of %lu bytes (SN_BODY_PIECE %d)", (unsigned long) longest, SN_BODY_PIECE);
    stop("streamed, behind a buffered body");
  }

  /* pause and resume */
  app_reset();
  app.pause_mode = 1;
  app.resume_ms = 10;
  sn_mem_heap_reset(0, 0);
  net.now = 0;
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/up", 20000, NULL);
  s = app.sock = cl_new(3000);
  cl_write(s, big, len);
  pump();
  {
    unsigned long rc = pw.recvs[s];
    size_t bytes = app.body_bytes;
    int k;
    for (k = 0; k < 50; k++) sn_poll(mgr, 0);
    test_report(app.pauses == 1 && app.body_bytes == bytes && pw.recvs[s] == rc && net.s[s].out_len == 0,
                "lifecycle: streamed: on_body returning SN_WANT_READ pauses: no more pieces and no recv on the socket",
                "pauses %d, bytes %lu then %lu, recvs %lu then %lu", app.pauses, (unsigned long) bytes,
                (unsigned long) app.body_bytes, rc, pw.recvs[s]);
  }
  advance(500, 5);
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 200 && strcmp(r.body, "got 20000") == 0 && app.mismatch == 0 && app.recv_while_paused == 0 &&
                  app.resumes == app.pauses && app.pauses > 3,
              "lifecycle: streamed: paused after every piece and resumed from a timer: all bytes, in order, no recv while "
              "paused, and a pause on the last piece holds the handler back until its resume",
              "got %d status %d %s; pauses %d resumes %d, recvs while paused %d", got, r.status, r.body, app.pauses,
              app.resumes, app.recv_while_paused);
  printf("# paused after each of %d pieces, resumed %d times; the last pause (resume then: %d, %s)\n", app.pauses,
         app.resumes, app.resume_r, app.resumes == app.pauses ? "held the handler back" : "did not hold the handler back");
  stop("streamed, paused");

  /* paused past the request timeout */
  app_reset();
  app.pause_mode = 2;
  sn_mem_heap_reset(0, 0);
  net.now = 0;
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/slow", 20000, NULL);
  s = app.sock = cl_new(3000);
  cl_write(s, big, len);
  pump();
  advance(400, 10);
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 408 && app.abort_calls == 1 && app.abort_err == SN_ERR_TIMEOUT && app.pauses == 1 &&
                  app.handler_calls == 0,
              "lifecycle: streamed: a body paused past its route's request timeout (300 ms): 408, on_abort(SN_ERR_TIMEOUT)",
              "got %d status %d, abort %d err %d", got, r.status, app.abort_calls, app.abort_err);
  stop("streamed, paused too long");

  /* over the route's max_body */
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/small", 2000, "Expect: 100-continue\r\n");
  s = app.sock = cl_new(0);
  cl_write(s, big, len - 2000); /* the head only */
  pump();
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 413 && app.head_calls == 0 && app.body_calls == 0 && app.abort_calls == 0 &&
                  !out_has(s, "100 Continue") && has_close(&r),
              "lifecycle: streamed: a Content-Length over the route's max_body: 413 before on_head (no 100 Continue, closes)",
              "got %d status %d, head %d body %d abort %d: %s", got, r.status, app.head_calls, app.body_calls,
              app.abort_calls, test_show(net.s[s].out, net.s[s].out_len));
  stop("streamed, 413 at the head");

  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_chunked(0, "PUT", "/small", 1500, NULL);
  got = stream_one(0, len, &r);
  test_report(got == 1 && r.status == 413 && has_close(&r) && app.head_calls == 1 && app.body_bytes <= 1000 &&
                  app.handler_calls == 0 && app.abort_calls == 1 && app.abort_err == SN_ERR_TOO_BIG,
              "lifecycle: streamed: a chunked body over max_body: 413 mid-body, on_abort(SN_ERR_TOO_BIG) once, no handler",
              "got %d status %d, %lu bytes passed, handler %d, abort %d err %d", got, r.status,
              (unsigned long) app.body_bytes, app.handler_calls, app.abort_calls, app.abort_err);
  stop("streamed, 413 mid-body");

  /* malformed chunk */
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = (size_t) sprintf(big, "PUT /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n%c%c%c%c%c\r\nzz\r\n",
                         pat(0), pat(1), pat(2), pat(3), pat(4));
  got = stream_one(0, len, &r);
  test_report(got == 1 && r.status == 400 && has_close(&r) && app.body_bytes <= 5 && app.mismatch == 0 && app.handler_calls == 0 &&
                  app.abort_calls == 1 && app.abort_err == SN_ERR_PROTO,
              "lifecycle: streamed: a malformed chunk: 400, on_abort(SN_ERR_PROTO) once, no handler",
              "got %d status %d, %lu bytes, handler %d, abort %d err %d", got, r.status, (unsigned long) app.body_bytes,
              app.handler_calls, app.abort_calls, app.abort_err);
  stop("streamed, malformed chunk");

  /* the client goes away mid-body */
  for (chunked = 0; chunked < 2; chunked++) {
    int how;
    for (how = 0; how < 2; how++) {
      app_reset();
      sn_mem_heap_reset(0, 0);
      if (start() != SN_OK) return;
      len = chunked ? put_chunked(0, "PUT", "/up", 20000, NULL) : put_cl(0, "PUT", "/up", 20000, NULL);
      s = app.sock = cl_new(0);
      cl_write(s, big, len / 2);
      pump();
      if (how == 0) sn_mem_peer_close(&net, s);
      else sn_mem_peer_reset(&net, s);
      pump();
      snprintf(name, sizeof name, "lifecycle: streamed: the client %s mid-body (%s): on_abort(SN_ERR_CLOSED) once, no handler",
               how == 0 ? "closes" : "resets", chunked ? "chunked" : "Content-Length");
      test_report(app.body_calls > 0 && app.abort_calls == 1 && app.abort_err == SN_ERR_CLOSED && app.handler_calls == 0 &&
                      net.s[s].closed,
                  name, "pieces %d, abort %d err %d, handler %d, closed %d", app.body_calls, app.abort_calls,
                  app.abort_err, app.handler_calls, net.s[s].closed);
      stop("streamed, client gone");
    }
  }

  /* a reply from on_body */
  app_reset();
  app.reply_at_piece = 2;
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/up", 20000, NULL);
  got = stream_one(2000, len, &r);
  s = app.sock;
  test_report(got == 1 && r.status == 403 && has_close(&r) && app.body_calls == 2 && app.handler_calls == 0 &&
                  app.abort_calls == 0 && srv_closed(s),
              "lifecycle: streamed: a reply from on_body ends the request: no more pieces, no handler, Connection: close",
              "got %d status %d close %d, pieces %d handler %d abort %d", got, r.status, has_close(&r), app.body_calls,
              app.handler_calls, app.abort_calls);
  sn_mem_peer_close(&net, s);
  pump();
  CHECK(net.s[s].closed, "lifecycle: streamed: ... and the connection closes (the rest of the body is dropped)");
  stop("streamed, reply from on_body");

  /* on_body fails */
  app_reset();
  app.body_ret = SN_ERR_IO;
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/up", 20000, NULL);
  got = stream_one(2000, len, &r);
  test_report(got == 1 && r.status == 500 && has_close(&r) && app.body_calls == 1 && app.handler_calls == 0 &&
                  srv_closed(app.sock),
              "lifecycle: streamed: on_body returning an error: 500, Connection: close, no more pieces, no handler",
              "got %d status %d, pieces %d, handler %d", got, r.status, app.body_calls, app.handler_calls);
  printf("# on_body's error: on_abort called %d times\n", app.abort_calls);
  stop("streamed, on_body fails");

  /* memory: a 1 MiB body as a 64 KiB one */
  {
    long peak[2];
    unsigned long calls[2];
    size_t largest[2], heads[2], sizes[2] = {65536, 1u << 20};
    int k;
    for (k = 0; k < 2; k++) {
      unsigned long i, nsz;
      long base;
      app_reset();
      sn_mem_heap_reset(0, 0);
      if (start() != SN_OK) return;
      s = app.sock = cl_new(0);
      pump(); /* accepted: the connection is allocated, its buffers not yet */
      len = put_cl(0, "PUT", "/up", sizes[k], NULL);
      heads[k] = len - sizes[k];
      sn_mem_heap_reset(0, 0);
      base = heap->live_bytes;
      cl_write(s, big, len);
      pump();
      got = next_resp(s, &r);
      peak[k] = heap->peak_bytes - base;
      calls[k] = heap->calls;
      nsz = calls[k] < SN_MEM_HEAP_SIZES ? calls[k] : SN_MEM_HEAP_SIZES;
      largest[k] = 0;
      for (i = 0; i < nsz; i++)
        if (heap->size[i] > largest[k]) largest[k] = heap->size[i];
      snprintf(name, sizeof name, "lifecycle: streamed: a %lu-byte body arrives whole", (unsigned long) sizes[k]);
      test_report(got == 1 && r.status == 200 && app.body_bytes == sizes[k] && app.mismatch == 0, name,
                  "got %d status %d, %lu bytes, %lu wrong", got, r.status, (unsigned long) app.body_bytes, app.mismatch);
      printf("# %lu-byte body (head %lu): %lu allocations, largest %lu bytes, heap peak %ld bytes above the idle connection\n",
             (unsigned long) sizes[k], (unsigned long) heads[k], calls[k], (unsigned long) largest[k], peak[k]);
      stop("streamed, memory");
    }
    test_report(largest[1] <= heads[1] + SN_BODY_PIECE,
                "lifecycle: streamed: the receive buffer of a 1 MiB body is at most its head + SN_BODY_PIECE",
                "largest allocation %lu, head %lu + %d", (unsigned long) largest[1], (unsigned long) heads[1], SN_BODY_PIECE);
    test_report(peak[1] - (long) heads[1] == peak[0] - (long) heads[0] && calls[1] == calls[0],
                "lifecycle: streamed: a 1 MiB body takes the allocations and heap peak of a 64 KiB one (heads aside; none per "
                "piece)",
                "allocations %lu vs %lu, peak %ld vs %ld", calls[1], calls[0], peak[1], peak[0]);
    test_report(peak[1] <= (long) (SN_RX_INIT + heads[1] + SN_BODY_PIECE + SN_TX_INIT),
                "lifecycle: streamed: its heap peak is at most SN_RX_INIT (the buffer it outgrew) + head + SN_BODY_PIECE + "
                "SN_TX_INIT", "peak %ld", peak[1]);
  }
}

/* ---- decisions before the body ---- */
static void test_decisions(void) {
  resp r;
  int s, got;
  size_t len;

  /* on_head refuses an Expect: 100-continue request */
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/guard", 500, "Expect: 100-continue\r\n");
  s = app.sock = cl_new(0);
  cl_write(s, big, len - 500);
  pump();
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 401 && has_close(&r) && !out_has(s, "100 Continue") && app.head_calls == 1 &&
                  app.handler_calls == 0 && app.abort_calls == 0 && srv_closed(s),
              "lifecycle: decisions: on_head refusing (401) an Expect: 100-continue request: the final status, no 100 "
              "Continue, the connection closes",
              "got %d status %d, head %d handler %d abort %d closed %d: %s", got, r.status, app.head_calls,
              app.handler_calls, app.abort_calls, srv_closed(s), test_show(net.s[s].out, net.s[s].out_len));
  stop("decisions, refused");

  /* on_head refuses a request whose body came along */
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/guard", 500, NULL);
  len += (size_t) sprintf(big + len, GET("/hello"));
  s = app.sock = cl_new(0);
  cl_write(s, big, len);
  pump();
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 401 && has_close(&r) && app.handler_calls == 0 && srv_closed(s) &&
                  next_resp(s, &r) == 0,
              "lifecycle: decisions: on_head refusing a request whose body was sent: 401, close; the body is never taken "
              "for a next request",
              "got %d status %d: %s", got, r.status, test_show(net.s[s].out, net.s[s].out_len));
  stop("decisions, refused with a body");

  /* on_head accepts: 100 Continue, then the body */
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/guard", 500, "Authorization: yes\r\nExpect: 100-continue\r\n");
  s = app.sock = cl_new(0);
  cl_write(s, big, len - 500);
  pump();
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 100 && app.head_calls == 1 && app.handler_calls == 0 &&
                  net.s[s].out_len == strlen("HTTP/1.1 100 Continue\r\n\r\n"),
              "lifecycle: decisions: on_head accepting an Expect: 100-continue request: 100 Continue, then nothing",
              "got %d status %d: %s", got, r.status, test_show(net.s[s].out, net.s[s].out_len));
  cl_write(s, big + len - 500, 500);
  pump();
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 200 && strcmp(r.body, "stored 500") == 0 && app.mismatch == 0 && !has_close(&r) &&
                  app.abort_calls == 0,
              "lifecycle: decisions: ... then the body, the handler and the final 200 (keep-alive)", "got %d status %d %s",
              got, r.status, r.body);
  stop("decisions, accepted");

  /* accepted by on_head, then the client resets mid-body (buffered) */
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/guard", 500, "Authorization: yes\r\n");
  s = app.sock = cl_new(0);
  cl_write(s, big, len - 400);
  pump();
  sn_mem_peer_reset(&net, s);
  pump();
  test_report(app.head_calls == 1 && app.handler_calls == 0 && app.abort_calls == 1 && app.abort_err == SN_ERR_CLOSED &&
                  net.s[s].closed,
              "lifecycle: decisions: a buffered body on_head accepted, the client resets mid-body: on_abort(SN_ERR_CLOSED)",
              "head %d handler %d abort %d err %d", app.head_calls, app.handler_calls, app.abort_calls, app.abort_err);
  stop("decisions, accepted then reset");

  /* the same for a streamed route */
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/guard_up", 5000, "Authorization: yes\r\nExpect: 100-continue\r\n");
  s = app.sock = cl_new(0);
  cl_write(s, big, len - 5000);
  pump();
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 100 && app.body_calls == 0,
        "lifecycle: decisions: a streamed route's on_head accepting: 100 Continue before any piece");
  cl_write(s, big + len - 5000, 5000);
  pump();
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 200 && strcmp(r.body, "got 5000") == 0 && app.mismatch == 0,
        "lifecycle: decisions: ... then the pieces and the 200");
  stop("decisions, streamed accepted");

  /* without on_head: 100 Continue as before */
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "POST", "/store", 300, "Expect: 100-continue\r\n");
  s = app.sock = cl_new(0);
  cl_write(s, big, len - 300);
  pump();
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 100, "lifecycle: decisions: a route without on_head answers Expect with 100 Continue");
  cl_write(s, big + len - 300, 300);
  pump();
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 200 && strcmp(r.body, "stored 300") == 0, "lifecycle: decisions: ... then the body is stored");
  stop("decisions, no on_head");

  /* no route */
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/nowhere", 300, "Expect: 100-continue\r\n");
  s = app.sock = cl_new(0);
  cl_write(s, big, len - 300);
  pump();
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 404 && !out_has(s, "100 Continue") && has_close(&r) && srv_closed(s),
              "lifecycle: decisions: no route and Expect: 100-continue: 404 at once, no 100 Continue, the connection closes",
              "got %d status %d: %s", got, r.status, test_show(net.s[s].out, net.s[s].out_len));
  stop("decisions, no route");

  /* per-route max_body */
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/big", 5000, NULL);
  s = app.sock = cl_new(0);
  cl_write(s, big, len);
  pump();
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 200 && strcmp(r.body, "stored 5000") == 0 && app.mismatch == 0,
              "lifecycle: decisions: a route's max_body (10000) above the listener's (1000) takes a 5000-byte body",
              "got %d status %d %s", got, r.status, r.body);
  len = put_chunked(0, "PUT", "/big", 9000, NULL);
  cl_write(s, big, len);
  pump();
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 200 && strcmp(r.body, "stored 9000") == 0 && app.mismatch == 0,
        "lifecycle: decisions: ... and a chunked 9000-byte one");
  len = put_cl(0, "PUT", "/tiny", 500, NULL);
  cl_write(s, big, len);
  pump();
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 413, "lifecycle: decisions: a route's max_body (100) below the listener's refuses 500 bytes: 413");
  stop("decisions, max_body");
  app_reset();
  sn_mem_heap_reset(0, 0);
  if (start() != SN_OK) return;
  len = put_cl(0, "POST", "/store", 1500, NULL);
  s = app.sock = cl_new(0);
  cl_write(s, big, len);
  pump();
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 413, "lifecycle: decisions: a route without its own max_body keeps the listener's (1500 > 1000: 413)");
  stop("decisions, listener max_body");

  /* per-route request timeout */
  app_reset();
  sn_mem_heap_reset(0, 0);
  net.now = 0;
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/slow", 1000, NULL);
  s = app.sock = cl_new(0);
  cl_write(s, big, len - 900);
  pump();
  advance(290, 10);
  CHECK(net.s[s].out_len == 0, "lifecycle: decisions: a streamed body stalled for less than its route's timeout (300 ms) waits");
  advance(20, 5);
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 408 && app.abort_calls == 1 && app.abort_err == SN_ERR_TIMEOUT,
              "lifecycle: decisions: ... past it: 408 and on_abort(SN_ERR_TIMEOUT)", "got %d status %d abort %d err %d", got,
              r.status, app.abort_calls, app.abort_err);
  stop("decisions, route timeout");
  app_reset();
  sn_mem_heap_reset(0, 0);
  net.now = 0;
  if (start() != SN_OK) return;
  len = put_cl(0, "PUT", "/long", 500, NULL);
  s = app.sock = cl_new(0);
  cl_write(s, big, len - 400);
  advance(15000, 500);
  CHECK(net.s[s].out_len == 0 && !srv_closed(s),
        "lifecycle: decisions: a route's longer timeout (20 s) outlasts the listener's (10 s)");
  cl_write(s, big + len - 400, 400);
  pump();
  got = next_resp(s, &r);
  CHECK(got == 1 && r.status == 200 && strcmp(r.body, "stored 500") == 0, "lifecycle: decisions: ... and the body completes: 200");
  stop("decisions, long route timeout");
}

/* ---- attached state ---- */
static void test_attach(void) {
  resp r;
  int s, got, how;
  sn_mem_heap_reset(0, 0);

  /* the end of a request's state after its reply */
  app_reset();
  if (start() != SN_OK) return;
  s = app.sock = cl_new(0);
  net.s[s].max_send = 3;
  net.s[s].block_send = 1;
  cl_puts(s, GET("/attach"));
  pump();
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 200 && app.attach_r == SN_OK && app.state_ok && app.end_calls == 1 &&
                  app.end_why == SN_OK && app.end_out_len == net.s[s].out_len,
              "lifecycle: attach: sn_http_attach's end runs once, with SN_OK, after the whole reply was sent",
              "got %d status %d, attach %d, ends %d why %d, sent %lu of %lu when it ran", got, r.status, app.attach_r,
              app.end_calls, app.end_why, (unsigned long) app.end_out_len, (unsigned long) net.s[s].out_len);
  CHECK_INT(app.attach2_r, SN_ERR_STATE, "lifecycle: attach: a second sn_http_attach on the request: SN_ERR_STATE");
  cl_puts(s, GET("/hello"));
  pump();
  CHECK(app.end_calls == 1, "lifecycle: attach: the state does not carry over to the next request");
  stop("attach, answered");

  /* client reset, timeout, destroy while deferred */
  for (how = 0; how < 3; how++) {
    static const char *const what[] = {"the client resets", "the deferred request times out", "sn_mgr_destroy"};
    static const int want[] = {SN_ERR_CLOSED, SN_ERR_TIMEOUT, SN_ERR_DESTROYED};
    char name[200];
    app_reset();
    app.attach_req = 1;
    app.delay = 5000;
    sn_mem_heap_reset(0, 0);
    net.now = 0;
    if (start() != SN_OK) return;
    s = app.sock = cl_new(0);
    cl_puts(s, GET("/attach_defer"));
    pump();
    if (how == 0) sn_mem_peer_reset(&net, s), pump();
    if (how == 1) advance(600, 10);
    if (how == 2) {
      stop("attach, destroyed");
    }
    snprintf(name, sizeof name, "lifecycle: attach: %s: the request's end runs once with %s", what[how],
             sn_strerror(want[how]));
    test_report(app.attach_r == SN_OK && app.end_calls == 1 && app.end_why == want[how], name, "attach %d, ends %d why %d",
                app.attach_r, app.end_calls, app.end_why);
    if (how != 2) {
      advance(5000, 500);
      CHECK(app.end_calls == 1, "lifecycle: attach: ... and never again");
      stop("attach, ended early");
    }
  }

  /* a connection's state over keep-alive requests */
  for (how = 0; how < 4; how++) {
    static const char *const what[] = {"the client closes", "the client resets", "sn_mgr_destroy", "the idle timeout"};
    char name[200];
    int k;
    app_reset();
    sn_mem_heap_reset(0, 0);
    net.now = 0;
    if (start() != SN_OK) return;
    s = app.sock = cl_new(0);
    for (k = 0; k < 3; k++) {
      cl_puts(s, GET("/conn"));
      pump();
    }
    got = 0;
    while (next_resp(s, &r) == 1 && r.status == 200) got++;
    test_report(got == 3 && app.cattach_r == SN_OK && app.cattach2_r == SN_ERR_STATE && app.cstate_ok && app.cend_calls == 0,
                "lifecycle: attach: sn_conn_attach holds over 3 keep-alive requests (a second attach: SN_ERR_STATE)",
                "%d answered, attach %d then %d, state %d, ends %d", got, app.cattach_r, app.cattach2_r, app.cstate_ok,
                app.cend_calls);
    if (how == 0) sn_mem_peer_close(&net, s), pump();
    if (how == 1) sn_mem_peer_reset(&net, s), pump();
    if (how == 2) stop("attach, connection destroyed");
    if (how == 3) advance(35000, 1000); /* 30 s idle, then at most 2 s of linger */
    snprintf(name, sizeof name, "lifecycle: attach: %s: the connection's end runs once", what[how]);
    test_report(app.cend_calls == 1, name, "%d calls", app.cend_calls);
    printf("# %s: the connection's end said %d (%s)\n", what[how], app.cend_why, sn_strerror(app.cend_why));
    if (how == 0) CHECK_INT(app.cend_why, SN_OK, "lifecycle: attach: a connection the client closed in order ends with SN_OK");
    if (how == 1) CHECK_INT(app.cend_why, SN_ERR_CLOSED, "lifecycle: attach: a reset connection ends with SN_ERR_CLOSED");
    if (how == 2) CHECK_INT(app.cend_why, SN_ERR_DESTROYED, "lifecycle: attach: sn_mgr_destroy ends it with SN_ERR_DESTROYED");
    if (how != 2) stop("attach, connection");
  }
}

/* ---- the demo's pattern: state allocated in on_head, freed by its end ---- */
static void test_owned(void) {
  static const char *const what[] = {"answered", "the client resets mid-body", "a chunked body over max_body",
                                     "a malformed chunk", "paused past the route's timeout", "sn_mgr_destroy while paused",
                                     "a reply from on_body", "on_body failing"};
  static const int want[] = {SN_OK, SN_ERR_CLOSED, SN_ERR_TOO_BIG, SN_ERR_PROTO, SN_ERR_TIMEOUT, SN_ERR_DESTROYED, SN_OK,
                             SN_ERR_IO};
  int how;
  for (how = 0; how < 8; how++) {
    char name[240];
    size_t len;
    int s;
    resp r;
    app_reset();
    sn_mem_heap_reset(0, 0);
    net.now = 0;
    if (start() != SN_OK) return;
    if (how == 2) len = put_chunked(0, "PUT", "/owned", (1u << 20) + 5000, NULL);
    else if (how == 3) len = (size_t) sprintf(big, "PUT /owned HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                   "3\r\n%c%c%c\r\n-1\r\n", pat(0), pat(1), pat(2));
    else len = put_cl(0, "PUT", "/owned", 20000, NULL);
    if (how == 4 || how == 5) app.pause_mode = 2;
    if (how == 6) app.reply_at_piece = 2;
    if (how == 7) app.body_ret = SN_ERR_IO;
    s = app.sock = cl_new(how == 6 || how == 7 || how == 4 || how == 5 ? 3000 : 0);
    cl_write(s, big, how == 1 ? len / 2 : len);
    pump();
    if (how == 1) sn_mem_peer_reset(&net, s), pump();
    if (how == 4) advance(400, 10);
    if (how == 5) stop("owned state, destroyed");
    snprintf(name, sizeof name, "lifecycle: owned state: %s: the state's end runs once with %s, the state intact", what[how],
             sn_strerror(want[how]));
    test_report(app.owned_allocs == 1 && app.end_calls == 1 && app.end_why == want[how] && app.mismatch == 0, name,
                "allocated %d, ends %d why %d (%s), wrong %lu", app.owned_allocs, app.end_calls, app.end_why,
                sn_strerror(app.end_why), app.mismatch);
    if (how == 0) {
      int got = next_resp(s, &r);
      CHECK(got == 1 && r.status == 200 && strcmp(r.body, "owned 20000") == 0,
            "lifecycle: owned state: the handler reads the state on_body filled");
    }
    if (how != 5) {
      advance(3000, 500);
      stop("owned state");
    }
  }
}

/* ---- allocation failures ---- */
/* One scenario with the allocation counter set to fail at n (and after, if
   rest): returns 1 when it ran with no allocation failed. Updates the
   tallies in *t. */
typedef struct fail_tally {
  int runs, bad_end, leaks, misuse, aborts_bad, statuses[6], dropped, start_failed;
  char first_bad[200];
} fail_tally;

static void note_bad(fail_tally *t, const char *fmt, unsigned long n, int v) {
  if (t->first_bad[0] == '\0') snprintf(t->first_bad, sizeof t->first_bad, fmt, n, v);
}

static int fail_run(int streamed, unsigned long n, int rest, fail_tally *t) {
  resp r;
  int s, got, clean;
  size_t len = 0;
  app_reset();
  app.delay = 50;
  net.now = 0;
  if (streamed) len = put_chunked(0, "PUT", streamed == 2 ? "/owned" : "/up", 20000, NULL);
  sn_mem_heap_reset(n, rest);
  t->runs++;
  if (start() != SN_OK) {
    t->start_failed++;
    if (heap->live != 0) t->leaks++, note_bad(t, "N=%lu: %d allocations left after a failed start", n, (int) heap->live);
    sn_mem_clear(&net);
    return heap->failed == 0;
  }
  s = app.sock = cl_new(0);
  if (streamed) cl_write(s, big, len);
  else cl_puts(s, GET("/defer"));
  pump();
  advance(100, 10);
  got = next_resp(s, &r);
  if (got != 1 && !srv_closed(s)) advance(11000, 500); /* the request timeout ends what is left */
  if (got != 1) got = next_resp(s, &r);
  if (got == 1) {
    t->statuses[r.status == 200 ? 0 : r.status == 503 ? 1 : r.status == 500 ? 2 : r.status == 408 ? 3 : 4]++;
    if (r.status != 200 && r.status < 500) note_bad(t, "N=%lu: status %d", n, r.status), t->bad_end++;
    if (r.status == 200 && (app.abort_calls != 0 || app.mismatch != 0 || (streamed && app.body_bytes != 20000) ||
                            (streamed == 2 && strcmp(r.body, "owned 20000") != 0)))
      t->aborts_bad++, note_bad(t, "N=%lu: 200 but on_abort %d", n, app.abort_calls);
  } else if (srv_closed(s)) {
    t->dropped++;
  } else {
    t->bad_end++;
    note_bad(t, "N=%lu: neither a status nor a dropped connection (parse %d)", n, got);
  }
  if (app.abort_calls > 1) t->aborts_bad++, note_bad(t, "N=%lu: on_abort %d times", n, app.abort_calls);
  clean = heap->failed == 0;
  sn_mgr_destroy(mgr);
  mgr = NULL;
  if (app.end_calls != app.owned_allocs)
    t->aborts_bad++, note_bad(t, "N=%lu: the state's end ran %d times", n, app.end_calls);
  if (heap->live != 0) t->leaks++, note_bad(t, "N=%lu: %d allocations left", n, (int) heap->live);
  if (sn_mem_open_count(&net) != 0 || net.misuse != 0) t->misuse++, note_bad(t, "N=%lu: %d misuses", n, net.misuse);
  sn_mem_clear(&net);
  memset(&pw, 0, sizeof pw);
  return clean && got == 1 && r.status == 200;
}

static void test_alloc_failures(void) {
  int streamed, rest;
  for (streamed = 0; streamed < 3; streamed++)
    for (rest = 0; rest < 2; rest++) {
      fail_tally t;
      unsigned long n;
      int passed = 0;
      char name[300];
      memset(&t, 0, sizeof t);
      for (n = 1; n <= 400 && !passed; n++) passed = fail_run(streamed, n, rest, &t);
      snprintf(name, sizeof name,
               "lifecycle: allocation failures: %s, the N-th allocation failing%s for every N until one run passes: a "
               "status or a dropped connection, nothing leaks",
               streamed == 2 ? "an upload whose state on_head allocates" : streamed ? "a streamed chunked upload" : "a deferred reply",
               rest ? " (and every one after)" : "");
      test_report(passed && t.bad_end == 0 && t.leaks == 0 && t.misuse == 0 && t.aborts_bad == 0, name,
                  "passed %d after %d runs; bad ends %d, leaks %d, misuse %d, on_abort wrong %d; first: %s", passed, t.runs,
                  t.bad_end, t.leaks, t.misuse, t.aborts_bad, t.first_bad);
      printf("# %d runs: %d failed to start, 200 x%d, 503 x%d, 500 x%d, 408 x%d, other x%d, dropped x%d\n", t.runs,
             t.start_failed, t.statuses[0], t.statuses[1], t.statuses[2], t.statuses[3], t.statuses[4], t.dropped);
    }
}

static void test_writers(void) {
  static const struct {
    const char *path;
    const char *what;
  } stuck[] = {{"/w_stuck", "a writer that writes nothing"}, {"/w_toobig", "a writer whose chunk is over max_reply (SN_ERR_TOO_BIG), retried"}};
  resp r;
  int s, got, k;
  char name[200];
  for (k = 0; k < 2; k++) {
    app_reset();
    sn_mem_heap_reset(0, 0);
    net.now = 0;
    if (!CHECK_INT(start(), SN_OK, "lifecycle: writers: the server starts")) return;
    s = cl_new(0);
    cl_write(s, "GET ", 4), cl_puts(s, stuck[k].path), cl_puts(s, " HTTP/1.1\r\nHost: t\r\n\r\n");
    pump();
    advance(100, 10);
    snprintf(name, sizeof name, "lifecycle: writers: %s is called once, then the connection closes without the last chunk", stuck[k].what);
    test_report(w_calls == 1 && srv_closed(s) && out_has(s, "200 OK") && !out_has(s, "\r\n0\r\n\r\n"), name,
                "calls %d, closed %d: %s", w_calls, srv_closed(s), test_show(net.s[s].out, net.s[s].out_len));
    snprintf(name, sizeof name, "lifecycle: writers: ... and says so at WARN (%.120s)", w_lastlog);
    CHECK(strstr(w_lastlog, "wrote nothing") != NULL, name);
    stop("writers");
  }
  app_reset();
  net.now = 0;
  if (!CHECK_INT(start(), SN_OK, "lifecycle: writers: the server starts")) return;
  s = cl_new(0);
  cl_puts(s, GET("/w_lines") GET("/w_step_off"));
  pump();
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 200 && strncmp(r.body, "line 0\nline 1\n", 14) == 0 && strstr(r.body, "line 599\n") != NULL,
              "lifecycle: writers: a writer that writes every call serves 600 lines", "got %d status %d", got, r.status);
  advance(60, 10);
  got = next_resp(s, &r);
  test_report(got == 1 && r.status == 200 && strcmp(r.body, "later;") == 0 && !srv_closed(s),
              "lifecycle: writers: a writer that steps off, then a timer writes and ends: served, keep-alive", "got %d status %d %s", got,
              r.status, test_show(net.s[s].out, net.s[s].out_len));
  s = cl_new(0); /* HEAD: the writer's chunks are written as nothing, and count as written */
  cl_puts(s, "HEAD /w_lines HTTP/1.1\r\nHost: t\r\n\r\n" GET("/hello"));
  pump();
  test_report(w_calls == 6 && !srv_closed(s) && out_has(s, "200 OK") && !out_has(s, "line 0") && strstr(strstr((const char *) net.s[s].out, "200 OK") + 6, "200 OK") != NULL,
              "lifecycle: writers: HEAD of the same route ends normally (6 calls, no body) and the next request is served",
              "calls %d: %s", w_calls, test_show(net.s[s].out, net.s[s].out_len));
  stop("writers");
}

int main(int argc, char **argv) {
  verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
  heap = sn_mem_heap_get();
  sn_mem_init(&net);
  routes();
  test_timers();
  test_wakeups();
  test_deferred();
  test_streamed();
  test_decisions();
  test_attach();
  test_owned();
  test_alloc_failures();
  test_writers();
  sn_mem_clear(&net);
  return test_summary();
}
