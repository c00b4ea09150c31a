/* sn_demo - securenet's quick-start example and test target.

   A small device dashboard and JSON API over HTTPS (and, optionally, plain
   HTTP beside it). Build with `make examples`, run with `make demo`.

     sn_demo [--https-port N] [--http-port N] [--redirect] [--cert FILE --key FILE]
             [--client-ca FILE] [--bind ADDR] [--max-conns N] [--max-body N]
             [--request-timeout-ms N] [--idle-timeout-ms N] [--hsts SECONDS] [--verbose]

   Routes: GET / (dashboard), GET /api/status, GET /api/hello/:name,
   POST /api/echo, GET /files/ *, GET /stream?n=N, GET /api/blob?bytes=N.
   A Linux gateway has the memory for more connections than an MCU. */
#ifndef SN_MAX_CONNS
#define SN_MAX_CONNS 128
#endif
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"

#include "demo_app.h" /* the routes and options, shared with the lwIP demo */

int main(int argc, char **argv) {
  demo_config cfg = {"sn_demo", "build/certs/server.pem", "build/certs/server.key", NULL, "127.0.0.1", 8443, 0, 0, 0, 0,
                     2ul << 20, 0, 0, 0};
  sn_mgr *mgr;
  sn_mgr_opts mo;
  int r;

  if (demo_parse(argc, argv, &cfg) != 0) {
    fprintf(stderr, "usage: sn_demo " DEMO_OPTIONS_HELP "\n");
    return 2;
  }
  demo_catch_signals();

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
  if (demo_listen(mgr, &cfg, "*") != SN_OK) {
    sn_mgr_destroy(mgr);
    return 1;
  }
  while (!demo_stop) sn_poll(mgr, 1000);
  sn_mgr_destroy(mgr);
  printf("sn_demo: stopped\n");
  return 0;
}
