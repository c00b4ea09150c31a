/* bench/heap.c - securenet's heap, static RAM and stack, measured with real
   peers (driven by bench/heap.sh; see there).

   One 32-bit process: an HTTPS listener (ECDSA P-256 certificate) with
   GET /hello and a WebSocket echo on GET /ws, and the mail sender, with every allocation of securenet (SN_MALLOC/SN_FREE) and of
   mbedTLS (mbedtls_platform_set_calloc_free) counted from before
   sn_mgr_create(), so the parsed certificate, key, DRBG and PSA state are
   in every figure. Counted are the bytes asked for (user bytes), not the C
   library's block headers or rounding.

   Control: one command per line on stdin, answered on stdout (nothing here
   allocates through the counted allocator):
     stats        "heap: current=N peak=M allocs=A requests=R conns=C", then
                  the peak is reset to the current value
     count        "count: requests=R conns=C current=N" (the peak is kept)
     sites        the live blocks at the last peak, by call site (return
                  addresses, resolved by heap.sh with addr2line)
     ws           the WebSocket echo (/ws): "ws: open=O messages=M allocs=A
                  at2=B at3=C current=N": sockets open now, messages echoed
                  on the latest socket, the allocation count now and on entry
                  to its 2nd and 3rd message (after its 1st and 2nd round trip);
                  "ws: off" without SN_ENABLE_WEBSOCKET
     mail N       queues N mails to the SMTP server given on the command line;
                  "mail: done ok=K failed=F" once all N have ended
     stack        deepest stack use since start (stack painting)
     sizes        sizeof the main structures
     quit         ends (sn_mgr_destroy, then "heap: after destroy current=N")

   heap_server PORT SMTP_PORT CERT KEY CA      (PORT 0: no HTTPS listener) */
#define _GNU_SOURCE
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- the counting allocator --------------------------------------------- */
/* Each block carries its size in a 16-byte prefix; live blocks are also kept
   in a fixed table (pointer, size, callers) so the composition of the heap at
   its peak can be printed by call site. */
#define HEAP_TRACK 4096
#define HEAP_FRAMES 4
typedef struct heap_block {
  void *p;
  size_t n;
  void *at[HEAP_FRAMES];
} heap_block;
static heap_block heap_live[HEAP_TRACK], heap_at_peak[HEAP_TRACK];
static int heap_nlive, heap_npeak;
static size_t heap_current, heap_peak;
static unsigned long heap_allocs;
static int heap_tracking = 1;

#include <execinfo.h>

static void *heap_alloc(size_t n, int zero) {
  unsigned char *b = (unsigned char *) malloc(n + 16);
  void *frames[HEAP_FRAMES + 2];
  int i, got;
  if (b == NULL) return NULL;
  memcpy(b, &n, sizeof n);
  if (zero) memset(b + 16, 0, n);
  heap_current += n;
  heap_allocs++;
  if (heap_tracking && heap_nlive < HEAP_TRACK) {
    heap_block *e = &heap_live[heap_nlive++];
    memset(e, 0, sizeof *e);
    e->p = b + 16;
    e->n = n;
    got = backtrace(frames, HEAP_FRAMES + 2);
    for (i = 2; i < got && i - 2 < HEAP_FRAMES; i++) e->at[i - 2] = frames[i];
  }
  if (heap_current > heap_peak) {
    heap_peak = heap_current;
    memcpy(heap_at_peak, heap_live, (size_t) heap_nlive * sizeof heap_live[0]);
    heap_npeak = heap_nlive;
  }
  return b + 16;
}

static void heap_free(void *p) {
  size_t n;
  int i;
  if (p == NULL) return;
  memcpy(&n, (unsigned char *) p - 16, sizeof n);
  heap_current -= n;
  for (i = heap_nlive - 1; i >= 0; i--)
    if (heap_live[i].p == p) {
      heap_live[i] = heap_live[--heap_nlive];
      break;
    }
  free((unsigned char *) p - 16);
}

static void *count_malloc(size_t n) { return heap_alloc(n, 0); }
static void *count_calloc(size_t k, size_t n) {
  if (n != 0 && k > (size_t) -1 / n) return NULL;
  return heap_alloc(k * n, 1);
}

#define SN_MALLOC(n) count_malloc(n)
#define SN_FREE(p) heap_free(p)
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"
#include "mbedtls/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

/* ---- PSA's random numbers (MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG) -------------- */
/* What firmware does with its TRNG; the host has getrandom(). */
psa_status_t mbedtls_psa_external_get_random(mbedtls_psa_external_random_context_t *ctx, uint8_t *out,
                                             size_t len, size_t *olen) {
  size_t got = 0;
  (void) ctx;
  while (got < len) {
    ssize_t n = getrandom(out + got, len - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PSA_ERROR_INSUFFICIENT_ENTROPY;
    }
    got += (size_t) n;
  }
  *olen = len;
  return PSA_SUCCESS;
}

/* ---- stack painting ------------------------------------------------------ */
/* Before anything runs, a frame of STACK_PAINT bytes below main's is filled
   with a pattern; after the scenarios, the lowest byte that is no longer the
   pattern shows the deepest stack use below main. There are no signal
   handlers (commands come on stdin), so nothing else writes there. */
#define STACK_PAINT (192 * 1024)
static uintptr_t stack_lo, stack_hi;

static __attribute__((noinline)) void stack_paint(void) {
  volatile unsigned char area[STACK_PAINT];
  size_t i;
  for (i = 0; i < sizeof area; i++) area[i] = 0xA5;
  stack_lo = (uintptr_t) &area[0];
  stack_hi = (uintptr_t) &area[sizeof area];
}

static __attribute__((noinline)) size_t stack_used(void) {
  const volatile unsigned char *p = (const volatile unsigned char *) stack_lo;
  size_t i = 0;
  /* 16 pattern bytes in a row: the rest below was never touched */
  while (i < STACK_PAINT && p[i] == 0xA5) i++;
  return (size_t) (stack_hi - (stack_lo + i));
}

/* ---- the program ----------------------------------------------------------- */
static sn_mgr *mgr;
static unsigned long http_requests;
static int mails_pending, mails_to_queue, mails_ok, mails_failed;
static sn_smtp_server smtp;
static sn_mail_addr rcpt = {"Heap Bench", "bench@test.example"};
static sn_mail mail;

static void out(const char *fmt, ...) {
  char line[256];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > (int) sizeof line - 1) n = (int) sizeof line - 1;
  if (write(1, line, (size_t) n) < 0) exit(3);
}

static void hello(sn_conn *c, const sn_request *req, void *user) {
  static const char body[] = "hello from securenet\n";
  (void) req, (void) user;
  http_requests++;
  sn_http_reply(c, 200, "Content-Type: text/plain\r\n", body, sizeof body - 1);
}

#if SN_ENABLE_WEBSOCKET
/* The echo, as examples/common/demo_app.h's: each message goes back whole.
   Messages up to WS_MAX; the queue holds two of them. */
#define WS_MAX 8192
static int ws_open;
static unsigned long ws_messages, ws_allocs_at[4];

static void ws_message(sn_ws *ws, int type, const void *data, size_t len, int final, void *user) {
  int r;
  (void) final, (void) user;
  ws_messages++;
  if (ws_messages < sizeof ws_allocs_at / sizeof ws_allocs_at[0]) ws_allocs_at[ws_messages] = heap_allocs;
  if ((r = sn_ws_send(ws, type, data, len)) != SN_OK) {
    out("ws: cannot echo: %s\n", sn_strerror(r));
    sn_ws_close(ws, SN_WS_INTERNAL, sn_strerror(r));
  }
}
static void ws_closed(sn_ws *ws, int err, int code, const char *why, void *user) {
  (void) ws, (void) user;
  ws_open--;
  if (err != SN_OK) out("ws: closed: %s code=%d %s\n", sn_strerror(err), code, why ? why : "");
}
static void ws_echo(sn_conn *c, const sn_request *req, void *user) {
  sn_ws_opts o;
  sn_ws_callbacks cb;
  (void) user;
  memset(&o, 0, sizeof o);
  memset(&cb, 0, sizeof cb);
  o.max_message = WS_MAX;
  o.max_queued = 2 * WS_MAX + 64;
  o.idle_timeout_ms = 120000;
  cb.on_message = ws_message;
  cb.on_close = ws_closed;
  http_requests++;
  if (sn_ws_upgrade(c, req, &o, &cb, NULL) == SN_OK) {
    ws_open++;
    ws_messages = 0;
    memset(ws_allocs_at, 0, sizeof ws_allocs_at);
  }
}
#endif

static void mail_done(void *user, const sn_mail *m, const sn_mail_result *r) {
  (void) user, (void) m;
  mails_pending--;
  if (r->err == SN_OK) mails_ok++;
  else {
    mails_failed++;
    out("mail: failed at %s: %s (%s)\n", r->stage ? r->stage : "?", sn_strerror(r->err), r->reply);
  }
  if (mails_pending == 0 && mails_to_queue == 0) out("mail: done ok=%d failed=%d\n", mails_ok, mails_failed);
}

static void log_line(void *user, int level, const char *msg) {
  (void) user;
  out("log %d: %s\n", level, msg);
}

static void print_sites(void) {
  int i, j;
  out("sites: %d blocks, %lu bytes at peak\n", heap_npeak, (unsigned long) heap_peak);
  for (i = 0; i < heap_npeak; i++) {
    out("site %lu", (unsigned long) heap_at_peak[i].n);
    for (j = 0; j < HEAP_FRAMES; j++) out(" %p", heap_at_peak[i].at[j]);
    out("\n");
  }
  out("sites: end\n");
}

static void print_sizes(void) {
  out("size sn_conn %lu\n", (unsigned long) sn_conn_size());
  out("size sn_mgr %lu\n", (unsigned long) sizeof(struct sn_mgr));
  out("size sn__listener %lu\n", (unsigned long) sizeof(sn__listener));
  out("size sn_router %lu\n", (unsigned long) sizeof(sn_router));
  out("size sn_request %lu\n", (unsigned long) sizeof(sn_request));
#if SN_ENABLE_SMTP
  out("size sn__smtp %lu\n", (unsigned long) sizeof(struct sn__smtp));
#endif
#if SN_ENABLE_WEBSOCKET
  out("size sn_ws %lu\n", (unsigned long) sn_ws_size());
#endif
#if SN_ENABLE_AUTH
  /* the login state, allocated once by sn_auth_create: the session table,
     the address table, the Basic cache and the pending logins */
  out("size sn_auth %lu\n", (unsigned long) sn_auth_size());
  out("size sn_auth.sessions %lu\n", (unsigned long) sizeof(((sn_auth *) 0)->sess));
  out("size sn_auth.clients %lu\n", (unsigned long) sizeof(((sn_auth *) 0)->cl));
  out("size sn_auth.pending %lu\n", (unsigned long) sizeof(((sn_auth *) 0)->pend));
  out("size sn_user %lu\n", (unsigned long) sizeof(sn_user));
#endif
  out("size mbedtls_ssl_context %lu\n", (unsigned long) sizeof(mbedtls_ssl_context));
  out("size mbedtls_ssl_config %lu\n", (unsigned long) sizeof(mbedtls_ssl_config));
  out("size mbedtls_ssl_session %lu\n", (unsigned long) sizeof(mbedtls_ssl_session));
  out("size mbedtls_x509_crt %lu\n", (unsigned long) sizeof(mbedtls_x509_crt));
  out("size mbedtls_ctr_drbg_context %lu\n", (unsigned long) sizeof(mbedtls_ctr_drbg_context));
  out("size sizes: end\n");
}

static void command(char *line) {
  if (strcmp(line, "stats") == 0) {
    sn_mgr_stats st;
    sn_mgr_stats_get(mgr, &st);
    out("heap: current=%lu peak=%lu allocs=%lu requests=%lu conns=%u\n", (unsigned long) heap_current,
        (unsigned long) heap_peak, heap_allocs, http_requests, st.connections);
    heap_peak = heap_current;
    memcpy(heap_at_peak, heap_live, (size_t) heap_nlive * sizeof heap_live[0]);
    heap_npeak = heap_nlive;
  } else if (strcmp(line, "count") == 0) {
    sn_mgr_stats st;
    sn_mgr_stats_get(mgr, &st);
    out("count: requests=%lu conns=%u current=%lu\n", http_requests, st.connections, (unsigned long) heap_current);
#if SN_ENABLE_WEBSOCKET
  } else if (strcmp(line, "ws") == 0) {
    out("ws: open=%d messages=%lu allocs=%lu at2=%lu at3=%lu current=%lu\n", ws_open, ws_messages, heap_allocs,
        ws_allocs_at[2], ws_allocs_at[3], (unsigned long) heap_current);
#else
  } else if (strcmp(line, "ws") == 0) {
    out("ws: off\n"); /* SN_ENABLE_WEBSOCKET 0 */
#endif
  } else if (strcmp(line, "sites") == 0) {
    print_sites();
  } else if (strcmp(line, "sizes") == 0) {
    print_sizes();
  } else if (strcmp(line, "stack") == 0) {
    out("stack: deepest=%lu\n", (unsigned long) stack_used());
  } else if (strncmp(line, "mail ", 5) == 0) {
    mails_to_queue = atoi(line + 5);
    mails_ok = mails_failed = 0;
  } else if (strcmp(line, "quit") == 0) {
    sn_mgr_destroy(mgr);
    mgr = NULL;
    out("heap: after destroy current=%lu\n", (unsigned long) heap_current);
    out("stack: deepest=%lu\n", (unsigned long) stack_used());
    exit(0);
  } else {
    out("unknown command: %s\n", line);
  }
}

static void *file_load(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) exit(2);
  buf = (char *) malloc((size_t) n + 1); /* the application's copy: not counted */
  if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) exit(2);
  buf[n] = '\0';
  fclose(f);
  *len = (size_t) n + 1;
  return buf;
}

static int serve(int argc, char **argv) {
  static sn_router router;
  sn_mgr_opts mo;
  sn_http_opts ho;
  sn_tls_opts tls;
  char line[64];
  size_t used = 0;
  int r;
  if (argc < 6) {
    fprintf(stderr, "usage: heap_server PORT SMTP_PORT CERT KEY CA\n");
    return 2;
  }
  memset(&mo, 0, sizeof mo);
  memset(&ho, 0, sizeof ho);
  memset(&tls, 0, sizeof tls);
  tls.cert = file_load(argv[3], &tls.cert_len);
  tls.key = file_load(argv[4], &tls.key_len);
  smtp.ca = file_load(argv[5], &smtp.ca_len);
  smtp.host = "127.0.0.1";
  smtp.tls_name = "localhost";
  smtp.port = (uint16_t) atoi(argv[2]);
  smtp.mode = SN_SMTP_TLS;
  smtp.timeout_ms = 10000;
  mail.from.addr = "device@test.example";
  mail.to = &rcpt;
  mail.to_count = 1;
  mail.subject = "heap bench";
  mail.text = "a short mail from the heap bench\n";

  if (mbedtls_platform_set_calloc_free(count_calloc, heap_free) != 0) return 2;
  mo.port = sn_posix_port();
  mo.log = log_line;
  mo.log_level = SN_LOG_WARN;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    fprintf(stderr, "sn_mgr_create: %s\n", sn_strerror(r));
    return 1;
  }
  sn_router_init(&router);
  sn_router_add(&router, "GET", "/hello", hello, NULL);
#if SN_ENABLE_WEBSOCKET
  sn_router_add(&router, "GET", "/ws", ws_echo, NULL);
#endif
  ho.addr = "127.0.0.1";
  ho.port = (uint16_t) atoi(argv[1]);
  if (ho.port == 0) goto no_listener; /* PORT 0: a mail-only device */
  ho.router = &router;
  ho.tls = &tls;
  ho.idle_timeout_ms = 120000;
  if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
    fprintf(stderr, "sn_http_listen: %s\n", sn_strerror(r));
    return 1;
  }
no_listener:
  out("ready: setup current=%lu peak=%lu\n", (unsigned long) heap_current, (unsigned long) heap_peak);
  heap_peak = heap_current;
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  for (;;) {
    ssize_t n;
    sn_poll(mgr, 20);
    /* mails beyond SN_MAX_MAIL_JOBS are queued as earlier ones end */
    while (mails_to_queue > 0) {
      if ((r = sn_mail_send(mgr, &smtp, &mail, mail_done, NULL)) != SN_OK) {
        if (r != SN_ERR_FULL) out("mail: cannot queue: %s\n", sn_strerror(r)), mails_to_queue = 0;
        break;
      }
      mails_to_queue--;
      mails_pending++;
    }
    while ((n = read(0, line + used, 1)) == 1) {
      if (line[used] == '\n') {
        line[used] = '\0';
        used = 0;
        command(line);
      } else if (used < sizeof line - 1) {
        used++;
      }
    }
    if (n == 0) command((char *) "quit"); /* the driver went away */
  }
}

int main(int argc, char **argv) {
  void *warm[1];
  backtrace(warm, 1); /* loads the unwinder now, outside the counted heap */
  stack_paint();
  return serve(argc, argv);
}
