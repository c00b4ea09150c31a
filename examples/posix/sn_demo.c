/* sn_demo - securenet's quick-start example and test target.

   A small device dashboard and JSON API over HTTPS (and, optionally, plain
   HTTP beside it). Build with `make examples`, run with `make demo`.

     sn_demo [--https-port N] [--http-port N] [--redirect] [--cert FILE --key FILE]
             [--client-ca FILE] [--bind ADDR] [--max-conns N] [--max-body N]
             [--request-timeout-ms N] [--idle-timeout-ms N] [--handshake-timeout-ms N]
             [--hsts SECONDS] [--verbose]

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

int main(int argc, char **argv) {
  demo_config cfg = {"sn_demo", "build/certs/server.pem", "build/certs/server.key", NULL, "127.0.0.1", 8443, 0, 0, 0, 0,
                     2ul << 20, 0, 0, 0, 0};
  sn_mgr *mgr;
  sn_mgr_opts mo;
  int r;

  if (demo_parse(argc, argv, &cfg) != 0) {
    fprintf(stderr, "usage: sn_demo " DEMO_OPTIONS_HELP "\n");
    return 2;
  }
  demo_catch_signals();
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
  if (demo_listen(mgr, &cfg, "*") != SN_OK) {
    sn_mgr_destroy(mgr);
    return 1;
  }
  while (!demo_stop) sn_poll(mgr, 1000);
  sn_mgr_destroy(mgr);
  printf("sn_demo: stopped\n");
  return 0;
}
