/* test_ota.c - the signed-update verifier (sn_ota) against images signed
   here with mbedTLS's own ECDSA (independent of tools/sn-sign), into a
   slot in memory that checks the slot contract: bytes in order, each
   written once, nothing beyond the size, and the accepted image untouched
   by every refused update. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "securenet_port_posix.h"
#include "test.h"
#include <stdlib.h>

/* Two throwaway P-256 test keys (made with openssl ecparam; tests only). */
static const char key1[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIDYhbM2U4OhZxcOkG2nRhrxIMlZzYezKjSqpuA9lIrpmoAoGCCqGSM49\n"
    "AwEHoUQDQgAEZfhvMkVut7UC56rlrOcaSmQ0xlZW0O91MsM3GAkYM719ad0DZlEl\n"
    "WxiNcIwNtF3peqmygL97UcBAQ577kCQLfQ==\n"
    "-----END EC PRIVATE KEY-----\n";
static const char key2[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIET1gYhTYEcRg466Hy6vz5oP8is/DaUlpuhJlr9bUx9AoAoGCCqGSM49\n"
    "AwEHoUQDQgAE9KpHMvUMkP65JeZzjfNlkZ6TtGR8xxlyc8/b1z2hcRjfylKoNRPJ\n"
    "5JLWB13g76vRmWlqdjGDgXUSa1bltqa8Og==\n"
    "-----END EC PRIVATE KEY-----\n";

static int test_rng(void *ctx, unsigned char *out, size_t n) {
  (void) ctx;
  while (n--) *out++ = (unsigned char) rand();
  return 0;
}

static mbedtls_pk_context pk1, pk2;
static unsigned char pub1[128];
static size_t pub1_len;

static void load(mbedtls_pk_context *pk, const char *pem) {
  mbedtls_pk_init(pk);
#if MBEDTLS_VERSION_MAJOR >= 3
  if (mbedtls_pk_parse_key(pk, (const unsigned char *) pem, strlen(pem) + 1, NULL, 0, test_rng, NULL) != 0) abort();
#else
  if (mbedtls_pk_parse_key(pk, (const unsigned char *) pem, strlen(pem) + 1, NULL, 0) != 0) abort();
#endif
}

static int der_int(const unsigned char *der, size_t *i, unsigned char out[32]) {
  size_t n;
  if (der[*i] != 0x02) return -1;
  n = der[*i + 1];
  *i += 2;
  while (n > 32 && der[*i] == 0) (*i)++, n--;
  if (n > 32) return -1;
  memset(out, 0, 32);
  memcpy(out + 32 - n, der + *i, n);
  *i += n;
  return 0;
}

static int hi_bit, short_int; /* how often r or s had the high bit set, or fewer than 32 bytes */

/* An image in format v1 of payload[0..n), signed with pk; ver is the version text. */
static unsigned char *make_image(mbedtls_pk_context *pk, const char *ver, const unsigned char *payload, size_t n,
                                 size_t *out_len) {
  unsigned char *img = (unsigned char *) malloc(n + 128), m[96], hash[32], der[80];
  size_t der_len = 0, i = 2;
  memset(img, 0, 64);
  memcpy(img, "SNFW\0\1\0\100", 8);
  img[8] = (unsigned char) (n >> 24), img[9] = (unsigned char) (n >> 16), img[10] = (unsigned char) (n >> 8), img[11] = (unsigned char) n;
  memcpy(img + 16, ver, strlen(ver));
  if (n) memcpy(img + 64, payload, n);
  memcpy(m, img, 64);
  sn__sha256(payload, n, m + 64);
  sn__sha256(m, sizeof m, hash);
#if MBEDTLS_VERSION_MAJOR >= 3
  if (mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, hash, 32, der, sizeof der, &der_len, test_rng, NULL) != 0) abort();
#else
  if (mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, hash, 32, der, &der_len, test_rng, NULL) != 0) abort();
#endif
  if (der[0] != 0x30 || der_int(der, &i, img + 64 + n) != 0 || der_int(der, &i, img + 96 + n) != 0) abort();
  hi_bit += (img[64 + n] >> 7) + (img[96 + n] >> 7);
  short_int += (img[64 + n] == 0) + (img[96 + n] == 0);
  *out_len = n + 128;
  return img;
}

/* The slot: a buffer with the contract checked. */
typedef struct mem_slot {
  unsigned char *bank, *accepted;
  uint64_t size, written, accepted_len, cap;
  int opens, finishes, aborts, violations, fail_write_at, refuse_open;
} mem_slot;
static mem_slot slot;

static int s_open(void *ctx, uint64_t size) {
  mem_slot *s = (mem_slot *) ctx;
  s->opens++;
  if (s->refuse_open) return s->refuse_open;
  if (size > s->cap) return SN_ERR_TOO_BIG;
  free(s->bank);
  s->bank = (unsigned char *) malloc((size_t) size + 1);
  s->size = size;
  s->written = 0;
  return SN_OK;
}
static int s_write(void *ctx, uint64_t off, const void *p, size_t n) {
  mem_slot *s = (mem_slot *) ctx;
  if (off != s->written || off + n > s->size || n == 0) s->violations++;
  if (s->fail_write_at && off + n >= (uint64_t) s->fail_write_at) return SN_ERR_IO;
  memcpy(s->bank + off, p, n);
  s->written = off + n;
  return SN_OK;
}
static int s_finish(void *ctx) {
  mem_slot *s = (mem_slot *) ctx;
  if (s->written != s->size) s->violations++;
  s->finishes++;
  free(s->accepted);
  s->accepted = s->bank;
  s->accepted_len = s->size;
  s->bank = NULL;
  return SN_OK;
}
static void s_abort(void *ctx) { ((mem_slot *) ctx)->aborts++; }
static const sn_slot_ops ops = {s_open, s_write, s_finish, s_abort};

/* Feeds img in pieces of random sizes (1..max); returns the first error, or sn_ota_end's result. */
static int feed(sn_ota *o, const unsigned char *img, size_t n, size_t max) {
  size_t i = 0;
  int r = sn_ota_begin(o);
  if (r != SN_OK) return r;
  while (i < n) {
    size_t k = 1 + (size_t) rand() % max;
    if (k > n - i) k = n - i;
    if ((r = sn_ota_write(o, img + i, k)) != SN_OK) return r;
    i += k;
  }
  return sn_ota_end(o);
}

static int accepted_is(const unsigned char *img, size_t n) {
  return slot.accepted != NULL && slot.accepted_len == n && memcmp(slot.accepted, img, n) == 0;
}

int main(void) {
  sn_ota *o = NULL;
  sn_ota_opts oo;
  sn_image_info info;
  unsigned char *payload = (unsigned char *) malloc(200000), *good, *bad, hash[32];
  size_t good_len, bad_len, i;
  int r, all, aborts;
  unsigned char tmp[300];

  srand(17);
  for (i = 0; i < 200000; i++) payload[i] = (unsigned char) rand();
  load(&pk1, key1);
  load(&pk2, key2);
  {
    int n = mbedtls_pk_write_pubkey_der(&pk1, tmp, sizeof tmp);
    if (n <= 0) abort();
    pub1_len = (size_t) n;
    memcpy(pub1, tmp + sizeof tmp - n, pub1_len);
  }
  memset(&oo, 0, sizeof oo);
  oo.slot = &ops;
  oo.slot_ctx = &slot;
  oo.capacity = 1u << 20;
  oo.pub_key = pub1;
  oo.pub_key_len = pub1_len;
  oo.pub_key_len = pub1_len;
  slot.cap = 1u << 20;

  CHECK_INT(sn_ota_create(&o, NULL), SN_ERR_INVALID, "create: no options is SN_ERR_INVALID");
  oo.capacity = 100;
  CHECK_INT(sn_ota_create(&o, &oo), SN_ERR_INVALID, "create: a capacity below one empty image is SN_ERR_INVALID");
  oo.capacity = 1u << 20;
  oo.pub_key = (const unsigned char *) "not a key";
  oo.pub_key_len = 10;
  CHECK_INT(sn_ota_create(&o, &oo), SN_ERR_KEY, "create: a key that does not parse is SN_ERR_KEY");
  oo.pub_key = pub1;
  oo.pub_key_len = pub1_len;
  r = sn_ota_create(&o, &oo);
  if (!CHECK_INT(r, SN_OK, "create with a DER P-256 public key")) return test_summary();
  CHECK_INT(sn_ota_state(o, &info), SN_OTA_IDLE, "a new verifier is idle");
  CHECK_INT(sn_ota_write(o, "x", 1), SN_ERR_STATE, "write without begin is SN_ERR_STATE");
  CHECK_INT(sn_ota_end(o), SN_ERR_STATE, "end without begin is SN_ERR_STATE");

  /* accepted: payloads of several sizes, pieces of any size */
  {
    static const size_t sizes[] = {0, 1, 63, 64, 1000, 4096, 199999};
    int ok = 1;
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      good = make_image(&pk1, "1.2.3", payload, sizes[i], &good_len);
      r = feed(o, good, good_len, i % 2 ? 1 + sizes[i] / 7 : 5000);
      sn__sha256(good, good_len, hash);
      sn_ota_state(o, &info);
      if (r != SN_OK || !accepted_is(good, good_len) || info.bytes != good_len || info.payload_bytes != sizes[i] ||
          strcmp(info.version, "1.2.3") != 0 || memcmp(info.sha256, hash, 32) != 0) {
        ok = 0;
        printf("# payload %lu: %s\n", (unsigned long) sizes[i], sn_strerror(r));
      }
      free(good);
    }
    CHECK(ok, "images of 0 to 199999 payload bytes, fed in pieces of any size, are accepted whole, with version, size and SHA-256");
  }
  CHECK_INT(sn_ota_state(o, NULL), SN_OTA_ACCEPTED, "after an accepted image the state is accepted");
  CHECK_INT(slot.violations, 0, "the slot saw every byte once, in order, within its size");

  /* the signature's r and s: with and without a high bit, shorter than 32 bytes */
  all = 1;
  for (i = 0; i < 150; i++) {
    good = make_image(&pk1, "loop", payload, i, &good_len);
    if (feed(o, good, good_len, 1000) != SN_OK) all = 0;
    free(good);
  }
  CHECK(all, "150 signatures all verify (r and s with the high bit set and with leading zero bytes)");
  printf("# of those: %d values with the high bit set, %d shorter than 32 bytes\n", hi_bit, short_int);
  CHECK(hi_bit > 0, "the signatures covered r or s with the high bit set");

  good = make_image(&pk1, "2.0.0", payload, 5000, &good_len);
  CHECK_INT(feed(o, good, good_len, 700), SN_OK, "a reference image is accepted");

#define REFUSED(img, len, want, name)                                                         \
  do {                                                                                        \
    aborts = slot.aborts;                                                                     \
    r = feed(o, img, len, 900);                                                               \
    CHECK_INT(r, want, name);                                                                 \
    CHECK(accepted_is(good, good_len) && sn_ota_state(o, NULL) == SN_OTA_ACCEPTED, "  and the accepted image stays"); \
  } while (0)

  bad = make_image(&pk2, "2.0.0", payload, 5000, &bad_len);
  REFUSED(bad, bad_len, SN_ERR_SIGNATURE, "a valid signature by another key is SN_ERR_SIGNATURE");
  CHECK(slot.aborts == aborts + 1, "the slot was aborted");
  CHECK(strstr(sn_ota_why(o), "signature") != NULL, "and the words say signature");
  free(bad);
  bad = (unsigned char *) malloc(good_len + 1);
  memcpy(bad, good, good_len);
  bad[64 + 2500] ^= 1;
  REFUSED(bad, good_len, SN_ERR_SIGNATURE, "a flipped payload byte is SN_ERR_SIGNATURE");
  memcpy(bad, good, good_len);
  bad[17] ^= 1;
  REFUSED(bad, good_len, SN_ERR_SIGNATURE, "a flipped byte of the version text is SN_ERR_SIGNATURE");
  memcpy(bad, good, good_len);
  bad[good_len - 1] ^= 0x80;
  REFUSED(bad, good_len, SN_ERR_SIGNATURE, "a flipped signature byte is SN_ERR_SIGNATURE");
  memcpy(bad, good, good_len);
  memset(bad + good_len - 64, 0, 32);
  REFUSED(bad, good_len, SN_ERR_SIGNATURE, "a zero r is SN_ERR_SIGNATURE");
  REFUSED(good, good_len - 1, SN_ERR_IMAGE, "one byte short is SN_ERR_IMAGE");
  CHECK(strstr(sn_ota_why(o), "shorter") != NULL, "and the words say shorter");
  REFUSED(good, 40, SN_ERR_IMAGE, "cut inside the header is SN_ERR_IMAGE");
  REFUSED(good, 0, SN_ERR_IMAGE, "no bytes at all is SN_ERR_IMAGE");
  memcpy(bad, good, good_len);
  bad[good_len] = 0;
  REFUSED(bad, good_len + 1, SN_ERR_IMAGE, "one byte too many is SN_ERR_IMAGE");
  CHECK(strstr(sn_ota_why(o), "longer") != NULL, "and the words say longer");
  {
    static const struct { size_t at; unsigned char v; const char *name; } hdr[] = {
        {0, 'X', "a wrong magic is SN_ERR_IMAGE, before the slot is opened"},
        {5, 2, "format version 2 is SN_ERR_IMAGE, before the slot is opened"},
        {7, 65, "a header length other than 64 is SN_ERR_IMAGE, before the slot is opened"},
        {15, 1, "nonzero flags are SN_ERR_IMAGE, before the slot is opened"},
        {50, 1, "a nonzero reserved byte is SN_ERR_IMAGE, before the slot is opened"},
        {16, 0, "an empty version text is SN_ERR_IMAGE, before the slot is opened"},
        {18, 7, "a control byte in the version text is SN_ERR_IMAGE, before the slot is opened"},
        {30, 'x', "a byte after the version's NUL is SN_ERR_IMAGE, before the slot is opened"},
    };
    for (i = 0; i < sizeof hdr / sizeof hdr[0]; i++) {
      int opens = slot.opens;
      memcpy(bad, good, good_len);
      bad[hdr[i].at] = hdr[i].v;
      REFUSED(bad, good_len, SN_ERR_IMAGE, hdr[i].name);
      CHECK(slot.opens == opens, "the slot was not opened");
    }
  }
  memcpy(bad, good, good_len);
  bad[10] = (unsigned char) (bad[10] + 1); /* the header says 256 bytes more: the image is shorter */
  REFUSED(bad, good_len, SN_ERR_IMAGE, "a header that states more payload than comes is SN_ERR_IMAGE");
  memcpy(bad, good, good_len);
  bad[10] = (unsigned char) (bad[10] - 1); /* 256 bytes less: the rest is too much */
  REFUSED(bad, good_len, SN_ERR_IMAGE, "a header that states less payload than comes is SN_ERR_IMAGE");
  free(bad);
  {
    int opens = slot.opens;
    bad = make_image(&pk1, "big", payload, 199999, &bad_len);
    sn_ota_destroy(o);
    oo.capacity = 100000;
    CHECK_INT(sn_ota_create(&o, &oo), SN_OK, "a verifier with a smaller capacity");
    CHECK_INT(feed(o, bad, bad_len, 5000), SN_ERR_TOO_BIG, "an image over the capacity is SN_ERR_TOO_BIG");
    CHECK(slot.opens == opens, "before the slot is opened");
    oo.capacity = 1u << 20;
    slot.cap = 100000;
    sn_ota_destroy(o);
    sn_ota_create(&o, &oo);
    CHECK_INT(feed(o, bad, bad_len, 5000), SN_ERR_TOO_BIG, "an image the slot's open refuses is SN_ERR_TOO_BIG");
    slot.cap = 1u << 20;
    free(bad);
  }
  CHECK(accepted_is(good, good_len), "the accepted image is still in the slot");
  slot.fail_write_at = 3000;
  aborts = slot.aborts;
  CHECK_INT(feed(o, good, good_len, 500), SN_ERR_IO, "a slot write that fails ends the update with its error");
  CHECK(slot.aborts == aborts + 1, "and aborts the slot");
  slot.fail_write_at = 0;
  CHECK_INT(sn_ota_begin(o), SN_OK, "begin");
  CHECK_INT(sn_ota_begin(o), SN_ERR_STATE, "a second begin while one is under way is SN_ERR_STATE");
  CHECK_INT(sn_ota_state(o, NULL), SN_OTA_RECEIVING, "the state is receiving");
  sn_ota_write(o, good, 1000);
  aborts = slot.aborts;
  sn_ota_abort(o, SN_ERR_CLOSED);
  CHECK(slot.aborts == aborts + 1 && strstr(sn_ota_why(o), "client") != NULL, "an abort (client gone) aborts the slot, with words");
  CHECK_INT(sn_ota_begin(o), SN_OK, "a new update may begin after an abort");
  sn_ota_write(o, good, 1000);
  aborts = slot.aborts;
  sn_ota_destroy(o);
  CHECK(slot.aborts == aborts + 1, "sn_ota_destroy aborts the update under way");
  CHECK(accepted_is(good, good_len), "through all of it the accepted image stayed");
  CHECK_INT(slot.violations, 0, "and the slot contract held throughout");
  free(good);
  free(payload);
  free(slot.bank);
  free(slot.accepted);
  mbedtls_pk_free(&pk1);
  mbedtls_pk_free(&pk2);
  return test_summary();
}
