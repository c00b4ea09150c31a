/* multipart_dump.c - prints the record of one multipart parse (the format
   in multipart_case.h), the body fed whole, for tests/fuzz/multipart_ref.py
   to compare with its own:

       multipart_dump FILE...         each file in the fuzz input format; the
                                      records one after the other, each
                                      preceded by "== FILE"
       multipart_dump -t CT FILE      FILE is the body alone, CT its Content-Type

   Built by tests/fuzz/run.sh --regress into BUILD/fuzz/multipart_dump. */
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
#include "fuzz_common.h"
#include "multipart_case.h"

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t cap = 0;
  *n = 0;
  if (f == NULL) return NULL;
  for (;;) {
    size_t got;
    if (*n + 4096 + 1 > cap) {
      cap = (*n + 4096 + 1) * 2;
      buf = (uint8_t *) realloc(buf, cap);
      if (buf == NULL) abort();
    }
    got = fread(buf + *n, 1, cap - *n - 1, f);
    *n += got;
    if (got == 0) break;
  }
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  int i = 1;
  mpc_run *r = (mpc_run *) calloc(1, sizeof *r);
  if (r == NULL) return 2;
  if (argc == 4 && strcmp(argv[1], "-t") == 0) {
    mpc_input in;
    size_t n;
    uint8_t *b = slurp(argv[3], &n);
    if (b == NULL) return 2;
    memset(&in, 0, sizeof in);
    in.ct.ptr = argv[2];
    in.ct.len = strlen(argv[2]);
    in.body = b;
    in.len = n;
    mpc_parse(r, &in, NULL, 0);
    fwrite(r->rec.p, 1, r->rec.len, stdout);
    fz_free(&r->rec);
    free(b);
    free(r);
    return 0;
  }
  for (; i < argc; i++) {
    mpc_input in;
    size_t n;
    uint8_t *b = slurp(argv[i], &n);
    if (b == NULL) {
      fprintf(stderr, "multipart_dump: cannot read %s\n", argv[i]);
      return 2;
    }
    mpc_decode(b, n, &in);
    mpc_parse(r, &in, NULL, 0);
    printf("== %s\n", argv[i]);
    fwrite(r->rec.p, 1, r->rec.len, stdout);
    fz_free(&r->rec);
    free(b);
  }
  free(r);
  return 0;
}
