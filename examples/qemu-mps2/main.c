/* main.c - sn_mps2: securenet's dashboard and JSON API over HTTPS, as a
   bare-metal Cortex-M4 firmware on QEMU's mps2-an386 board.

   The same routes as the POSIX sn_demo (examples/common/demo_app.h), on port
   443, with lwIP's raw API (NO_SYS=1) on a LAN9118 Ethernet controller and
   mbedTLS 3.6 in its minimal MCU configuration. The certificate and key are
   compiled in from tools/sn-certgen's build/certs/certs.h (development
   certificates: the server's names are localhost and 127.0.0.1, which is
   where QEMU's user network forwards the host port).

   The hooks securenet_port_lwip.h asks of a board are defined just below,
   before the implementation; board.h says where each comes from on this
   board and what a real one uses instead. The main loop has the shape the
   lwIP port documents: Ethernet driver, lwIP's timers, sn_poll(mgr, 0), and
   a WFI when nothing happened, so that QEMU does not spin a host core.

   Console (UART0, QEMU's stdio with -nographic): one-letter commands
     m   memory: heap peak and in use, malloc arena, deepest stack, lwIP pools
     r   start a new heap peak from what is in use now (to measure one phase)
     s   statistics: connections, requests, handshake failures, frames
     q   stop cleanly: close every connection, print memory and statistics,
         end the emulation (QEMU exits with status 0)
   GET /api/memory returns the memory figures as JSON and prints them on the
   console too.

   Network (QEMU user networking, -nic user,net=198.18.9.0/24): the guest is
   198.18.9.15/24 (the address QEMU's DHCP would give first, and where a
   hostfwd without a guest address points), gateway 198.18.9.2 (the host). */
#define _POSIX_C_SOURCE 200809L /* demo_app.h's signal code (unused here) needs POSIX's declarations */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "lan9118.h"

/* ---- the hooks securenet_port_lwip.h requires -------------------------- */
/* Entropy: the board's only source is the emulator's (board.h). Without it
   (-DSN_MPS2_NO_SEMIHOSTING) SN_LWIP_ENTROPY stays undefined and the port
   header below stops the build. */
#ifdef BOARD_HAS_ENTROPY
#define SN_LWIP_ENTROPY(buf, len) board_entropy(buf, len)
#endif
/* Wall clock for certificate dates: SYS_TIME at boot plus SysTick. */
#define SN_LWIP_WALL_S() board_wall_s()
/* Allocations counted, for the heap high-water mark. */
#define SN_MALLOC(n) board_malloc(n)
#define SN_FREE(p) board_free(p)
/* A streamed request body (PUT /api/upload) arrives in pieces of 2 KiB: a
   1 MiB upload holds its head plus 2 KiB, not 4 (the default), beside the
   TLS records. */
#define SN_BODY_PIECE 2048

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

/* The demo's routes. Its command-line and signal helpers are for the hosted
   programs: unused here, and not a warning. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include "demo_app.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#ifndef SN_MPS2_IP
#define SN_MPS2_IP "198.18.9.15"
#endif
#ifndef SN_MPS2_NETMASK
#define SN_MPS2_NETMASK "255.255.255.0"
#endif
#ifndef SN_MPS2_GW
#define SN_MPS2_GW "198.18.9.2"
#endif
#define HTTPS_PORT 443
#define MAX_BODY 65536 /* POST /api/echo takes and returns up to 64 KiB */

/* ---- what lwIP and mbedTLS need from the board ---------------------------- */
/* lwIP's millisecond clock (NO_SYS=1). */
u32_t sys_now(void) { return board_ms(); }

/* mbedTLS's millisecond clock (MBEDTLS_PLATFORM_MS_TIME_ALT in the minimal
   config): TLS 1.3 ticket ages. */
mbedtls_ms_time_t mbedtls_ms_time(void) { return (mbedtls_ms_time_t) board_ms64(); }

#ifdef SN_LWIP_ENTROPY
/* lwIP's LWIP_RAND() (lwipopts.h): TCP initial sequence numbers and local
   ports, from the same entropy source. */
uint32_t example_lwip_rand(void) {
  uint32_t r;
  if (SN_LWIP_ENTROPY(&r, sizeof r) != 0) board_stop(0); /* no entropy, no network */
  return r;
}

/* PSA's random numbers (MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG in the minimal
   config: TLS 1.3 key shares): straight from the entropy source, which here
   is the host's CSPRNG. A board whose TRNG is slow or needs conditioning
   runs a CTR_DRBG seeded from it instead (mbedtls_ctr_drbg_seed with the
   TRNG as the entropy callback). */
psa_status_t mbedtls_psa_external_get_random(mbedtls_psa_external_random_context_t *ctx, uint8_t *out, size_t len,
                                             size_t *olen) {
  (void) ctx;
  if (SN_LWIP_ENTROPY(out, len) != 0) return PSA_ERROR_INSUFFICIENT_ENTROPY;
  *olen = len;
  return PSA_SUCCESS;
}
#endif

/* ---- memory and statistics, on the console and as JSON --------------------- */
static struct netif netif;
static sn_lwip lw; /* the port's sockets and queued pbufs */

static void print_memory(const char *when) {
  board_mem m;
  board_mem_get(&m);
  printf("sn_mps2: memory (%s): heap peak %u B, now %u B in %lu blocks (securenet + mbedTLS); "
         "malloc arena %u of %u B; stack deepest %u of %u B",
         when, (unsigned) m.heap_peak, (unsigned) m.heap_now, m.blocks_now, (unsigned) m.arena, (unsigned) m.arena_max,
         (unsigned) m.stack_deepest, (unsigned) m.stack_size);
#if LWIP_STATS && MEM_STATS && MEMP_STATS
  printf("; lwIP heap peak %u of %u B, pbuf pool peak %u of %u, tcp pcbs peak %u of %u",
         (unsigned) lwip_stats.mem.max, (unsigned) lwip_stats.mem.avail,
         (unsigned) lwip_stats.memp[MEMP_PBUF_POOL]->max, (unsigned) lwip_stats.memp[MEMP_PBUF_POOL]->avail,
         (unsigned) lwip_stats.memp[MEMP_TCP_PCB]->max, (unsigned) lwip_stats.memp[MEMP_TCP_PCB]->avail);
#endif
  printf("\n");
}

static void print_stats(sn_mgr *mgr) {
  sn_mgr_stats st;
  sn_lwip_stats ls;
  lan9118_stats es;
  sn_mgr_stats_get(mgr, &st);
  sn_lwip_stats_get(&lw, &ls);
  lan9118_stats_get(&es);
  printf("sn_mps2: stats: %lu connections (%u open), %lu requests, %lu handshake failures, %lu timeouts, "
         "%lu refused for memory; port sockets peak %u, refused %lu; frames in %lu, out %lu, dropped %lu, "
         "tx errors %lu, rx FIFO peak %lu frames\n",
         st.accepted, st.connections, st.requests, st.handshake_fails, st.timeouts, st.nomem, ls.sockets_peak,
         ls.refused, es.rx_frames, es.tx_frames, es.rx_dropped, es.tx_errors, es.rx_fifo_peak);
}

/* GET /api/memory */
static void api_memory(sn_conn *c, const sn_request *req, void *user) {
  board_mem m;
  (void) req, (void) user;
  board_mem_get(&m);
  print_memory("GET /api/memory");
  sn_http_json(c, 200,
               "{\"heap_peak\":%u,\"heap_now\":%u,\"heap_blocks\":%lu,\"arena\":%u,\"arena_max\":%u,"
               "\"stack_deepest\":%u,\"stack_size\":%u}\n",
               (unsigned) m.heap_peak, (unsigned) m.heap_now, m.blocks_now, (unsigned) m.arena,
               (unsigned) m.arena_max, (unsigned) m.stack_deepest, (unsigned) m.stack_size);
}

/* The firmware's log hook: securenet's warnings and errors on the console. */
static void log_line(void *user, int level, const char *msg) {
  static const char *const names[] = {"", "error", "warn", "info", "debug"};
  (void) user;
  printf("sn_mps2: %s: %s\n", names[level >= 0 && level <= 4 ? level : 0], msg);
}

/* One console byte: returns 1 for "stop". */
static int console_command(sn_mgr *mgr, int ch) {
  switch (ch) {
  case 'm': print_memory("on request"); break;
  case 'r':
    board_mem_reset_peak();
    printf("sn_mps2: heap peak reset\n");
    break;
  case 's': print_stats(mgr); break;
  case 'q': return 1;
  case '\r': case '\n': case ' ': break;
  default: printf("sn_mps2: console: m = memory, r = reset heap peak, s = statistics, q = stop\n"); break;
  }
  return 0;
}

/* ---- the firmware ---------------------------------------------------------- */
static int net_start(void) {
  ip4_addr_t ip, mask, gw;
  if (!ip4addr_aton(SN_MPS2_IP, &ip) || !ip4addr_aton(SN_MPS2_NETMASK, &mask) || !ip4addr_aton(SN_MPS2_GW, &gw))
    return -1;
  lwip_init();
  if (netif_add(&netif, &ip, &mask, &gw, NULL, lan9118_netif_init, ethernet_input) == NULL) return -1;
  netif_set_default(&netif);
  netif_set_up(&netif); /* with the link up: a gratuitous ARP tells the gateway where we are */
  printf("sn_mps2: eth %02x:%02x:%02x:%02x:%02x:%02x, %s/%s, gateway %s, link %s\n", netif.hwaddr[0],
         netif.hwaddr[1], netif.hwaddr[2], netif.hwaddr[3], netif.hwaddr[4], netif.hwaddr[5], SN_MPS2_IP,
         SN_MPS2_NETMASK, SN_MPS2_GW, netif_is_link_up(&netif) ? "up" : "down");
  return 0;
}

static int https_listen(sn_mgr *mgr) {
  static sn_router router;
  sn_tls_opts tls;
  sn_http_opts ho;
  int r;
  demo_routes(&router, mgr);
  sn_router_add(&router, "GET", "/api/memory", api_memory, NULL);
  memset(&tls, 0, sizeof tls);
  tls.cert = sn_dev_server_cert_pem; /* sizeof includes the NUL, as mbedTLS's PEM parser wants */
  tls.cert_len = sizeof sn_dev_server_cert_pem;
  tls.key = sn_dev_server_key_pem;
  tls.key_len = sizeof sn_dev_server_key_pem;
  memset(&ho, 0, sizeof ho);
  ho.port = HTTPS_PORT;
  ho.router = &router;
  ho.tls = &tls; /* copied by sn_http_listen */
  ho.max_body = MAX_BODY;
  ho.max_reply = MAX_BODY + 4096; /* the echo's body and its headers */
  if ((r = sn_http_listen(mgr, &ho)) != SN_OK) {
    printf("sn_mps2: HTTPS on port %d: %s\n", HTTPS_PORT, sn_strerror(r));
    return r;
  }
  printf("sn_mps2: listening on https://%s:%d/\n", SN_MPS2_IP, HTTPS_PORT);
  return SN_OK;
}

int main(void) {
  sn_mgr *mgr;
  sn_mgr_opts mo;
  int r, stop = 0;
  uint32_t until;
  board_init();
  printf("\nsn_mps2: securenet %s on mps2-an386 (Cortex-M4), lwIP %s, mbedTLS %s\n", "v0.1.0", LWIP_VERSION_STRING,
         MBEDTLS_VERSION_STRING);
  printf("sn_mps2: entropy: the host's /dev/urandom through semihosting (EMULATION ONLY; a board reads its TRNG)\n");
  printf("sn_mps2: wall clock: %ld s since 1970 (semihosting SYS_TIME at boot, then SysTick)\n", (long) board_wall_s());

  /* mbedTLS allocates through the counted allocator too; before anything
     of mbedTLS runs (sn_mgr_create initialises PSA). */
  mbedtls_platform_set_calloc_free(board_calloc, board_free);

  if (net_start() != 0) {
    printf("sn_mps2: no network: the LAN9118 does not answer\n");
    board_stop(0);
  }
  memset(&mo, 0, sizeof mo);
  mo.port = sn_lwip_port(&lw);
  mo.log = log_line;
  mo.log_level = SN_LOG_WARN;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    printf("sn_mps2: cannot start: %s\n", sn_strerror(r));
    board_stop(0);
  }
  if (https_listen(mgr) != SN_OK) board_stop(0);
  print_memory("listening");
  printf("sn_mps2: console: m = memory, r = reset heap peak, s = statistics, q = stop\n");

  /* The main loop: nothing in it waits, except WFI when there was nothing to do. */
  while (!stop) {
    int ch, frames = lan9118_poll(&netif, 8);
    sys_check_timeouts();
    sn_poll(mgr, 0);
    while (!stop && (ch = board_uart_getc()) >= 0) stop = console_command(mgr, ch);
    board_idle(frames > 0 || lan9118_rx_pending());
  }

  printf("sn_mps2: stopping\n");
  print_stats(mgr);
  sn_mgr_destroy(mgr);
  /* Let the closes (close_notify, FIN) go out: the driver and lwIP's
     timers run only when called. */
  for (until = board_ms() + 200; (int32_t) (until - board_ms()) > 0;) {
    lan9118_poll(&netif, 8);
    sys_check_timeouts();
  }
  print_memory("stopped");
  printf("sn_mps2: stopped\n");
  fflush(stdout);
  board_stop(1);
}
