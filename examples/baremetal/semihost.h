/* semihost.h - ARM semihosting calls used by the bare-metal reference
   boards under QEMU (examples/qemu-mps2, examples/qemu-lm3s): EMULATION ONLY.

   Semihosting lets code on an emulated (or debugger-attached) core ask the
   host to do something for it: the core executes `bkpt 0xAB` with an
   operation number in r0 and a pointer to its arguments in r1, and QEMU
   (started with -semihosting) performs the operation and puts the result in
   r0. The operations used here, from ARM's "Semihosting for AArch32 and
   AArch64" specification:
     SYS_OPEN  (0x01)  open a host file             -> handle, or -1
     SYS_CLOSE (0x02)  close it                     -> 0, or -1
     SYS_READ  (0x06)  read from it                 -> bytes NOT read (0: all)
     SYS_TIME  (0x11)  host time, seconds since 1970
     SYS_EXIT  (0x18)  stop the emulator            -> does not return
   On a board without a debugger attached, `bkpt` is a fault: a firmware for
   real hardware must not call any of these. That is why the entropy source
   built on them is switched off by -DBOARD_NO_SEMIHOSTING (mps2:
   -DSN_MPS2_NO_SEMIHOSTING; and then the firmware does not build:
   securenet_port_lwip.h stops at its entropy #error, which is what a port
   without a TRNG must do). */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* Opens a host file for reading (binary); the handle, or -1. */
int semihost_open_read(const char *path);

/* Reads exactly len bytes from handle into buf: 0, or -1 when the host
   returned fewer (end of file, an error). */
int semihost_read(int handle, void *buf, size_t len);

void semihost_close(int handle);

/* The host's clock: seconds since 1970 UTC, or -1. */
int64_t semihost_time(void);

/* Ends the emulation: QEMU exits with status 0 when ok is nonzero, 1 otherwise. */
void semihost_exit(int ok) __attribute__((noreturn));

#endif /* SEMIHOST_H */
