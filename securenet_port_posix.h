/* securenet_port_posix.h - securenet's port for POSIX hosts (Linux, BSD)
   - MIT license, see securenet.h

   Non-blocking BSD sockets (IPv4 and IPv6), poll() for readiness,
   getrandom() (or /dev/urandom) for entropy, CLOCK_MONOTONIC and time(),
   a wake channel (an eventfd on Linux, a self-pipe elsewhere) and a mutex
   for sn_mgr_wakeup, host names resolved on helper threads. Link with
   -pthread.

   Use: include it after securenet.h, in the same file that defines
   SECURENET_IMPLEMENTATION (for the implementation) or anywhere else (for
   the declaration):

       #define SECURENET_IMPLEMENTATION
       #include "securenet.h"
       #include "securenet_port_posix.h"
       ...
       sn_mgr_opts o = {0};
       o.port = sn_posix_port();        // one manager in the program

   or, for each manager that other threads wake (sn_mgr_wakeup), its own
   instance:

       static sn_posix px;              // outlives the manager
       o.port = sn_posix_port_init(&px); // NULL: no file descriptors left
       ...                               // sn_mgr_create, sn_poll, sn_mgr_destroy
       sn_posix_port_free(&px);

   Notes
   - Name resolution never blocks the manager. connect() to a numeric IPv4 or
     IPv6 address connects at once; any other name (localhost included) is
     resolved by getaddrinfo() on a detached thread, and connect() says
     SN_WANT_READ until the answer is there (the thread then calls wake, and
     securenet's next call with the same host and port connects). At most
     SN_POSIX_LOOKUPS (4) names are resolved at once per instance; more wait
     (SN_WANT_READ) for a free slot. An answer nobody asks for within
     SN_POSIX_KEEP_MS (30 s: the caller gave up) is dropped.
     sn_posix_port_free() leaves a lookup still running to its thread, which
     frees it when getaddrinfo returns.
   - The wake channel: wait() polls it besides the sockets and empties it
     when it is readable; wake() writes to it (safe from any thread, and
     from a signal handler). One instance has one channel: two managers
     polled on different threads must not share an instance when either is
     woken from other threads or resolves names, since one could take the
     other's wakeup (which then waits for its next timer). Managers polled
     in turn on one thread may share one.
   - sn_posix_port() is a process-wide instance, set up once (thread-safe);
     never freed. If no file descriptor is left for its wake channel it
     works without one: a wakeup then waits for sn_poll's timeout, and
     wait() sleeps at most 50 ms while a name is being resolved.
   - poll() is used rather than epoll: securenet waits on at most
     SN_MAX_SOCKETS sockets (25 by default, 133 in sn_demo), where epoll's advantage does not
     show and its extra system calls per change of interest cost more.
   - SIGPIPE is avoided per call (MSG_NOSIGNAL) or per socket (SO_NOSIGPIPE);
     the application need not ignore it.
   - SN_POSIX_SELF_PIPE (define it) uses the self-pipe on Linux too. */
#ifndef SECURENET_PORT_POSIX_H
#define SECURENET_PORT_POSIX_H

#include "securenet.h"
#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SN_POSIX_LOOKUPS
#define SN_POSIX_LOOKUPS 4 /* names resolved at once per instance */
#endif

typedef struct sn__px_lookup sn__px_lookup; /* one name being resolved (private) */

/* One instance of the port: the table securenet uses and what its hooks
   share. The fields are the port's. */
typedef struct sn_posix {
  sn_port port;                            /* port.ctx is this sn_posix */
  int wake_rd, wake_wr;                    /* the wake channel (an eventfd: one fd twice); -1: none */
  pthread_mutex_t lock;                    /* port.lock / port.unlock */
  pthread_mutex_t res_lock;                /* guards lookups and starved */
  sn__px_lookup *lookups[SN_POSIX_LOOKUPS]; /* names being resolved, or answers not yet collected */
  int starved;                             /* a connect() found every slot taken */
} sn_posix;

/* Sets up p (the wake channel, the mutexes) and returns its port table,
   &p->port; NULL when it cannot (no file descriptors left), with nothing to
   free. p must stay where it is until sn_posix_port_free. */
SNDEF const sn_port *sn_posix_port_init(sn_posix *p);
/* Frees p's wake channel, mutexes and finished lookups; lookups still
   running are left to their threads (they free themselves). Call it after
   every manager using p is destroyed. */
SNDEF void sn_posix_port_free(sn_posix *p);
/* The process-wide instance, set up at the first call (thread-safe), never
   freed: good for one manager per program (see the notes above). */
SNDEF const sn_port *sn_posix_port(void);

#ifdef __cplusplus
}
#endif
#endif /* SECURENET_PORT_POSIX_H */

#if defined(SECURENET_IMPLEMENTATION) && !defined(SECURENET_PORT_POSIX_DONE)
#define SECURENET_PORT_POSIX_DONE

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
/* glibc decides at the first system header what it declares: one included
   before securenet.h in strict ISO C mode (-std=c99) hid getaddrinfo,
   clock_gettime and O_CLOEXEC. Say so here rather than in 27 errors below. */
#if defined(__GLIBC__) && !defined(__USE_XOPEN2K8)
#error "securenet: in the file that defines SECURENET_IMPLEMENTATION, include securenet.h before any system header (it asks for POSIX.1-2008 first), or compile that file with -D_POSIX_C_SOURCE=200809L (or -std=gnu99)"
#endif
#if defined(__linux__) && defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))
#include <sys/random.h>
#define SN__PX_GETRANDOM 1
#endif

#if defined(__linux__) && !defined(SN_POSIX_SELF_PIPE)
#include <sys/eventfd.h>
#define SN__PX_EVENTFD 1
#endif

#if defined(MSG_NOSIGNAL)
#define SN__PX_SEND_FLAGS MSG_NOSIGNAL
#else
#define SN__PX_SEND_FLAGS 0
#endif

static int sn__px_prepare(int fd) {
  int fl = fcntl(fd, F_GETFL, 0), one = 1;
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
  (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
#if defined(SO_NOSIGPIPE)
  (void) setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  (void) one;
  return 0;
}

static int sn__px_listen(void *ctx, const char *addr, uint16_t port, sn_sock *out) {
  struct addrinfo hints, *res = NULL, *ai;
  char service[8];
  const char *try_addrs[2];
  int k, n = 0;
  (void) ctx;
  if (addr != NULL) {
    try_addrs[n++] = addr;
  } else { /* every interface: dual-stack IPv6 where there is IPv6 */
    try_addrs[n++] = "::";
    try_addrs[n++] = "0.0.0.0";
  }
  snprintf(service, sizeof service, "%u", (unsigned) port);
  for (k = 0; k < n; k++) {
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(try_addrs[k], service, &hints, &res) != 0) continue;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
      int one = 1, zero = 0;
      int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
      if (fd < 0) continue;
      (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (ai->ai_family == AF_INET6)
        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, addr == NULL ? &zero : &one, sizeof one);
      if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0 && sn__px_prepare(fd) == 0) {
        freeaddrinfo(res);
        *out = (sn_sock) fd;
        return SN_OK;
      }
      close(fd);
    }
    freeaddrinfo(res);
  }
  return SN_ERR_ADDR;
}

static void sn__px_addr(const struct sockaddr *sa, char *out, size_t len) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *) (const void *) sa;
    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
    port = ntohs(s4->sin_port);
    snprintf(out, len, "%s:%u", host, port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) (const void *) sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
    port = ntohs(s6->sin6_port);
    snprintf(out, len, "[%s]:%u", host, port);
  } else {
    snprintf(out, len, "?");
  }
}

static int sn__px_accept(void *ctx, sn_sock listener, sn_sock *out, char *peer, size_t peer_len) {
  struct sockaddr_storage ss;
  socklen_t sl;
  int fd, one = 1;
  (void) ctx;
  for (;;) {
    sl = sizeof ss;
    fd = accept((int) listener, (struct sockaddr *) &ss, &sl);
    if (fd >= 0) break;
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return SN_WANT_READ;
    return SN_ERR_IO; /* EMFILE and the like: the listener stays usable */
  }
  if (sn__px_prepare(fd) != 0) {
    close(fd);
    return SN_ERR_IO;
  }
  /* a response must not wait for Nagle's algorithm */
  (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (peer != NULL && peer_len > 0) sn__px_addr((struct sockaddr *) &ss, peer, peer_len);
  *out = (sn_sock) fd;
  return SN_OK;
}

/* ---- name resolution on helper threads ---------------------------------------
   A lookup is on the heap, shared by its thread and the instance's slot.
   Its mutex hands it over once: the thread sets done (and wakes the owner
   while it still holds the mutex, so the owner cannot be freed meanwhile),
   or finds it abandoned (sn_posix_port_free ran) and frees it. Whoever
   sees the other side finished frees it; neither touches it afterwards.
   Lock order: the instance's res_lock, then a lookup's mutex. */
#ifndef SN_POSIX_KEEP_MS
#define SN_POSIX_KEEP_MS 30000 /* an answer not collected within this (ms) is dropped */
#endif

struct sn__px_lookup {
  pthread_mutex_t mu;
  int done;             /* under mu: err and res are set */
  int abandoned;        /* under mu: the owner is gone, the thread frees it */
  int err;              /* getaddrinfo's result */
  struct addrinfo *res; /* its addresses (err == 0) */
  uint64_t done_ms;     /* CLOCK_MONOTONIC when it finished */
  sn_posix *owner;
  uint16_t port;
  char host[256];
};

static uint64_t sn__px_now_ms(void *ctx);
static void sn__px_wake(void *ctx);

static void sn__px_lookup_free(sn__px_lookup *lk) {
  if (lk->res != NULL) freeaddrinfo(lk->res);
  pthread_mutex_destroy(&lk->mu);
  free(lk);
}

static void *sn__px_resolve(void *arg) {
  sn__px_lookup *lk = (sn__px_lookup *) arg;
  struct addrinfo hints, *res = NULL;
  char service[8];
  int err, gone;
  snprintf(service, sizeof service, "%u", (unsigned) lk->port);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  err = getaddrinfo(lk->host, service, &hints, &res);
  pthread_mutex_lock(&lk->mu);
  lk->err = err;
  lk->res = err == 0 ? res : NULL;
  lk->done_ms = sn__px_now_ms(NULL);
  lk->done = 1;
  gone = lk->abandoned;
  if (!gone) sn__px_wake(lk->owner);
  pthread_mutex_unlock(&lk->mu);
  if (gone) sn__px_lookup_free(lk);
  return NULL;
}

/* The slot's answer for host:port: SN_OK with *res (the caller frees it),
   SN_ERR_ADDR when the name does not resolve, SN_WANT_READ while it is
   being resolved (a lookup is started if none is), SN_ERR_IO when no thread
   can be started. */
static int sn__px_lookup_get(sn_posix *p, const char *host, uint16_t port, struct addrinfo **res) {
  uint64_t now = sn__px_now_ms(NULL);
  sn__px_lookup *lk;
  pthread_attr_t attr;
  pthread_t tid;
  sigset_t all, old;
  int i, freeslot = -1, r = SN_WANT_READ;
  size_t len = strlen(host);
  if (len == 0 || len >= sizeof lk->host) return SN_ERR_ADDR;
  pthread_mutex_lock(&p->res_lock);
  for (i = 0; i < SN_POSIX_LOOKUPS; i++) {
    int done;
    if ((lk = p->lookups[i]) == NULL) {
      if (freeslot < 0) freeslot = i;
      continue;
    }
    pthread_mutex_lock(&lk->mu);
    done = lk->done;
    pthread_mutex_unlock(&lk->mu);
    if (done && now > lk->done_ms + SN_POSIX_KEEP_MS) { /* nobody came for it (done_ms may be after now) */
      sn__px_lookup_free(lk);
      p->lookups[i] = NULL;
      if (freeslot < 0) freeslot = i;
      continue;
    }
    if (lk->port != port || strcmp(lk->host, host) != 0) continue;
    if (done) { /* the thread has let go of it */
      *res = lk->res;
      r = lk->err == 0 ? SN_OK : SN_ERR_ADDR;
      lk->res = NULL;
      sn__px_lookup_free(lk);
      p->lookups[i] = NULL;
      if (p->starved) { /* a connect that found no slot: it may take this one next round */
        p->starved = 0;
        sn__px_wake(p);
      }
    }
    pthread_mutex_unlock(&p->res_lock);
    return r;
  }
  if (freeslot < 0) { /* every slot taken: ask again when one frees */
    p->starved = 1;
    pthread_mutex_unlock(&p->res_lock);
    return SN_WANT_READ;
  }
  lk = (sn__px_lookup *) calloc(1, sizeof *lk);
  if (lk == NULL || pthread_mutex_init(&lk->mu, NULL) != 0) {
    free(lk);
    pthread_mutex_unlock(&p->res_lock);
    return SN_ERR_IO;
  }
  memcpy(lk->host, host, len + 1);
  lk->port = port;
  lk->owner = p;
  r = SN_ERR_IO;
  /* the thread starts with every signal blocked: the application's handlers
     (SIGTERM, SIGINT) keep interrupting the manager's thread, not it */
  sigfillset(&all);
  if (pthread_attr_init(&attr) == 0) {
    if (pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
        pthread_sigmask(SIG_SETMASK, &all, &old) == 0) {
      if (pthread_create(&tid, &attr, sn__px_resolve, lk) == 0) r = SN_WANT_READ;
      (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_attr_destroy(&attr);
  }
  if (r == SN_WANT_READ) p->lookups[freeslot] = lk;
  else sn__px_lookup_free(lk);
  pthread_mutex_unlock(&p->res_lock);
  return r;
}

/* How long wait may sleep at most (-1: no limit). A connect that found
   every slot taken asks again at once when a slot is free, else within 1 s
   (an answer nobody collects frees its slot when it expires; one that is
   collected wakes the manager). Without a wake channel, an answer being
   resolved is looked for every 50 ms. */
static int sn__px_wait_cap(sn_posix *p) {
  int i, cap = -1, used = 0;
  pthread_mutex_lock(&p->res_lock);
  for (i = 0; i < SN_POSIX_LOOKUPS; i++) used += p->lookups[i] != NULL;
  if (p->starved) {
    cap = 1000;
    if (used < SN_POSIX_LOOKUPS) p->starved = 0, cap = 0;
  }
  if (p->wake_rd < 0 && used > 0 && (cap < 0 || cap > 50)) cap = 50;
  pthread_mutex_unlock(&p->res_lock);
  return cap;
}

static int sn__px_connect(void *ctx, const char *host, uint16_t port, sn_sock *out) {
  sn_posix *p = (sn_posix *) ctx;
  struct addrinfo hints, *res = NULL, *ai;
  unsigned char bin[sizeof(struct in6_addr)];
  char service[8];
  int fd = -1, one = 1;
  if (host == NULL) return SN_ERR_ADDR;
  if (inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1) {
    /* a numeric address: getaddrinfo does not ask a name server */
    snprintf(service, sizeof service, "%u", (unsigned) port);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, service, &hints, &res) != 0) return SN_ERR_ADDR;
  } else {
    int r = sn__px_lookup_get(p, host, port, &res);
    if (r != SN_OK) return r;
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    if (sn__px_prepare(fd) == 0 && (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return SN_ERR_IO;
  (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  *out = (sn_sock) fd;
  return SN_OK;
}

static int sn__px_errno(void) {
  if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
  return (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) ? SN_ERR_CLOSED : SN_ERR_IO;
}

static int sn__px_send(void *ctx, sn_sock s, const void *buf, size_t len) {
  ssize_t n;
  (void) ctx;
  do n = send((int) s, buf, len, SN__PX_SEND_FLAGS);
  while (n < 0 && errno == EINTR);
  if (n >= 0) return (int) n;
  return sn__px_errno() == 1 ? SN_WANT_WRITE : sn__px_errno();
}

static int sn__px_recv(void *ctx, sn_sock s, void *buf, size_t len) {
  ssize_t n;
  (void) ctx;
  do n = recv((int) s, buf, len, 0);
  while (n < 0 && errno == EINTR);
  if (n >= 0) return (int) n;
  return sn__px_errno() == 1 ? SN_WANT_READ : sn__px_errno();
}

static void sn__px_close(void *ctx, sn_sock s) {
  (void) ctx;
  close((int) s);
}

static void sn__px_shutdown(void *ctx, sn_sock s) {
  (void) ctx;
  (void) shutdown((int) s, SHUT_WR);
}

/* Empties the wake channel: an eventfd in one read (it resets the
   counter), a pipe in reads up to its default capacity (64 KiB; what is
   left over makes the next wait return at once, nothing is lost). */
static void sn__px_drain(sn_posix *p) {
  unsigned char buf[512];
  int i;
  for (i = 0; i < 128; i++) {
    ssize_t n = read(p->wake_rd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < (ssize_t) sizeof buf) break;
  }
}

static int sn__px_wait(void *ctx, sn_wait_item *items, int n, int timeout_ms) {
  sn_posix *p = (sn_posix *) ctx;
  struct pollfd pfd[SN_MAX_SOCKETS + 1];
  int i, r, ready = 0, nfds = n, cap;
  if (n < 0 || n > SN_MAX_SOCKETS) return SN_ERR_INVALID;
  for (i = 0; i < n; i++) {
    pfd[i].fd = items[i].want ? (int) items[i].sock : -1; /* negative: ignored by poll() */
    pfd[i].events = (short) (((items[i].want & SN_READABLE) ? POLLIN : 0) | ((items[i].want & SN_WRITABLE) ? POLLOUT : 0));
    pfd[i].revents = 0;
  }
  if (p->wake_rd >= 0) {
    pfd[nfds].fd = p->wake_rd;
    pfd[nfds].events = POLLIN;
    pfd[nfds++].revents = 0;
  }
  cap = sn__px_wait_cap(p);
  if (cap >= 0 && (timeout_ms < 0 || timeout_ms > cap)) timeout_ms = cap;
  r = poll(pfd, (nfds_t) nfds, timeout_ms < 0 ? -1 : timeout_ms);
  if (r < 0) return errno == EINTR ? 0 : SN_ERR_IO;
  if (nfds > n && pfd[n].revents) sn__px_drain(p);
  for (i = 0; i < n; i++) {
    uint8_t f = 0;
    if (pfd[i].revents & POLLIN) f |= SN_READABLE;
    if (pfd[i].revents & POLLOUT) f |= SN_WRITABLE;
    if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL)) f |= (uint8_t) (SN_ERROR | items[i].want);
    items[i].ready = f;
    if (f) ready++;
  }
  return ready;
}

/* Safe from any thread and from a signal handler (write() only, errno
   kept). A full pipe or a saturated eventfd is readable already. */
static void sn__px_wake(void *ctx) {
  sn_posix *p = (sn_posix *) ctx;
  int saved = errno;
  ssize_t n = 0;
#if defined(SN__PX_EVENTFD)
  uint64_t one = 1;
  if (p->wake_wr >= 0) do n = write(p->wake_wr, &one, sizeof one);
    while (n < 0 && errno == EINTR);
#else
  unsigned char one = 1;
  if (p->wake_wr >= 0) do n = write(p->wake_wr, &one, 1);
    while (n < 0 && errno == EINTR);
#endif
  (void) n;
  errno = saved;
}

static void sn__px_lock(void *ctx) { pthread_mutex_lock(&((sn_posix *) ctx)->lock); }
static void sn__px_unlock(void *ctx) { pthread_mutex_unlock(&((sn_posix *) ctx)->lock); }

static int sn__px_entropy(void *ctx, unsigned char *buf, size_t len) {
  size_t got = 0;
  int fd;
  (void) ctx;
#if defined(SN__PX_GETRANDOM)
  while (got < len) {
    ssize_t n = getrandom(buf + got, len - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t) n;
  }
  if (got == len) return 0;
#endif
  fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t) n;
  }
  close(fd);
  return got == len ? 0 : -1;
}

static uint64_t sn__px_now_ms(void *ctx) {
  struct timespec ts;
  (void) ctx;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static int64_t sn__px_wall_s(void *ctx) {
  time_t t = time(NULL);
  (void) ctx;
  return t == (time_t) -1 ? -1 : (int64_t) t;
}

static const sn_port sn__posix_port_table = {
    NULL,        sn__px_listen, sn__px_accept,  sn__px_connect, sn__px_send,  sn__px_recv,
    sn__px_close, sn__px_shutdown, sn__px_wait, sn__px_entropy, sn__px_now_ms, sn__px_wall_s,
    sn__px_wake, sn__px_lock,   sn__px_unlock};

/* The wake channel, both ends non-blocking and close-on-exec. */
static int sn__px_wake_open(sn_posix *p) {
#if defined(SN__PX_EVENTFD)
  p->wake_rd = p->wake_wr = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return p->wake_rd < 0 ? -1 : 0;
#else
  int fds[2], i;
  if (pipe(fds) != 0) return -1;
  for (i = 0; i < 2; i++) {
    int fl = fcntl(fds[i], F_GETFL, 0);
    if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
      close(fds[0]);
      close(fds[1]);
      return -1;
    }
  }
  p->wake_rd = fds[0];
  p->wake_wr = fds[1];
  return 0;
#endif
}

static void sn__px_wake_close(sn_posix *p) {
  if (p->wake_rd >= 0) close(p->wake_rd);
  if (p->wake_wr >= 0 && p->wake_wr != p->wake_rd) close(p->wake_wr);
  p->wake_rd = p->wake_wr = -1;
}

SNDEF const sn_port *sn_posix_port_init(sn_posix *p) {
  memset(p, 0, sizeof *p);
  p->wake_rd = p->wake_wr = -1;
  if (pthread_mutex_init(&p->lock, NULL) != 0) return NULL;
  if (pthread_mutex_init(&p->res_lock, NULL) != 0) {
    pthread_mutex_destroy(&p->lock);
    return NULL;
  }
  if (sn__px_wake_open(p) != 0) {
    pthread_mutex_destroy(&p->res_lock);
    pthread_mutex_destroy(&p->lock);
    return NULL;
  }
  p->port = sn__posix_port_table;
  p->port.ctx = p;
  return &p->port;
}

SNDEF void sn_posix_port_free(sn_posix *p) {
  int i;
  if (p == NULL || p->port.ctx != p) return;
  pthread_mutex_lock(&p->res_lock);
  for (i = 0; i < SN_POSIX_LOOKUPS; i++) {
    sn__px_lookup *lk = p->lookups[i];
    int done;
    if (lk == NULL) continue;
    pthread_mutex_lock(&lk->mu);
    done = lk->done;
    lk->abandoned = 1; /* a running thread frees it */
    pthread_mutex_unlock(&lk->mu);
    if (done) sn__px_lookup_free(lk);
    p->lookups[i] = NULL;
  }
  pthread_mutex_unlock(&p->res_lock);
  sn__px_wake_close(p);
  pthread_mutex_destroy(&p->res_lock);
  pthread_mutex_destroy(&p->lock);
  p->port.ctx = NULL;
}

static sn_posix sn__px_default;
static pthread_once_t sn__px_default_once = PTHREAD_ONCE_INIT;

/* Without a file descriptor for the wake channel: the same port without
   wake (wait polls no channel, see sn__px_wait_cap). */
static void sn__px_default_init(void) {
  sn_posix *p = &sn__px_default;
  if (sn_posix_port_init(p) != NULL) return;
  memset(p, 0, sizeof *p);
  p->wake_rd = p->wake_wr = -1;
  p->port = sn__posix_port_table;
  p->port.ctx = p;
  p->port.wake = NULL;
  if (pthread_mutex_init(&p->lock, NULL) != 0) p->port.lock = NULL, p->port.unlock = NULL;
  (void) pthread_mutex_init(&p->res_lock, NULL);
}

SNDEF const sn_port *sn_posix_port(void) {
  (void) pthread_once(&sn__px_default_once, sn__px_default_init);
  return &sn__px_default.port;
}

#endif /* SECURENET_IMPLEMENTATION */
