/* board_common.h - what every bare-metal reference board (examples/qemu-mps2,
   examples/qemu-lm3s) provides to its firmware, and the part of it they
   share (the .c files of examples/baremetal). Each board's own board.h includes this
   after defining BOARD_NAME (the console's prefix, "sn_mps2") and says
   where each hook comes from on that board.

   Written by the board (board.c):
     board_init, board_uart_write, board_uart_getc, board_ms, board_us,
     board_idle, and the vector table (startup.c)
   Shared (examples/baremetal):
     cortex_m.c      Reset_Handler (paints the stack, copies .data, zeroes
                     .bss, calls main), the fault report, Default_Handler
     board_common.c  board_ms64, the wall clock and the entropy source
                     (semihosting: EMULATION ONLY), the counted heap, the
                     painted stack's depth, board_stop
     syscalls.c      newlib's system calls (_sbrk bounded by the stack,
                     _write to the console, _gettimeofday from the wall clock)
     semihost.c      ARM semihosting calls (EMULATION ONLY)
     stack_hooks.c   lwIP's and mbedTLS's clocks and random numbers, the
                     log hook (board_log)
   The linker script of each board defines __data_load, __data_start,
   __data_end, __bss_start, __bss_end, __heap_start, __heap_limit,
   __stack_limit and __stack_top.

   Semihosting (-DBOARD_NO_SEMIHOSTING turns it off, as for a board without a
   debugger): then there is no entropy hook, SN_LWIP_ENTROPY stays undefined
   and securenet_port_lwip.h stops the build with its entropy #error; the
   wall clock is unknown (-1) and board_stop sleeps. */
#ifndef BOARD_COMMON_H
#define BOARD_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifndef BOARD_NAME
#error "board_common.h: define BOARD_NAME (the console prefix) in the board's board.h first"
#endif

/* ---- start-up (board.c) -------------------------------------------------- */
/* Clocks, console, SysTick, wall clock; call first thing in main(). */
void board_init(void);

/* ---- console (board.c) --------------------------------------------------- */
void board_uart_write(const char *s, size_t len); /* waits while the UART is busy; "\n" goes out as "\r\n" */
int board_uart_getc(void);                        /* a received byte, or -1 (never waits) */

/* ---- clocks -------------------------------------------------------------- */
uint32_t board_ms(void);   /* milliseconds since boot (SysTick), 32 bits: wraps after 49 days (board.c) */
uint64_t board_ms64(void); /* the same, extended to 64 bits; main loop only (board_common.c) */
uint32_t board_us(void);   /* microseconds since boot, 32 bits (wraps after 71 minutes): short spans (board.c) */
/* Seconds since 1970 UTC, or -1 while unknown: the host's time read once at
   boot through semihosting (board_wall_init), plus SysTick since. A real
   board reads its RTC or asks an SNTP server. (board_common.c) */
int64_t board_wall_s(void);
void board_wall_init(void); /* board_init calls it once SysTick runs */
/* Waits for the next interrupt unless `busy` (board.c). */
void board_idle(int busy);

/* ---- entropy: EMULATION ONLY (board_common.c) ---------------------------- */
/* These boards have no TRNG (QEMU models none). The host's /dev/urandom is
   read through semihosting: a real entropy source for the emulated device
   and nothing else; on hardware `bkpt 0xAB` without a debugger is a fault,
   and a board without a TRNG must not ship TLS. */
#ifndef BOARD_NO_SEMIHOSTING
#define BOARD_HAS_ENTROPY 1
int board_entropy(void *buf, size_t len); /* fills buf: 0, or -1 (no source) */

/* ---- what the network stack needs (stack_hooks.c) ------------------------ */
/* sys_now (lwIP), mbedtls_ms_time, example_lwip_rand (LWIP_RAND) and
   mbedtls_psa_external_get_random are defined there for every board; and
   the log hook for sn_mgr_opts.log, "BOARD_NAME: level: line": */
void board_log(void *user, int level, const char *msg);
#endif

/* ---- memory (board_common.c) --------------------------------------------- */
/* newlib's malloc/free with a count of the bytes in use and their peak:
   securenet (SN_MALLOC/SN_FREE) and mbedTLS (mbedtls_platform_set_calloc_free)
   allocate through these, so the peak is the TLS server's whole heap. */
void *board_malloc(size_t n);
void *board_calloc(size_t n, size_t size);
void board_free(void *p);

typedef struct board_mem {
  size_t heap_now, heap_peak;       /* bytes allocated through board_malloc/calloc */
  unsigned long blocks_now;         /* blocks allocated now */
  size_t arena, arena_max;          /* newlib's heap (grown by _sbrk) and the most it may grow */
  size_t stack_deepest, stack_size; /* painted stack: deepest use since reset, size */
} board_mem;
void board_mem_get(board_mem *out);
/* Starts a new heap peak from what is in use now (to measure one phase). */
void board_mem_reset_peak(void);

#define BOARD_STACK_PAINT 0xC0FFEE55u /* cortex_m.c paints the stack with it at reset */

/* ---- stopping (board_common.c) ------------------------------------------- */
/* Ends the firmware: under QEMU, semihosting stops the emulator (exit status
   0 when ok); without semihosting the core sleeps. */
void board_stop(int ok) __attribute__((noreturn));

#endif /* BOARD_COMMON_H */
