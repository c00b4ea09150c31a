/* host_lwip.h - what a board would provide, done on a Linux PC so that the
   lwIP examples run against a real lwIP stack on a TAP interface:
   - the network interface: host_tap.c (bare metal, NO_SYS=1) or lwIP's own
     threaded tapif from its unix port (RTOS mode, NO_SYS=0, rtos/lwipopts.h);
   - entropy (getrandom(): the PC's stand-in for a TRNG), the wall clock
     (time(): the stand-in for an RTC), sys_now() and LWIP_RAND;
   - the command-line options --tap IFNAME --ip A --netmask M --gw G [--dns D].
   Include it first, before securenet.h. On a board, replace this file with
   the board's own: each function here says what its counterpart does. */
#ifndef HOST_LWIP_H
#define HOST_LWIP_H

#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "lwip/stats.h"
#include "lwip/memp.h"
#include "lwip/dns.h"
#include "lwip/ip4_addr.h"
#if NO_SYS
#include "netif/ethernet.h"
#include "host_tap.h"
#else
#include "lwip/tcpip.h"
#include "netif/tapif.h"
#endif

typedef struct host_net {
  const char *tap, *ip, *mask, *gw, *dns;
  struct netif netif;
} host_net;

/* The TRNG. A board reads its RNG peripheral here; it must never fall back
   to a clock or a counter. 0 on success. */
static int host_entropy(unsigned char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = getrandom(buf, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n, len -= (size_t) n;
  }
  return 0;
}

/* The RTC (or SNTP): seconds since 1970 UTC, -1 while unknown. */
static int64_t host_wall_s(void) { return (int64_t) time(NULL); }

#if NO_SYS
/* lwIP's millisecond clock: a board counts SysTick interrupts. */
u32_t sys_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (u32_t) ((uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u);
}
#endif

/* LWIP_RAND (DNS ids, local ports), from the same TRNG. */
uint32_t example_lwip_rand(void) {
  uint32_t r = 0;
  if (host_entropy((unsigned char *) &r, sizeof r) != 0) abort();
  return r;
}

/* Takes --tap, --ip, --netmask, --gw and --dns out of argv (the rest is the
   program's own). Returns 0, or -1 when --tap or --ip is missing. */
static int host_net_args(int *argc, char **argv, host_net *n) {
  int i, j = 1;
  memset(n, 0, sizeof *n);
  n->mask = "255.255.255.0";
  for (i = 1; i < *argc; i++) {
    const char *a = argv[i], **dst = NULL;
    if (strcmp(a, "--tap") == 0) dst = &n->tap;
    else if (strcmp(a, "--ip") == 0) dst = &n->ip;
    else if (strcmp(a, "--netmask") == 0) dst = &n->mask;
    else if (strcmp(a, "--gw") == 0) dst = &n->gw;
    else if (strcmp(a, "--dns") == 0) dst = &n->dns;
    if (dst != NULL && i + 1 < *argc) *dst = argv[++i];
    else argv[j++] = argv[i];
  }
  argv[j] = NULL;
  *argc = j;
  return n->tap != NULL && n->ip != NULL ? 0 : -1;
}

#if !NO_SYS
static void host_tcpip_ready(void *arg) { sys_sem_signal((sys_sem_t *) arg); }
#endif

/* Starts lwIP and brings the interface up with a static address. */
static int host_net_start(host_net *n) {
  ip4_addr_t ip, mask, gw;
  struct netif *ok;
  if (!ip4addr_aton(n->ip, &ip) || !ip4addr_aton(n->mask, &mask) || !ip4addr_aton(n->gw ? n->gw : "0.0.0.0", &gw)) {
    fprintf(stderr, "bad --ip, --netmask or --gw\n");
    return -1;
  }
#if NO_SYS
  lwip_init();
  ok = netif_add(&n->netif, &ip, &mask, &gw, (void *) n->tap, host_tap_init, ethernet_input);
#else
  {
    sys_sem_t ready;
    setenv("PRECONFIGURED_TAPIF", n->tap, 1); /* tapif opens it, and runs no ifconfig */
    if (sys_sem_new(&ready, 0) != ERR_OK) return -1;
    tcpip_init(host_tcpip_ready, &ready);
    sys_sem_wait(&ready);
    sys_sem_free(&ready);
  }
  LOCK_TCPIP_CORE();
  ok = netif_add(&n->netif, &ip, &mask, &gw, NULL, tapif_init, tcpip_input);
#endif
  if (ok != NULL) {
    netif_set_default(&n->netif);
    netif_set_link_up(&n->netif);
    netif_set_up(&n->netif);
#if LWIP_DNS
    if (n->dns != NULL) {
      ip_addr_t d;
      if (ipaddr_aton(n->dns, &d)) dns_setserver(0, &d);
    }
#endif
  }
#if !NO_SYS
  UNLOCK_TCPIP_CORE();
#endif
  if (ok == NULL) {
    fprintf(stderr, "cannot bring up the TAP interface %s\n", n->tap);
    return -1;
  }
  return 0;
}

/* One turn of the bare-metal main loop's network part: the driver, then
   lwIP's timers. With an RTOS, lwIP's threads do this and it only sleeps. */
static void host_net_poll(host_net *n, int timeout_ms) {
#if NO_SYS
  host_tap_poll(&n->netif, timeout_ms);
  sys_check_timeouts();
#else
  (void) n;
  (void) timeout_ms;
#endif
}

/* Lets the last segments go out before the process ends (bare metal: the
   driver and lwIP's timers run only when polled). */
static void host_net_drain(host_net *n) {
  int i;
  for (i = 0; NO_SYS && i < 50; i++) host_net_poll(n, 1);
}

#if NO_SYS
#define HOST_DROPPED() host_tap_dropped()
#else
#define HOST_DROPPED() 0ul /* lwIP's tapif counts none */
#endif

/* lwIP's pool high-water marks, one line. */
static void host_net_stats(const char *prog) {
#if LWIP_STATS && MEMP_STATS && MEM_STATS
  printf("%s: stats: pbuf_pool max %u of %u (errors %u), tcp_pcb max %u of %u (errors %u), tcp_seg max %u of %u, "
         "heap max %u of %u bytes (errors %u), frames dropped %lu\n",
         prog, (unsigned) lwip_stats.memp[MEMP_PBUF_POOL]->max, (unsigned) lwip_stats.memp[MEMP_PBUF_POOL]->avail,
         (unsigned) lwip_stats.memp[MEMP_PBUF_POOL]->err, (unsigned) lwip_stats.memp[MEMP_TCP_PCB]->max,
         (unsigned) lwip_stats.memp[MEMP_TCP_PCB]->avail, (unsigned) lwip_stats.memp[MEMP_TCP_PCB]->err,
         (unsigned) lwip_stats.memp[MEMP_TCP_SEG]->max,
         (unsigned) lwip_stats.memp[MEMP_TCP_SEG]->avail, (unsigned) lwip_stats.mem.max, (unsigned) lwip_stats.mem.avail,
         (unsigned) lwip_stats.mem.err, HOST_DROPPED());
#else
  printf("%s: stats: (lwIP's pools are malloc'd in this build: no high-water marks)\n", prog);
#endif
  fflush(stdout);
}

/* main() of a command-line tool compiled onto lwIP (sn_sendmail_lwip,
   sn_fetch_lwip): the --tap options, the interface, the tool itself, the last
   segments, and lwIP's pool marks when SN_LWIP_STATS is set. start_failed is
   the tool's exit status when the interface does not come up. */
static inline int host_tool_main(int argc, char **argv, host_net *n, const char *name, const char *args, int start_failed,
                                 int (*tool)(int, char **)) {
  int r;
  if (host_net_args(&argc, argv, n) != 0) {
    fprintf(stderr, "usage: %s --tap IFNAME --ip A [--netmask M] [--gw G] [--dns D] %s\n", name, args);
    return 2;
  }
  if (host_net_start(n) != 0) return start_failed;
  r = tool(argc, argv);
  host_net_drain(n);
  if (getenv("SN_LWIP_STATS") != NULL) host_net_stats(name);
  return r;
}

#endif /* HOST_LWIP_H */
