/* board.c - the mps2-an386 board's console, clocks, entropy and memory
   count for the sn_mps2 firmware (see board.h for the list of hooks).

   Register addresses and behaviour: ARM's Cortex-M4 and CMSDK documentation
   (SysTick, APB UART) and QEMU's model of the board (hw/arm/mps2.c,
   hw/char/cmsdk-apb-uart.c). */
#include "board.h"

#include <stdlib.h>
#include <string.h>

#include "semihost.h"

/* ---- console: CMSDK APB UART0 --------------------------------------------
   Five registers: DATA (write: send a byte; read: the received one), STATE
   (bit 0: transmit buffer full, bit 1: a byte received), CTRL (bit 0:
   transmitter on, bit 1: receiver on), BAUDDIV (clock divider, at least 16).
   No FIFO: one byte in each direction. QEMU's -nographic console is UART0. */
#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *) (UART0_BASE + 0x000u))
#define UART_STATE (*(volatile uint32_t *) (UART0_BASE + 0x004u))
#define UART_CTRL (*(volatile uint32_t *) (UART0_BASE + 0x008u))
#define UART_BAUDDIV (*(volatile uint32_t *) (UART0_BASE + 0x010u))
#define UART_STATE_TX_FULL 0x1u
#define UART_STATE_RX_FULL 0x2u
#define UART_CTRL_TX_EN 0x1u
#define UART_CTRL_RX_EN 0x2u

static void uart_init(void) {
  UART_BAUDDIV = BOARD_SYSCLK_HZ / 115200u;
  UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN; /* polled: no interrupt enables */
}

static void uart_putc(char c) {
  while (UART_STATE & UART_STATE_TX_FULL) {
  }
  UART_DATA = (uint32_t) (unsigned char) c;
}

void board_uart_write(const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) {
    if (s[i] == '\n') uart_putc('\r'); /* a terminal in raw mode (QEMU -nographic) needs CR LF */
    uart_putc(s[i]);
  }
}

int board_uart_getc(void) {
  if (!(UART_STATE & UART_STATE_RX_FULL)) return -1;
  return (int) (UART_DATA & 0xffu);
}

/* ---- millisecond clock: SysTick ------------------------------------------
   The core's own 24-bit down-counter: reload value RVR, interrupt at zero.
   Clocked from the processor clock (CSR.CLKSOURCE = 1), 25 MHz here, so a
   reload of 25000 - 1 interrupts every millisecond. The interrupt only counts;
   everything else reads the count. Under QEMU (without -icount) the
   emulated clock follows the host's, so these are real milliseconds. */
#define SYST_CSR (*(volatile uint32_t *) 0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *) 0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *) 0xE000E018u)
#define SYST_CSR_ENABLE 0x1u
#define SYST_CSR_TICKINT 0x2u
#define SYST_CSR_CLKSOURCE 0x4u

static volatile uint32_t ms_ticks;

void SysTick_Handler(void); /* in the vector table (startup.c) */
void SysTick_Handler(void) { ms_ticks++; }

static void systick_init(void) {
  SYST_RVR = BOARD_SYSCLK_HZ / 1000u - 1u;
  SYST_CVR = 0;
  SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

uint32_t board_ms(void) { return ms_ticks; } /* one aligned 32-bit read: atomic on Cortex-M */

uint64_t board_ms64(void) {
  static uint32_t last;
  static uint64_t high;
  uint32_t now = ms_ticks;
  if (now < last) high += (uint64_t) 1 << 32;
  last = now;
  return high | now;
}

uint32_t board_us(void) {
  uint32_t ms, down;
  do { /* the count and the millisecond it belongs to, read again if a tick came between */
    ms = ms_ticks;
    down = SYST_CVR;
  } while (ms != ms_ticks);
  return ms * 1000u + (SYST_RVR - down) / (BOARD_SYSCLK_HZ / 1000000u);
}

void board_idle(int busy) {
  /* A frame arriving between the caller's check and WFI is only noticed at
     the next SysTick: at most 1 ms late, never lost (the LAN9118 holds it). */
  if (!busy) __asm__ volatile("wfi" ::: "memory");
}

/* ---- wall clock: semihosting SYS_TIME at boot, then SysTick --------------
   A board would read its RTC (battery-backed) or ask an SNTP server; this
   one asks the host once. Certificate dates are checked against it (client
   certificates; mbedTLS's session cache and tickets use time() too). */
static int64_t boot_wall_s = -1;
static uint64_t boot_wall_ms;

static void wall_init(void) {
#ifndef SN_MPS2_NO_SEMIHOSTING
  boot_wall_s = semihost_time();
  boot_wall_ms = board_ms64();
#endif
}

int64_t board_wall_s(void) {
  if (boot_wall_s < 0) return -1;
  return boot_wall_s + (int64_t) ((board_ms64() - boot_wall_ms) / 1000u);
}

/* ---- entropy: host /dev/urandom through semihosting, EMULATION ONLY ------ */
#ifndef SN_MPS2_NO_SEMIHOSTING
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
#define STACK_PAINT 0xC0FFEE55u /* startup.c fills the stack with it at reset */

void board_mem_get(board_mem *out) {
  const uint32_t *w = __stack_limit;
  while (w < __stack_top && *w == STACK_PAINT) w++;
  out->heap_now = heap_now;
  out->heap_peak = heap_peak;
  out->blocks_now = blocks_now;
  out->arena = (size_t) (syscalls_heap_break() - __heap_start);
  out->arena_max = (size_t) (__heap_limit - __heap_start);
  out->stack_deepest = (size_t) ((const char *) __stack_top - (const char *) w);
  out->stack_size = (size_t) ((const char *) __stack_top - (const char *) __stack_limit);
}

void board_mem_reset_peak(void) { heap_peak = heap_now; }

/* ---- start-up and stop --------------------------------------------------- */
void board_init(void) {
  uart_init();
  systick_init();
  wall_init();
}

void board_stop(int ok) {
#ifndef SN_MPS2_NO_SEMIHOSTING
  semihost_exit(ok);
#else
  (void) ok;
  for (;;) __asm__ volatile("wfi");
#endif
}
