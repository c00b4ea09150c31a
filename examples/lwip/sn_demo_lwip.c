/* sn_demo_lwip - the sn_demo dashboard and API served by securenet on lwIP.

   The program a device runs, in the shape of a bare-metal main loop: bring
   up lwIP and the network interface, create the manager with the lwIP port,
   listen, then loop { driver; lwIP timers; sn_poll(mgr, 0) }. On a PC the
   "driver" is a TAP device (host_tap.c), so the same loop is tested with real
   clients; built against an RTOS-style lwIP (NO_SYS=0), lwIP runs in its own
   threads and this thread just calls sn_poll(mgr, timeout).

     sn_demo_lwip --tap IFNAME --ip A [--netmask M] [--gw G]
                  then sn_demo's options (--https-port N, default 443 here, ...)

   A board has no files: there the certificate and key come compiled in, from
   tools/sn-certgen's C header (tls.cert = ..., tls.cert_len = ...). */
#include "host_lwip.h" /* the board: TAP interface, entropy, clocks */

#define SN_LWIP_ENTROPY(buf, len) host_entropy(buf, len)
#define SN_LWIP_WALL_S() host_wall_s()
/* Connections lwIP has accepted while all SN_MAX_CONNS are busy wait here
   (a pcb and a socket each, about 200 bytes, plus what they sent). The tests
   open 50 at once; a board would keep the default 4 and let SYNs wait. */
#ifndef SN_LWIP_BACKLOG
#define SN_LWIP_BACKLOG 40
#endif
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_lwip.h"

#include "demo_app.h" /* the same routes and options as the POSIX sn_demo */

int main(int argc, char **argv) {
  static host_net net;
  static sn_lwip lw; /* the port's state: sockets and their queued pbufs */
  demo_config cfg = {"sn_demo_lwip", "build/certs/server.pem", "build/certs/server.key", NULL, NULL, 443, 0, 0, 0, 0,
                     2ul << 20, 0, 0, 0, 0, 0};
  sn_mgr *mgr;
  sn_mgr_opts mo;
  sn_mgr_stats st;
  sn_lwip_stats ls;
  int r;

  if (host_net_args(&argc, argv, &net) != 0 || demo_parse(argc, argv, &cfg) != 0) {
    fprintf(stderr, "usage: sn_demo_lwip --tap IFNAME --ip A [--netmask M] [--gw G]\n"
                    "       " DEMO_OPTIONS_HELP "\n");
    return 2;
  }
  demo_catch_signals();
  if (host_net_start(&net) != 0) return 1;

  memset(&mo, 0, sizeof mo);
  mo.port = sn_lwip_port(&lw);
  mo.log = demo_log;
  mo.log_user = (void *) cfg.prog;
  mo.log_level = cfg.verbose ? SN_LOG_DEBUG : SN_LOG_WARN;
  mo.max_conns = (int) cfg.max_conns;
  if (mo.port == NULL || (r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    fprintf(stderr, "sn_demo_lwip: cannot start: %s\n", sn_strerror(mo.port ? r : SN_ERR_NOMEM));
    return 1;
  }
  if (demo_listen(mgr, &cfg, net.ip) != SN_OK) {
    sn_mgr_destroy(mgr);
    return 1;
  }

  /* The main loop. On a board: no waiting at all (poll the MAC, run lwIP's
     timers, run securenet). Here the driver may sleep up to 5 ms in poll()
     when no frame is waiting, so an idle demo does not spin a PC core. */
  while (!demo_stop) {
    host_net_poll(&net, NO_SYS ? 5 : 0); /* with an RTOS: nothing, lwIP's threads do it */
    sn_poll(mgr, NO_SYS ? 0 : 200);      /* with an RTOS: sleeps until lwIP's thread has news */
  }
  sn_mgr_stats_get(mgr, &st);
  sn_lwip_stats_get(&lw, &ls);
  sn_mgr_destroy(mgr);
  host_net_drain(&net); /* let the closes go out */
  host_net_stats("sn_demo_lwip");
  printf("sn_demo_lwip: stats: %lu connections, %lu requests, port sockets max %u, refused for a full table %lu\n",
         st.accepted, st.requests, ls.sockets_peak, ls.refused);
  printf("sn_demo_lwip: stopped\n");
  return 0;
}
