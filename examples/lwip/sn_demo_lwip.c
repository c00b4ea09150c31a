/* sn_demo_lwip - the sn_demo dashboard and API served by securenet on lwIP.

   The program a device runs, in the shape of a bare-metal main loop: bring
   up lwIP and the network interface, create the manager with the lwIP port,
   listen, then loop { driver; lwIP timers; sn_poll(mgr, 0) }. On a PC the
   "driver" is a TAP device (host_tap.c), so the same loop is tested with real
   clients; built against an RTOS-style lwIP (NO_SYS=0), lwIP runs in its own
   threads and this thread just calls sn_poll(mgr, timeout).

     sn_demo_lwip --tap IFNAME --ip A [--netmask M] [--gw G]
                  [--https-port N (443)] [--http-port N] [--redirect]
                  [--cert FILE --key FILE] [--client-ca FILE] [--max-conns N]
                  [--request-timeout-ms N] [--idle-timeout-ms N] [--verbose]

   A board has no files: there the certificate and key come compiled in, from
   tools/sn-certgen's C header (tls.cert = ..., tls.cert_len = ...). */
#include "host_lwip.h" /* the board: TAP interface, entropy, clocks */

#define SN_LWIP_ENTROPY(buf, len) host_entropy(buf, len)
#define SN_LWIP_WALL_S() host_wall_s()
/* Connections lwIP has accepted while all SN_MAX_CONNS are busy wait here
   (a pcb and a socket each, about 200 bytes, plus what they sent). The tests
   open 50 at once; a board would keep the default 4 and let SYNs wait. */
#define SN_LWIP_BACKLOG 40
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_lwip.h"

#include <signal.h>

#include "demo_app.h" /* the same routes as the POSIX sn_demo */

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
  (void) sig;
  stop_requested = 1;
}

static void log_stdout(void *user, int level, const char *msg) {
  static const char *const names[] = {"", "error", "warn", "info", "debug"};
  (void) user;
  fprintf(stderr, "sn_demo_lwip: %s: %s\n", names[level], msg);
}

static void usage(void) {
  fprintf(stderr, "usage: sn_demo_lwip --tap IFNAME --ip A [--netmask M] [--gw G] [--https-port N] [--http-port N]\n"
                  "                    [--redirect] [--cert FILE --key FILE] [--client-ca FILE] [--max-conns N]\n"
                  "                    [--request-timeout-ms N] [--idle-timeout-ms N] [--verbose]\n");
  exit(2);
}

int main(int argc, char **argv) {
  static host_net net;
  static sn_lwip lw; /* the port's state: sockets and their queued pbufs */
  static sn_router router;
  const char *cert = "build/certs/server.pem", *key = "build/certs/server.key", *client_ca = NULL;
  unsigned https_port = 443, http_port = 0;
  int redirect = 0, verbose = 0, i, r;
  long max_conns = 0;
  unsigned long request_timeout = 0, idle_timeout = 0;
  sn_mgr *mgr;
  sn_mgr_opts mo;
  sn_http_opts ho;
  sn_tls_opts tls;
  sn_mgr_stats st;
  sn_lwip_stats ls;
  struct sigaction sa;

  if (host_net_args(&argc, argv, &net) != 0) usage();
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
    else if (strcmp(a, "--max-conns") == 0) max_conns = atol(v), i++;
    else if (strcmp(a, "--request-timeout-ms") == 0) request_timeout = strtoul(v, NULL, 10), i++;
    else if (strcmp(a, "--idle-timeout-ms") == 0) idle_timeout = strtoul(v, NULL, 10), i++;
    else usage();
  }
  if (https_port == 0 || https_port > 65535 || http_port > 65535) usage();
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  if (host_net_start(&net) != 0) return 1;

  memset(&mo, 0, sizeof mo);
  mo.port = sn_lwip_port(&lw);
  mo.log = log_stdout;
  mo.log_level = verbose ? SN_LOG_DEBUG : SN_LOG_WARN;
  mo.max_conns = (int) max_conns;
  if (mo.port == NULL || (r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    fprintf(stderr, "sn_demo_lwip: cannot start: %s\n", sn_strerror(mo.port ? r : SN_ERR_NOMEM));
    return 1;
  }
  demo_routes(&router, mgr);

  memset(&tls, 0, sizeof tls);
  tls.cert_file = cert;
  tls.key_file = key;
  tls.client_ca_file = client_ca;
  memset(&ho, 0, sizeof ho);
  ho.router = &router;
  ho.max_body = 2ul << 20;
  ho.max_reply = ho.max_body + 4096;
  ho.request_timeout_ms = (uint32_t) request_timeout;
  ho.idle_timeout_ms = (uint32_t) idle_timeout;
  ho.port = (uint16_t) https_port;
  ho.tls = &tls;
  if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
    fprintf(stderr, "sn_demo_lwip: HTTPS on port %u: %s\n", https_port, sn_strerror(r));
    sn_mgr_destroy(mgr);
    return 1;
  }
  if (http_port) {
    ho.port = (uint16_t) http_port;
    ho.tls = NULL;
    ho.redirect_to_https = redirect ? (uint16_t) https_port : 0;
    if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
      fprintf(stderr, "sn_demo_lwip: HTTP on port %u: %s\n", http_port, sn_strerror(r));
      sn_mgr_destroy(mgr);
      return 1;
    }
  }
  printf("sn_demo_lwip: listening on https://%s:%u/", net.ip, https_port);
  if (http_port) printf(" and http://%s:%u/%s", net.ip, http_port, redirect ? " (redirecting)" : "");
  printf("\n");
  fflush(stdout);

  /* The main loop. On a board: no waiting at all (poll the MAC, run lwIP's
     timers, run securenet). Here the driver may sleep up to 5 ms in poll()
     when no frame is waiting, so an idle demo does not spin a PC core. */
  while (!stop_requested) {
    host_net_poll(&net, NO_SYS ? 5 : 0); /* with an RTOS: nothing, lwIP's threads do it */
    sn_poll(mgr, NO_SYS ? 0 : 200);      /* with an RTOS: sleeps until lwIP's thread has news */
  }
  sn_mgr_stats_get(mgr, &st);
  sn_lwip_stats_get(&lw, &ls);
  sn_mgr_destroy(mgr);
#if NO_SYS
  for (i = 0; i < 50; i++) host_net_poll(&net, 1); /* let the closes go out */
#endif
  host_net_stats("sn_demo_lwip");
  printf("sn_demo_lwip: stats: %lu connections, %lu requests, port sockets max %u, refused for a full table %lu\n",
         st.accepted, st.requests, ls.sockets_peak, ls.refused);
  printf("sn_demo_lwip: stopped\n");
  return 0;
}
