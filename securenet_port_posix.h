/* securenet_port_posix.h - securenet's port for POSIX hosts (Linux, BSD)
   - MIT license, see securenet.h

   Non-blocking BSD sockets (IPv4 and IPv6), poll() for readiness,
   getrandom() (or /dev/urandom) for entropy, CLOCK_MONOTONIC and time().

   Use: include it after securenet.h, in the same file that defines
   SECURENET_IMPLEMENTATION (for the implementation) or anywhere else (for
   the declaration):

       #define SECURENET_IMPLEMENTATION
       #include "securenet.h"
       #include "securenet_port_posix.h"
       ...
       sn_mgr_opts o = {0};
       o.port = sn_posix_port();

   Notes
   - connect() resolves host names with getaddrinfo(), which blocks while the
     resolver works; pass a numeric address where that matters.
   - poll() is used rather than epoll: securenet waits on at most
     SN_MAX_SOCKETS sockets (25 by default, 133 in sn_demo), where epoll's advantage does not
     show and its extra system calls per change of interest cost more.
   - SIGPIPE is avoided per call (MSG_NOSIGNAL) or per socket (SO_NOSIGPIPE);
     the application need not ignore it. */
#ifndef SECURENET_PORT_POSIX_H
#define SECURENET_PORT_POSIX_H

#include "securenet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The port table (static, read-only; the port keeps no state of its own). */
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
#include <time.h>
#include <string.h>
#include <stdio.h>
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

static int sn__px_connect(void *ctx, const char *host, uint16_t port, sn_sock *out) {
  struct addrinfo hints, *res = NULL, *ai;
  char service[8];
  int fd = -1, one = 1;
  (void) ctx;
  snprintf(service, sizeof service, "%u", (unsigned) port);
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  if (getaddrinfo(host, service, &hints, &res) != 0) return SN_ERR_ADDR;
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

static int sn__px_wait(void *ctx, sn_wait_item *items, int n, int timeout_ms) {
  struct pollfd pfd[SN_MAX_SOCKETS];
  int i, r, ready = 0;
  (void) ctx;
  if (n > SN_MAX_SOCKETS) return SN_ERR_INVALID;
  for (i = 0; i < n; i++) {
    pfd[i].fd = items[i].want ? (int) items[i].sock : -1; /* negative: ignored by poll() */
    pfd[i].events = (short) (((items[i].want & SN_READABLE) ? POLLIN : 0) | ((items[i].want & SN_WRITABLE) ? POLLOUT : 0));
    pfd[i].revents = 0;
  }
  r = poll(pfd, (nfds_t) n, timeout_ms < 0 ? -1 : timeout_ms);
  if (r < 0) return errno == EINTR ? 0 : SN_ERR_IO;
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
    sn__px_close, sn__px_shutdown, sn__px_wait, sn__px_entropy, sn__px_now_ms, sn__px_wall_s, NULL, NULL, NULL};

SNDEF const sn_port *sn_posix_port(void) { return &sn__posix_port_table; }

#endif /* SECURENET_IMPLEMENTATION */
