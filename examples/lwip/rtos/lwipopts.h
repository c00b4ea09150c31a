/* lwipopts.h for the RTOS mode of the lwIP examples: the bare-metal settings
   of ../lwipopts.h, with lwIP in its own thread (NO_SYS=0) and the core lock
   that securenet_port_lwip.h takes around its raw-API calls. On the PC the
   "RTOS" is lwIP's unix port (pthreads); on a board, FreeRTOS or Zephyr's
   sys_arch does the same job. */
#ifndef LWIPOPTS_RTOS_H
#define LWIPOPTS_RTOS_H

#include "../lwipopts.h"

#undef NO_SYS
#define NO_SYS 0
#undef SYS_LIGHTWEIGHT_PROT
#define SYS_LIGHTWEIGHT_PROT 1        /* pbufs are freed from two threads */
#define LWIP_TCPIP_CORE_LOCKING 1     /* required by securenet_port_lwip.h with NO_SYS=0 */
#define TCPIP_THREAD_STACKSIZE 4096
#define TCPIP_THREAD_PRIO 1
#define TCPIP_MBOX_SIZE 64
#define DEFAULT_THREAD_STACKSIZE 4096
#define DEFAULT_RAW_RECVMBOX_SIZE 8
#define DEFAULT_UDP_RECVMBOX_SIZE 8
#define DEFAULT_TCP_RECVMBOX_SIZE 8
#define DEFAULT_ACCEPTMBOX_SIZE 8
#define MEMP_NUM_TCPIP_MSG_INPKT 64   /* frames queued from the driver's thread to lwIP's */

/* lwIP checks that raw-API calls hold the core lock (the unix port's check) */
void sys_check_core_locking(void);
#define LWIP_ASSERT_CORE_LOCKED() sys_check_core_locking()
void sys_mark_tcpip_thread(void);
#define LWIP_MARK_TCPIP_THREAD() sys_mark_tcpip_thread()
void sys_lock_tcpip_core(void);
#define LOCK_TCPIP_CORE() sys_lock_tcpip_core()
void sys_unlock_tcpip_core(void);
#define UNLOCK_TCPIP_CORE() sys_unlock_tcpip_core()

#endif /* LWIPOPTS_RTOS_H */
