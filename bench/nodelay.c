/* nodelay.so - LD_PRELOAD for bench/run.sh: sets TCP_NODELAY on every socket
   accept() returns. mbedTLS's ssl_server2 (through mbedtls_net_accept) leaves
   Nagle on, and its TLS 1.2 handshake flight goes out as four writes: the
   last ones then wait for the client's delayed ACK, and the full-handshake
   rate measures that wait (about 20 per second), not mbedTLS. sn_demo and
   nginx set TCP_NODELAY themselves; this gives ssl_server2 the same.
   Build: cc -std=c99 -shared -fPIC -o nodelay.so nodelay.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

/* glibc's own prototype (with _GNU_SOURCE the address is a transparent union) */
typedef int (*accept_fn)(int, __SOCKADDR_ARG, socklen_t *__restrict);

int accept(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len) {
  static accept_fn real;
  int s, one = 1;
  if (real == NULL) {
    void *sym = dlsym(RTLD_NEXT, "accept");
    if (sym == NULL) return -1;
    memcpy(&real, &sym, sizeof real); /* ISO C has no object-to-function pointer cast */
  }
  s = real(fd, addr, len);
  if (s >= 0) (void) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}
