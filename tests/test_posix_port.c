/* test_posix_port.c - securenet_port_posix.h's own hooks, without a manager.

   Checks: (a) an instance (sn_posix_port_init) fills the table with ctx,
   wake, lock and unlock, and sn_posix_port_free gives back every file
   descriptor; (b) wait sleeps its timeout with nothing ready, a wake made
   before it or from another thread during a 5 s wait ends it at once, and
   the channel is empty again afterwards (also after 100 000 wakes, which
   fill a pipe: wake never blocks); (c) lock and unlock exclude each other
   (4 threads x 100 000 increments); (d) connect to a numeric address
   connects at once, to "localhost" says SN_WANT_READ first, wakes the wait
   when the name is resolved, then connects; (e) more names than
   SN_POSIX_LOOKUPS at once all connect in the end; (f) an answer nobody
   collects is dropped after SN_POSIX_KEEP_MS (300 ms here); (g)
   sn_posix_port_free with lookups running leaves them to their threads
   (ASan and valgrind see no use after free, no leak); (h) sn_posix_port()
   is one instance, set up once.
   Built twice: with the eventfd (Linux) and with -DSN_POSIX_SELF_PIPE. */
#define SN_POSIX_KEEP_MS 300
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"
#include "test.h"

#include <dirent.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long) (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  if (d == NULL) return -1;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* One wait on no sockets: how long it took (ms). */
static uint64_t timed_wait(const sn_port *pt, int timeout_ms, int *ret) {
  uint64_t t0 = now_ms();
  sn_wait_item dummy;
  *ret = pt->wait(pt->ctx, &dummy, 0, timeout_ms);
  return now_ms() - t0;
}

/* ---- threads -------------------------------------------------------------------- */
typedef struct {
  const sn_port *pt;
  unsigned delay_ms;
  long count;
  long *shared;
} job;

static void *wake_later(void *arg) {
  job *j = (job *) arg;
  long i;
  sleep_ms(j->delay_ms);
  for (i = 0; i < j->count; i++) j->pt->wake(j->pt->ctx);
  return NULL;
}

static void *increment(void *arg) {
  job *j = (job *) arg;
  long i;
  for (i = 0; i < j->count; i++) {
    j->pt->lock(j->pt->ctx);
    (*j->shared)++;
    j->pt->unlock(j->pt->ctx);
  }
  return NULL;
}

/* connect until it says something other than SN_WANT_READ, waiting on the
   port in between (bounded: 5 s). *first: the first answer; *wakes: waits
   that returned before their 1 s timeout. */
static int connect_until(const sn_port *pt, const char *host, uint16_t port, sn_sock *s, int *first, int *wakes) {
  uint64_t end = now_ms() + 5000;
  int r, w;
  *first = r = pt->connect(pt->ctx, host, port, s);
  if (wakes) *wakes = 0;
  while (r == SN_WANT_READ && now_ms() < end) {
    if (timed_wait(pt, 1000, &w) < 900 && wakes) (*wakes)++;
    r = pt->connect(pt->ctx, host, port, s);
  }
  return r;
}

/* ---- (a), (b): the instance and its wake channel --------------------------------- */
static void test_wake(void) {
  sn_posix px;
  const sn_port *pt;
  pthread_t th;
  job j;
  int fds0 = open_fds(), r;
  uint64_t ms;
  pt = sn_posix_port_init(&px);
  if (!CHECK(pt == &px.port && pt->ctx == &px, "sn_posix_port_init returns its own table, ctx the instance")) return;
  CHECK(pt->wake && pt->lock && pt->unlock && pt->connect && pt->wait, "the table has wake, lock and unlock");

  ms = timed_wait(pt, 100, &r);
  test_report(r == 0 && ms >= 90 && ms < 1000, "wait with nothing ready sleeps its timeout (100 ms)", "r %d, %llu ms", r,
              (unsigned long long) ms);
  pt->wake(pt->ctx);
  ms = timed_wait(pt, 5000, &r);
  test_report(r == 0 && ms < 1000, "a wake before wait makes it return at once, with 0 ready", "r %d, %llu ms", r,
              (unsigned long long) ms);
  ms = timed_wait(pt, 50, &r);
  test_report(r == 0 && ms >= 40, "the wake is used up: the next wait sleeps", "r %d, %llu ms", r, (unsigned long long) ms);

  j.pt = pt, j.delay_ms = 200, j.count = 1, j.shared = NULL;
  pthread_create(&th, NULL, wake_later, &j);
  ms = timed_wait(pt, 5000, &r);
  pthread_join(th, NULL);
  test_report(r == 0 && ms >= 150 && ms < 1000, "a wake from another thread ends a 5 s wait at once (after its 200 ms)",
              "r %d, %llu ms", r, (unsigned long long) ms);

  j.delay_ms = 0, j.count = 100000; /* far more than a pipe holds: a full channel must not block */
  pthread_create(&th, NULL, wake_later, &j);
  pthread_join(th, NULL);
  CHECK(1, "100 000 wakes return (a full channel does not block)");
  ms = timed_wait(pt, 5000, &r);
  test_report(r == 0 && ms < 1000, "after 100 000 wakes, wait returns at once", "r %d, %llu ms", r, (unsigned long long) ms);
  ms = timed_wait(pt, 50, &r);
  test_report(r == 0 && ms >= 40, "one wait empties the channel (the next sleeps)", "r %d, %llu ms", r, (unsigned long long) ms);

  sn_posix_port_free(&px);
  CHECK_INT(open_fds(), fds0, "sn_posix_port_free gives back the wake channel's descriptors");
}

/* ---- (c): lock and unlock ------------------------------------------------------ */
static void test_lock(void) {
  sn_posix px;
  const sn_port *pt = sn_posix_port_init(&px);
  pthread_t th[4];
  job j[4];
  long shared = 0;
  int i;
  if (!CHECK(pt != NULL, "sn_posix_port_init (lock test)")) return;
  for (i = 0; i < 4; i++) {
    j[i].pt = pt, j[i].count = 100000, j[i].shared = &shared, j[i].delay_ms = 0;
    pthread_create(&th[i], NULL, increment, &j[i]);
  }
  for (i = 0; i < 4; i++) pthread_join(th[i], NULL);
  CHECK_INT(shared, 400000, "lock/unlock: 4 threads x 100 000 increments under the port's lock");
  sn_posix_port_free(&px);
}

/* ---- (d)-(g): connect and the resolver ------------------------------------------ */
static int accept_one(const sn_port *pt, sn_sock l) {
  sn_sock c;
  char peer[64];
  uint64_t end = now_ms() + 2000;
  int r;
  do {
    sn_wait_item it;
    it.sock = l, it.want = SN_READABLE, it.ready = 0;
    pt->wait(pt->ctx, &it, 1, 100);
    r = pt->accept(pt->ctx, l, &c, peer, sizeof peer);
  } while (r == SN_WANT_READ && now_ms() < end);
  if (r == SN_OK) pt->close(pt->ctx, c);
  return r;
}

static void test_connect(void) {
  sn_posix px;
  const sn_port *pt = sn_posix_port_init(&px);
  sn_sock l[6], s[6];
  uint16_t port[6];
  int i, r, first, wakes, fds0;
  char name[80];
  if (!CHECK(pt != NULL, "sn_posix_port_init (connect test)")) return;
  fds0 = open_fds();
  for (i = 0; i < 6; i++) { /* port 0: the kernel picks a free one (the POSIX port's sockets are fds) */
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    if (pt->listen(pt->ctx, "127.0.0.1", 0, &l[i]) != SN_OK || getsockname((int) l[i], (struct sockaddr *) &sa, &sl) != 0) {
      test_report(0, "listen on 127.0.0.1", "listener %d", i);
      return;
    }
    port[i] = ntohs(sa.sin_port);
  }

  r = pt->connect(pt->ctx, "127.0.0.1", port[0], &s[0]);
  CHECK_INT(r, SN_OK, "connect to a numeric address: SN_OK at once (no lookup)");
  if (r == SN_OK) {
    CHECK_INT(accept_one(pt, l[0]), SN_OK, "the numeric connect reaches the listener");
    pt->close(pt->ctx, s[0]);
  }

  r = connect_until(pt, "localhost", port[1], &s[1], &first, &wakes);
  CHECK_INT(first, SN_WANT_READ, "connect to \"localhost\": SN_WANT_READ first (resolved on a thread)");
  test_report(r == SN_OK && wakes >= 1, "the resolver's wake ends the wait; the next connect connects", "r %d, wakes %d", r,
              wakes);
  if (r == SN_OK) {
    CHECK_INT(accept_one(pt, l[1]), SN_OK, "the connect to localhost reaches the listener");
    pt->close(pt->ctx, s[1]);
  }
  r = pt->connect(pt->ctx, "localhost", port[1], &s[1]);
  CHECK_INT(r, SN_WANT_READ, "the answer is collected once: the next connect to the same name resolves again");
  r = connect_until(pt, "localhost", port[1], &s[1], &first, NULL);
  if (r == SN_OK) pt->close(pt->ctx, s[1]), (void) accept_one(pt, l[1]);

  { /* (e) six names at once, four slots */
    int got[6] = {0}, pending = 6, rounds = 0;
    uint64_t end = now_ms() + 10000;
    while (pending > 0 && now_ms() < end && rounds++ < 1000) {
      int w;
      for (i = 0; i < 6; i++) {
        if (got[i]) continue;
        snprintf(name, sizeof name, "localhost");
        r = pt->connect(pt->ctx, name, port[i], &s[i]);
        if (r == SN_WANT_READ) continue;
        got[i] = r == SN_OK ? 1 : -1;
        pending--;
        if (r == SN_OK) pt->close(pt->ctx, s[i]), (void) accept_one(pt, l[i]);
      }
      if (pending > 0) (void) timed_wait(pt, 1000, &w);
    }
    for (i = 0, r = 0; i < 6; i++) r += got[i] == 1;
    test_report(r == 6, "six names at once with four lookup slots: all six connect", "%d connected in %d rounds", r, rounds);
  }

  { /* (f) an answer nobody collects is dropped after SN_POSIX_KEEP_MS */
    uint64_t t0;
    int w;
    r = pt->connect(pt->ctx, "localhost", port[2], &s[2]);
    t0 = now_ms();
    while (now_ms() - t0 < 2000) { /* until the thread has answered */
      (void) timed_wait(pt, 1000, &w);
      pthread_mutex_lock(&px.res_lock);
      w = 0;
      if (px.lookups[0] != NULL) {
        pthread_mutex_lock(&px.lookups[0]->mu);
        w = px.lookups[0]->done;
        pthread_mutex_unlock(&px.lookups[0]->mu);
      }
      pthread_mutex_unlock(&px.res_lock);
      if (w) break;
    }
    sleep_ms(SN_POSIX_KEEP_MS + 200);
    r = pt->connect(pt->ctx, "localhost", port[2], &s[2]);
    CHECK_INT(r, SN_WANT_READ, "an answer left uncollected longer than SN_POSIX_KEEP_MS is dropped (a new lookup starts)");
    r = connect_until(pt, "localhost", port[2], &s[2], &first, NULL);
    CHECK_INT(r, SN_OK, "and that new lookup connects");
    if (r == SN_OK) pt->close(pt->ctx, s[2]), (void) accept_one(pt, l[2]);
  }

  for (i = 0; i < 6; i++) pt->close(pt->ctx, l[i]);
  CHECK_INT(open_fds(), fds0, "no descriptor left open by connects and lookups");

  /* (g) free while lookups run: their threads finish alone */
  for (i = 0; i < 4; i++) (void) pt->connect(pt->ctx, "localhost", port[i], &s[i]);
  sn_posix_port_free(&px);
  CHECK(px.port.ctx == NULL, "sn_posix_port_free with four lookups running returns at once");
  sleep_ms(500); /* the threads end here; ASan / valgrind report any access to the freed instance */
}

/* ---- (h): the process-wide instance --------------------------------------------- */
static void test_default(void) {
  const sn_port *a = sn_posix_port(), *b = sn_posix_port();
  int r;
  uint64_t ms;
  CHECK(a == b && a->ctx != NULL && a->wake != NULL && a->lock != NULL, "sn_posix_port() is one instance with wake and lock");
  a->wake(a->ctx);
  ms = timed_wait(a, 5000, &r);
  test_report(r == 0 && ms < 1000, "sn_posix_port(): wake ends a wait", "r %d, %llu ms", r, (unsigned long long) ms);
}

int main(void) {
  test_wake();
  test_lock();
  test_connect();
  test_default();
  return test_summary();
}
