/* lwip_cm4.c - a firmware-shaped translation unit for the Cortex-M4 build
   check (tests/check-build.sh): securenet + its lwIP port + lwIP (NO_SYS=1,
   examples/lwip/lwipopts.h) + mbedTLS, compiled with arm-none-eabi-gcc -Os
   -Werror and linked into an ELF. It is never run: the "board" below is
   registers at made-up addresses, enough to show that every symbol resolves
   and nothing in the port needs an operating system. */
#include <stdint.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "lwip/etharp.h"
#include "netif/ethernet.h"

/* The board: a TRNG data register, a millisecond tick, an Ethernet MAC. */
#define BOARD_TRNG_DATA (*(volatile uint32_t *) 0x50060808u)
#define BOARD_ETH_TX (*(volatile uint32_t *) 0x40028000u)
static volatile uint32_t board_ms; /* incremented by the SysTick handler */

static int board_trng_read(unsigned char *buf, size_t len) {
  while (len > 0) {
    uint32_t w = BOARD_TRNG_DATA;
    size_t n = len < 4 ? len : 4;
    memcpy(buf, &w, n);
    buf += n, len -= n;
  }
  return 0;
}

/* (the LWIP_CM4_* switches leave one requirement out, to see the build refuse) */
#ifndef LWIP_CM4_NO_ENTROPY
#define SN_LWIP_ENTROPY(buf, len) board_trng_read(buf, len)
#endif
#ifndef LWIP_CM4_NO_CLOCK_CHOICE
#define SN_LWIP_NO_WALL_CLOCK 1 /* no RTC on this board: certificate dates are not checked */
#endif
#ifdef LWIP_CM4_SMALL_WND
#undef TCP_WND
#define TCP_WND (4 * TCP_MSS) /* lwIP's default: smaller than a 16 KiB record */
#endif
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_lwip.h"

void SysTick_Handler(void);
void SysTick_Handler(void) { board_ms++; }
u32_t sys_now(void) { return board_ms; }
uint32_t example_lwip_rand(void) { return BOARD_TRNG_DATA; }
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PLATFORM_MS_TIME_ALT)
/* mbedTLS 3.6's millisecond clock, which a bare-metal build provides */
#include "mbedtls/platform_time.h"
mbedtls_ms_time_t mbedtls_ms_time(void) { return (mbedtls_ms_time_t) board_ms; }
#endif

static err_t board_eth_output(struct netif *netif, struct pbuf *p) {
  struct pbuf *q;
  (void) netif;
  for (q = p; q != NULL; q = q->next) {
    const uint8_t *b = (const uint8_t *) q->payload;
    u16_t i;
    for (i = 0; i < q->len; i++) BOARD_ETH_TX = b[i];
  }
  return ERR_OK;
}

static err_t board_eth_init(struct netif *netif) {
  netif->output = etharp_output;
  netif->linkoutput = board_eth_output;
  netif->mtu = 1500;
  netif->hwaddr_len = 6;
  memset(netif->hwaddr, 0x02, 6);
  netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n";

static void hello(sn_conn *c, const sn_request *req, void *user) {
  (void) req, (void) user;
  sn_http_printf(c, 200, "Content-Type: text/plain\r\n", "hello from a Cortex-M4\n");
}

int main(void) {
  static sn_lwip lw;
  static sn_router router;
  static struct netif netif;
  ip4_addr_t ip, mask, gw;
  sn_mgr *mgr;
  sn_mgr_opts mo;
  sn_http_opts ho;
  sn_tls_opts tls;

  lwip_init();
  IP4_ADDR(&ip, 198, 18, 0, 2);
  IP4_ADDR(&mask, 255, 255, 255, 0);
  IP4_ADDR(&gw, 198, 18, 0, 1);
  netif_add(&netif, &ip, &mask, &gw, NULL, board_eth_init, ethernet_input);
  netif_set_default(&netif);
  netif_set_up(&netif);

  memset(&mo, 0, sizeof mo);
  mo.port = sn_lwip_port(&lw);
  if (sn_mgr_create(&mgr, &mo) != SN_OK) return 1;
  sn_router_init(&router);
  sn_router_add(&router, "GET", "/", hello, NULL);
  memset(&tls, 0, sizeof tls);
  tls.cert = cert_pem, tls.cert_len = sizeof cert_pem;
  tls.key = key_pem, tls.key_len = sizeof key_pem;
  memset(&ho, 0, sizeof ho);
  ho.port = 443;
  ho.router = &router;
  ho.tls = &tls;
  if (sn_http_listen(mgr, &ho) != SN_OK) return 1;
  for (;;) {
    /* the MAC driver's receive poll would go here */
    sys_check_timeouts();
    sn_poll(mgr, 0);
  }
}
