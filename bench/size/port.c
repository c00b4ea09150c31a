/* bench/size/port.c - securenet's lwIP port on its own, so that `make size`
   counts it apart from the core (bench/size.sh). The board's entropy read
   is in app.c. */
#include <stddef.h>
#define SN_NO_FILES 1
#include "securenet.h"
int board_trng_read(unsigned char *buf, size_t len);
#define SN_LWIP_ENTROPY(buf, len) board_trng_read(buf, len)
#define SN_LWIP_NO_WALL_CLOCK 1
#define SECURENET_IMPLEMENTATION_DONE 1 /* the core is in sn.c */
#define SECURENET_IMPLEMENTATION
#include "securenet_port_lwip.h"
