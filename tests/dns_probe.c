/* dns_probe.c - one manager on the POSIX port serving HTTPS while it
   resolves host names for outgoing connections (tests/dns_integration.sh).

       dns_probe --cert PEM --key PEM --port P --run-ms MS [--connect HOST:PORT]...

   Listens for HTTPS on every interface, port P (GET /ping answers "pong"),
   starts one plain-TCP sn_connect per --connect right away, and prints one
   line per event with the milliseconds since start:
       listening <ms>
       connect <host> ok <ms>          (on_connect: the name resolved and TCP connected)
       connect <host> closed <ms> <err> <why>  (on_close)
   then exits after MS milliseconds (status 0).

   Built with -DSN_PROBE_BLOCKING, connect resolves the name with a blocking
   getaddrinfo on the manager's thread before calling the port (what the
   POSIX port did before issue 16), to show what the test catches. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNECTS 4

static uint64_t t0;
static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}
static unsigned long since(void) { return (unsigned long) (now_ms() - t0); }

static void ping(sn_conn *c, const sn_request *req, void *user) {
  (void) req, (void) user;
  sn_http_reply(c, 200, "Content-Type: text/plain\r\n", "pong\n", 5);
}

typedef struct {
  char host[128];
  uint16_t port;
} target;

static void on_connect(sn_client *c, void *user) {
  target *t = (target *) user;
  printf("connect %s ok %lu\n", t->host, since());
  fflush(stdout);
  sn_client_close(c);
}

static void on_close(sn_client *c, int err, const char *why, void *user) {
  target *t = (target *) user;
  (void) c;
  printf("connect %s closed %lu %d %s\n", t->host, since(), err, why ? why : "");
  fflush(stdout);
}

#if defined(SN_PROBE_BLOCKING)
#include <netdb.h>
#include <arpa/inet.h>
static sn_port blocking_port;
static int (*real_connect)(void *ctx, const char *host, uint16_t port, sn_sock *out);
/* The old way: the manager's thread waits for the name server. */
static int blocking_connect(void *ctx, const char *host, uint16_t port, sn_sock *out) {
  struct addrinfo hints, *res = NULL;
  char num[INET6_ADDRSTRLEN];
  int r;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, NULL, &hints, &res) != 0) return SN_ERR_ADDR;
  inet_ntop(AF_INET, &((struct sockaddr_in *) (void *) res->ai_addr)->sin_addr, num, sizeof num);
  freeaddrinfo(res);
  r = real_connect(ctx, num, port, out);
  return r;
}
#endif

int main(int argc, char **argv) {
  sn_mgr_opts mo;
  sn_mgr *mgr = NULL;
  sn_router router;
  sn_http_opts ho;
  sn_tls_opts tls;
  sn_client_opts co;
  sn_client_callbacks cb;
  target targets[MAX_CONNECTS];
  const char *cert = NULL, *key = NULL;
  unsigned long run_ms = 5000;
  int i, ntargets = 0, port = 0, r;

  t0 = now_ms();
  for (i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--cert") == 0) cert = argv[i + 1];
    else if (strcmp(argv[i], "--key") == 0) key = argv[i + 1];
    else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--run-ms") == 0) run_ms = strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--connect") == 0 && ntargets < MAX_CONNECTS) {
      const char *colon = strrchr(argv[i + 1], ':');
      target *t = &targets[ntargets++];
      if (colon == NULL || (size_t) (colon - argv[i + 1]) >= sizeof t->host) return 2;
      memcpy(t->host, argv[i + 1], (size_t) (colon - argv[i + 1]));
      t->host[colon - argv[i + 1]] = '\0';
      t->port = (uint16_t) atoi(colon + 1);
    } else {
      fprintf(stderr, "dns_probe: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (cert == NULL || key == NULL || port <= 0 || port > 65535) {
    fprintf(stderr, "usage: dns_probe --cert PEM --key PEM --port P --run-ms MS [--connect HOST:PORT]...\n");
    return 2;
  }

  memset(&mo, 0, sizeof mo);
  mo.port = sn_posix_port();
#if defined(SN_PROBE_BLOCKING)
  blocking_port = *mo.port;
  real_connect = blocking_port.connect;
  blocking_port.connect = blocking_connect;
  mo.port = &blocking_port;
#endif
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    fprintf(stderr, "dns_probe: sn_mgr_create: %s\n", sn_strerror(r));
    return 1;
  }
  sn_router_init(&router);
  sn_router_add(&router, "GET", "/ping", ping, NULL);
  memset(&tls, 0, sizeof tls);
  tls.cert_file = cert;
  tls.key_file = key;
  memset(&ho, 0, sizeof ho);
  ho.port = (uint16_t) port;
  ho.router = &router;
  ho.tls = &tls;
  if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
    fprintf(stderr, "dns_probe: sn_http_listen: %s\n", sn_strerror(r));
    sn_mgr_destroy(mgr);
    return 1;
  }
  printf("listening %lu\n", since());
  fflush(stdout);

  memset(&co, 0, sizeof co);
  co.connect_timeout_ms = 20000;
  for (i = 0; i < ntargets; i++) {
    memset(&cb, 0, sizeof cb);
    cb.on_connect = on_connect;
    cb.on_close = on_close;
    cb.user = &targets[i];
    if ((r = sn_connect(mgr, targets[i].host, targets[i].port, &co, &cb, NULL)) != SN_OK)
      printf("connect %s refused %lu %d %s\n", targets[i].host, since(), r, sn_strerror(r));
  }
  fflush(stdout);
  while (since() < run_ms) {
    unsigned long left = run_ms - since();
    if ((r = sn_poll(mgr, left > 5000 ? 5000 : (int) left)) != SN_OK) {
      fprintf(stderr, "dns_probe: sn_poll: %s\n", sn_strerror(r));
      break;
    }
  }
  sn_mgr_destroy(mgr);
  printf("done %lu\n", since());
  return 0;
}
