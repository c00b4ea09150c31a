/* board.c - the LM3S6965's clocks, console and SysTick for the sn_lm3s
   firmware (see board.h for the list of hooks; the shared ones are in
   examples/baremetal).

   Register addresses and bits: TI's LM3S6965 datasheet (System Control,
   UART, GPIO chapters) and ARM's Cortex-M3 documentation (SysTick), checked
   against QEMU's model of the board (hw/arm/stellaris.c, hw/char/pl011.c).
   QEMU stops with a hardware error on a write to a system-control register
   it does not model, so only the registers below are touched. */
#include "board.h"

/* ---- system control (0x400FE000) ---------------------------------------- */
#define SYSCTL_BASE 0x400FE000u
#define SYSCTL_RIS (*(volatile uint32_t *) (SYSCTL_BASE + 0x050u))
#define SYSCTL_RCC (*(volatile uint32_t *) (SYSCTL_BASE + 0x060u))
#define SYSCTL_RCGC1 (*(volatile uint32_t *) (SYSCTL_BASE + 0x104u))
#define SYSCTL_RCGC2 (*(volatile uint32_t *) (SYSCTL_BASE + 0x108u))
#define RIS_PLLLRIS 0x40u          /* the PLL has locked */
#define RCC_MOSCDIS 0x1u           /* main oscillator off (reset: on) */
#define RCC_XTAL_MASK (0xFu << 6)  /* the crystal's frequency */
#define RCC_XTAL_8MHZ (0xEu << 6)  /* the EVB's 8 MHz crystal */
#define RCC_OSCSRC_MASK (0x3u << 4) /* 0: main oscillator */
#define RCC_BYPASS (1u << 11)      /* the system clock bypasses the PLL */
#define RCC_PWRDN (1u << 13)       /* PLL powered down */
#define RCC_USESYSDIV (1u << 22)
#define RCC_SYSDIV_MASK (0xFu << 23)
#define RCC_SYSDIV_4 (0x3u << 23) /* 200 MHz / 4 = 50 MHz */
#define RCGC1_UART0 0x1u
#define RCGC2_GPIOA 0x1u

/* The datasheet's sequence: run from the crystal with the PLL bypassed,
   power the PLL up, set the divider, wait for lock, then switch over. A
   bounded wait: without lock the part keeps running from the crystal
   (8 MHz), and SysTick below would be 6x slow; board_init says so. */
static int clock_init(void) {
  uint32_t rcc = SYSCTL_RCC, i;
  rcc |= RCC_BYPASS;
  rcc &= ~RCC_USESYSDIV;
  SYSCTL_RCC = rcc;
  rcc &= ~(RCC_XTAL_MASK | RCC_OSCSRC_MASK | RCC_PWRDN | RCC_MOSCDIS);
  rcc |= RCC_XTAL_8MHZ;
  SYSCTL_RCC = rcc;
  rcc = (rcc & ~RCC_SYSDIV_MASK) | RCC_SYSDIV_4 | RCC_USESYSDIV;
  SYSCTL_RCC = rcc;
  for (i = 0; i < 100000u && !(SYSCTL_RIS & RIS_PLLLRIS); i++) {
  }
  if (!(SYSCTL_RIS & RIS_PLLLRIS)) return -1;
  SYSCTL_RCC = rcc & ~RCC_BYPASS;
  return 0;
}

/* ---- console: UART0, an ARM PL011 at 0x4000C000 ----------------------------
   Pins PA0 (receive) and PA1 (transmit) in their UART function. Polled, with
   the 16-byte FIFOs on. QEMU's -nographic console is UART0. */
#define UART0_BASE 0x4000C000u
#define UART_DR (*(volatile uint32_t *) (UART0_BASE + 0x000u))
#define UART_FR (*(volatile uint32_t *) (UART0_BASE + 0x018u))
#define UART_IBRD (*(volatile uint32_t *) (UART0_BASE + 0x024u))
#define UART_FBRD (*(volatile uint32_t *) (UART0_BASE + 0x028u))
#define UART_LCRH (*(volatile uint32_t *) (UART0_BASE + 0x02Cu))
#define UART_CTL (*(volatile uint32_t *) (UART0_BASE + 0x030u))
#define UART_FR_RXFE 0x10u /* receive FIFO empty */
#define UART_FR_TXFF 0x20u /* transmit FIFO full */
#define UART_LCRH_FEN 0x10u
#define UART_LCRH_WLEN8 0x60u
#define UART_CTL_UARTEN 0x001u
#define UART_CTL_TXE 0x100u
#define UART_CTL_RXE 0x200u
#define GPIOA_BASE 0x40004000u
#define GPIOA_AFSEL (*(volatile uint32_t *) (GPIOA_BASE + 0x420u))
#define GPIOA_DEN (*(volatile uint32_t *) (GPIOA_BASE + 0x51Cu))

static void uart_init(void) {
  /* 115200 baud: the divisor 50 MHz / (16 * 115200) = 27.127, as 27 and
     a fraction of 0.127 * 64 = 8 sixty-fourths. */
  uint32_t div64 = (BOARD_SYSCLK_HZ * 4u + 115200u / 2u) / 115200u;
  SYSCTL_RCGC1 |= RCGC1_UART0;
  SYSCTL_RCGC2 |= RCGC2_GPIOA;
  GPIOA_AFSEL |= 0x3u;
  GPIOA_DEN |= 0x3u;
  UART_CTL = 0;
  UART_IBRD = div64 / 64u;
  UART_FBRD = div64 % 64u;
  UART_LCRH = UART_LCRH_WLEN8 | UART_LCRH_FEN; /* 8N1, FIFOs; written after the divisor, which latches it */
  UART_CTL = UART_CTL_UARTEN | UART_CTL_TXE | UART_CTL_RXE;
}

static void uart_putc(char c) {
  while (UART_FR & UART_FR_TXFF) {
  }
  UART_DR = (uint32_t) (unsigned char) c;
}

void board_uart_write(const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) {
    if (s[i] == '\n') uart_putc('\r'); /* a terminal in raw mode (QEMU -nographic) needs CR LF */
    uart_putc(s[i]);
  }
}

int board_uart_getc(void) {
  if (UART_FR & UART_FR_RXFE) return -1;
  return (int) (UART_DR & 0xffu);
}

/* ---- millisecond clock: SysTick ------------------------------------------
   The core's own 24-bit down-counter, clocked from the core clock
   (CSR.CLKSOURCE = 1): a reload of 50000 - 1 interrupts every millisecond.
   The interrupt only counts. Under QEMU (without -icount) the emulated clock
   follows the host's, so these are real milliseconds. */
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
  /* A frame whose interrupt came between the caller's check and WFI is
     handed on at the next SysTick: at most 1 ms late, never lost (it is in
     the receive ring already). */
  if (!busy) __asm__ volatile("wfi" ::: "memory");
}

/* ---- start-up ------------------------------------------------------------ */
static int pll_locked;

void board_init(void) {
  pll_locked = clock_init() == 0;
  uart_init();
  systick_init();
  board_wall_init();
  if (!pll_locked) {
    static const char msg[] = BOARD_NAME ": the PLL did not lock: running from the crystal, clocks are slow\n";
    board_uart_write(msg, sizeof msg - 1);
  }
}
