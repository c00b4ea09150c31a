/* sn_sendmail_lwip - sn_sendmail on lwIP: the same command line and exit
   status as examples/posix/sn_sendmail.c (this file compiles that one), with
   the mail going out through lwIP on a TAP interface instead of the host's
   sockets:

     sn_sendmail_lwip --tap IFNAME --ip A [--netmask M] [--gw G] [--dns D]
                      (then sn_sendmail's options: --server --port --mode ...)

   The main loop is the bare-metal one: driver, lwIP timers, sn_poll(mgr, 0).
   A host name in --server is resolved by lwIP's DNS client (--dns).
   SN_LWIP_STATS=1 in the environment prints lwIP's pool high-water marks. */
#include "host_lwip.h"

#define SN_LWIP_ENTROPY(buf, len) host_entropy(buf, len)
#define SN_LWIP_WALL_S() host_wall_s()
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_lwip.h"

static host_net net;
static sn_lwip lw;

#define SN_SENDMAIL_POLL(mgr) (host_net_poll(&net, NO_SYS ? 5 : 0), sn_poll(mgr, NO_SYS ? 0 : 200))
#define SN_SENDMAIL_PORT() sn_lwip_port(&lw)
#define SN_SENDMAIL_MAIN sendmail_main
#include "../posix/sn_sendmail.c"

int main(int argc, char **argv) {
  return host_tool_main(argc, argv, &net, "sn_sendmail_lwip", "SN_SENDMAIL_OPTIONS...", 1, sendmail_main);
}
