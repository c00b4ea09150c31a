/* replay_main.c - runs a fuzz target's LLVMFuzzerTestOneInput on files,
   without libFuzzer: for regression runs where clang's libFuzzer is not
   there (gcc, or clang without libclang-rt-14-dev). Build it with the
   target (and -fsanitize=address,undefined):

       cc -std=c99 ... tests/fuzz/fuzz_router.c tests/fuzz/replay_main.c ...
       ./replay tests/fuzz/corpus/router/ *   (files, not directories)

   Prints "Running: FILE" before each input (the same words libFuzzer uses),
   so the last such line names the input of a crash. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* a failed check aborts: leave with abort's status, without the shell's
   "Aborted" line (the check has said what failed) */
static void on_abort(int sig) {
  (void) sig;
  _Exit(134);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  int i;
  signal(SIGABRT, on_abort);
  for (i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    uint8_t *buf;
    long n;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
      fprintf(stderr, "replay: cannot read %s\n", argv[i]);
      return 2;
    }
    buf = (uint8_t *) malloc((size_t) n + 1); /* exact size (+1 for n == 0): ASan sees overreads */
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) return 2;
    fclose(f);
    fprintf(stderr, "Running: %s\n", argv[i]);
    LLVMFuzzerTestOneInput(buf, (size_t) n);
    free(buf);
  }
  fprintf(stderr, "replay: %d inputs\n", argc - 1);
  return 0;
}
