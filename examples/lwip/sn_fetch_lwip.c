/* sn_fetch_lwip - sn_fetch on lwIP: the same command line and exit status as
   examples/posix/sn_fetch.c (this file compiles that one), with the request
   going out through lwIP on a TAP interface:

     sn_fetch_lwip --tap IFNAME --ip A [--netmask M] [--gw G] [--dns D]
                   (then sn_fetch's options and URL)

   The main loop is the bare-metal one: driver, lwIP timers, sn_poll(mgr, 0).
   SN_LWIP_STATS=1 in the environment prints lwIP's pool high-water marks. */
#include "host_lwip.h"

#define SN_LWIP_ENTROPY(buf, len) host_entropy(buf, len)
#define SN_LWIP_WALL_S() host_wall_s()
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_lwip.h"

static host_net net;
static sn_lwip lw;

#define SN_FETCH_POLL(mgr) (host_net_poll(&net, NO_SYS ? 5 : 0), sn_poll(mgr, NO_SYS ? 0 : 200))
#define SN_FETCH_PORT() sn_lwip_port(&lw)
#define SN_FETCH_MAIN fetch_main
#include "../posix/sn_fetch.c"

int main(int argc, char **argv) {
  return host_tool_main(argc, argv, &net, "sn_fetch_lwip", "SN_FETCH_OPTIONS... URL", 7, fetch_main);
}
