/* main.c - sn_lm3s: HTTPS in 64 KiB of RAM. securenet, lwIP and mbedTLS on
   the TI Stellaris LM3S6965 (Cortex-M3, 256 KiB flash, 64 KiB SRAM), as a
   bare-metal firmware for QEMU's lm3s6965evb board.

   Three routes on port 443 (what fits, and what a test needs):
     GET  /            "hello from sn_lm3s"
     GET  /api/status  JSON: the connection's TLS version and suite, the
                       heap now, its peak and its idle figure, the stack
     POST /api/echo    the body back, up to ECHO_MAX bytes (413 beyond)
   lwIP's raw API (NO_SYS=1) on the on-chip Ethernet MAC (enet.h), mbedTLS
   3.6 in the minimal MCU configuration (4 KiB records in, 2 KiB out), a
   session cache of SESSION_CACHE entries. The certificate and key are
   compiled in from tools/sn-certgen's build/certs/certs.h (development
   certificates for localhost and 127.0.0.1, where QEMU's user network
   forwards the host port).

   The hooks securenet_port_lwip.h asks of a board are defined just below,
   before the implementation; board.h says where each comes from on this
   board and what a real one uses instead. The main loop has the shape the
   lwIP port documents: the Ethernet driver, lwIP's timers, sn_poll(mgr, 0),
   and a WFI when nothing happened.

   Console (UART0, QEMU's stdio with -nographic): one-letter commands
     m   memory: heap peak and in use, malloc arena, deepest stack, lwIP pools
     r   start a new heap peak from what is in use now (to measure one phase)
     s   statistics: connections, requests, handshake failures, frames
     q   stop cleanly: close every connection, print memory and statistics,
         end the emulation (QEMU exits with status 0)

   Network (QEMU user networking, -nic user,net=198.18.0.0/24): the guest is
   198.18.0.15/24 (the address QEMU's DHCP would give first, and where a
   hostfwd without a guest address points), gateway 198.18.0.2 (the host). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "enet.h"

/* ---- the hooks securenet_port_lwip.h requires -------------------------- */
/* Entropy: the board's only source is the emulator's (board_common.h).
   Without it (-DBOARD_NO_SEMIHOSTING) SN_LWIP_ENTROPY stays undefined and
   the port header below stops the build. */
#ifdef BOARD_HAS_ENTROPY
#define SN_LWIP_ENTROPY(buf, len) board_entropy(buf, len)
#endif
/* Wall clock for certificate dates: SYS_TIME at boot plus SysTick. */
#define SN_LWIP_WALL_S() board_wall_s()
/* Allocations counted, for the heap high-water mark. */
#define SN_MALLOC(n) board_malloc(n)
#define SN_FREE(p) board_free(p)
/* Connections a listener holds while both SN_MAX_CONNS are busy (each is
   a pcb and a slot of the port, about 210 B). lwIP counts a connection
   against the backlog from its SYN on, so a burst of more SYNs than this
   drops the rest, and those clients wait for a retransmission (measured
   with 1 and with 2 and three clients at once: 1 to 6 s of a 0.1 s
   handshake). 4, the port's default, takes a burst of four. */
#ifndef SN_LWIP_BACKLOG
#define SN_LWIP_BACKLOG 4
#endif

#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_lwip.h"

#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include "mbedtls/platform.h"
#include "mbedtls/platform_time.h"
#include "mbedtls/version.h"
#include "netif/ethernet.h"
#include "psa/crypto.h"

#include "certs.h" /* tools/sn-certgen: sn_dev_server_cert_pem, sn_dev_server_key_pem */

#ifndef SN_LM3S_IP
#define SN_LM3S_IP "198.18.0.15"
#endif
#ifndef SN_LM3S_NETMASK
#define SN_LM3S_NETMASK "255.255.255.0"
#endif
#ifndef SN_LM3S_GW
#define SN_LM3S_GW "198.18.0.2"
#endif
#define HTTPS_PORT 443
/* The largest body POST /api/echo takes: the request head and body must
   fit one incoming TLS record (MBEDTLS_SSL_IN_CONTENT_LEN, 4096), because
   curl and OpenSSL send a small request with its body in one write, cut
   into records of up to 16 KiB. 3584 leaves 512 bytes for the head. */
#define ECHO_MAX 3584
/* TLS 1.2 sessions kept for resumption by id (measured: 170 B of heap
   each, allocated as clients come, up to this many; the default is 32);
   tickets need none. */
#define SESSION_CACHE 2

/* ---- what lwIP and mbedTLS need from the board ---------------------------- */
/* sys_now, mbedtls_ms_time, LWIP_RAND and PSA's random numbers: examples/baremetal/stack_hooks.c */

/* ---- memory and statistics, on the console and as JSON --------------------- */
static struct netif netif;
static sn_lwip lw;         /* the port's sockets and queued pbufs */
static size_t heap_idle;   /* heap in use once listening, before any client */

static void print_memory(const char *when) {
  board_mem m;
  board_mem_get(&m);
  printf(BOARD_NAME ": memory (%s): heap peak %u B, now %u B in %lu blocks (securenet + mbedTLS); "
         "malloc arena %u of %u B; stack deepest %u of %u B",
         when, (unsigned) m.heap_peak, (unsigned) m.heap_now, m.blocks_now, (unsigned) m.arena, (unsigned) m.arena_max,
         (unsigned) m.stack_deepest, (unsigned) m.stack_size);
#if LWIP_STATS && MEM_STATS && MEMP_STATS
  printf("; lwIP heap peak %u of %u B, pbuf pool peak %u of %u, tcp pcbs peak %u of %u",
         (unsigned) lwip_stats.mem.max, (unsigned) lwip_stats.mem.avail,
         (unsigned) lwip_stats.memp[MEMP_PBUF_POOL]->max, (unsigned) lwip_stats.memp[MEMP_PBUF_POOL]->avail,
         (unsigned) lwip_stats.memp[MEMP_TCP_PCB]->max, (unsigned) lwip_stats.memp[MEMP_TCP_PCB]->avail);
#if TCP_STATS
  printf("; tcp segments dropped %u, out of memory %u, pcb allocations failed %u", (unsigned) lwip_stats.tcp.drop,
         (unsigned) lwip_stats.tcp.memerr, (unsigned) lwip_stats.memp[MEMP_TCP_PCB]->err);
#endif
#endif
  printf("\n");
}

static void print_stats(sn_mgr *mgr) {
  sn_mgr_stats st;
  sn_lwip_stats ls;
  enet_stats es;
  sn_mgr_stats_get(mgr, &st);
  sn_lwip_stats_get(&lw, &ls);
  enet_stats_get(&es);
  printf(BOARD_NAME ": stats: %lu connections (%u open), %lu requests, %lu handshake failures, %lu timeouts, "
         "%lu refused for memory; port sockets peak %u, refused %lu; frames in %lu, out %lu, dropped %lu, "
         "tx errors %lu; rx ring peak %u of %u, full %lu times, restock failed %lu times\n",
         st.accepted, st.connections, st.requests, st.handshake_fails, st.timeouts, st.nomem, ls.sockets_peak,
         ls.refused, es.rx_frames, es.tx_frames, es.rx_dropped, es.tx_errors, es.rx_ring_peak, (unsigned) ENET_RX_RING,
         es.rx_ring_full, es.rx_no_pbuf);
}

/* ---- the routes ---------------------------------------------------------- */
static void page_hello(sn_conn *c, const sn_request *req, void *user) {
  static const char hello[] = "hello from sn_lm3s\n";
  (void) req, (void) user;
  sn_http_reply(c, 200, "Content-Type: text/plain\r\n", hello, sizeof hello - 1);
}

static void api_status(sn_conn *c, const sn_request *req, void *user) {
  char v[32] = "null", s[96] = "null";
  board_mem m;
  sn_mgr_stats st;
  (void) req;
  board_mem_get(&m);
  sn_mgr_stats_get((sn_mgr *) user, &st);
  if (sn_conn_is_tls(c)) {
    const char *ver = sn_conn_tls_version(c), *suite = sn_conn_tls_suite(c);
    sn_json_str(v, sizeof v, ver, strlen(ver));
    sn_json_str(s, sizeof s, suite, strlen(suite));
  }
  sn_http_json(c, 200,
               "{\"board\":\"lm3s6965\",\"uptime_ms\":%lu,\"connections\":%u,\"requests\":%lu,"
               "\"tls\":{\"version\":%s,\"suite\":%s},\"heap\":{\"now\":%u,\"peak\":%u,\"idle\":%u,\"blocks\":%lu,"
               "\"arena\":%u,\"arena_max\":%u},\"stack\":{\"deepest\":%u,\"size\":%u},\"echo_max\":%u}\n",
               (unsigned long) board_ms(), st.connections, st.requests, v, s, (unsigned) m.heap_now,
               (unsigned) m.heap_peak, (unsigned) heap_idle, m.blocks_now, (unsigned) m.arena, (unsigned) m.arena_max,
               (unsigned) m.stack_deepest, (unsigned) m.stack_size, (unsigned) ECHO_MAX);
}

static void api_echo(sn_conn *c, const sn_request *req, void *user) {
  (void) user;
  sn_http_reply(c, 200, "Content-Type: application/octet-stream\r\n", req->body.ptr, req->body.len);
}


/* One console byte: returns 1 for "stop". */
static int console_command(sn_mgr *mgr, int ch) {
  switch (ch) {
  case 'm': print_memory("on request"); break;
  case 'r':
    board_mem_reset_peak();
    printf(BOARD_NAME ": heap peak reset\n");
    break;
  case 's': print_stats(mgr); break;
  case 'q': return 1;
  case '\r': case '\n': case ' ': break;
  default: printf(BOARD_NAME ": console: m = memory, r = reset heap peak, s = statistics, q = stop\n"); break;
  }
  return 0;
}

/* ---- the firmware ---------------------------------------------------------- */
static int net_start(void) {
  ip4_addr_t ip, mask, gw;
  if (!ip4addr_aton(SN_LM3S_IP, &ip) || !ip4addr_aton(SN_LM3S_NETMASK, &mask) || !ip4addr_aton(SN_LM3S_GW, &gw))
    return -1;
  lwip_init();
  if (netif_add(&netif, &ip, &mask, &gw, NULL, enet_netif_init, ethernet_input) == NULL) return -1;
  netif_set_default(&netif);
  netif_set_up(&netif); /* with the link up: a gratuitous ARP tells the gateway where we are */
  printf(BOARD_NAME ": eth %02x:%02x:%02x:%02x:%02x:%02x, %s/%s, gateway %s, link %s\n", netif.hwaddr[0],
         netif.hwaddr[1], netif.hwaddr[2], netif.hwaddr[3], netif.hwaddr[4], netif.hwaddr[5], SN_LM3S_IP,
         SN_LM3S_NETMASK, SN_LM3S_GW, netif_is_link_up(&netif) ? "up" : "down");
  return 0;
}

static int https_listen(sn_mgr *mgr) {
  static sn_router router;
  sn_tls_opts tls;
  sn_http_opts ho;
  int r;
  sn_router_init(&router);
  sn_router_add(&router, "GET", "/", page_hello, NULL);
  sn_router_add(&router, "GET", "/api/status", api_status, mgr);
  sn_router_add(&router, "POST", "/api/echo", api_echo, NULL);
  memset(&tls, 0, sizeof tls);
  tls.cert = sn_dev_server_cert_pem; /* sizeof includes the NUL, as mbedTLS's PEM parser wants */
  tls.cert_len = sizeof sn_dev_server_cert_pem;
  tls.key = sn_dev_server_key_pem;
  tls.key_len = sizeof sn_dev_server_key_pem;
  tls.session_cache_size = SESSION_CACHE;
  memset(&ho, 0, sizeof ho);
  ho.port = HTTPS_PORT;
  ho.router = &router;
  ho.tls = &tls; /* copied by sn_http_listen */
  ho.max_body = ECHO_MAX;
  ho.max_reply = ECHO_MAX + 512; /* the echo's body and its head */
  if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
    printf(BOARD_NAME ": HTTPS on port %d: %s\n", HTTPS_PORT, sn_strerror(r));
    return r;
  }
  printf(BOARD_NAME ": listening on https://%s:%d/ (bodies up to %u B, %u connections, session cache %u)\n",
         SN_LM3S_IP, HTTPS_PORT, (unsigned) ECHO_MAX, (unsigned) SN_MAX_CONNS, (unsigned) SESSION_CACHE);
  return SN_OK;
}

int main(void) {
  sn_mgr *mgr;
  sn_mgr_opts mo;
  board_mem m;
  int r, stop = 0;
  uint32_t until;
  board_init();
  printf("\n" BOARD_NAME ": securenet %s on lm3s6965 (Cortex-M3, 64 KiB RAM), lwIP %s, mbedTLS %s\n", "v0.1.0",
         LWIP_VERSION_STRING, MBEDTLS_VERSION_STRING);
  printf(BOARD_NAME ": entropy: the host's /dev/urandom through semihosting (EMULATION ONLY; a board reads its TRNG)\n");
  printf(BOARD_NAME ": wall clock: %ld s since 1970 (semihosting SYS_TIME at boot, then SysTick)\n", (long) board_wall_s());

  /* mbedTLS allocates through the counted allocator too; before anything
     of mbedTLS runs (sn_mgr_create initialises PSA). */
  mbedtls_platform_set_calloc_free(board_calloc, board_free);

  if (net_start() != 0) {
    printf(BOARD_NAME ": no network: the Ethernet MAC does not answer\n");
    board_stop(0);
  }
  memset(&mo, 0, sizeof mo);
  mo.port = sn_lwip_port(&lw);
  mo.log = board_log; /* examples/baremetal/stack_hooks.c */
  mo.log_level = SN_LOG_WARN;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    printf(BOARD_NAME ": cannot start: %s\n", sn_strerror(r));
    board_stop(0);
  }
  if (https_listen(mgr) != SN_OK) board_stop(0);
  board_mem_get(&m);
  heap_idle = m.heap_now;
  print_memory("listening");
  printf(BOARD_NAME ": console: m = memory, r = reset heap peak, s = statistics, q = stop\n");

  /* The main loop: nothing in it waits, except WFI when there was nothing to do. */
  while (!stop) {
    int ch, frames = enet_poll(&netif);
    sys_check_timeouts();
    sn_poll(mgr, 0);
    while (!stop && (ch = board_uart_getc()) >= 0) stop = console_command(mgr, ch);
    board_idle(frames > 0 || enet_rx_pending());
  }

  printf(BOARD_NAME ": stopping\n");
  print_stats(mgr);
  sn_mgr_destroy(mgr);
  /* Let the closes (close_notify, FIN) go out: the driver and lwIP's
     timers run only when called. */
  for (until = board_ms() + 200; (int32_t) (until - board_ms()) > 0;) {
    enet_poll(&netif);
    sys_check_timeouts();
  }
  print_memory("stopped");
  printf(BOARD_NAME ": stopped\n");
  fflush(stdout);
  board_stop(1);
}
