/* sn_demo - securenet's quick-start example and test target.

   A small device dashboard and JSON API over HTTPS (and, optionally, plain
   HTTP beside it). Build with `make examples`, run with `make demo`.

     sn_demo [--https-port N] [--http-port N] [--redirect] [--cert FILE --key FILE]
             [--client-ca FILE] [--bind ADDR] [--max-conns N] [--max-body N]
             [--request-timeout-ms N] [--idle-timeout-ms N] [--handshake-timeout-ms N]
             [--hsts SECONDS] [--verbose]
             [--ota-pub PUB.pem] [--ota-slot FILE] [--ota-capacity BYTES]
             [--users FILE [--session-idle SECONDS] [--session-lifetime SECONDS]]
             [--https-port2 N]

   With --users (lines from tools/sn-passwd) login is on: GET /login and its
   files and GET /api/health are open; POST /login (form fields user and
   password) starts a session, POST /logout ends it; everything else needs
   the session or Basic credentials (over TLS only): 401 under /api/, a 303
   to /login for pages. --https-port2 adds a second HTTPS listener (its
   sessions are its own).

   Routes: GET / (dashboard), GET /api/status, GET /api/hello/:name,
   POST /api/echo, GET /files/ *, GET /stream?n=N, GET /api/blob?bytes=N,
   PUT or POST /api/upload[?delay_ms=N], POST /api/form (any form: its parts), GET /api/delay?ms=N,
   GET /api/worker?ms=N (a result from another thread), POST (a form, field
   "image") or PUT (the image as the body) /api/firmware: a signed image
   (tools/sn-sign) into the slot file, GET /api/firmware: what it holds. A Linux gateway has the memory for more connections than an MCU. */
#ifndef SN_MAX_CONNS
#define SN_MAX_CONNS 128
#endif
#define DEMO_DELAYS 64 /* GET /api/delay waits at once */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"

#include "demo_app.h" /* the routes and options, shared with the lwIP demo */

/* heap_bytes in /api/status (tests/abuse.sh, bench/soak.sh watch it come
   back to its baseline): ASan's count under ASan, else glibc's mallinfo2
   (in-use arena bytes plus mmapped blocks); other libcs leave it out. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEMO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(DEMO_ASAN)
size_t __sanitizer_get_current_allocated_bytes(void); /* the runtime's; gcc ships no header for it */
static unsigned long heap_in_use(void) { return (unsigned long) __sanitizer_get_current_allocated_bytes(); }
#define DEMO_HEAP_HOOK heap_in_use
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
static unsigned long heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return (unsigned long) (mi.uordblks + mi.hblkhd);
}
#define DEMO_HEAP_HOOK heap_in_use
#endif

/* GET /api/worker?ms=N (0-60000): the work runs on a thread of its own (it
   sleeps N ms, as a slow sensor or a blocking library call would) and hands
   its result back through sn_mgr_wakeup, the one call that is safe from
   another thread; the reply goes out from the manager's thread. */
#include <pthread.h>
#include <time.h>
typedef struct demo_job {
  sn_mgr *mgr;
  sn_req_ref ref;
  long ms;
} demo_job;

static void worker_done(void *arg) { /* on the manager's thread */
  demo_job *j = (demo_job *) arg;
  sn_conn *c;
  if (sn_req_conn(j->ref, &c) == SN_OK) sn_http_json(c, 200, "{\"thread\":true,\"ms\":%ld}\n", j->ms);
  else demo_late++;
  free(j);
}

static void *worker_main(void *arg) {
  demo_job *j = (demo_job *) arg;
  struct timespec ts;
  int tries, r;
  ts.tv_sec = j->ms / 1000;
  ts.tv_nsec = (j->ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
  ts.tv_sec = 0;
  ts.tv_nsec = 1000000L;
  /* the queue is bounded: when it is full, wait a little (this thread may) */
  for (tries = 0; (r = sn_mgr_wakeup(j->mgr, worker_done, j)) == SN_ERR_FULL && tries < 10000; tries++)
    nanosleep(&ts, NULL);
  if (r != SN_OK) free(j); /* refused (the manager is stopping) or full for 10 s: its request times out (503) */
  return NULL;
}

static void api_worker(sn_conn *c, const sn_request *req, void *user) {
  long ms = demo_query_num(req, "ms", 60000);
  demo_job *j;
  pthread_t t;
  pthread_attr_t a;
  (void) user;
  if (ms < 0) {
    sn_http_error(c, 400);
    return;
  }
  if ((j = (demo_job *) malloc(sizeof *j)) == NULL) {
    sn_http_error(c, 503);
    return;
  }
  j->mgr = sn_conn_mgr(c);
  j->ms = ms;
  j->ref = sn_http_defer(c);
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&t, &a, worker_main, j) != 0) {
    free(j);
    sn_http_error(c, 503); /* still in the handler: the reply goes now */
  }
  pthread_attr_destroy(&a);
}

/* The update slot: a file. An image is written under FILE.part, flushed and
   renamed over FILE only once verified (then the directory is flushed too),
   so a crash or a power cut mid-upload leaves the image accepted before. */
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
typedef struct file_slot {
  const char *path;
  char tmp[4096];
  int fd;
  uint64_t size, written;
} file_slot;

static int slot_open(void *ctx, uint64_t size) {
  file_slot *f = (file_slot *) ctx;
  f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  f->size = size;
  f->written = 0;
  return f->fd < 0 ? SN_ERR_IO : SN_OK;
}

static int slot_write(void *ctx, uint64_t off, const void *data, size_t len) {
  file_slot *f = (file_slot *) ctx;
  const char *p = (const char *) data;
  if (off != f->written || len > f->size - off) return SN_ERR_INVALID; /* the contract says it cannot happen */
  while (len > 0) {
    ssize_t n = write(f->fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SN_ERR_IO;
    p += n, len -= (size_t) n, f->written += (uint64_t) n;
  }
  return SN_OK;
}

static void slot_abort(void *ctx) {
  file_slot *f = (file_slot *) ctx;
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  unlink(f->tmp);
}

static int slot_finish(void *ctx) {
  file_slot *f = (file_slot *) ctx;
  char dir[4096], *slash;
  int d;
  if (f->written != f->size || fsync(f->fd) != 0) {
    slot_abort(f); /* closes and removes FILE.part */
    return SN_ERR_IO;
  }
  if (close(f->fd) != 0) {
    f->fd = -1;
    unlink(f->tmp);
    return SN_ERR_IO;
  }
  f->fd = -1;
  if (rename(f->tmp, f->path) != 0) {
    unlink(f->tmp);
    return SN_ERR_IO;
  }
  snprintf(dir, sizeof dir, "%s", f->path);
  slash = strrchr(dir, '/');
  if (slash != NULL) *(slash == dir ? slash + 1 : slash) = '\0';
  if ((d = open(slash != NULL ? dir : ".", O_RDONLY | O_CLOEXEC)) >= 0) {
    fsync(d); /* the rename itself survives a power cut */
    close(d);
  }
  return SN_OK;
}

static const sn_slot_ops file_slot_ops = {slot_open, slot_write, slot_finish, slot_abort};

/* Reads a whole (small) file, NUL-terminated as mbedTLS wants PEM. */
static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  long n;
  if (f == NULL) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < 65536 && fseek(f, 0, SEEK_SET) == 0 &&
      (buf = (unsigned char *) malloc((size_t) n + 1)) != NULL) {
    if (fread(buf, 1, (size_t) n, f) != (size_t) n) {
      free(buf);
      buf = NULL;
    } else {
      buf[n] = 0;
      *len = (size_t) n + 1;
    }
  }
  fclose(f);
  return buf;
}

static const sn_route_opts worker_route = {api_worker, NULL, NULL, demo_abort, 0, 65000, NULL};
static void worker_routes(sn_router *router) { sn_router_add_opts(router, "GET", "/api/worker", &worker_route); }

/* Mutual TLS: a verified certificate whose CN is a user's name is that user. */
static const sn_user *demo_cert_user(void *arg, const char *subject) {
  const sn_user *users = (const sn_user *) arg;
  const char *cn = strstr(subject, "CN=");
  size_t i, n;
  if (cn == NULL || (cn != subject && cn[-1] != ' ')) return NULL;
  cn += 3;
  n = strcspn(cn, ",");
  for (i = 0; users != NULL && users[i].name[0] != '\0'; i++)
    if (strlen(users[i].name) == n && memcmp(users[i].name, cn, n) == 0) return &users[i];
  return NULL;
}

/* --users FILE: one tools/sn-passwd line per user; '#' comments and blank
   lines are skipped. Returns the table (ended by an empty name, for
   demo_cert_user) and its count, or NULL after saying what is wrong. */
static sn_user *read_users(const char *path, size_t *count) {
  FILE *f = fopen(path, "r");
  char line[512];
  sn_user *users = NULL;
  size_t n = 0, lineno = 0;
  if (f == NULL) {
    fprintf(stderr, "sn_demo: --users %s: cannot read it\n", path);
    return NULL;
  }
  while (fgets(line, sizeof line, f) != NULL) {
    size_t len = strlen(line);
    sn_user *more;
    lineno++;
    if (line[0] == '#' || strspn(line, " \t\r\n") == len) continue;
    more = (sn_user *) realloc(users, (n + 2) * sizeof *users);
    if (more == NULL) break;
    users = more;
    if (sn_user_parse(&users[n], line, len) != SN_OK) {
      fprintf(stderr, "sn_demo: --users %s:%lu: not a user line (make one with tools/sn-passwd NAME PASSWORD [ROLE])\n",
              path, (unsigned long) lineno);
      fclose(f);
      free(users);
      return NULL;
    }
    n++;
  }
  fclose(f);
  if (n == 0) {
    fprintf(stderr, "sn_demo: --users %s: no user in it\n", path);
    free(users);
    return NULL;
  }
  memset(&users[n], 0, sizeof users[n]);
  *count = n;
  return users;
}

int main(int argc, char **argv) {
  demo_config cfg = {"sn_demo", "build/certs/server.pem", "build/certs/server.key", NULL, "127.0.0.1", 8443, 0, 0, 0, 0,
                     2ul << 20, 0, 0, 0, 0, 0};
  sn_mgr *mgr;
  sn_mgr_opts mo;
  int r, i, n = 1, ota_pub_given = 0;
  static char *args[256];
  static file_slot slot;
  const char *ota_pub = "build/certs/sign.pub.pem";
  unsigned long long ota_capacity = 80ull << 20;
  unsigned char *pub = NULL;
  size_t pub_len = 0;
  const char *users_path = NULL;
  sn_user *users = NULL;
  size_t user_count = 0;
  unsigned long session_idle = 0, session_lifetime = 0;

  slot.path = "build/ota-slot.img";
  slot.fd = -1;
  args[0] = argv[0];
  for (i = 1; i < argc && n < 255; i++) { /* the update's options, then the shared ones */
    if (i + 1 < argc && strcmp(argv[i], "--ota-pub") == 0) ota_pub = argv[++i], ota_pub_given = 1;
    else if (i + 1 < argc && strcmp(argv[i], "--ota-slot") == 0) slot.path = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--ota-capacity") == 0) ota_capacity = strtoull(argv[++i], NULL, 10);
    else if (i + 1 < argc && strcmp(argv[i], "--users") == 0) users_path = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--session-idle") == 0) session_idle = strtoul(argv[++i], NULL, 10);
    else if (i + 1 < argc && strcmp(argv[i], "--session-lifetime") == 0) session_lifetime = strtoul(argv[++i], NULL, 10);
    else args[n++] = argv[i];
  }
  if (i < argc || demo_parse(n, args, &cfg) != 0) {
    fprintf(stderr, "usage: sn_demo " DEMO_OPTIONS_HELP "\n       [--ota-pub PUB.pem] [--ota-slot FILE] [--ota-capacity BYTES]\n"
                    "       [--users FILE [--session-idle SECONDS] [--session-lifetime SECONDS]]\n");
    return 2;
  }
  demo_catch_signals();
  demo_extra_routes = worker_routes;
#ifdef DEMO_HEAP_HOOK
  demo_heap_bytes = DEMO_HEAP_HOOK;
#endif

  memset(&mo, 0, sizeof mo);
  mo.port = sn_posix_port();
  mo.log = demo_log;
  mo.log_user = (void *) cfg.prog;
  mo.log_level = cfg.verbose ? SN_LOG_DEBUG : SN_LOG_WARN;
  mo.max_conns = (int) cfg.max_conns;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    fprintf(stderr, "sn_demo: cannot start: %s\n", sn_strerror(r));
    return 1;
  }
  if ((pub = read_file(ota_pub, &pub_len)) != NULL) {
    sn_ota_opts oo;
    memset(&oo, 0, sizeof oo);
    snprintf(slot.tmp, sizeof slot.tmp, "%s.part", slot.path);
    oo.slot = &file_slot_ops;
    oo.slot_ctx = &slot;
    oo.capacity = ota_capacity;
    oo.pub_key = pub;
    oo.pub_key_len = pub_len;
    oo.mgr = mgr;
    r = sn_ota_create(&demo_ota, &oo);
    free(pub);
    if (r != SN_OK) {
      fprintf(stderr, "sn_demo: --ota-pub %s: %s\n", ota_pub, sn_strerror(r));
      sn_mgr_destroy(mgr);
      return 1;
    }
  } else if (ota_pub_given) {
    fprintf(stderr, "sn_demo: --ota-pub %s: cannot read it\n", ota_pub);
    sn_mgr_destroy(mgr);
    return 1;
  } /* else no key, no firmware routes */
  if (users_path != NULL) { /* login on: see demo_guard_routes */
    sn_auth_opts ao;
    if ((users = read_users(users_path, &user_count)) == NULL) {
      sn_ota_destroy(demo_ota);
      sn_mgr_destroy(mgr);
      return 1;
    }
    memset(&ao, 0, sizeof ao);
    ao.users = users;
    ao.user_count = user_count;
    ao.login_page = sn_static_find(demo_files, DEMO_FILES_COUNT, (sn_str){"/login.html", 11});
    ao.idle_s = (uint32_t) session_idle;
    ao.lifetime_s = (uint32_t) session_lifetime;
    ao.cert_user = demo_cert_user;
    ao.cert_arg = users;
    if ((r = sn_auth_create(&demo_auth, mgr, &ao)) != SN_OK) {
      fprintf(stderr, "sn_demo: --users %s: %s\n", users_path, sn_strerror(r));
      free(users);
      sn_ota_destroy(demo_ota);
      sn_mgr_destroy(mgr);
      return 1;
    }
    printf("sn_demo: login on: %lu user%s from %s\n", (unsigned long) user_count, user_count == 1 ? "" : "s", users_path);
  }
  if (demo_listen(mgr, &cfg, "*") != SN_OK) {
    sn_auth_destroy(demo_auth);
    free(users);
    sn_ota_destroy(demo_ota);
    sn_mgr_destroy(mgr);
    return 1;
  }
  while (!demo_stop) sn_poll(mgr, 1000);
  sn_auth_destroy(demo_auth);
  sn_mgr_destroy(mgr);
  free(users);
  sn_ota_destroy(demo_ota);
  printf("sn_demo: stopped\n");
  return 0;
}
