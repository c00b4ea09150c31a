/* semihost.c - ARM semihosting (bkpt 0xAB) for the bare-metal boards under
   QEMU: EMULATION ONLY. See semihost.h for what each call does and why a
   firmware for real hardware must not use them. */
#include "semihost.h"

#include <string.h>

enum {
  SYS_OPEN = 0x01,
  SYS_CLOSE = 0x02,
  SYS_READ = 0x06,
  SYS_TIME = 0x11,
  SYS_EXIT = 0x18,
  OPEN_MODE_RB = 1,                      /* fopen()'s "rb" in the spec's mode table */
  ADP_STOPPED_APPLICATION_EXIT = 0x20026, /* SYS_EXIT reasons (AArch32: the value itself in r1) */
  ADP_STOPPED_RUNTIME_ERROR = 0x20023
};

/* One semihosting call: operation in r0, argument block (or value) in r1,
   result in r0. The "memory" clobber: the host reads and writes the block
   and the buffers it points to. */
static int semihost_call(int op, uintptr_t arg) {
  register int r0 __asm__("r0") = op;
  register uintptr_t r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

int semihost_open_read(const char *path) {
  uintptr_t block[3];
  block[0] = (uintptr_t) path;
  block[1] = OPEN_MODE_RB;
  block[2] = strlen(path);
  return semihost_call(SYS_OPEN, (uintptr_t) block);
}

int semihost_read(int handle, void *buf, size_t len) {
  uintptr_t block[3];
  block[0] = (uintptr_t) handle;
  block[1] = (uintptr_t) buf;
  block[2] = len;
  return semihost_call(SYS_READ, (uintptr_t) block) == 0 ? 0 : -1;
}

void semihost_close(int handle) {
  uintptr_t block[1];
  block[0] = (uintptr_t) handle;
  (void) semihost_call(SYS_CLOSE, (uintptr_t) block);
}

int64_t semihost_time(void) {
  int t = semihost_call(SYS_TIME, 0);
  /* A 32-bit count: unsigned it lasts until 2106. */
  return t == -1 ? -1 : (int64_t) (uint32_t) t;
}

void semihost_exit(int ok) {
  (void) semihost_call(SYS_EXIT, ok ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUNTIME_ERROR);
  for (;;) {
  }
}
