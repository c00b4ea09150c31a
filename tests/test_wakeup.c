/* test_wakeup.c - sn_mgr_wakeup on the POSIX port: wakeups from other
   threads reach the manager's thread, each once and in order.

   Checks: (a) 4 threads x 10 000 sn_mgr_wakeup calls, each carrying its
   (thread, sequence number) and retried after a short sleep on
   SN_ERR_FULL, while the manager's thread runs sn_poll(mgr, 1000): every
   wakeup runs exactly once, on the manager's thread, in order per thread,
   and no round but the last sleeps its whole second (a lost wake would);
   (b) with nobody polling, SN_WAKE_QUEUE calls succeed and one more
   returns SN_ERR_FULL at once (no blocking), the next sn_poll runs all
   SN_WAKE_QUEUE, and the queue takes wakeups again; (c) a thread that calls
   sn_mgr_wakeup while sn_poll(mgr, 5000) sleeps ends that sleep at once
   (well under 1 s: a functional check, not a benchmark), and the same for
   sn_poll(mgr, -1) (a watchdog reports a sleep that does not end); (d)
   sn_mgr_destroy runs the wakeups still queued.
   Each manager has its own sn_posix (sn_posix_port_init). */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define PER_THREAD 10000

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static void sleep_us(long us) {
  struct timespec ts;
  ts.tv_sec = us / 1000000L;
  ts.tv_nsec = (us % 1000000L) * 1000L;
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* A watchdog: a lost wakeup leaves sn_poll(mgr, -1) asleep for good. */
static const char *watch_what = "";
static void on_alarm(int sig) {
  static const char head[] = "not ok - watchdog: sn_poll still asleep: ";
  ssize_t n;
  (void) sig;
  n = write(1, head, sizeof head - 1);
  n = write(1, watch_what, strlen(watch_what));
  n = write(1, "\n", 1);
  (void) n;
  _exit(1);
}
static void watchdog(unsigned seconds, const char *what) {
  watch_what = what;
  alarm(seconds);
}

/* ---- (a) 4 threads x 10 000 ------------------------------------------------------ */
/* A wakeup's argument points at its own counter: slot[t][seq]. */
static unsigned char slot[THREADS][PER_THREAD];
static int next_seq[THREADS];
static long delivered, out_of_order, twice, off_thread;
static pthread_t mgr_thread;

static void on_wake(void *arg) {
  size_t idx = (size_t) ((unsigned char *) arg - &slot[0][0]);
  int t = (int) (idx / PER_THREAD), seq = (int) (idx % PER_THREAD);
  if (!pthread_equal(pthread_self(), mgr_thread)) off_thread++;
  if (slot[t][seq]++ != 0) twice++;
  if (seq != next_seq[t]) out_of_order++;
  next_seq[t] = seq + 1;
  delivered++;
}

typedef struct {
  sn_mgr *mgr;
  int t;
  long full;   /* SN_ERR_FULL answers (retried) */
  int bad;     /* any other error */
  int gave_up; /* retried for 20 s without room */
} sender;

static void *send_wakeups(void *arg) {
  sender *s = (sender *) arg;
  int seq;
  for (seq = 0; seq < PER_THREAD && !s->bad && !s->gave_up; seq++) {
    uint64_t end = now_ms() + 20000;
    int r;
    while ((r = sn_mgr_wakeup(s->mgr, on_wake, &slot[s->t][seq])) == SN_ERR_FULL) {
      s->full++;
      if (now_ms() > end) {
        s->gave_up = 1;
        break;
      }
      sleep_us(100);
    }
    if (r != SN_OK && r != SN_ERR_FULL) s->bad = r;
  }
  return NULL;
}

static sn_mgr *new_mgr(sn_posix *px) {
  sn_mgr_opts o;
  sn_mgr *m = NULL;
  memset(&o, 0, sizeof o);
  o.port = sn_posix_port_init(px);
  if (o.port == NULL || sn_mgr_create(&m, &o) != SN_OK) return NULL;
  return m;
}

static void test_threads(void) {
  sn_posix px;
  sn_mgr *m = new_mgr(&px);
  pthread_t th[THREADS];
  sender s[THREADS];
  uint64_t t0, end;
  long full = 0, rounds = 0, slow = 0;
  int i, poll_err = 0, bad = 0, gave_up = 0;
  if (!CHECK(m != NULL, "a manager on its own sn_posix")) return;
  mgr_thread = pthread_self();
  watchdog(60, "4 threads x 10 000 wakeups");
  t0 = now_ms();
  for (i = 0; i < THREADS; i++) {
    s[i].mgr = m, s[i].t = i, s[i].full = 0, s[i].bad = 0, s[i].gave_up = 0;
    pthread_create(&th[i], NULL, send_wakeups, &s[i]);
  }
  end = t0 + 55000;
  while (delivered < (long) THREADS * PER_THREAD && now_ms() < end) {
    uint64_t r0 = now_ms();
    int r = sn_poll(m, 1000);
    if (r != SN_OK) poll_err = r;
    if (now_ms() - r0 >= 900) slow++;
    rounds++;
  }
  for (i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    full += s[i].full;
    if (s[i].bad) bad = s[i].bad;
    gave_up |= s[i].gave_up;
  }
  alarm(0);
  test_report(delivered == (long) THREADS * PER_THREAD && twice == 0, "4 threads x 10 000 wakeups: every one runs exactly once",
              "%ld delivered, %ld twice", delivered, twice);
  CHECK_INT(out_of_order, 0, "wakeups from one thread run in the order it made them");
  CHECK_INT(off_thread, 0, "every wakeup runs on the manager's thread (the one in sn_poll)");
  /* Each wakeup wakes sn_poll(mgr, 1000): only the round that runs the last
     ones sleeps its whole second (nothing wakes it after them). */
  test_report(slow <= 1, "no wake is lost: no sn_poll round but the last sleeps its full 1000 ms", "%ld such rounds", slow);
  test_report(bad == 0 && !gave_up && poll_err == 0, "sn_mgr_wakeup says only SN_OK or SN_ERR_FULL; sn_poll says SN_OK",
              "other error %d (%s), gave up %d, sn_poll %d", bad, sn_strerror(bad), gave_up, poll_err);
  printf("# %ld sn_poll rounds, %ld SN_ERR_FULL retries, %llu ms\n", rounds, full, (unsigned long long) (now_ms() - t0));
  sn_mgr_destroy(m);
  sn_posix_port_free(&px);
}

/* ---- (b) a full queue, (d) destroy runs what is queued ---------------------------- */
static long counted;
static void count_it(void *arg) {
  (void) arg;
  counted++;
}

static void test_full(void) {
  sn_posix px;
  sn_mgr *m = new_mgr(&px);
  int i, ok = 0, r;
  uint64_t t0, ms;
  if (!CHECK(m != NULL, "a manager on its own sn_posix")) return;
  counted = 0;
  t0 = now_ms();
  for (i = 0; i < SN_WAKE_QUEUE; i++) ok += sn_mgr_wakeup(m, count_it, NULL) == SN_OK;
  r = sn_mgr_wakeup(m, count_it, NULL);
  ms = now_ms() - t0;
  CHECK_INT(ok, SN_WAKE_QUEUE, "SN_WAKE_QUEUE wakeups queue with nobody polling");
  CHECK_INT(r, SN_ERR_FULL, "one more returns SN_ERR_FULL");
  test_report(ms < 100, "and does not block (a full queue answers at once)", "%llu ms", (unsigned long long) ms);
  CHECK_INT(counted, 0, "nothing runs before sn_poll");
  for (i = 0; i < 3 && counted < SN_WAKE_QUEUE; i++) (void) sn_poll(m, 0);
  CHECK_INT(counted, SN_WAKE_QUEUE, "the next sn_poll runs every queued wakeup");
  CHECK_INT(sn_mgr_wakeup(m, count_it, NULL), SN_OK, "the drained queue takes wakeups again");
  (void) sn_mgr_wakeup(m, count_it, NULL);
  (void) sn_mgr_wakeup(m, count_it, NULL);
  counted = 0;
  sn_mgr_destroy(m);
  CHECK_INT(counted, 3, "sn_mgr_destroy runs the wakeups still queued");
  sn_posix_port_free(&px);
}

/* ---- (c) a wakeup ends sn_poll's sleep ---------------------------------------------- */
typedef struct {
  sn_mgr *mgr;
  unsigned delay_ms;
  int r;
} later;

static void *wake_later(void *arg) {
  later *l = (later *) arg;
  sleep_us((long) l->delay_ms * 1000L);
  l->r = sn_mgr_wakeup(l->mgr, count_it, NULL);
  return NULL;
}

static void sleep_ends(sn_mgr *m, int timeout_ms, const char *name) {
  pthread_t th;
  later l;
  uint64_t t0, ms;
  int r, i;
  counted = 0;
  l.mgr = m, l.delay_ms = 200, l.r = 1;
  watchdog(10, name);
  t0 = now_ms();
  pthread_create(&th, NULL, wake_later, &l);
  r = sn_poll(m, timeout_ms);
  ms = now_ms() - t0;
  pthread_join(th, NULL);
  alarm(0);
  test_report(r == SN_OK && l.r == SN_OK && ms >= 150 && ms < 1000, name, "sn_poll %d, wakeup %d, slept %llu ms (woken at 200)",
              r, l.r, (unsigned long long) ms);
  for (i = 0; i < 3 && counted == 0; i++) (void) sn_poll(m, 0); /* it runs in this round or the next */
  CHECK_INT(counted, 1, "the wakeup that ended the sleep runs");
}

static void test_sleep(void) {
  sn_posix px;
  sn_mgr *m = new_mgr(&px);
  if (!CHECK(m != NULL, "a manager on its own sn_posix")) return;
  (void) sn_poll(m, 0);
  sleep_ends(m, 5000, "a wakeup from another thread ends sn_poll(mgr, 5000) at once");
  sleep_ends(m, -1, "a wakeup from another thread ends sn_poll(mgr, -1) at once");
  sn_mgr_destroy(m);
  sn_posix_port_free(&px);
}

int main(void) {
  signal(SIGALRM, on_alarm);
  test_full();
  test_sleep();
  test_threads();
  return test_summary();
}
