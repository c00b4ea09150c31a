/* sn_demo - securenet's quick-start example and test target.

   A small device dashboard and JSON API over HTTPS (and, optionally, plain
   HTTP beside it). Build with `make examples`, run with `make demo`.

     sn_demo [--https-port N] [--http-port N] [--redirect] [--cert FILE --key FILE]
             [--client-ca FILE] [--bind ADDR] [--max-conns N] [--max-body N]
             [--request-timeout-ms N] [--idle-timeout-ms N] [--verbose]

   Routes: GET / (dashboard), GET /api/status, GET /api/hello/:name,
   POST /api/echo, GET /files/ *, GET /stream?n=N. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_app.h" /* the routes, shared with the lwIP demo */

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
  (void) sig;
  stop_requested = 1;
}

static void log_stderr(void *user, int level, const char *msg) {
  static const char *const names[] = {"", "error", "warn", "info", "debug"};
  (void) user;
  fprintf(stderr, "sn_demo: %s: %s\n", names[level], msg);
}

static void usage(void) {
  fprintf(stderr,
          "usage: sn_demo [--https-port N] [--http-port N] [--redirect] [--cert FILE --key FILE]\n"
          "               [--client-ca FILE] [--bind ADDR] [--max-conns N] [--max-body N]\n"
          "               [--request-timeout-ms N] [--idle-timeout-ms N] [--verbose]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *cert = "build/certs/server.pem", *key = "build/certs/server.key", *client_ca = NULL;
  const char *bind = "127.0.0.1";
  unsigned https_port = 8443, http_port = 0;
  int redirect = 0, verbose = 0, i, r;
  long max_conns = 0;
  unsigned long max_body = 2ul << 20, request_timeout = 0, idle_timeout = 0;
  sn_mgr *mgr;
  sn_mgr_opts mo;
  sn_http_opts ho;
  sn_tls_opts tls;
  static sn_router router;
  struct sigaction sa;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--redirect") == 0) redirect = 1;
    else if (strcmp(a, "--verbose") == 0) verbose = 1;
    else if (v == NULL) usage();
    else if (strcmp(a, "--https-port") == 0) https_port = (unsigned) atoi(v), i++;
    else if (strcmp(a, "--http-port") == 0) http_port = (unsigned) atoi(v), i++;
    else if (strcmp(a, "--cert") == 0) cert = v, i++;
    else if (strcmp(a, "--key") == 0) key = v, i++;
    else if (strcmp(a, "--client-ca") == 0) client_ca = v, i++;
    else if (strcmp(a, "--bind") == 0) bind = v, i++;
    else if (strcmp(a, "--max-conns") == 0) max_conns = atol(v), i++;
    else if (strcmp(a, "--max-body") == 0) max_body = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--request-timeout-ms") == 0) request_timeout = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--idle-timeout-ms") == 0) idle_timeout = strtoul(v, NULL, 10), i++;
    else usage();
  }
  if (https_port == 0 || https_port > 65535 || http_port > 65535) usage();

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns at once */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  memset(&mo, 0, sizeof mo);
  mo.port = sn_posix_port();
  mo.log = log_stderr;
  mo.log_level = verbose ? SN_LOG_DEBUG : SN_LOG_WARN;
  mo.max_conns = (int) max_conns;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    fprintf(stderr, "sn_demo: cannot start: %s\n", sn_strerror(r));
    return 1;
  }
  demo_routes(&router, mgr);

  memset(&tls, 0, sizeof tls);
  tls.cert_file = cert;
  tls.key_file = key;
  tls.client_ca_file = client_ca;

  memset(&ho, 0, sizeof ho);
  ho.addr = bind;
  ho.router = &router;
  ho.max_body = max_body;
  ho.max_reply = max_body + 4096;
  ho.request_timeout_ms = (uint32_t) request_timeout;
  ho.idle_timeout_ms = (uint32_t) idle_timeout;
  ho.port = (uint16_t) https_port;
  ho.tls = &tls;
  if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
    fprintf(stderr, "sn_demo: HTTPS on %s:%u: %s\n", bind, https_port, sn_strerror(r));
    sn_mgr_destroy(mgr);
    return 1;
  }
  if (http_port) {
    ho.port = (uint16_t) http_port;
    ho.tls = NULL;
    ho.redirect_to_https = redirect ? (uint16_t) https_port : 0;
    if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
      fprintf(stderr, "sn_demo: HTTP on %s:%u: %s\n", bind, http_port, sn_strerror(r));
      sn_mgr_destroy(mgr);
      return 1;
    }
  }
  {
    const char *lb = strchr(bind, ':') ? "[" : "", *rb = strchr(bind, ':') ? "]" : "";
    printf("sn_demo: listening on https://%s%s%s:%u/", lb, bind, rb, https_port);
    if (http_port) printf(" and http://%s%s%s:%u/%s", lb, bind, rb, http_port, redirect ? " (redirecting)" : "");
  }
  printf("\n");
  fflush(stdout);

  while (!stop_requested) sn_poll(mgr, 1000);
  sn_mgr_destroy(mgr);
  printf("sn_demo: stopped\n");
  return 0;
}
