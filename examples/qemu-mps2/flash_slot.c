/* flash_slot.c - simulated NOR flash with its rules enforced, and the
   update slot (two banks and an accepted record) on top; flash_slot.h
   says what each does. Plain C99: the firmware builds it for the board and
   tests/test_flash_slot.c for the host. */
#include "flash_slot.h"

#include <stdio.h>
#include <string.h>

/* ---- simulated NOR flash ---------------------------------------------------- */
static int bit_get(const unsigned char *map, uint32_t i) { return (map[i >> 3] >> (i & 7)) & 1; }

static void flash_fault(flash_sim *f, const char *fmt, unsigned long a, unsigned long b, unsigned long c) {
  char line[200];
  f->faults++;
  snprintf(line, sizeof line, fmt, a, b, c);
  if (f->log != NULL) f->log(f->log_user, line);
}

void flash_sim_init(flash_sim *f, void *mem, void *bitmap, uint32_t size) {
  uint32_t i;
  memset(f, 0, sizeof *f);
  f->mem = (unsigned char *) mem;
  f->written = (unsigned char *) bitmap;
  f->size = size - size % FLASH_SECTOR;
  memset(f->written, 0, f->size / 8);
  for (i = 0; i < f->size; i++) /* what is not erased reads as programmed */
    if (f->mem[i] != 0xFF) f->written[i >> 3] |= (unsigned char) (1u << (i & 7));
}

void flash_sim_open(flash_sim *f, uint32_t lo, uint32_t hi) {
  f->open_lo = lo;
  f->open_hi = hi;
}

int flash_sim_erase(flash_sim *f, uint32_t addr) {
  uint32_t at = addr - addr % FLASH_SECTOR;
  if (at >= f->size || at < f->open_lo || at + FLASH_SECTOR > f->open_hi) {
    flash_fault(f, "flash: FAULT: erase of the sector at 0x%06lx outside the open range 0x%06lx-0x%06lx", at,
                f->open_lo, f->open_hi);
    return -1;
  }
  memset(f->mem + at, 0xFF, FLASH_SECTOR);
  memset(f->written + at / 8, 0, FLASH_SECTOR / 8);
  f->erases++;
  return 0;
}

int flash_sim_program(flash_sim *f, uint32_t addr, const void *data, size_t len) {
  const unsigned char *p = (const unsigned char *) data;
  unsigned long again = 0, first = 0;
  size_t i;
  if (len == 0) return 0;
  if (addr >= f->size || len > f->size - addr || addr < f->open_lo || addr + len > f->open_hi) {
    flash_fault(f, "flash: FAULT: program of %lu bytes at 0x%06lx outside the open range (it ends at 0x%06lx)",
                (unsigned long) len, addr, f->open_hi);
    return -1;
  }
  for (i = 0; i < len; i++) {
    uint32_t a = addr + (uint32_t) i;
    if (bit_get(f->written, a)) {
      if (again++ == 0) first = a;
    }
    f->mem[a] &= p[i]; /* programming clears bits; only an erase sets them */
    f->written[a >> 3] |= (unsigned char) (1u << (a & 7));
  }
  f->programmed += len;
  if (again) {
    flash_fault(f, "flash: FAULT: program at 0x%06lx: %lu of its bytes were programmed since their last erase (first 0x%06lx)",
                addr, again, first);
    return -1;
  }
  return 0;
}

/* ---- the accepted record ------------------------------------------------------- */
#define REC_SIZE 32u
#define REC_MAGIC "SNAR"

static uint32_t get32(const unsigned char *p) {
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char) v, p[1] = (unsigned char) (v >> 8), p[2] = (unsigned char) (v >> 16), p[3] = (unsigned char) (v >> 24);
}

static uint32_t crc32(const unsigned char *p, size_t n) { /* IEEE 802.3, bit by bit: 16 bytes per record */
  uint32_t c = 0xFFFFFFFFu;
  int k;
  while (n--) {
    c ^= *p++;
    for (k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return ~c;
}

/* A valid record: its magic, its CRC, a bank and a length that fit. */
static int rec_valid(const flash_slot *s, const unsigned char *r) {
  return memcmp(r, REC_MAGIC, 4) == 0 && get32(r + 16) == crc32(r, 16) && get32(r + 8) <= 1 &&
         get32(r + 12) <= s->bank_size;
}

static int rec_erased(const unsigned char *r) {
  uint32_t i;
  for (i = 0; i < REC_SIZE; i++)
    if (r[i] != 0xFF) return 0;
  return 1;
}

/* Programs a record naming bank and bytes into the next erased place;
   when the current record sector has none, erases the other one first
   (never the one holding the newest record). */
static int rec_append(flash_slot *s, int bank, uint32_t bytes) {
  flash_sim *f = s->flash;
  uint32_t sec = (uint32_t) s->rec_sector, off = s->rec_next;
  unsigned char r[REC_SIZE];
  int err;
  while (off + REC_SIZE <= FLASH_SECTOR && !rec_erased(f->mem + sec * FLASH_SECTOR + off)) off += REC_SIZE;
  if (off + REC_SIZE > FLASH_SECTOR) {
    sec ^= 1u;
    off = 0;
    flash_sim_open(f, sec * FLASH_SECTOR, (sec + 1) * FLASH_SECTOR);
    if (flash_sim_erase(f, sec * FLASH_SECTOR) != 0) return -1;
  }
  flash_sim_open(f, sec * FLASH_SECTOR, (sec + 1) * FLASH_SECTOR);
  memset(r, 0, sizeof r);
  memcpy(r, REC_MAGIC, 4);
  put32(r + 4, s->seq + 1);
  put32(r + 8, (uint32_t) bank);
  put32(r + 12, bytes);
  put32(r + 16, crc32(r, 16));
  err = flash_sim_program(f, sec * FLASH_SECTOR + off, r, sizeof r);
  flash_sim_open(f, 0, 0);
  if (err != 0 || !rec_valid(s, f->mem + sec * FLASH_SECTOR + off)) return -1;
  s->seq++;
  s->accepted = bank;
  s->accepted_bytes = bytes;
  s->rec_sector = (int) sec;
  s->rec_next = off + REC_SIZE;
  return 0;
}

int flash_slot_init(flash_slot *s, flash_sim *f, uint32_t bank_size) {
  uint32_t sec, off;
  memset(s, 0, sizeof *s);
  s->flash = f;
  s->accepted = -1;
  s->bank = -1;
  if (bank_size == 0 || bank_size % FLASH_SECTOR != 0 || f->size < 2 * FLASH_SECTOR ||
      (f->size - 2 * FLASH_SECTOR) / 2 < bank_size)
    return -1;
  s->bank_size = bank_size;
  s->bank_addr[0] = 2 * FLASH_SECTOR;
  s->bank_addr[1] = 2 * FLASH_SECTOR + bank_size;
  for (sec = 0; sec < 2; sec++)
    for (off = 0; off + REC_SIZE <= FLASH_SECTOR; off += REC_SIZE) {
      const unsigned char *r = f->mem + sec * FLASH_SECTOR + off;
      if (!rec_valid(s, r) || (s->accepted >= 0 && (int32_t) (get32(r + 4) - s->seq) <= 0)) continue;
      s->seq = get32(r + 4);
      s->accepted = (int) get32(r + 8);
      s->accepted_bytes = get32(r + 12);
      s->rec_sector = (int) sec;
      s->rec_next = off + REC_SIZE;
    }
  flash_sim_open(f, 0, 0);
  return 0;
}

/* ---- what the console shows ------------------------------------------------------- */
void flash_slot_version(const flash_slot *s, char *out, size_t n) {
  const unsigned char *h;
  size_t i = 0;
  if (n == 0) return;
  out[0] = '\0';
  if (s->accepted < 0 || s->accepted_bytes < 48) return;
  h = s->flash->mem + s->bank_addr[s->accepted];
  if (memcmp(h, "SNFW", 4) != 0) return;
  for (i = 0; i < 32 && i + 1 < n && h[16 + i] >= 0x20 && h[16 + i] <= 0x7E; i++) out[i] = (char) h[16 + i];
  out[i] = '\0';
}

void flash_slot_describe(const flash_slot *s, char *out, size_t n) {
  char version[33];
  size_t k;
  if (n == 0) return;
  flash_slot_version(s, version, sizeof version);
  if (s->accepted < 0) k = (size_t) snprintf(out, n, "slot: no accepted image");
  else
    k = (size_t) snprintf(out, n, "slot: accepted bank %c, %lu bytes, version %s, record %lu", 'A' + s->accepted,
                          (unsigned long) s->accepted_bytes, version[0] ? version : "?", (unsigned long) s->seq);
  if (k < n && s->bank >= 0)
    k += (size_t) snprintf(out + k, n - k, "; receiving bank %c, %lu of %lu bytes", 'A' + s->bank,
                           (unsigned long) s->written, (unsigned long) s->size);
  if (k < n) k += (size_t) snprintf(out + k, n - k, ", faults %lu", s->flash->faults);
  if (k < n && s->misuse) snprintf(out + k, n - k, ", contract errors %lu", s->misuse);
}

static void slot_say(flash_slot *s, const char *event) {
  char line[240];
  size_t k;
  if (s->log == NULL) return;
  flash_slot_describe(s, line, sizeof line);
  k = strlen(line);
  snprintf(line + k, sizeof line - k, " (%s)", event);
  s->log(s->log_user, line);
}

static int slot_misuse(flash_slot *s, int err, const char *what) {
  char line[160];
  s->misuse++;
  snprintf(line, sizeof line, "slot: contract error: %s", what);
  if (s->log != NULL) s->log(s->log_user, line);
  return err;
}

/* ---- the hooks ------------------------------------------------------------------- */
static int slot_open(void *ctx, uint64_t size) {
  flash_slot *s = (flash_slot *) ctx;
  char ev[80];
  if (s->bank >= 0) {
    slot_misuse(s, SN_ERR_STATE, "open while an update is open (the last one was neither finished nor aborted)");
    s->bank = -1;
  }
  if (size > s->bank_size) {
    snprintf(ev, sizeof ev, "%lu bytes refused: a bank holds %lu", (unsigned long) (size > 0xFFFFFFFFu ? 0xFFFFFFFFu : size),
             (unsigned long) s->bank_size);
    slot_say(s, ev);
    return SN_ERR_TOO_BIG;
  }
  s->bank = s->accepted == 0 ? 1 : 0; /* never the bank of the accepted image */
  s->size = (uint32_t) size;
  s->written = 0;
  s->erased_to = 0;
  flash_sim_open(s->flash, s->bank_addr[s->bank], s->bank_addr[s->bank] + s->bank_size);
  slot_say(s, "update opened");
  return SN_OK;
}

static int slot_write(void *ctx, uint64_t off, const void *data, size_t len) {
  flash_slot *s = (flash_slot *) ctx;
  uint32_t base, end;
  if (s->bank < 0) return slot_misuse(s, SN_ERR_STATE, "write without an open update");
  if (off != s->written) return slot_misuse(s, SN_ERR_INVALID, "write not at the end of what was written (a gap or an overlap)");
  if (len > s->size - s->written) return slot_misuse(s, SN_ERR_TOO_BIG, "write beyond the size given to open");
  base = s->bank_addr[s->bank];
  end = s->written + (uint32_t) len;
  while (s->erased_to < end) { /* erase as the writes reach each sector */
    if (flash_sim_erase(s->flash, base + s->erased_to) != 0) return SN_ERR_IO;
    s->erased_to += FLASH_SECTOR;
  }
  if (flash_sim_program(s->flash, base + s->written, data, len) != 0) return SN_ERR_IO;
  s->written = end;
  return SN_OK;
}

static int slot_finish(void *ctx) {
  flash_slot *s = (flash_slot *) ctx;
  int bank = s->bank;
  if (bank < 0) return slot_misuse(s, SN_ERR_STATE, "finish without an open update");
  if (s->written != s->size) {
    s->bank = -1;
    flash_sim_open(s->flash, 0, 0);
    return slot_misuse(s, SN_ERR_STATE, "finish before every byte was written");
  }
  s->bank = -1;
  if (rec_append(s, bank, s->size) != 0) {
    slot_say(s, "the record could not be written");
    return SN_ERR_IO;
  }
  slot_say(s, "update finished");
  return SN_OK;
}

static void slot_abort(void *ctx) {
  flash_slot *s = (flash_slot *) ctx;
  char ev[96];
  if (s->bank < 0) return;
  snprintf(ev, sizeof ev, "update into bank %c dropped at %lu of %lu bytes", 'A' + s->bank,
           (unsigned long) s->written, (unsigned long) s->size);
  s->bank = -1;
  flash_sim_open(s->flash, 0, 0);
  slot_say(s, ev);
}

const sn_slot_ops flash_slot_ops = {slot_open, slot_write, slot_finish, slot_abort};
