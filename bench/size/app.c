/* bench/size/app.c - a small firmware for `make size` (bench/size.sh): an
   HTTPS server on lwIP (bare metal, NO_SYS=1) serving one page from a
   static file table and one JSON route. SIZE_PLAIN adds a plain-HTTP
   listener that redirects to HTTPS, SIZE_MAIL a mail sent from a route,
   SIZE_CLIENT a byte-stream client connection, SIZE_HTTPC an HTTP request,
   SIZE_OTA a signed-update route (with SN_ENABLE_MULTIPART 0 or 1),
   SIZE_AUTH login: a compiled-in user, a guard on every route, the login
   and logout routes, SIZE_WS a WebSocket echo route (sn_ws_upgrade),
   SIZE_WSC a WebSocket client (sn_ws_connect, with SIZE_CLIENT), SIZE_SSE
   an event stream route (sn_sse_begin, sn_sse_send).
   It is linked, never run: the "board" is registers at made-up addresses,
   enough for every symbol to resolve and the linker to keep what a real
   application keeps. */
#include <stdint.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "lwip/etharp.h"
#include "netif/ethernet.h"
#include "mbedtls/build_info.h" /* the configuration: what the board must provide */
#include "securenet.h"
#include "securenet_port_lwip.h"

#define BOARD_TRNG_DATA (*(volatile uint32_t *) 0x50060808u)
#define BOARD_ETH_DATA (*(volatile uint32_t *) 0x40028000u)
static volatile uint32_t board_ms;

int board_trng_read(unsigned char *buf, size_t len);
int board_trng_read(unsigned char *buf, size_t len) {
  while (len > 0) {
    uint32_t w = BOARD_TRNG_DATA;
    size_t n = len < 4 ? len : 4;
    memcpy(buf, &w, n);
    buf += n, len -= n;
  }
  return 0;
}

void SysTick_Handler(void);
void SysTick_Handler(void) { board_ms++; }
u32_t sys_now(void) { return board_ms; }
uint32_t example_lwip_rand(void) { return BOARD_TRNG_DATA; }
#if defined(MBEDTLS_PLATFORM_MS_TIME_ALT)
#include "mbedtls/platform_time.h"
mbedtls_ms_time_t mbedtls_ms_time(void) { return (mbedtls_ms_time_t) board_ms; }
#endif
#if defined(MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG)
#include "psa/crypto.h"
psa_status_t mbedtls_psa_external_get_random(mbedtls_psa_external_random_context_t *ctx, uint8_t *out,
                                             size_t len, size_t *olen) {
  (void) ctx;
  board_trng_read(out, len);
  *olen = len;
  return PSA_SUCCESS;
}
#endif

static err_t board_eth_output(struct netif *netif, struct pbuf *p) {
  struct pbuf *q;
  (void) netif;
  for (q = p; q != NULL; q = q->next) {
    const uint8_t *b = (const uint8_t *) q->payload;
    u16_t i;
    for (i = 0; i < q->len; i++) BOARD_ETH_DATA = b[i];
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

/* A received frame would be handed to lwIP here (the MAC driver's poll). */
static void board_eth_poll(struct netif *netif) {
  struct pbuf *p;
  uint32_t len = BOARD_ETH_DATA & 0x7ff;
  if (len == 0) return;
  p = pbuf_alloc(PBUF_RAW, (u16_t) len, PBUF_POOL);
  if (p == NULL) return;
  if (netif->input(p, netif) != ERR_OK) pbuf_free(p);
}

static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n";
static const unsigned char index_html[] = "<!doctype html><title>device</title><p>hello</p>\n";
static const sn_static_file files[] = {{"/index.html", index_html, sizeof index_html - 1, NULL, 0, "\"1\""}};

static void serve_file(sn_conn *c, const sn_request *req, void *user) {
  sn_http_static(c, req, (const sn_static_file *) user);
}

static void api_status(sn_conn *c, const sn_request *req, void *user) {
  (void) req, (void) user;
  sn_http_printf(c, 200, "Content-Type: application/json\r\n", "{\"uptime_ms\":%lu}\n", (unsigned long) board_ms);
}

#if defined(SIZE_MAIL) || defined(SIZE_CLIENT) || defined(SIZE_HTTPC) || defined(SIZE_WSC)
static const sn_tls_client_opts roots = {cert_pem, sizeof cert_pem, NULL, NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL};
#endif

#ifdef SIZE_MAIL
static void mail_done(void *user, const sn_mail *m, const sn_mail_result *r) { (void) user, (void) m, (void) r; }
static void api_mail(sn_conn *c, const sn_request *req, void *user) {
  static sn_smtp_server srv;
  static sn_mail mail;
  static sn_mail_addr from = {"device", "device@example.com"}, to = {NULL, "ops@example.com"};
  (void) req, (void) user;
  srv.host = "mail.example.com";
  srv.mode = SN_SMTP_TLS;
  srv.ca = roots.ca, srv.ca_len = roots.ca_len;
  mail.from = from;
  mail.to = &to, mail.to_count = 1;
  mail.subject = "alarm";
  mail.text = "door open\n";
  sn_http_reply(c, sn_mail_send(sn_conn_mgr(c), &srv, &mail, mail_done, NULL) == SN_OK ? 202 : 503, NULL, NULL, 0);
}
#endif

#ifdef SIZE_CLIENT
static void cl_data(sn_client *cl, const void *data, size_t len, void *user) {
  (void) user;
  sn_client_send(cl, data, len);
}
static void cl_close(sn_client *cl, int err, const char *why, void *user) { (void) cl, (void) err, (void) why, (void) user; }
static void api_connect(sn_conn *c, const sn_request *req, void *user) {
  sn_client_callbacks cb;
  sn_client_opts o;
  sn_client *cl;
  (void) req, (void) user;
  memset(&cb, 0, sizeof cb), memset(&o, 0, sizeof o);
  cb.on_data = cl_data, cb.on_close = cl_close;
  o.tls = &roots;
  sn_http_reply(c, sn_connect(sn_conn_mgr(c), "logger.example.com", 6514, &o, &cb, &cl) == SN_OK ? 202 : 503, NULL,
                NULL, 0);
}
#endif

#ifdef SIZE_HTTPC
static void hc_done(void *user, int err, const char *why) { (void) user, (void) err, (void) why; }
static void api_fetch(sn_conn *c, const sn_request *req, void *user) {
  sn_http_request_opts o;
  (void) req, (void) user;
  memset(&o, 0, sizeof o);
  o.url = "https://api.example.com/v1/report";
  o.body = "{}", o.body_len = 2;
  o.tls = &roots;
  o.on_done = hc_done;
  sn_http_reply(c, sn_http_request(sn_conn_mgr(c), &o) == SN_OK ? 202 : 503, NULL, NULL, 0);
}
#endif

#if defined(SIZE_WS) || defined(SIZE_WSC)
static void ws_message(sn_ws *ws, int type, const void *data, size_t len, int final, void *user) {
  (void) final, (void) user;
  if (sn_ws_send(ws, type, data, len) != SN_OK) sn_ws_close(ws, SN_WS_INTERNAL, NULL);
}
#endif
#ifdef SIZE_WS
static void api_ws(sn_conn *c, const sn_request *req, void *user) {
  sn_ws_opts o;
  sn_ws_callbacks cb;
  (void) user;
  memset(&o, 0, sizeof o), memset(&cb, 0, sizeof cb);
  o.max_message = 4096, o.max_queued = 8192 + 64;
  cb.on_message = ws_message;
  sn_ws_upgrade(c, req, &o, &cb, NULL);
}
#endif
#ifdef SIZE_WSC
static void api_ws_connect(sn_conn *c, const sn_request *req, void *user) {
  sn_ws_client_opts o;
  sn_ws_callbacks cb;
  (void) req, (void) user;
  memset(&o, 0, sizeof o), memset(&cb, 0, sizeof cb);
  o.tls = &roots;
  cb.on_message = ws_message;
  sn_http_reply(c, sn_ws_connect(sn_conn_mgr(c), "wss://hub.example.com/device", &o, &cb, NULL) == SN_OK ? 202 : 503,
                NULL, NULL, 0);
}
#endif
#ifdef SIZE_SSE
static void api_events(sn_conn *c, const sn_request *req, void *user) {
  char n[16];
  (void) req, (void) user;
  if (sn_sse_begin(c, NULL, 0) != SN_OK) return;
  n[0] = (char) ('0' + board_ms % 10), n[1] = '\0';
  sn_sse_send(c, "uptime", n, n, 1);
}
#endif

#ifdef SIZE_OTA
/* A slot whose hooks do nothing: what is measured is securenet's side. */
static int slot_open(void *s, uint64_t n) { (void) s, (void) n; return SN_OK; }
static int slot_write(void *s, uint64_t off, const void *p, size_t n) { (void) s, (void) off, (void) p, (void) n; return SN_OK; }
static int slot_finish(void *s) { (void) s; return SN_OK; }
static const sn_slot_ops slot_ops = {slot_open, slot_write, slot_finish, NULL};
static const unsigned char sign_pub[91] = {0x30, 0x59}; /* a public key's place */
#endif

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
  sn_router_add(&router, "GET", "/", serve_file, (void *) &files[0]);
  sn_router_add(&router, "GET", "/api/status", api_status, NULL);
#ifdef SIZE_MAIL
  sn_router_add(&router, "POST", "/api/mail", api_mail, NULL);
#endif
#ifdef SIZE_CLIENT
  sn_router_add(&router, "POST", "/api/connect", api_connect, NULL);
#endif
#ifdef SIZE_HTTPC
  sn_router_add(&router, "POST", "/api/fetch", api_fetch, NULL);
#endif
#ifdef SIZE_WS
  sn_router_add(&router, "GET", "/ws", api_ws, NULL);
#endif
#ifdef SIZE_WSC
  sn_router_add(&router, "POST", "/api/ws-connect", api_ws_connect, NULL);
#endif
#ifdef SIZE_SSE
  sn_router_add(&router, "GET", "/api/events", api_events, NULL);
#endif
#ifdef SIZE_OTA
  {
    static sn_ota *ota;
    sn_ota_opts oo;
    memset(&oo, 0, sizeof oo);
    oo.slot = &slot_ops;
    oo.capacity = 256u << 10;
    oo.pub_key = sign_pub, oo.pub_key_len = sizeof sign_pub;
    if (sn_ota_create(&ota, &oo) != SN_OK) return 1;
    sn_router_add_ota(&router, "POST", "/api/firmware", ota);
  }
#endif
#ifdef SIZE_AUTH
  {
    /* one user, as tools/sn-passwd --header writes it (a made-up verifier) */
    static const sn_user users[1] = {{"admin", "admin", 10000, {1}, {2}}};
    static sn_guard guard = {NULL, "admin", SN_GUARD_API};
    sn_auth_opts ao;
    memset(&ao, 0, sizeof ao);
    ao.users = users, ao.user_count = 1;
    if (sn_auth_create(&guard.auth, mgr, &ao) != SN_OK) return 1;
    sn_router_guard(&router, &guard);
    sn_router_add_login(&router, guard.auth);
  }
#endif
  memset(&tls, 0, sizeof tls);
  tls.cert = cert_pem, tls.cert_len = sizeof cert_pem;
  tls.key = key_pem, tls.key_len = sizeof key_pem;
  memset(&ho, 0, sizeof ho);
  ho.port = 443;
  ho.router = &router;
  ho.tls = &tls;
  if (sn_http_listen(mgr, &ho) != SN_OK) return 1;
#ifdef SIZE_PLAIN
  ho.port = 80;
  ho.tls = NULL;
  ho.redirect_to_https = 443;
  if (sn_http_listen(mgr, &ho) != SN_OK) return 1;
#endif
  for (;;) {
    board_eth_poll(&netif);
    sys_check_timeouts();
    sn_poll(mgr, 0);
  }
}
