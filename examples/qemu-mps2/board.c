/* board.c - the mps2-an386 board's console and clocks for the sn_mps2
   firmware (see board.h for the list of hooks; the shared ones are in
   examples/baremetal).

   Register addresses and behaviour: ARM's Cortex-M4 and CMSDK documentation
   (SysTick, APB UART) and QEMU's model of the board (hw/arm/mps2.c,
   hw/char/cmsdk-apb-uart.c). */
#include "board.h"


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

/* ---- start-up ------------------------------------------------------------
   The wall clock, entropy, counted heap and stop are the shared ones
   (examples/baremetal/board_common.c). */
void board_init(void) {
  uart_init();
  systick_init();
  board_wall_init();
}
