/* feature_off.c - securenet built with every optional feature compiled out
   (SN_ENABLE_SMTP, _CLIENT, _PLAIN_HTTP, _LOG, _MULTIPART, _OTA, _AUTH, _WEBSOCKET and _SSE
   all 0; tests/check-build.sh builds and runs it): what is left still works, and what is
   gone says so at run time instead of doing something else. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"
#include <stdio.h>

static int log_lines;
static void count_log(void *user, int level, const char *line) {
  (void) user, (void) level, (void) line;
  log_lines++;
}
static void hello(sn_conn *c, const sn_request *req, void *user) {
  (void) req, (void) user;
  sn_http_reply(c, 200, NULL, "hi\n", 3);
}

int main(void) {
  sn_mgr *mgr;
  sn_mgr_opts mo = {0};
  sn_http_opts ho = {0};
  sn_tls_opts tls = {0};
  sn_router router;
  int r, fails = 0;
  mo.port = sn_posix_port();
  mo.log = count_log;
  mo.log_level = SN_LOG_DEBUG;
  if (sn_mgr_create(&mgr, &mo) != SN_OK) return 1;
  sn_router_init(&router);
  sn_router_add(&router, "GET", "/", hello, NULL);
  ho.port = 1;
  ho.router = &router;
  r = sn_http_listen(mgr, &ho);
  printf("%s - without SN_ENABLE_PLAIN_HTTP a listener without TLS is refused (%s)\n",
         r == SN_ERR_UNSUPPORTED ? "ok" : "not ok", sn_strerror(r));
  fails += r != SN_ERR_UNSUPPORTED;
  tls.cert = "not a certificate";
  tls.cert_len = 18;
  tls.key = "not a key";
  tls.key_len = 10;
  ho.tls = &tls;
  r = sn_http_listen(mgr, &ho);
  printf("%s - a TLS listener with a bad certificate still fails with its error (%s)\n",
         r == SN_ERR_CERT ? "ok" : "not ok", sn_strerror(r));
  fails += r != SN_ERR_CERT;
  printf("%s - without SN_ENABLE_LOG the log hook is never called (%d lines)\n", log_lines == 0 ? "ok" : "not ok",
         log_lines);
  fails += log_lines != 0;
  r = sn_poll(mgr, 0);
  printf("%s - sn_poll runs (%s)\n", r == SN_OK ? "ok" : "not ok", sn_strerror(r));
  fails += r != SN_OK;
  sn_mgr_destroy(mgr);
  return fails != 0;
}
