/* startup.c - reset to main() on the mps2-an386 board (Cortex-M4).

   What runs before main() on a Cortex-M, and nothing more:
   1. The core loads the stack pointer from word 0 of the vector table and
      jumps to word 1, Reset_Handler (the table sits at address 0: VTOR's
      reset value; mps2-an386.ld puts it first).
   2. Reset_Handler paints the unused stack with a pattern, so the deepest
      use can be measured later (board_mem_get), copies .data from its load
      address in flash to RAM, zeroes .bss, and calls main().
   3. Faults print where they happened on the console and stop the emulator
      with a failure status, so a crash is a test failure, not a hang.
   The FPU is left off: the image is built for the soft-float ABI (as the
   project's `make size` images are); a hard-float build would set CPACR
   bits 20-23 here first.

   Interrupts used (the board's 32 external lines are AN386's; QEMU's
   hw/arm/mps2.c wires them): SysTick (board.c) and line 13, the LAN9118
   Ethernet controller (lan9118.c, only to wake the core from WFI). */
#include <stddef.h>
#include <stdint.h>

#include "board.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];
int main(void);

#define STACK_PAINT 0xC0FFEE55u /* board.c looks for it */

void Reset_Handler(void);
void Reset_Handler(void) {
  uint32_t *p, *sp;
  const uint32_t *src;
  /* Paint from the bottom of the stack up to a little below where this
     function's frame is (nothing below the stack pointer is in use yet). */
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (p = __stack_limit; p < sp - 16; p++) *p = STACK_PAINT;
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
  put_str("\nsn_mps2: FAULT");
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
  put_str("\nsn_mps2: unexpected interrupt\n");
  board_stop(0);
}

/* Handlers other files may provide; until they do, Default_Handler. */
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
void ETHERNET_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));

#define IRQ_COUNT 32 /* AN386: external interrupt lines 0-31 */
#define IRQ_ETHERNET 13

/* Word 0 is the initial stack pointer, the others handlers' addresses. */
__attribute__((section(".vectors"), used)) static const uintptr_t vectors[16 + IRQ_COUNT] = {
    [0] = (uintptr_t) __stack_top,
    [1] = (uintptr_t) Reset_Handler,
    [2] = (uintptr_t) Default_Handler, /* NMI */
    [3] = (uintptr_t) Fault_Handler,   /* HardFault */
    [4] = (uintptr_t) Fault_Handler,   /* MemManage */
    [5] = (uintptr_t) Fault_Handler,   /* BusFault */
    [6] = (uintptr_t) Fault_Handler,   /* UsageFault */
    [11] = (uintptr_t) Default_Handler, /* SVCall */
    [12] = (uintptr_t) Default_Handler, /* DebugMonitor */
    [14] = (uintptr_t) Default_Handler, /* PendSV */
    [15] = (uintptr_t) SysTick_Handler,
    [16 + 0] = (uintptr_t) Default_Handler, /* the external lines, 0-31 */
    [16 + 1] = (uintptr_t) Default_Handler,
    [16 + 2] = (uintptr_t) Default_Handler,
    [16 + 3] = (uintptr_t) Default_Handler,
    [16 + 4] = (uintptr_t) Default_Handler,
    [16 + 5] = (uintptr_t) Default_Handler,
    [16 + 6] = (uintptr_t) Default_Handler,
    [16 + 7] = (uintptr_t) Default_Handler,
    [16 + 8] = (uintptr_t) Default_Handler,
    [16 + 9] = (uintptr_t) Default_Handler,
    [16 + 10] = (uintptr_t) Default_Handler,
    [16 + 11] = (uintptr_t) Default_Handler,
    [16 + 12] = (uintptr_t) Default_Handler,
    [16 + IRQ_ETHERNET] = (uintptr_t) ETHERNET_IRQHandler,
    [16 + 14] = (uintptr_t) Default_Handler,
    [16 + 15] = (uintptr_t) Default_Handler,
    [16 + 16] = (uintptr_t) Default_Handler,
    [16 + 17] = (uintptr_t) Default_Handler,
    [16 + 18] = (uintptr_t) Default_Handler,
    [16 + 19] = (uintptr_t) Default_Handler,
    [16 + 20] = (uintptr_t) Default_Handler,
    [16 + 21] = (uintptr_t) Default_Handler,
    [16 + 22] = (uintptr_t) Default_Handler,
    [16 + 23] = (uintptr_t) Default_Handler,
    [16 + 24] = (uintptr_t) Default_Handler,
    [16 + 25] = (uintptr_t) Default_Handler,
    [16 + 26] = (uintptr_t) Default_Handler,
    [16 + 27] = (uintptr_t) Default_Handler,
    [16 + 28] = (uintptr_t) Default_Handler,
    [16 + 29] = (uintptr_t) Default_Handler,
    [16 + 30] = (uintptr_t) Default_Handler,
    [16 + 31] = (uintptr_t) Default_Handler,
};
