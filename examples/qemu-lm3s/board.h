/* board.h - the LM3S6965 (QEMU's lm3s6965evb) as the sn_lm3s firmware sees
   it: what a port of securenet to a new MCU has to write, one hook at a time.

     hook                     here (lm3s6965evb under QEMU)          a real board
     clocks                   PLL: 8 MHz crystal -> 50 MHz (RCC)     the same code
     console (logs, commands) UART0 (a PL011), polled, 115200 8N1    the same code
     millisecond clock        SysTick at 1 kHz (sys_now, mbedTLS)    the same code
     entropy (TLS keys)       host /dev/urandom via semihosting:     a TRNG: the LM3S6965 has
                              EMULATION ONLY                         none, so an external one
     wall clock (cert dates)  semihosting SYS_TIME once at boot,     the hibernation module's
                              then SysTick                           RTC, or SNTP
     memory                   newlib malloc, counted (peak, now)     the same
     Ethernet                 the on-chip MAC (enet.h): received     the same code
                              frames drained from the interrupt
                              into a ring of pbufs

   The shared half (start-up, fault report, system calls, semihosting, the
   counted heap, the wall clock) is examples/baremetal's, as for the mps2
   board. Everything here is called from the main loop only, except the
   SysTick and Ethernet interrupt handlers. */
#ifndef BOARD_H
#define BOARD_H

/* The console's prefix (fault reports included). */
#define BOARD_NAME "sn_lm3s"

/* The core clock after board_init: the PLL's 200 MHz / 4 (the part's
   maximum, 50 MHz). QEMU computes the same from RCC's SYSDIV field
   (hw/arm/stellaris.c, ssys_calculate_system_clock: 200 MHz / (SYSDIV + 1)). */
#define BOARD_SYSCLK_HZ 50000000u

#include "board_common.h"

#endif /* BOARD_H */
