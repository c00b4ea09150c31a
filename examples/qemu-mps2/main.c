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
     f   the update slot: accepted bank, its image, flash faults
     a   time one password check (sn_user_check, SN_AUTH_ITERATIONS), as at boot
     b   busy time: the microseconds spent in sn_poll since boot, and its calls
         (bench/auth-mps2.sh reads it around a handshake: the server's share)
     q   stop cleanly: close every connection, print memory and statistics,
         end the emulation (QEMU exits with status 0)
   GET /api/memory returns the memory figures as JSON and prints them on the
   console too; GET /api/slot the update slot's state.

   Firmware updates: PUT or POST /api/firmware (the demo's routes) take an
   image signed by tools/sn-sign with the development key (build/certs:
   sign_pub.h is compiled in) into the update slot (flash_slot.h): two
   banks of simulated NOR flash in the board's PSRAM, the accepted one
   marked by a record. The console prints the slot's state after each
   change ("slot: accepted bank B, 1048704 bytes, version 1.2.0, ...,
   faults 0"). This demo does not reboot into an accepted image: a real
   board's boot loader would check the record and start that bank.

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

#include "flash_slot.h" /* after securenet.h: the configuration above is the one it sees */

#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include "mbedtls/platform.h"
#include "mbedtls/platform_time.h"
#include "mbedtls/sha256.h"
#include "mbedtls/version.h"
#include "netif/ethernet.h"
#include "psa/crypto.h"

#include "certs.h" /* tools/sn-certgen: sn_dev_server_cert_pem, sn_dev_server_key_pem */
#include "sign_pub.h" /* tools/sn-sign keygen: sn_sign_pub, the development key images are signed with (DER) */

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

/* ---- the update slot: simulated NOR flash in PSRAM ------------------------------
   A bank holds an image of 1 MiB of firmware and more (1 MiB + 64 KiB:
   272 sectors); the flash is the two record sectors and two banks. The
   simulator's bitmap (a bit per byte: programmed since the last erase) is
   its own bookkeeping, not part of the flash. */
#define SLOT_BANK (1024u * 1024u + 64u * 1024u)
#define SLOT_FLASH (2u * FLASH_SECTOR + 2u * SLOT_BANK)
static unsigned char slot_flash[SLOT_FLASH] __attribute__((section(".psram"), aligned(8)));
static unsigned char slot_flash_map[SLOT_FLASH / 8] __attribute__((section(".psram"), aligned(8)));
static flash_sim flash;
static flash_slot slot;

static void slot_log(void *user, const char *line) {
  (void) user;
  printf("sn_mps2: %s\n", line);
}

static void slot_print(void) {
  char line[240];
  flash_slot_describe(&slot, line, sizeof line);
  slot_log(NULL, line);
}

/* The verifier's own state while an update runs, measured once at boot
   with the same key and a slot that takes anything: the heap peak over an
   update of a 128-byte image with a bad signature (begin, write, end:
   SHA-256 contexts, header, and mbedTLS's ECDSA verification). */
static size_t ota_state_bytes;

static int null_open(void *s, uint64_t n) { (void) s, (void) n; return SN_OK; }
static int null_write(void *s, uint64_t off, const void *p, size_t n) { (void) s, (void) off, (void) p, (void) n; return SN_OK; }
static int null_finish(void *s) { (void) s; return SN_OK; }

static void measure_ota_state(const sn_ota_opts *real) {
  static const sn_slot_ops null_slot = {null_open, null_write, null_finish, NULL};
  unsigned char img[SN_IMAGE_HEAD + SN_IMAGE_SIG];
  sn_ota_opts oo = *real;
  sn_ota *o;
  board_mem m;
  size_t before;
  int r;
  oo.slot = &null_slot;
  oo.mgr = NULL; /* quiet: its refusal is the point */
  if (sn_ota_create(&o, &oo) != SN_OK) return;
  memset(img, 0, sizeof img);
  memcpy(img, "SNFW\0\1\0\100", 8);
  memcpy(img + 16, "measure", 7);
  memset(img + SN_IMAGE_HEAD, 0x5A, SN_IMAGE_SIG); /* r and s in range, the wrong ones */
  board_mem_get(&m);
  before = m.heap_now;
  board_mem_reset_peak();
  r = sn_ota_begin(o);
  if (r == SN_OK) r = sn_ota_write(o, img, sizeof img);
  if (r == SN_OK) r = sn_ota_end(o);
  board_mem_get(&m);
  ota_state_bytes = m.heap_peak - before;
  printf("sn_mps2: ota: the verifier's state during an update: %u B (heap peak over begin, write, end; %s)\n",
         (unsigned) ota_state_bytes, r == SN_ERR_SIGNATURE ? "ECDSA verification included" : sn_strerror(r));
  sn_ota_destroy(o);
}

static void on_update(void *user, const sn_image_info *img) {
  (void) user;
  printf("sn_mps2: update accepted: version %s, %lu bytes; a boot loader would start bank %c next\n", img->version,
         (unsigned long) img->bytes, 'A' + slot.accepted);
}

static sn_ota *ota_start(sn_mgr *mgr) {
  sn_ota_opts oo;
  sn_ota *o;
  int r;
  flash_sim_init(&flash, slot_flash, slot_flash_map, SLOT_FLASH);
  flash.log = slot_log;
  if (flash_slot_init(&slot, &flash, SLOT_BANK) != 0) return NULL;
  slot.log = slot_log;
  memset(&oo, 0, sizeof oo);
  oo.slot = &flash_slot_ops;
  oo.slot_ctx = &slot;
  oo.capacity = SLOT_BANK;
  oo.pub_key = sn_sign_pub;
  oo.pub_key_len = sizeof sn_sign_pub;
  oo.on_accept = on_update;
  oo.mgr = mgr; /* refusals on the console, through the log hook */
  measure_ota_state(&oo);
  if ((r = sn_ota_create(&o, &oo)) != SN_OK) {
    printf("sn_mps2: ota: %s\n", sn_strerror(r));
    return NULL;
  }
  printf("sn_mps2: ota: slot of 2 banks x %u B in PSRAM at %p, simulated NOR flash (4 KiB sectors)\n", SLOT_BANK,
         (void *) slot_flash);
  slot_print();
  return o;
}

/* GET /api/slot: the record, the flash's counters, and the SHA-256 of
   the accepted bank's bytes as they are in flash now (read back, so a test
   can compare them with the image it uploaded). */
static void api_slot(sn_conn *c, const sn_request *req, void *user) {
  char version[33], vjson[2 * sizeof version + 3], hex[65] = "";
  unsigned char sum[32];
  int i;
  (void) req, (void) user;
  if (slot.accepted >= 0 && mbedtls_sha256(flash.mem + slot.bank_addr[slot.accepted], slot.accepted_bytes, sum, 0) == 0)
    for (i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", sum[i]);
  flash_slot_version(&slot, version, sizeof version);
  sn_json_str(vjson, sizeof vjson, version, strlen(version));
  sn_http_json(c, 200,
               "{\"accepted\":%s%s%s,\"bytes\":%lu,\"version\":%s,\"record\":%lu,\"receiving\":%s,"
               "\"faults\":%lu,\"contract_errors\":%lu,\"erases\":%lu,\"programmed\":%lu,\"verifier_bytes\":%u,\"sha256\":\"%s\"}\n",
               slot.accepted < 0 ? "null" : "\"", slot.accepted < 0 ? "" : slot.accepted ? "B" : "A",
               slot.accepted < 0 ? "" : "\"", (unsigned long) slot.accepted_bytes, vjson, (unsigned long) slot.seq,
               slot.bank >= 0 ? "true" : "false", flash.faults, slot.misuse, flash.erases, flash.programmed,
               (unsigned) ota_state_bytes, hex);
}

/* What one login costs here: one sn_user_check of a verifier of
   SN_AUTH_ITERATIONS PBKDF2-HMAC-SHA256 iterations (the right password; a
   wrong one costs the same), timed with the board's clock (SysTick, to the microsecond). It
   blocks the main loop as long, as a TLS handshake's arithmetic does: the
   console line lets a test compare it with a handshake's time. */
static void time_password_check(void) {
  static const char pw[] = "correct horse battery staple";
  sn_user u;
  uint32_t t0;
  int ok;
  memset(&u, 0, sizeof u);
  u.iterations = SN_AUTH_ITERATIONS;
  memcpy(u.salt, "sn_mps2 salt....", 16);
  if (sn_pbkdf2_sha256(pw, sizeof pw - 1, u.salt, 16, u.iterations, u.hash, 32) != SN_OK) return;
  t0 = board_us();
  ok = sn_user_check(&u, pw, sizeof pw - 1);
  t0 = board_us() - t0;
  printf("sn_mps2: auth: one sn_user_check of %lu iterations: %lu.%03lu ms (%s)\n", (unsigned long) u.iterations,
         (unsigned long) (t0 / 1000u), (unsigned long) (t0 % 1000u), ok == 1 ? "match" : "NO MATCH");
}

/* ---- what lwIP and mbedTLS need from the board ---------------------------- */
/* sys_now, mbedtls_ms_time, LWIP_RAND and PSA's random numbers: examples/baremetal/stack_hooks.c */

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


static uint32_t poll_us, poll_calls; /* time in sn_poll since boot (wraps: differences only) */

/* One console byte: returns 1 for "stop". */
static int console_command(sn_mgr *mgr, int ch) {
  switch (ch) {
  case 'm': print_memory("on request"); break;
  case 'r':
    board_mem_reset_peak();
    printf("sn_mps2: heap peak reset\n");
    break;
  case 's': print_stats(mgr); break;
  case 'f': slot_print(); break;
  case 'a': time_password_check(); break;
  case 'b': printf("sn_mps2: busy: %lu us in sn_poll, %lu calls\n", (unsigned long) poll_us, (unsigned long) poll_calls); break;
  case 'q': return 1;
  case '\r': case '\n': case ' ': break;
  default:
    printf("sn_mps2: console: m = memory, r = reset heap peak, s = statistics, f = update slot, a = time a password check, "
           "b = busy time, q = stop\n");
    break;
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
  sn_router_add(&router, "GET", "/api/slot", api_slot, NULL);
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
  mo.log = board_log; /* examples/baremetal/stack_hooks.c */
  mo.log_level = SN_LOG_WARN;
  if ((r = sn_mgr_create(&mgr, &mo)) != SN_OK) {
    printf("sn_mps2: cannot start: %s\n", sn_strerror(r));
    board_stop(0);
  }
  demo_ota = ota_start(mgr); /* before demo_routes: then it adds /api/firmware */
  if (demo_ota == NULL) board_stop(0);
  time_password_check(); /* before the listening line, which tests wait for */
  if (https_listen(mgr) != SN_OK) board_stop(0);
  print_memory("listening");
  printf("sn_mps2: console: m = memory, r = reset heap peak, s = statistics, f = update slot, a = time a password check, b = busy time, "
         "q = stop\n");

  /* The main loop: nothing in it waits, except WFI when there was nothing to do. */
  while (!stop) {
    int ch, frames = lan9118_poll(&netif, 8);
    uint32_t t0;
    sys_check_timeouts();
    t0 = board_us();
    sn_poll(mgr, 0);
    poll_us += board_us() - t0;
    poll_calls++;
    while (!stop && (ch = board_uart_getc()) >= 0) stop = console_command(mgr, ch);
    board_idle(frames > 0 || lan9118_rx_pending());
  }

  printf("sn_mps2: stopping\n");
  print_stats(mgr);
  sn_mgr_destroy(mgr);
  sn_ota_destroy(demo_ota); /* after the connections: an update under way was aborted with its request */
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
