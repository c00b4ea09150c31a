/* cortex_m.c - reset to main() and the fault report, shared by the
   bare-metal reference boards (Cortex-M3 and M4 alike: ARMv7-M). Each
   board's startup.c holds its vector table, which points here.

   What runs before main() on a Cortex-M, and nothing more:
   1. The core loads the stack pointer from word 0 of the vector table and
      jumps to word 1, Reset_Handler (the table sits at address 0: VTOR's
      reset value; the board's linker script puts it first).
   2. Reset_Handler paints the unused stack with a pattern, so the deepest
      use can be measured later (board_mem_get), copies .data from its load
      address in flash to RAM, zeroes .bss, and calls main().
   3. Faults print where they happened on the console and stop the emulator
      with a failure status, so a crash is a test failure, not a hang. */
#include <stddef.h>
#include <stdint.h>

#include "board.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];
int main(void);

void Reset_Handler(void);
void Reset_Handler(void) {
  uint32_t *p, *sp;
  const uint32_t *src;
  /* Paint from the bottom of the stack up to a little below where this
     function's frame is (nothing below the stack pointer is in use yet). */
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (p = __stack_limit; p < sp - 16; p++) *p = BOARD_STACK_PAINT;
  /* Plain loops, not memcpy/memset: the C library is not set up yet. */
  for (src = __data_load, p = __data_start; p < __data_end;) *p++ = *src++;
  for (p = __bss_start; p < __bss_end;) *p++ = 0;
  main();
  board_stop(1);
}

static void put_str(const char *s) {
  size_t n = 0;
  while (s[n] != '\0') n++;
  board_uart_write(s, n);
}

/* The stacked exception frame: r0-r3, r12, lr, pc, xPSR. Prints the faulting
   pc and lr and the fault status registers, then stops with a failure. */
void fault_report(const uint32_t *frame);
void fault_report(const uint32_t *frame) {
  static const char hex[] = "0123456789abcdef";
  static const char *const names[] = {" pc=", " lr=", " cfsr=", " hfsr=", " mmfar=", " bfar="};
  uint32_t v[6];
  char digits[9];
  int i, j;
  v[0] = frame[6];
  v[1] = frame[5];
  v[2] = *(volatile uint32_t *) 0xE000ED28u; /* CFSR: what went wrong */
  v[3] = *(volatile uint32_t *) 0xE000ED2Cu; /* HFSR */
  v[4] = *(volatile uint32_t *) 0xE000ED34u; /* MMFAR: the address, for a MemManage fault */
  v[5] = *(volatile uint32_t *) 0xE000ED38u; /* BFAR: the address, for a bus fault */
  put_str("\n" BOARD_NAME ": FAULT");
  for (i = 0; i < 6; i++) {
    for (j = 0; j < 8; j++) digits[j] = hex[(v[i] >> (28 - 4 * j)) & 0xfu];
    digits[8] = '\0';
    put_str(names[i]);
    put_str(digits);
  }
  put_str("\n");
  board_stop(0);
}

/* Every fault lands here: pick the stack the exception frame was pushed on
   (bit 2 of EXC_RETURN in lr) and hand it to fault_report. */
void Fault_Handler(void) __attribute__((naked));
void Fault_Handler(void) {
  __asm__ volatile(
      "tst lr, #4\n"
      "ite eq\n"
      "mrseq r0, msp\n"
      "mrsne r0, psp\n"
      "b fault_report\n");
}

void Default_Handler(void);
void Default_Handler(void) {
  put_str("\n" BOARD_NAME ": unexpected interrupt\n");
  board_stop(0);
}
