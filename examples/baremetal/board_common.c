/* board_common.c - the hooks the bare-metal reference boards share (see
   board_common.h): 64-bit milliseconds, the wall clock and the entropy
   source (semihosting: EMULATION ONLY), the counted heap, the painted
   stack's depth and stopping. Built into each board's firmware with that
   board's board.h on the include path. */
#include "board.h"

#include <stdlib.h>
#include <string.h>

#include "semihost.h"

uint64_t board_ms64(void) {
  static uint32_t last;
  static uint64_t high;
  uint32_t now = board_ms();
  if (now < last) high += (uint64_t) 1 << 32;
  last = now;
  return high | now;
}

/* ---- wall clock: semihosting SYS_TIME at boot, then SysTick --------------
   A board would read its RTC (battery-backed) or ask an SNTP server; these
   ask the host once. Certificate dates are checked against it (client
   certificates; mbedTLS's session cache and tickets use time() too). */
static int64_t boot_wall_s = -1;
static uint64_t boot_wall_ms;

void board_wall_init(void) {
#ifndef BOARD_NO_SEMIHOSTING
  boot_wall_s = semihost_time();
  boot_wall_ms = board_ms64();
#endif
}

int64_t board_wall_s(void) {
  if (boot_wall_s < 0) return -1;
  return boot_wall_s + (int64_t) ((board_ms64() - boot_wall_ms) / 1000u);
}

/* ---- entropy: host /dev/urandom through semihosting, EMULATION ONLY ------ */
#ifndef BOARD_NO_SEMIHOSTING
int board_entropy(void *buf, size_t len) {
  static int urandom = -1; /* kept open: one host call per read afterwards */
  if (urandom < 0) urandom = semihost_open_read("/dev/urandom");
  if (urandom < 0) return -1;
  return semihost_read(urandom, buf, len);
}
#endif

/* ---- memory: counted malloc ----------------------------------------------
   Each block carries its size in front, 8 bytes so that what the caller
   gets stays 8-byte aligned as malloc's is. */
typedef union mem_head {
  size_t size;
  uint64_t align;
} mem_head;

static size_t heap_now, heap_peak;
static unsigned long blocks_now;

void *board_malloc(size_t n) {
  mem_head *h;
  if (n > (size_t) -1 - sizeof *h) return NULL;
  h = (mem_head *) malloc(sizeof *h + n);
  if (h == NULL) return NULL;
  h->size = n;
  heap_now += n;
  blocks_now++;
  if (heap_now > heap_peak) heap_peak = heap_now;
  return h + 1;
}

void *board_calloc(size_t n, size_t size) {
  void *p;
  if (size != 0 && n > (size_t) -1 / size) return NULL;
  p = board_malloc(n * size);
  if (p != NULL) memset(p, 0, n * size);
  return p;
}

void board_free(void *p) {
  mem_head *h;
  if (p == NULL) return;
  h = (mem_head *) p - 1;
  heap_now -= h->size;
  blocks_now--;
  free(h);
}

/* From the linker script and syscalls.c */
extern uint32_t __stack_limit[], __stack_top[];
extern char __heap_start[], __heap_limit[];
char *syscalls_heap_break(void);

void board_mem_get(board_mem *out) {
  const uint32_t *w = __stack_limit;
  while (w < __stack_top && *w == BOARD_STACK_PAINT) w++;
  out->heap_now = heap_now;
  out->heap_peak = heap_peak;
  out->blocks_now = blocks_now;
  out->arena = (size_t) (syscalls_heap_break() - __heap_start);
  out->arena_max = (size_t) (__heap_limit - __heap_start);
  out->stack_deepest = (size_t) ((const char *) __stack_top - (const char *) w);
  out->stack_size = (size_t) ((const char *) __stack_top - (const char *) __stack_limit);
}

void board_mem_reset_peak(void) { heap_peak = heap_now; }

void board_stop(int ok) {
#ifndef BOARD_NO_SEMIHOSTING
  semihost_exit(ok);
#else
  (void) ok;
  for (;;) __asm__ volatile("wfi");
#endif
}
