/* bench/size/startup.c - the least a Cortex-M4 needs to reach main():
   the vector table, .data copied from flash, .bss zeroed. Used by `make
   size` (bench/size.sh) to link complete images. */
#include <stdint.h>
#include <string.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);

void Reset_Handler(void) {
  memcpy(&_sdata, &_sidata, (size_t) ((char *) &_edata - (char *) &_sdata));
  memset(&_sbss, 0, (size_t) ((char *) &_ebss - (char *) &_sbss));
  main();
  for (;;) {
  }
}

void Default_Handler(void) {
  for (;;) {
  }
}

/* The first 16 entries: initial stack, reset, NMI ... SysTick. */
__attribute__((section(".vectors"), used)) static const uintptr_t vectors[16] = {
    (uintptr_t) &_estack,          (uintptr_t) Reset_Handler,   (uintptr_t) Default_Handler,
    (uintptr_t) Default_Handler,   (uintptr_t) Default_Handler, (uintptr_t) Default_Handler,
    (uintptr_t) Default_Handler,   0,                           0,
    0,                             0,                           (uintptr_t) Default_Handler,
    (uintptr_t) Default_Handler,   0,                           (uintptr_t) Default_Handler,
    (uintptr_t) SysTick_Handler};
