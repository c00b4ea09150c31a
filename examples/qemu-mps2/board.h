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

/* The console's prefix (fault reports included). */
#define BOARD_NAME "sn_mps2"
/* -DSN_MPS2_NO_SEMIHOSTING: as for a board without a debugger (no entropy
   hook: the build must stop at securenet's entropy #error). */
#ifdef SN_MPS2_NO_SEMIHOSTING
#define BOARD_NO_SEMIHOSTING 1
#endif

#define BOARD_SYSCLK_HZ 25000000u /* the MPS2's main clock (QEMU: SYSCLK_FRQ), drives the core and SysTick */

/* The hooks, and the shared half of them (examples/baremetal): console
   UART0 at 115200 8N1; board_ms/us from SysTick; board_idle's WFI wakes on
   SysTick or the LAN9118's receive interrupt; entropy and wall clock
   through semihosting (EMULATION ONLY); the counted heap. */
#include "board_common.h"

#endif /* BOARD_H */
