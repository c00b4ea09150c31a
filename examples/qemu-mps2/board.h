/* board.h - the mps2-an386 board (QEMU) as the sn_mps2 firmware sees it:
   what a port of securenet to a new MCU has to write, one hook at a time.

     hook                     here (mps2-an386 under QEMU)          a real board
     console (logs, commands) CMSDK APB UART0, polled               its UART
     millisecond clock        SysTick at 1 kHz (sys_now, mbedTLS)   the same SysTick code
     entropy (TLS keys)       host /dev/urandom via semihosting:    the MCU's TRNG
                              EMULATION ONLY
     wall clock (cert dates)  semihosting SYS_TIME once at boot,    an RTC, or SNTP
                              then SysTick
     memory                   newlib malloc, counted (peak, now)    the same, or a pool
     Ethernet                 LAN9118, polled (lan9118.h)           its MAC driver

   Everything here is called from the main loop only, except the SysTick and
   Ethernet interrupt handlers, which touch one counter or one register. */
#ifndef BOARD_H
#define BOARD_H

#include <stddef.h>
#include <stdint.h>

#define BOARD_SYSCLK_HZ 25000000u /* the MPS2's main clock (QEMU: SYSCLK_FRQ), drives the core and SysTick */

/* ---- start-up ---------------------------------------------------------- */
/* Console, SysTick, wall clock; call first thing in main(). */
void board_init(void);

/* ---- console: UART0 at 115200 8N1 -------------------------------------- */
void board_uart_write(const char *s, size_t len); /* waits while the UART is busy; "\n" goes out as "\r\n" */
int board_uart_getc(void);                        /* a received byte, or -1 (never waits) */

/* ---- clocks ------------------------------------------------------------ */
uint32_t board_ms(void);   /* milliseconds since boot (SysTick), 32 bits: wraps after 49 days */
uint64_t board_ms64(void); /* the same, extended to 64 bits; main loop only */
uint32_t board_us(void);   /* microseconds since boot (SysTick's count within the millisecond), 32 bits:
                              wraps after 71 minutes; for timing short spans */
/* Seconds since 1970 UTC, or -1 while unknown. On this board: the host's
   time read once at boot through semihosting, plus the SysTick count since. */
int64_t board_wall_s(void);
/* Waits for the next interrupt (SysTick every millisecond, or the Ethernet
   controller's receive interrupt) unless `busy`: lets QEMU idle the host CPU. */
void board_idle(int busy);

/* ---- entropy: EMULATION ONLY ------------------------------------------- */
/* The board has no TRNG. Under QEMU, the host's /dev/urandom is read
   through semihosting; that is a real entropy source for the emulated
   device and nothing else: on hardware `bkpt 0xAB` without a debugger is a
   fault, and a board without a TRNG must not ship TLS. Without semihosting
   (-DSN_MPS2_NO_SEMIHOSTING) this hook does not exist, SN_LWIP_ENTROPY is
   not defined, and securenet_port_lwip.h stops the build with its entropy
   #error: a build without a real entropy source fails, it never runs with
   a weak seed. */
#ifndef SN_MPS2_NO_SEMIHOSTING
#define BOARD_HAS_ENTROPY 1
int board_entropy(void *buf, size_t len); /* fills buf: 0, or -1 (no source) */
#endif

/* ---- memory ------------------------------------------------------------ */
/* newlib's malloc/free with a count of the bytes in use and their peak:
   securenet (SN_MALLOC/SN_FREE) and mbedTLS (mbedtls_platform_set_calloc_free)
   allocate through these, so the peak is the TLS server's whole heap. */
void *board_malloc(size_t n);
void *board_calloc(size_t n, size_t size);
void board_free(void *p);

typedef struct board_mem {
  size_t heap_now, heap_peak;  /* bytes allocated through board_malloc/calloc */
  unsigned long blocks_now;    /* blocks allocated now */
  size_t arena, arena_max;     /* newlib's heap (grown by _sbrk) and the most it may grow */
  size_t stack_deepest, stack_size; /* painted stack: deepest use since reset, size */
} board_mem;
void board_mem_get(board_mem *out);
/* Starts a new heap peak from what is in use now (to measure one phase). */
void board_mem_reset_peak(void);

/* ---- stopping ---------------------------------------------------------- */
/* Ends the firmware: under QEMU, semihosting stops the emulator (exit status
   0 when ok); without semihosting the core sleeps. */
void board_stop(int ok) __attribute__((noreturn));

#endif /* BOARD_H */
