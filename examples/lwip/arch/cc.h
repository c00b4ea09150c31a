/* arch/cc.h - lwIP's compiler/platform glue for securenet's lwIP examples:
   portable C99 with newlib or glibc; nothing board-specific. */
#ifndef ARCH_CC_H
#define ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>

#define LWIP_PLATFORM_DIAG(x) \
  do {                        \
    printf x;                 \
  } while (0)
#define LWIP_PLATFORM_ASSERT(x)                                                      \
  do {                                                                               \
    printf("lwIP assertion \"%s\" failed at line %d in %s\n", x, __LINE__, __FILE__); \
    fflush(stdout);                                                                  \
    abort();                                                                         \
  } while (0)

/* What sys_arch_protect() returns (SYS_LIGHTWEIGHT_PROT, RTOS mode): the
   type of lwIP's unix port; a board's RTOS port may use its own. */
typedef int sys_prot_t;

#endif /* ARCH_CC_H */
