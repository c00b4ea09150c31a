/* stack_hooks.c - what lwIP, mbedTLS and securenet's log need from a
   bare-metal board, the same on every reference board (examples/qemu-mps2,
   examples/qemu-lm3s): clocks from the board's SysTick, random numbers from
   its entropy source (board_common.h: EMULATION ONLY on these boards), and
   the log hook that prints securenet's lines on the console. */
#include <stdint.h>
#include <stdio.h>

#include "board.h"
#include "lwip/arch.h"
#include "mbedtls/build_info.h"
#include "mbedtls/platform_time.h"
#include "psa/crypto.h"

/* lwIP's millisecond clock (NO_SYS=1). */
u32_t sys_now(void);
u32_t sys_now(void) { return board_ms(); }

/* mbedTLS's millisecond clock (MBEDTLS_PLATFORM_MS_TIME_ALT in the minimal
   config): TLS 1.3 ticket ages. */
mbedtls_ms_time_t mbedtls_ms_time(void) { return (mbedtls_ms_time_t) board_ms64(); }

#ifdef BOARD_HAS_ENTROPY
/* lwIP's LWIP_RAND() (lwipopts.h): TCP initial sequence numbers and local
   ports, from the same entropy source. */
uint32_t example_lwip_rand(void);
uint32_t example_lwip_rand(void) {
  uint32_t r;
  if (board_entropy(&r, sizeof r) != 0) board_stop(0); /* no entropy, no network */
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
  if (board_entropy(out, len) != 0) return PSA_ERROR_INSUFFICIENT_ENTROPY;
  *olen = len;
  return PSA_SUCCESS;
}
#endif

/* securenet's log hook (sn_mgr_opts.log): its warnings and errors on the
   console, "BOARD_NAME: level: line". */
void board_log(void *user, int level, const char *msg) {
  static const char *const names[] = {"", "error", "warn", "info", "debug"};
  (void) user;
  printf(BOARD_NAME ": %s: %s\n", names[level >= 0 && level <= 4 ? level : 0], msg);
}
