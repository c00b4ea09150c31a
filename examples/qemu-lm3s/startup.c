/* startup.c - the vector table of the LM3S6965 (Cortex-M3).

   Reset_Handler (stack paint, .data, .bss, main), the fault report and
   Default_Handler are the bare-metal boards' shared ones
   (examples/baremetal/cortex_m.c). The Cortex-M3 has no FPU: nothing to
   switch on.

   Interrupts used (the LM3S6965's interrupt numbers, as QEMU's
   hw/arm/stellaris.c wires them): SysTick (board.c) and line 42, the
   Ethernet MAC (enet.c: drains received frames into its ring). */
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

#define IRQ_COUNT 48 /* the LM3S6965's lines 0-47 (the last one it uses is 43, hibernation) */
#define IRQ_ETHERNET 42

/* Word 0 is the initial stack pointer, the others handlers' addresses;
   every line without a handler goes to Default_Handler (four at a time:
   DEFAULT4). */
#define DEFAULT4 (uintptr_t) Default_Handler, (uintptr_t) Default_Handler, (uintptr_t) Default_Handler, (uintptr_t) Default_Handler
__attribute__((section(".vectors"), used)) static const uintptr_t vectors[16 + IRQ_COUNT] = {
    (uintptr_t) __stack_top,
    (uintptr_t) Reset_Handler,
    (uintptr_t) Default_Handler, /* NMI */
    (uintptr_t) Fault_Handler,   /* HardFault */
    (uintptr_t) Fault_Handler,   /* MemManage */
    (uintptr_t) Fault_Handler,   /* BusFault */
    (uintptr_t) Fault_Handler,   /* UsageFault */
    0, 0, 0, 0,                  /* reserved */
    (uintptr_t) Default_Handler, /* SVCall */
    (uintptr_t) Default_Handler, /* DebugMonitor */
    0,                           /* reserved */
    (uintptr_t) Default_Handler, /* PendSV */
    (uintptr_t) SysTick_Handler,
    DEFAULT4, DEFAULT4, DEFAULT4, DEFAULT4, DEFAULT4, DEFAULT4, DEFAULT4, DEFAULT4, DEFAULT4, DEFAULT4, /* 0-39 */
    (uintptr_t) Default_Handler, (uintptr_t) Default_Handler,                                         /* 40, 41 */
    (uintptr_t) ETHERNET_IRQHandler,                                                                  /* 42 */
    (uintptr_t) Default_Handler, DEFAULT4,                                                            /* 43-47 */
};
