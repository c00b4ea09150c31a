/* flash_slot.h - the sn_mps2 firmware's update slot: two banks of
   simulated NOR flash and a record of which one holds the accepted image,
   behind securenet's slot hooks (sn_slot_ops).

   The board has no flash to spare (its "flash" is the 4 MiB SSRAM the
   firmware runs from), so the slot lives in RAM made to behave like NOR
   flash (flash_sim below): 4 KiB sectors, an erase sets a sector to 0xFF,
   programming only clears bits, and programming a byte again before its
   sector is erased, or anywhere outside the range the slot opened for
   writing, is a FAULT: counted, logged, and the program call fails. The
   slot code must never cause one; the tests assert the count stays 0.

   Layout (flash_slot_init), from the start of the simulated flash:
     sector 0, 1    the accepted record, in two sectors used in turn
     bank A         bank_size bytes (whole sectors)
     bank B         bank_size bytes
   A record is 32 bytes programmed once into an erased place of a record
   sector: "SNAR", a sequence number, the bank (0 A, 1 B), the image's
   length, a CRC-32 of those, zeros. The newest valid record wins; when a
   record sector is full the other one is erased and used, so the newest
   record survives a power cut during any erase or program.

   open() picks the bank that does not hold the accepted image and opens it
   (and nothing else) for writing; write() checks the bytes come in order,
   erases each sector when the first write reaches it (one sector per
   write of up to 4 KiB: each hook blocks an sn_poll round) and programs
   them; finish() programs a record naming the new bank; abort() closes the
   bank and leaves the record alone. The running image is the firmware
   itself, in the board's code memory, and is never written. */
#ifndef FLASH_SLOT_H
#define FLASH_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include "securenet.h" /* sn_slot_ops, SN_ERR_* */

#define FLASH_SECTOR 4096u

/* ---- simulated NOR flash -------------------------------------------------- */
typedef struct flash_sim {
  unsigned char *mem;     /* the array, read directly (memory-mapped, as NOR is) */
  unsigned char *written; /* one bit per byte: programmed since its sector's last erase */
  uint32_t size;          /* bytes: whole sectors */
  uint32_t open_lo, open_hi; /* programs and erases are allowed in [open_lo, open_hi) only */
  unsigned long faults;   /* rule violations: the slot code must never cause one */
  unsigned long erases;   /* sectors erased */
  unsigned long programmed; /* bytes programmed */
  void (*log)(void *user, const char *line); /* faults are logged here (optional) */
  void *log_user;
} flash_sim;

/* Takes over `size` bytes at mem (a multiple of FLASH_SECTOR) and a
   bitmap of size / 8 bytes. The content is kept as it is: a byte that is
   not 0xFF counts as programmed (zeroed RAM is a chip to erase first). */
void flash_sim_init(flash_sim *f, void *mem, void *bitmap, uint32_t size);
/* Which range the next programs and erases may touch (lo == hi: none). */
void flash_sim_open(flash_sim *f, uint32_t lo, uint32_t hi);
/* Erases the sector that holds addr: 0, or -1 (a fault: outside the
   open range or the flash). */
int flash_sim_erase(flash_sim *f, uint32_t addr);
/* Programs len bytes at addr: each byte becomes old & new. 0, or -1 (a
   fault: outside the open range, or a byte programmed since its last
   erase; the bytes are still ANDed in, as real flash would). */
int flash_sim_program(flash_sim *f, uint32_t addr, const void *data, size_t len);

/* ---- the slot --------------------------------------------------------------- */
typedef struct flash_slot {
  flash_sim *flash;
  uint32_t bank_size;
  uint32_t bank_addr[2];
  /* the accepted image (the newest valid record) */
  int accepted;          /* -1: none, 0: bank A, 1: bank B */
  uint32_t accepted_bytes, seq;
  int rec_sector;        /* the record sector the newest record is in */
  uint32_t rec_next;     /* its next place to look for an erased record */
  /* the update under way */
  int bank;              /* -1: none open */
  uint32_t size, written, erased_to;
  unsigned long misuse;  /* hook calls against the contract (out of order, not open, ...) */
  void (*log)(void *user, const char *line); /* the state after each change (optional) */
  void *log_user;
} flash_slot;

extern const sn_slot_ops flash_slot_ops; /* slot_ctx: the flash_slot */

/* Lays the slot out over the flash (two record sectors, then two banks of
   bank_size bytes, a multiple of FLASH_SECTOR) and reads the newest
   record. 0, or -1 if the flash is too small. Writes nothing. */
int flash_slot_init(flash_slot *s, flash_sim *f, uint32_t bank_size);
/* The state in one line, e.g. "slot: accepted bank B, 1048704 bytes,
   version 1.2.0, record 3, faults 0" (NUL-terminated, cut to fit). */
void flash_slot_describe(const flash_slot *s, char *out, size_t n);
/* The accepted image's version text from its header in flash ("" if none). */
void flash_slot_version(const flash_slot *s, char *out, size_t n);

#endif /* FLASH_SLOT_H */
