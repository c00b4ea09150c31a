/* syscalls.c - the few system calls newlib(-nano) needs on bare metal, for
   the reference boards' firmware (examples/qemu-mps2, examples/qemu-lm3s):
     _sbrk          malloc's memory: from the end of .bss up to the stack
                    (the board's linker script: __heap_start..__heap_limit), never into it
     _write         stdout and stderr go to the UART console (printf, logs)
     _gettimeofday  time(): mbedTLS's session cache and ticket lifetimes,
                    from the board's wall clock
     _exit, _kill   abort() and exit(): stop the firmware
   and stubs for the rest (no files: every call that would need one fails
   with ENOSYS or EBADF). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "board.h"

#undef errno
extern int errno;

/* What newlib calls them; declared here because newlib's headers do not. */
void *_sbrk(ptrdiff_t incr);
int _write(int fd, const void *buf, size_t len);
int _read(int fd, void *buf, size_t len);
int _close(int fd);
int _fstat(int fd, struct stat *st);
int _isatty(int fd);
int _lseek(int fd, int off, int whence);
int _getpid(void);
int _kill(int pid, int sig);
void _exit(int status) __attribute__((noreturn));
int _gettimeofday(struct timeval *tv, void *tz);
char *syscalls_heap_break(void);

extern char __heap_start[], __heap_limit[];
static char *heap_break = __heap_start;

/* The arena grows in one direction and never shrinks (newlib-nano's malloc
   keeps freed blocks on its own list). Refusing to cross __heap_limit
   makes running out of memory a NULL from malloc, which securenet and
   mbedTLS handle, instead of a heap silently overwriting the stack. */
void *_sbrk(ptrdiff_t incr) {
  char *prev = heap_break;
  if (incr < 0 || incr > __heap_limit - heap_break) {
    errno = ENOMEM;
    return (void *) -1;
  }
  heap_break += incr;
  return prev;
}

char *syscalls_heap_break(void) { return heap_break; }

int _write(int fd, const void *buf, size_t len) {
  if (fd != 1 && fd != 2) {
    errno = EBADF;
    return -1;
  }
  board_uart_write((const char *) buf, len);
  return (int) len;
}

int _read(int fd, void *buf, size_t len) {
  (void) fd, (void) buf, (void) len;
  errno = ENOSYS; /* the console is read with board_uart_getc(), which never waits */
  return -1;
}

int _close(int fd) {
  (void) fd;
  errno = EBADF;
  return -1;
}

int _fstat(int fd, struct stat *st) {
  (void) fd;
  st->st_mode = S_IFCHR; /* a character device: newlib line-buffers stdout */
  return 0;
}

int _isatty(int fd) { return fd >= 0 && fd <= 2; }

int _lseek(int fd, int off, int whence) {
  (void) fd, (void) off, (void) whence;
  errno = ESPIPE;
  return -1;
}

int _getpid(void) { return 1; }

int _kill(int pid, int sig) {
  (void) pid, (void) sig;
  errno = EINVAL;
  return -1;
}

void _exit(int status) { board_stop(status == 0); }

int _gettimeofday(struct timeval *tv, void *tz) {
  int64_t s = board_wall_s();
  (void) tz;
  if (tv == NULL) return 0;
  if (s < 0) s = (int64_t) (board_ms64() / 1000u); /* unknown date: still a clock that advances */
  tv->tv_sec = (time_t) s;
  tv->tv_usec = (suseconds_t) ((board_ms64() % 1000u) * 1000u);
  return 0;
}
