/* test_flash_slot.c - the QEMU firmware's update slot on the host
   (examples/qemu-mps2/flash_slot.c): the simulated NOR flash enforces its
   rules (erase to 0xFF, programming only clears bits, a byte programmed
   twice between erases or outside the open range is a fault), and the
   slot on top keeps to them in every path: two banks, the accepted record,
   out-of-order writes refused, an abort or a torn record leaving the
   accepted image, a reboot reading it back, the record sectors wrapping.
   The negative checks drive the flash the way a buggy slot would (a
   double program, a program without an erase) and see the fault counted. */
#include "securenet.h"
#include "test.h"

#include "examples/qemu-mps2/flash_slot.c"

#include <stdlib.h>

#define BANK (16 * FLASH_SECTOR)
#define FLASH_BYTES (2 * FLASH_SECTOR + 2 * BANK)

static unsigned char flash_mem[FLASH_BYTES];
static unsigned char flash_map[FLASH_BYTES / 8];
static char last_line[300];
static int fault_lines, lines;

static void log_line(void *user, const char *line) {
  (void) user;
  snprintf(last_line, sizeof last_line, "%s", line);
  lines++;
  if (strstr(line, "FAULT") != NULL) fault_lines++;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
  size_t i;
  srand(seed);
  for (i = 0; i < n; i++) p[i] = (unsigned char) rand();
}

/* Writes img[off, n) through the hooks in pieces of 1 to max bytes; the first error. */
static int write_from(flash_slot *s, const unsigned char *img, size_t off, size_t n, size_t max) {
  while (off < n) {
    size_t k = 1 + (size_t) rand() % max;
    int r;
    if (k > n - off) k = n - off;
    if ((r = flash_slot_ops.write(s, off, img + off, k)) != SN_OK) return r;
    off += k;
  }
  return SN_OK;
}

static int write_pieces(flash_slot *s, const unsigned char *img, size_t n, size_t max) {
  return write_from(s, img, 0, n, max);
}

static void boot(flash_sim *f, flash_slot *s) { /* a reboot: only the flash's content stays */
  flash_sim_init(f, flash_mem, flash_map, FLASH_BYTES);
  f->log = log_line;
  flash_slot_init(s, f, BANK);
  s->log = log_line;
}

static void test_flash_rules(void) {
  flash_sim f;
  unsigned char b[16], ff = 0xFF, z = 0x0F;
  int r;
  memset(flash_mem, 0, sizeof flash_mem);
  flash_sim_init(&f, flash_mem, flash_map, FLASH_BYTES);
  f.log = log_line;
  flash_sim_open(&f, 0, FLASH_SECTOR);
  fault_lines = 0;
  r = flash_sim_program(&f, 0, b, 1);
  test_report(r == -1 && f.faults == 1 && fault_lines == 1, "flash: zeroed RAM counts as programmed: a program before its erase is a FAULT",
              "r %d, faults %lu, lines %d", r, f.faults, fault_lines);
  r = flash_sim_erase(&f, 100);
  test_report(r == 0 && flash_mem[0] == 0xFF && flash_mem[FLASH_SECTOR - 1] == 0xFF && flash_mem[FLASH_SECTOR] == 0 && f.erases == 1,
              "flash: an erase sets its whole 4 KiB sector (and only it) to 0xFF", "r %d, bytes %02x %02x %02x", r, flash_mem[0],
              flash_mem[FLASH_SECTOR - 1], flash_mem[FLASH_SECTOR]);
  memset(b, 0xA5, sizeof b);
  r = flash_sim_program(&f, 0, b, sizeof b);
  test_report(r == 0 && f.faults == 1 && memcmp(flash_mem, b, sizeof b) == 0, "flash: erased bytes take what is programmed",
              "r %d, faults %lu", r, f.faults);
  r = flash_sim_program(&f, 3, &z, 1);
  test_report(r == -1 && f.faults == 2 && flash_mem[3] == (0xA5 & 0x0F) && strstr(last_line, "FAULT") != NULL,
              "flash: programming a byte again before an erase is a FAULT, logged, and only clears bits (0xA5 & 0x0F)",
              "r %d, faults %lu, byte %02x, log %s", r, f.faults, flash_mem[3], last_line);
  flash_sim_program(&f, 16, &ff, 1);
  r = flash_sim_program(&f, 16, &ff, 1);
  test_report(r == -1 && f.faults == 3, "flash: a second program of a byte is a FAULT even when it changes no bit (0xFF twice)",
              "r %d, faults %lu", r, f.faults);
  r = flash_sim_program(&f, FLASH_SECTOR - 1, b, 2);
  test_report(r == -1 && f.faults == 4 && flash_mem[FLASH_SECTOR] == 0, "flash: a program reaching past the open range is a FAULT and writes nothing",
              "r %d, faults %lu", r, f.faults);
  r = flash_sim_erase(&f, FLASH_SECTOR);
  test_report(r == -1 && f.faults == 5 && flash_mem[FLASH_SECTOR] == 0, "flash: an erase outside the open range is a FAULT and erases nothing",
              "r %d, faults %lu", r, f.faults);
  flash_sim_erase(&f, 0);
  r = flash_sim_program(&f, 3, &z, 1);
  test_report(r == 0 && f.faults == 5 && flash_mem[3] == 0x0F, "flash: after an erase the byte may be programmed again", "r %d", r);
}

static void test_slot(void) {
  static unsigned char img1[40000], img2[BANK], img3[30001], small[100];
  flash_sim f;
  flash_slot s;
  char line[240];
  int r, i, ok;
  unsigned long erases;
  memset(flash_mem, 0, sizeof flash_mem); /* QEMU's RAM starts zeroed: nothing is erased */
  boot(&f, &s);
  test_report(s.accepted == -1 && s.bank_addr[0] == 2 * FLASH_SECTOR && s.bank_addr[1] == 2 * FLASH_SECTOR + BANK,
              "slot: a blank flash has no accepted image; banks A and B after the two record sectors", "accepted %d", s.accepted);
  r = flash_slot_ops.open(&s, BANK + 1);
  test_report(r == SN_ERR_TOO_BIG && s.bank == -1 && f.erases == 0, "slot: open for more than a bank is SN_ERR_TOO_BIG, nothing erased",
              "r %d", r);
  r = flash_slot_ops.open(&s, BANK);
  test_report(r == SN_OK && s.bank == 0 && f.erases == 0, "slot: open for exactly a bank picks bank A and erases nothing yet", "r %d bank %d", r,
              s.bank);
  flash_slot_ops.abort(&s);

  /* image 1 into bank A, in pieces of up to 4 KiB */
  fill(img1, sizeof img1, 1);
  memcpy(img1, "SNFW\0\1\0\100", 8);
  memset(img1 + 16, 0, 32);
  memcpy(img1 + 16, "qemu-1", 6);
  r = flash_slot_ops.open(&s, sizeof img1);
  erases = f.erases;
  if (r == SN_OK) r = flash_slot_ops.write(&s, 0, img1, 64);
  test_report(r == SN_OK && f.erases == erases + 1, "slot: the first write erases the first sector only (erase as writes reach sectors)",
              "r %d, erases %lu", r, f.erases - erases);
  if (r == SN_OK) r = write_from(&s, img1, 64, sizeof img1, FLASH_SECTOR);
  test_report(r == SN_OK && f.erases - erases == (sizeof img1 + FLASH_SECTOR - 1) / FLASH_SECTOR,
              "slot: a 40000-byte image in pieces of 1..4096 bytes erases exactly its 10 sectors", "r %d, erases %lu", r, f.erases - erases);
  r = flash_slot_ops.finish(&s);
  flash_slot_describe(&s, line, sizeof line);
  test_report(r == SN_OK && s.accepted == 0 && s.accepted_bytes == sizeof img1 && s.seq == 1 &&
                  memcmp(flash_mem + s.bank_addr[0], img1, sizeof img1) == 0 &&
                  strcmp(line, "slot: accepted bank A, 40000 bytes, version qemu-1, record 1, faults 0") == 0,
              "slot: finish records bank A; the bank holds the image byte for byte; the console line says so", "r %d, line %s", r, line);

  /* image 2 into bank B, cut off half-way */
  fill(img2, sizeof img2, 2);
  r = flash_slot_ops.open(&s, sizeof img2);
  test_report(r == SN_OK && s.bank == 1 && f.open_lo == s.bank_addr[1] && f.open_hi == s.bank_addr[1] + BANK,
              "slot: with A accepted, open picks bank B and opens only B for writing", "r %d bank %d", r, s.bank);
  r = write_pieces(&s, img2, sizeof img2 / 2, 2048);
  flash_slot_ops.abort(&s);
  flash_slot_describe(&s, line, sizeof line);
  test_report(r == SN_OK && s.accepted == 0 && s.seq == 1 && memcmp(flash_mem + s.bank_addr[0], img1, sizeof img1) == 0 &&
                  strstr(last_line, "dropped at 32768 of 65536 bytes") != NULL && strncmp(line, "slot: accepted bank A,", 22) == 0,
              "slot: abort half-way leaves the record and bank A as they were", "line %s, log %s", line, last_line);

  /* image 3 into bank B (erased again from its start), finished */
  fill(img3, sizeof img3, 3);
  r = flash_slot_ops.open(&s, sizeof img3);
  if (r == SN_OK) r = write_pieces(&s, img3, sizeof img3, 3000);
  if (r == SN_OK) r = flash_slot_ops.finish(&s);
  test_report(r == SN_OK && s.accepted == 1 && s.seq == 2 && memcmp(flash_mem + s.bank_addr[1], img3, sizeof img3) == 0 &&
                  memcmp(flash_mem + s.bank_addr[0], img1, sizeof img1) == 0 && f.faults == 0,
              "slot: after the abort, a whole image goes into B again (its sectors erased anew) and B is accepted", "r %d, faults %lu", r,
              f.faults);

  boot(&f, &s);
  test_report(s.accepted == 1 && s.accepted_bytes == sizeof img3 && s.seq == 2 && s.rec_sector == 1 && s.rec_next == 64,
              "slot: after a reboot the newest record is read back (bank B, its length, record 2)", "accepted %d, bytes %lu, seq %lu",
              s.accepted, (unsigned long) s.accepted_bytes, (unsigned long) s.seq);

  /* the contract's order, checked before anything is programmed */
  r = flash_slot_ops.write(&s, 0, small, 1);
  test_report(r == SN_ERR_STATE && s.misuse == 1, "slot: a write without open is refused", "r %d", r);
  r = flash_slot_ops.open(&s, sizeof small);
  test_report(r == SN_OK && s.bank == 0, "slot: with B accepted, open picks A", "r %d", r);
  r = flash_slot_ops.write(&s, 10, small, 10);
  test_report(r == SN_ERR_INVALID && s.misuse == 2 && f.programmed == 0, "slot: a write with a gap is refused, nothing programmed", "r %d", r);
  flash_slot_ops.write(&s, 0, small, 10);
  r = flash_slot_ops.write(&s, 5, small, 10);
  test_report(r == SN_ERR_INVALID && f.faults == 0, "slot: an overlapping write is refused before it reaches the flash (no fault)",
              "r %d, faults %lu", r, f.faults);
  r = flash_slot_ops.write(&s, 10, small, sizeof small);
  test_report(r == SN_ERR_TOO_BIG, "slot: a write beyond the size given to open is refused", "r %d", r);
  r = flash_slot_ops.finish(&s);
  test_report(r == SN_ERR_STATE && s.accepted == 1 && s.seq == 2 && s.bank == -1, "slot: finish before the last byte is refused; B stays accepted",
              "r %d", r);
  s.misuse = 0;

  /* 300 updates: the record sectors (128 records each) fill and are erased in turn */
  ok = 1;
  for (i = 0; i < 300 && ok; i++) {
    int want = s.accepted ^ 1;
    fill(small, sizeof small, 100 + (unsigned) i);
    ok = flash_slot_ops.open(&s, sizeof small) == SN_OK && write_pieces(&s, small, sizeof small, 40) == SN_OK &&
         flash_slot_ops.finish(&s) == SN_OK && s.accepted == want;
    if (ok && i % 37 == 0) {
      boot(&f, &s);
      ok = s.accepted == want && s.seq == (uint32_t) i + 3;
    }
  }
  boot(&f, &s);
  test_report(ok && s.seq == 302 && s.accepted == 1 && memcmp(flash_mem + s.bank_addr[1], small, sizeof small) == 0 && f.faults == 0 &&
                  s.misuse == 0,
              "slot: 300 updates wrap the two record sectors; every reboot finds the newest; no fault", "i %d, seq %lu, faults %lu", i,
              (unsigned long) s.seq, f.faults);

  /* a record torn by a power cut (its CRC not all programmed) is skipped */
  {
    unsigned char *rec = flash_mem + (uint32_t) s.rec_sector * FLASH_SECTOR + s.rec_next - REC_SIZE;
    rec[16] ^= 0xFF;
    boot(&f, &s);
    test_report(s.seq == 301 && s.accepted == 0, "slot: a torn newest record is skipped: the one before it is the accepted image",
                "seq %lu, accepted %d", (unsigned long) s.seq, s.accepted);
  }
}

/* What a buggy slot would do, and that the flash tells. */
static void test_buggy_slot(void) {
  static unsigned char img[10000];
  flash_sim f;
  flash_slot s;
  char line[240];
  int r;
  memset(flash_mem, 0, sizeof flash_mem);
  boot(&f, &s);
  fill(img, sizeof img, 7);
  flash_slot_ops.open(&s, sizeof img);
  write_pieces(&s, img, 5000, 1000);
  fault_lines = 0;
  r = flash_sim_program(&f, s.bank_addr[s.bank] + 4000, img + 4000, 100); /* the same bytes again */
  flash_slot_describe(&s, line, sizeof line);
  test_report(r == -1 && f.faults == 1 && fault_lines == 1 && strstr(line, "faults 1") != NULL,
              "a slot that programs bytes twice is caught: fault counted, logged, shown on the console line", "r %d, line %s", r, line);
  s.erased_to = s.size; /* a slot that forgets to erase what it has not reached yet */
  r = flash_slot_ops.write(&s, 5000, img + 5000, 5000);
  test_report(r == SN_ERR_IO && f.faults == 2, "a slot that programs unerased flash is caught (the write fails with SN_ERR_IO)", "r %d, faults %lu",
              r, f.faults);
  flash_slot_ops.abort(&s);
  r = flash_sim_program(&f, s.bank_addr[0], img, 1);
  test_report(r == -1 && f.faults == 3, "a program while no update is open is a fault (nothing is open for writing)", "r %d", r);
}

int main(void) {
  test_flash_rules();
  test_slot();
  test_buggy_slot();
  return test_summary();
}
