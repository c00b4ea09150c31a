/* startup.c - the vector table of the mps2-an386 board (Cortex-M4).

   Reset_Handler (stack paint, .data, .bss, main), the fault report and
   Default_Handler are the bare-metal boards' shared ones
   (examples/baremetal/cortex_m.c). The FPU is left off: the image is built
   for the soft-float ABI (as the project's `make size` images are); a
   hard-float build would set CPACR bits 20-23 in Reset_Handler first.

   Interrupts used (the board's 32 external lines are AN386's; QEMU's
   hw/arm/mps2.c wires them): SysTick (board.c) and line 13, the LAN9118
   Ethernet controller (lan9118.c, only to wake the core from WFI). */
#include <stdint.h>

#include "board.h"

extern uint32_t __stack_top[];
void Reset_Handler(void);
void Fault_Handler(void);
void Default_Handler(void);

/* Handlers other files may provide; until they do, Default_Handler (an
   alias must name a function of this file). */
static void unhandled(void) { Default_Handler(); }
void SysTick_Handler(void) __attribute__((weak, alias("unhandled")));
void ETHERNET_IRQHandler(void) __attribute__((weak, alias("unhandled")));

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
